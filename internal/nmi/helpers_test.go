package nmi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// Helpers that build expected bytes independently of the package's own
// layout constants and EBCDIC tables.

// fld is one field of a golden layout: its offset, its bytes in hex, and
// what it is.
type fld struct {
	off  int
	hex  string
	what string
}

// assemble joins the fields, checking that they are contiguous from 0 and
// add up to size: every byte of a golden is described by a field.
func assemble(t testing.TB, size int, fs []fld) []byte {
	t.Helper()
	var b []byte
	for _, f := range fs {
		if f.off != len(b) {
			t.Fatalf("field %q at %d, want %d", f.what, f.off, len(b))
		}
		h, err := hex.DecodeString(strings.ReplaceAll(f.hex, " ", ""))
		if err != nil {
			t.Fatalf("field %q: %v", f.what, err)
		}
		b = append(b, h...)
	}
	if len(b) != size {
		t.Fatalf("fields cover %d bytes, want %d", len(b), size)
	}
	return b
}

// eb returns s in IBM-1047 (from x/text), blank padded to n, as hex.
func eb(s string, n int) string {
	e, err := charmap.CodePage1047.NewEncoder().String(s)
	if err != nil || len(e) > n {
		panic("eb: " + s)
	}
	return hex.EncodeToString([]byte(e + strings.Repeat("\x40", n-len(e))))
}

func u8(v uint8) string   { return hex.EncodeToString([]byte{v}) }
func u16(v uint16) string { return hex.EncodeToString(binary.BigEndian.AppendUint16(nil, v)) }
func u32(v uint32) string { return hex.EncodeToString(binary.BigEndian.AppendUint32(nil, v)) }
func u64(v uint64) string { return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, v)) }
func zero(n int) string   { return strings.Repeat("00", n) }

// a16 returns an address field: IPv4 in the last 4 bytes.
func a16(s string) string {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		return zero(12) + hex.EncodeToString(a.AsSlice())
	}
	return hex.EncodeToString(a.AsSlice())
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func t48(s string) (t Text48) {
	if err := t.Set(s); err != nil {
		panic(err)
	}
	return t
}

func t24(s string) (t Text24) {
	if err := t.Set(s); err != nil {
		panic(err)
	}
	return t
}

func t16(s string) (t Text16) {
	if err := t.Set(s); err != nil {
		panic(err)
	}
	return t
}

func t8(s string) (t Text8) {
	if err := t.Set(s); err != nil {
		panic(err)
	}
	return t
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// wantRsn checks that err is a *FormatError with reason code rsn.
func wantRsn(t testing.TB, err error, rsn ReasonCode) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want *FormatError with %v", err, err, rsn)
	}
	if fe.Rsn != rsn {
		t.Fatalf("error %v: rsn %v, want %v", err, fe.Rsn, rsn)
	}
	return fe
}

// dialUnix connects a Client to the AF_UNIX socket at path.
func dialUnix(ctx context.Context, path string, opts ...Option) (*Client, error) {
	conn, err := DialUnix(path)(ctx)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, conn, opts...)
}

// unixPool is a Pool of connections to the AF_UNIX socket at path.
func unixPool(path string, cfg PoolConfig) *Pool {
	cfg.Dial, cfg.Addr = DialUnix(path), path
	return NewPool(cfg)
}
