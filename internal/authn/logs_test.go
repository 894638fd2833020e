package authn

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/policy"
)

// No token and no Authorization header reaches the log or a response
// body, whether authentication succeeds or fails.
func TestSecretsNeverLogged(t *testing.T) {
	is, clk, _, claims := oidcSetup(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	good := "tok-good-7f3a9c1e55d04b2a"
	pol := tokenPolicy(t, "", map[string]string{good: "OPER1"})
	pol.OIDC = is.srvPolicy(t)
	a := New(Options{Policy: staticPolicy(pol), Logger: logger, HTTPClient: is.srv.Client(), Now: clk.Now})

	jwt := is.sign(claims(nil), nil)
	expired := is.sign(claims(map[string]any{"exp": clk.Now().Add(-time.Hour).Unix()}), nil)
	secrets := []string{
		good,
		"tok-bad-0e4b1d9a8c7f6e5d",
		jwt,
		expired,
		"eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24gYXQgYWxs.c2lnbmF0dXJlLXNlY3JldA", // a JWT shape that fails to parse
		"Basic c2VjcmV0LXVzZXI6c2VjcmV0LXBhc3N3b3Jk",
	}
	var bodies strings.Builder
	for _, s := range secrets {
		r := httptest.NewRequest("GET", "/v1/stacks", nil)
		if strings.HasPrefix(s, "Basic ") {
			r.Header.Set("Authorization", s)
		} else {
			r.Header.Set("Authorization", "Bearer "+s)
		}
		res := serve(a, r)
		bodies.WriteString(res.body + res.challenge)
	}
	if !strings.Contains(logs.String(), "authentication failed") || !strings.Contains(logs.String(), "authenticated") {
		t.Fatalf("nothing logged:\n%s", logs.String())
	}
	out := logs.String() + bodies.String()
	for _, s := range secrets {
		for _, part := range append(strings.Split(strings.TrimPrefix(s, "Basic "), "."), s) {
			if len(part) >= 8 && strings.Contains(out, part) {
				t.Errorf("secret %q appears in the log or a body:\n%s", part, out)
			}
		}
	}
	if l := strings.ToLower(logs.String()); strings.Contains(l, "authorization") || strings.Contains(l, "bearer ey") ||
		strings.Contains(l, "bearer tok") || strings.Contains(l, "basic c2") {
		t.Errorf("the Authorization header appears in the log:\n%s", logs.String())
	}
}

func TestRedact(t *testing.T) {
	tok := "aaaaaaaaaa.bbbbbbbbbb.cc"
	if got := redact("x aaaaaaaaaa.bbbbbbbbbb.cc y bbbbbbbbbb cc", tok); got != "x [redacted] y [redacted] cc" {
		t.Errorf("redact = %q", got)
	}
}

func (is *issuer) srvPolicy(t *testing.T) *policy.OIDC {
	t.Helper()
	return &policy.OIDC{Issuer: is.srv.URL, Audience: "nmigw", UserClaim: "preferred_username", GroupsClaim: "groups", Names: testNames(), Groups: testGroups()}
}
