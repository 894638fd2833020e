package policy

import (
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
)

// attr is one attribute of a distinguished name: an upper-case type (CN,
// OU, ... or a dotted OID) and its value.
type attr struct{ typ, value string }

// Short names of the attribute types a subject may use.
var attrOIDs = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.11":                   "OU",
	"2.5.4.10":                   "O",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.6":                    "C",
	"2.5.4.9":                    "STREET",
	"2.5.4.17":                   "POSTALCODE",
	"2.5.4.5":                    "SERIALNUMBER",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"1.2.840.113549.1.9.1":       "EMAILADDRESS",
}

func shortType(t string) (string, bool) {
	u := strings.ToUpper(strings.TrimSpace(t))
	if s, ok := attrOIDs[u]; ok {
		return s, true
	}
	for _, s := range attrOIDs {
		if s == u {
			return s, true
		}
	}
	if isOID(u) {
		return u, true
	}
	return "", false
}

func isOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// parseSubject parses a distinguished name written as in RFC 4514, e.g.
// "CN=dash,OU=NOC" (the order of the attributes does not matter; a
// special character inside a value is escaped with a backslash).
func parseSubject(s string) ([]attr, error) {
	var out []attr
	var typ, val strings.Builder
	inVal := false
	finish := func() error {
		t, v := strings.TrimSpace(typ.String()), strings.TrimSpace(val.String())
		if !inVal || v == "" {
			return fmt.Errorf("%q: want TYPE=value, have %q", s, t)
		}
		short, ok := shortType(t)
		if !ok {
			return fmt.Errorf("%q: unknown attribute type %q", s, t)
		}
		out = append(out, attr{short, v})
		typ.Reset()
		val.Reset()
		inVal = false
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return nil, fmt.Errorf("%q: control character at %d", s, i+1)
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%q ends in a backslash", s)
			}
			i++
			c = s[i]
		case c == ',' || c == '+':
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		case c == '=' && !inVal:
			inVal = true
			continue
		}
		if inVal {
			val.WriteByte(c)
		} else {
			typ.WriteByte(c)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	sortAttrs(out)
	return out, nil
}

func sortAttrs(a []attr) {
	slices.SortFunc(a, func(x, y attr) int {
		if c := strings.Compare(x.typ, y.typ); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
}

// nameAttrs lists the attributes of a certificate subject.
func nameAttrs(n pkix.Name) []attr {
	var out []attr
	for _, tv := range n.Names {
		typ := tv.Type.String()
		if s, ok := attrOIDs[typ]; ok {
			typ = s
		}
		out = append(out, attr{typ, fmt.Sprint(tv.Value)})
	}
	sortAttrs(out)
	return out
}

// FindCertificate returns the mapping for a certificate subject, or nil.
func (p *Policy) FindCertificate(subject pkix.Name) *CertID {
	got := nameAttrs(subject)
	for i := range p.Certificates {
		if c := &p.Certificates[i]; len(c.attrs) > 0 && slices.Equal(c.attrs, got) {
			return c
		}
	}
	return nil
}
