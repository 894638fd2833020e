package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// TestEBCDICMatchesNMIText: the JSON writer that works straight from
// IBM-1047 bytes gives what nmi.Text and appendJSONString give, for every
// byte written without an escape.
func TestEBCDICMatchesNMIText(t *testing.T) {
	for c := range 256 {
		field := []byte{0xC1, byte(c), 0xC2} // A c B: c is never trailing
		if !ebcdicPlainText(field) {
			continue // escapes may be spelled otherwise: TestEBCDICStringEscapes
		}
		want := string(appendJSONString(nil, nmi.Text(field)))
		if got := string(appendEBCDICString(nil, field)); got != want {
			t.Errorf("byte %#02x: appendEBCDICString %s, appendJSONString %s", c, got, want)
		}
	}
}

// TestIdentityMatchesNMIIdentity: jsonw.identity writes nmi.Identity's
// text as a JSON string, for every identity type and for text that needs
// escapes.
func TestIdentityMatchesNMIIdentity(t *testing.T) {
	values := [][]byte{
		{10, 1, 2, 3},
		{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0x81, 0x4B, 0x82, 0x40, 0x40},       // "a.b" and blanks
		{0x81, 0x15, 0x7F, 0x4C, 0xE0, 0x41}, // newline, quote, <, backslash, NBSP
		{},
		{1, 2, 3},
	}
	types := []nmi.IDType{nmi.IDIPv4Addr, nmi.IDIPv6Addr, nmi.IDFQDN, nmi.IDUserFQDN, nmi.IDDERASN1DN, nmi.IDType(99)}
	for _, typ := range types {
		for _, v := range values {
			var w jsonw
			w.identity("id", typ, v)
			want := `"id":` + string(appendJSONString(nil, nmi.Identity(typ, v)))
			if got := string(w.b); got != want {
				t.Errorf("type %v, % x: got %s, want %s", typ, v, got, want)
			}
		}
	}
}

// checkEBCDICString: appendEBCDICString after prefix keeps the prefix and
// appends one JSON string whose value is nmi.Text of the field.
func checkEBCDICString(t *testing.T, prefix, field []byte) {
	t.Helper()
	got := appendEBCDICString(bytes.Clone(prefix), field)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("% x: prefix %q lost: %q", field, prefix, got)
	}
	var s string
	if err := json.Unmarshal(got[len(prefix):], &s); err != nil {
		t.Fatalf("% x: %s is not a JSON string: %v", field, got[len(prefix):], err)
	}
	if want := nmi.Text(field); s != want {
		t.Fatalf("% x: %q, want %q", field, s, want)
	}
}

// TestEBCDICStringEscapes: characters that need an escape or two bytes of
// UTF-8 are right wherever they fall in a field: first, inside, last, and
// after a prefix.
func TestEBCDICStringEscapes(t *testing.T) {
	for c := range 256 {
		for _, field := range [][]byte{
			{byte(c), 0xC1, 0xC2},
			{0xC1, byte(c), 0xC2},
			{0xC1, 0xC2, byte(c)},
			{byte(c), byte(c), 0x40, 0x40},
		} {
			checkEBCDICString(t, nil, field)
			checkEBCDICString(t, []byte(`{"k":`), field)
		}
	}
}

// TestEnumNamesNeedNoEscape: jsonw.enum writes names unescaped, which is
// right only while every name of every enumeration the views write is
// plain ASCII that JSON takes as it is.
func TestEnumNamesNeedNoEscape(t *testing.T) {
	for v := range 256 {
		b := uint8(v)
		for _, name := range []string{
			nmi.FilterSet(b).String(), nmi.IPTunType(b).String(), nmi.IPTunState(b).String(),
			nmi.IKETunState(b).String(), nmi.EncapMode(b).String(), nmi.AuthProto(b).String(),
			nmi.AuthAlg(b).String(), nmi.EncryptAlg(b).String(), nmi.DHGroup(b).String(),
			nmi.ExchangeMode(b).String(), nmi.AuthMethod(b).String(), nmi.IDType(b).String(), idType(nmi.IDType(b)),
			nmi.Role(b).String(), nmi.FilterType(b).String(), nmi.FilterAction(b).String(),
			nmi.FilterDirection(b).String(), nmi.FilterScope(b).String(), nmi.FilterLogging(b).String(),
			nmi.FilterState(b).String(), nmi.ActivationMethod(b).String(), nmi.AddrFormat(b).String(),
		} {
			var w jsonw
			w.enum("k", name)
			var escaped jsonw
			escaped.str("k", name)
			if string(w.b) != string(escaped.b) {
				t.Errorf("value %d: enum writes %s, str writes %s", v, w.b, escaped.b)
			}
		}
	}
}

func FuzzAppendEBCDICString(f *testing.F) {
	f.Add([]byte(`{"k":`), []byte{0xC1, 0x15, 0x7F, 0x4C, 0xE0, 0x41, 0x40})
	f.Add([]byte{}, []byte{0x40, 0x00})
	f.Fuzz(func(t *testing.T, prefix, field []byte) {
		checkEBCDICString(t, prefix, field)
	})
}

// checkUnixTime compares appendUnixTime with the time package.
func checkUnixTime(t *testing.T, sec uint32) {
	t.Helper()
	want := `"` + time.Unix(int64(sec), 0).UTC().Format(time.RFC3339) + `"`
	if got := string(appendUnixTime(nil, sec)); got != want {
		t.Fatalf("appendUnixTime(%d) = %s, want %s", sec, got, want)
	}
}

// TestAppendUnixTime: every day from 1970 to 2106 (its first and last
// second and one in between), and the largest value, as the time
// package writes them.
func TestAppendUnixTime(t *testing.T) {
	for day := uint64(0); day*86400 <= math.MaxUint32; day++ {
		start := day * 86400
		for _, s := range []uint64{start, start + 45296, start + 86399} {
			if s <= math.MaxUint32 {
				checkUnixTime(t, uint32(s))
			}
		}
	}
	checkUnixTime(t, math.MaxUint32)
}

func FuzzAppendUnixTime(f *testing.F) {
	f.Add(uint32(951782400)) // 2000-02-29
	f.Fuzz(checkUnixTime)
}
