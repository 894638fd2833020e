package nmi

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

func TestEBCDICTablesMatchCodePage1047(t *testing.T) {
	for e := 0; e < 256; e++ {
		r := charmap.CodePage1047.DecodeByte(byte(e))
		if rune(ebcdicToLatin1[e]) != r {
			t.Fatalf("byte %#02x decodes to U+%04X, x/text says U+%04X", e, ebcdicToLatin1[e], r)
		}
		back, ok := charmap.CodePage1047.EncodeRune(r)
		if !ok || latin1ToEBCDIC[byte(r)] != back {
			t.Fatalf("U+%04X encodes to %#02x, x/text says %#02x", r, latin1ToEBCDIC[byte(r)], back)
		}
	}
}

// TestAppendText: every byte decodes as x/text's CodePage1047 says, inside
// a field and after a prefix; EBCDICRune agrees.
func TestAppendText(t *testing.T) {
	for e := 0; e < 256; e++ {
		r := charmap.CodePage1047.DecodeByte(byte(e))
		if EBCDICRune(byte(e)) != r {
			t.Fatalf("EBCDICRune(%#02x) = U+%04X, x/text says U+%04X", e, EBCDICRune(byte(e)), r)
		}
		field := []byte{0xC1, byte(e), 0xC2, 0x40, 0x00} // A e B, then padding
		want := "pre" + "A" + string(r) + "B"
		if got := string(AppendText([]byte("pre"), field)); got != want {
			t.Fatalf("byte %#02x: %q, want %q", e, got, want)
		}
		if got := Text(field); got != want[len("pre"):] {
			t.Fatalf("byte %#02x: Text %q, want %q", e, got, want[len("pre"):])
		}
	}
	if got := AppendText(nil, []byte{0x40, 0x00, 0x40}); len(got) != 0 {
		t.Fatalf("padding only: %q", got)
	}
}

// TestTextLen: the word-at-a-time scan drops exactly the trailing blanks
// (0x40) and NULs, however they mix and wherever a word boundary falls.
func TestTextLen(t *testing.T) {
	slow := func(b []byte) int {
		n := len(b)
		for n > 0 && (b[n-1] == 0x40 || b[n-1] == 0) {
			n--
		}
		return n
	}
	pads := []byte{0x40, 0x00}
	for size := range 24 {
		for text := 0; text <= size; text++ {
			for seed := range 4 {
				b := make([]byte, size)
				for i := range b {
					if i < text {
						b[i] = 0xC1 + byte(i%9) // "A".."I"
						if i == text-1 && seed&1 == 1 {
							b[i] = 0x41 // one bit besides 0x40
						}
					} else {
						b[i] = pads[(i+seed)%2]
					}
				}
				if got, want := TextLen(b), slow(b); got != want {
					t.Fatalf("TextLen(% x) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

func TestText(t *testing.T) {
	for _, s := range []string{"", "TCPIP", "a b", "Straße-ÄÖÜ§", "x{}[]\\|~^!", strings.Repeat("Z", 48)} {
		var f Text48
		if err := f.Set(s); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		enc, _ := charmap.CodePage1047.NewEncoder().String(s)
		if string(f[:len(enc)]) != enc || !IsBlank(f[len(enc):]) {
			t.Fatalf("%q encoded as % X", s, f)
		}
		if f.String() != s || !f.Equal(s) || f.Equal(s+"x") || (s != "" && f.Equal(s[:len(s)-1])) {
			t.Fatalf("%q round trip gives %q", s, f.String())
		}
	}
	var f Text8
	if err := f.Set("123456789"); !errors.Is(err, ErrTextTooLong) {
		t.Fatalf("too long: %v", err)
	}
	if err := f.Set("€"); !errors.Is(err, ErrTextUnmappable) {
		t.Fatalf("unmappable: %v", err)
	}
	if err := f.Set("\xff"); !errors.Is(err, ErrTextUnmappable) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	if !f.IsBlank() || f.String() != "" {
		t.Fatal("failed Set changed the field")
	}
	// NUL padding reads as blank padding and is sent as blanks.
	nul := [8]byte{0xE3, 0xC3, 0, 0, 0, 0, 0, 0}
	if Text(nul[:]) != "TC" || !TextEqual(nul[:], "TC") || TextEqual(nul[:], "€") {
		t.Fatal("NUL padding")
	}
	var out [8]byte
	putField(out[:], nul[:])
	if out != [8]byte{0xE3, 0xC3, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40} {
		t.Fatalf("putField % X", out)
	}
	if a := testing.AllocsPerRun(100, func() { _ = TextEqual(nul[:], "TC") }); a != 0 {
		t.Fatalf("TextEqual allocates %v", a)
	}
}

func TestEnumStrings(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{GetStackInfo.String(), "NMsec_GET_STACKINFO"},
		{LoadPolicy.String(), "NMsec_LOAD_POLICY"},
		{MsgType(209).String(), "unknown(209)"},
		{EINVAL.String(), "EINVAL"},
		{ReturnCode(5).String(), "unknown(5)"},
		{RsnBadIdent.String(), "NMsRsnBadIdent"},
		{RsnBadSection.String(), "NMsRsnBadSection"},
		{ReasonCode(13).String(), "unknown(13)"},
		{TunStatusNoKER.String(), "noKeyExchangeRule"},
		{TunStatus(4).String(), "unknown(4)"},
		{IPTunActive.String(), "active"},
		{IKETunActive.String(), "active"},
		{IKETunState(9).String(), "unknown(9)"},
		{AuthAlgHMACSHA1.String(), "hmac-sha1"},
		{EncryptAESCBC.String(), "aes-cbc"},
		{DHGroup14.String(), "group14"},
		{DHGroup(3).String(), "unknown(3)"},
		{FilterSetPolicy.String(), "policy"},
		{ActivationOnDemand.String(), "on-demand"},
		{IDDERASN1DN.String(), "der-asn1-dn"},
		{AddrRange.String(), "range"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// A Diffie-Hellman group is named by its IANA number.
	for _, g := range []DHGroup{DHGroup1, DHGroup2, DHGroup5, DHGroup14, DHGroup19, DHGroup20, DHGroup21, DHGroup24} {
		if got, want := g.String(), "group"+strconv.Itoa(int(g)); got != want {
			t.Errorf("DHGroup(%d) = %q, want %q", g, got, want)
		}
	}
	// Every named code of every enumeration has a name.
	for v := 0; v < 256; v++ {
		for _, s := range []string{IPTunType(v).String(), IPTunState(v).String(), EncapMode(v).String(), AuthProto(v).String(),
			ExchangeMode(v).String(), AuthMethod(v).String(), IDType(v).String(), Role(v).String(), FilterType(v).String(),
			FilterAction(v).String(), FilterDirection(v).String(), FilterScope(v).String(), FilterLogging(v).String(),
			FilterState(v).String(), EncryptAlg(v).String(), AuthAlg(v).String()} {
			if s == "" || strings.ToLower(s) != s {
				t.Fatalf("value %d: %q", v, s)
			}
		}
	}
	for v := MsgType(0); v < 300; v++ {
		if v.IsRequest() && strings.HasPrefix(v.String(), "unknown") {
			t.Fatalf("request %d has no name", v)
		}
		if v.IsDisplay() && v.IsControl() {
			t.Fatalf("%v both display and control", v)
		}
	}
}
