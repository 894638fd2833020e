package authn

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
)

func TestDemoPolicy(t *testing.T) {
	for _, stacks := range [][]string{nil, {"TCPIP", "tcpipb"}} {
		p, viewer, operator, err := DemoPolicy("SYS1", stacks)
		if err != nil {
			t.Fatal(err)
		}
		if len(viewer) < 40 || len(operator) < 40 || viewer == operator {
			t.Fatalf("tokens %q %q", viewer, operator)
		}
		if dump := fmt.Sprintf("%+v", *p); strings.Contains(dump, viewer) || strings.Contains(dump, operator) {
			t.Error("the policy holds a plain token")
		}
		az, err := p.Authorizer()
		if err != nil {
			t.Fatal(err)
		}
		a := New(Options{Policy: staticPolicy(p)})
		rights := func(token string) string {
			r := httptest.NewRequest("GET", "/v1/stacks", nil)
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			res := serve(a, r)
			if res.status != 200 {
				t.Fatalf("token %q: %+v", token, res)
			}
			var out []string
			for _, s := range []string{"TCPIP", "TCPIPB"} {
				d := az.CheckStack(authz.Principal{User: res.user}, s, authz.Display).Allowed
				c := az.CheckStack(authz.Principal{User: res.user}, s, authz.Control).Allowed
				out = append(out, fmt.Sprintf("%s:%v/%v", res.user, d, c))
			}
			return strings.Join(out, " ")
		}
		for token, want := range map[string]string{
			"":       "ANONYM:true/false ANONYM:true/false",
			viewer:   "VIEWER:true/false VIEWER:true/false",
			operator: "OPERATOR:true/true OPERATOR:true/true",
		} {
			if got := rights(token); got != want {
				t.Errorf("stacks %v: rights %s, want %s", stacks, got, want)
			}
		}
		gw := p.UserForUID(uint32(os.Getuid()))
		if gw != DemoGateway || !az.CheckStack(authz.Principal{User: gw}, "TCPIP", authz.Control).Allowed {
			t.Errorf("gateway peer %q has no CONTROL", gw)
		}
	}
	p1, v1, _, _ := DemoPolicy("SYS1", nil)
	_, v2, _, _ := DemoPolicy("SYS1", nil)
	if v1 == v2 || p1.Tokens[0].SHA256 == [32]byte{} {
		t.Error("demo tokens are not fresh")
	}
	if _, _, _, err := DemoPolicy("NOT A SYSTEM", nil); err == nil {
		t.Error("bad system accepted")
	}
}
