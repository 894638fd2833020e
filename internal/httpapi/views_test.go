package httpapi

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestEnumsMatchSpec checks, for every enumeration the views print, that
// each code the codec names is a value the API document lists (in
// x-extensible-enum), that the document lists no value the codec never
// prints, and that the enumeration's pattern admits exactly the listed
// values and unknown(N).
func TestEnumsMatchSpec(t *testing.T) {
	doc, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]func(uint8) string{
		"FilterSet":              func(c uint8) string { return nmi.FilterSet(c).String() },
		"IPTunnelState":          func(c uint8) string { return ipsec.IPStateName(nmi.IPTunState(c)) },
		"IkeTunnelState":         func(c uint8) string { return ipsec.IKEStateName(nmi.IKETunState(c)) },
		"IPTunnelType":           func(c uint8) string { return nmi.IPTunType(c).String() },
		"EncapsulationMode":      func(c uint8) string { return nmi.EncapMode(c).String() },
		"AuthenticationProtocol": func(c uint8) string { return nmi.AuthProto(c).String() },
		"AuthenticationAlgorithm": func(c uint8) string {
			return nmi.AuthAlg(c).String()
		},
		"EncryptionAlgorithm":  func(c uint8) string { return nmi.EncryptAlg(c).String() },
		"DHGroup":              func(c uint8) string { return nmi.DHGroup(c).String() },
		"ExchangeMode":         func(c uint8) string { return nmi.ExchangeMode(c).String() },
		"AuthenticationMethod": func(c uint8) string { return nmi.AuthMethod(c).String() },
		"IdentityType":         func(c uint8) string { return idType(nmi.IDType(c)) },
		"Role":                 func(c uint8) string { return nmi.Role(c).String() },
		"ActivationMethod":     func(c uint8) string { return nmi.ActivationMethod(c).String() },
		"FilterType":           func(c uint8) string { return nmi.FilterType(c).String() },
		"FilterAction":         func(c uint8) string { return nmi.FilterAction(c).String() },
		"FilterDirection":      func(c uint8) string { return nmi.FilterDirection(c).String() },
		"FilterScope":          func(c uint8) string { return nmi.FilterScope(c).String() },
		"FilterLogging":        func(c uint8) string { return nmi.FilterLogging(c).String() },
		"FilterState":          func(c uint8) string { return nmi.FilterState(c).String() },
		"AddressFormat":        func(c uint8) string { return nmi.AddrFormat(c).String() },
	}
	for name, str := range names {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil || ref.Value.Pattern == "" {
			t.Errorf("%s: not an open enumeration (a string with a pattern) in the document", name)
			continue
		}
		ext, _ := ref.Value.Extensions["x-extensible-enum"].([]any)
		var listed []string
		for _, e := range ext {
			s, _ := e.(string)
			listed = append(listed, s)
		}
		if len(listed) == 0 {
			t.Errorf("%s: no x-extensible-enum values in the document", name)
			continue
		}
		re := regexp.MustCompile(ref.Value.Pattern)
		for _, s := range append(slices.Clone(listed), "unknown(0)", "unknown(255)") {
			if !re.MatchString(s) {
				t.Errorf("%s: pattern %s refuses %q", name, ref.Value.Pattern, s)
			}
		}
		for _, s := range []string{"", "unknown", "unknown()", "unknown(x)", "Active", listed[0] + "x"} {
			if re.MatchString(s) {
				t.Errorf("%s: pattern %s admits %q", name, ref.Value.Pattern, s)
			}
		}
		printed := map[string]bool{}
		for c := 0; c < 256; c++ {
			s := str(uint8(c))
			if strings.HasPrefix(s, "unknown(") {
				continue
			}
			printed[s] = true
			if !slices.Contains(listed, s) {
				t.Errorf("%s: code %d prints %q, which the document does not list (%v)", name, c, s, listed)
			}
		}
		for _, s := range listed {
			if !printed[s] {
				t.Errorf("%s: the document lists %q, which no code prints", name, s)
			}
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r", "\x00\x1f", "<a&b>", "é€😀", "\u2028\u2029", "bad\xffutf8"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("%q: round trip %q", s, got)
		}
	}
}

func TestJSONWriter(t *testing.T) {
	var w jsonw
	w.beginObject()
	w.str("a", "x")
	w.optStr("skip", "")
	w.array("l")
	w.elem()
	w.beginObject()
	w.uint("n", 1)
	w.endObject()
	w.elem()
	w.beginObject()
	w.endObject()
	w.endArray()
	w.object("o")
	w.boolean("b", true)
	w.addr("ip", netip.MustParseAddr("2001:db8::1"))
	w.optAddr("zero", netip.IPv4Unspecified())
	w.unixTime("t", 1714550400)
	w.unixTime("unset", 0)
	w.endObject()
	w.array("s")
	w.strElem("g1")
	w.strElem("g2")
	w.endArray()
	w.endObject()
	const want = `{"a":"x","l":[{"n":1},{}],"o":{"b":true,"ip":"2001:db8::1","t":"2024-05-01T08:00:00Z"},"s":["g1","g2"]}`
	if string(w.b) != want {
		t.Errorf("got  %s\nwant %s", w.b, want)
	}
}

func TestParseAddrQuery(t *testing.T) {
	cases := []struct {
		in     string
		addr   string
		prefix uint8
		any    bool
		bad    bool
	}{
		{in: "10.1.2.3", addr: "10.1.2.3"},
		{in: "10.1.2.3/32", addr: "10.1.2.3"},
		{in: "10.1.2.3/16", addr: "10.1.0.0", prefix: 16},
		{in: "0.0.0.0/0", any: true},
		{in: "::ffff:10.0.0.1", addr: "10.0.0.1"},
		{in: "2001:db8::1/128", addr: "2001:db8::1"},
		{in: "2001:db8::/32", addr: "2001:db8::", prefix: 32},
		{in: "fe80::1%eth0", bad: true},
		{in: "10.1.2", bad: true},
		{in: "10.0.0.0/33", bad: true},
		{in: "10.0.0.0/", bad: true},
	}
	for _, c := range cases {
		v, err := parseAddrQuery("localAddress", c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%s: accepted", c.in)
			}
			continue
		}
		if err != nil || v.any != c.any || (!c.any && (v.addr.String() != c.addr || v.prefix != c.prefix)) {
			t.Errorf("%s: %+v %v", c.in, v, err)
		}
	}
}

func TestNatKeyOrder(t *testing.T) {
	ids := []string{"K10", "K2", "K1", "Y1", "K02", "K", "A99"}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(string(natKey(nil, a)), string(natKey(nil, b))) })
	want := []string{"A99", "K", "K1", "K02", "K2", "K10", "Y1"}
	if !slices.Equal(ids, want) {
		t.Errorf("%v, want %v", ids, want)
	}
}

// TestLoadSpecRefusesBadDocuments: start-up fails on a document that does
// not load or does not validate.
func TestLoadSpecRefusesBadDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"not YAML":        "openapi: [",
		"missing info":    "openapi: 3.0.3\npaths: {}\n",
		"dangling $ref":   "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
		"bad schema type": "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    S: {type: nonsense}\n",
	} {
		if _, err := loadSpec([]byte(doc)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := LoadSpec(); err != nil {
		t.Errorf("the embedded document: %v", err)
	}
}
