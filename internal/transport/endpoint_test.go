package transport

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		in   string
		want Endpoint
		str  string
	}{
		{"unix:///var/sock/ipsecmgmt", Endpoint{Scheme: SchemeUnix, Path: "/var/sock/ipsecmgmt"}, "unix:///var/sock/ipsecmgmt"},
		{"/var/sock/ipsecmgmt", Endpoint{Scheme: SchemeUnix, Path: "/var/sock/ipsecmgmt"}, "unix:///var/sock/ipsecmgmt"},
		{"ssh://nmigw@lpar1/var/sock/ipsecmgmt", Endpoint{Scheme: SchemeSSH, User: "nmigw", Host: "lpar1", Port: "22", Path: "/var/sock/ipsecmgmt"}, "ssh://nmigw@lpar1:22/var/sock/ipsecmgmt"},
		{"ssh://NMIGW@10.1.1.1:2222/var/sock/nss", Endpoint{Scheme: SchemeSSH, User: "NMIGW", Host: "10.1.1.1", Port: "2222", Path: "/var/sock/nss"}, "ssh://NMIGW@10.1.1.1:2222/var/sock/nss"},
		{"ssh://u@[2001:db8::1]:22/s", Endpoint{Scheme: SchemeSSH, User: "u", Host: "2001:db8::1", Port: "22", Path: "/s"}, "ssh://u@[2001:db8::1]:22/s"},
		{"tls://relay.example:4443", Endpoint{Scheme: SchemeTLS, Host: "relay.example", Port: "4443"}, "tls://relay.example:4443"},
		{"tls://relay.example:4443/", Endpoint{Scheme: SchemeTLS, Host: "relay.example", Port: "4443"}, "tls://relay.example:4443"},
	}
	for _, c := range good {
		ep, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if ep != c.want || ep.String() != c.str {
			t.Errorf("Parse(%q) = %+v (%s), want %+v (%s)", c.in, ep, ep, c.want, c.str)
		}
		if again, err := Parse(ep.String()); err != nil || again != ep {
			t.Errorf("Parse(%q) = %+v, %v; want it to round-trip", ep.String(), again, err)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "no scheme"},
		{"var/sock", "no scheme"},
		{"http://x/y", `unknown scheme "http"`},
		{"unix://host/var/sock", "takes no host"},
		{"unix://", "no socket path"},
		{"unix:relative", "want unix://"},
		{"ssh://lpar1/var/sock", "no user"},
		{"ssh://u:secret@lpar1/var/sock", "password in the URL"},
		{"ssh://u@/var/sock", "no host"},
		{"ssh://u@lpar1", "no socket path"},
		{"ssh://u@lpar1:0/s", "bad port"},
		{"ssh://u@lpar1:99999/s", "bad port"},
		{"ssh://u@lpar1:/s", "empty port"},
		{"ssh://u@lpar1/s?x=1", "query or fragment"},
		{"ssh://u@lpar1/s#f", "query or fragment"},
		{"tls://relay", "no port"},
		{"tls://relay:1/path", "takes no path"},
		{"tls://u@relay:1", "takes no user"},
		{"ssh://u:secret@lpar1:bad/s", "invalid port"},
	}
	for _, c := range bad {
		_, err := Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q): no error", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.msg) || !strings.HasPrefix(msg, "nmi endpoint ") || strings.Contains(msg, "\n") {
			t.Errorf("Parse(%q): %q, want one line naming the endpoint and %q", c.in, msg, c.msg)
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("Parse(%q): error shows the password: %q", c.in, msg)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"unix:///var/sock/ipsecmgmt", "ssh://u@h:22/p", "tls://h:1", "ssh://u:p@h/x", "/a", "ssh://u@[::1]/s", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := Parse(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.ContainsAny(s, "\n") {
				t.Fatalf("Parse(%q): multi-line error %q", s, err)
			}
			return
		}
		again, err := Parse(ep.String())
		if err != nil || again != ep {
			t.Fatalf("Parse(%q) = %+v; Parse(%q) = %+v, %v", s, ep, ep.String(), again, err)
		}
	})
}
