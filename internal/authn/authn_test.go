package authn

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// result is what a request through the middleware came to.
type result struct {
	status    int
	user      string
	groups    string
	method    Method
	challenge string // WWW-Authenticate
	body      string
}

// serve runs one request through the middleware of a.
func serve(a *Authenticator, r *http.Request) result {
	var res result
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authz.PrincipalFrom(r.Context())
		res.user, res.groups = p.User, strings.Join(p.Groups, ",")
		res.method, _ = MethodFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res.status = rec.Code
	res.challenge = rec.Header().Get("WWW-Authenticate")
	res.body = rec.Body.String()
	return res
}

func tokenPolicy(t *testing.T, anonymous string, tokens map[string]string) *policy.Policy {
	t.Helper()
	p := &policy.Policy{Authz: authz.Config{System: "SYS1"}, Anonymous: anonymous}
	for tok, user := range tokens {
		p.Tokens = append(p.Tokens, policy.TokenID{SHA256: sha256.Sum256([]byte(tok)), User: user, Groups: []string{"TOKGRP"}})
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func staticPolicy(p *policy.Policy) func() *policy.Policy { return func() *policy.Policy { return p } }

func TestBearerTokens(t *testing.T) {
	tokens := map[string]string{"s3cret-viewer": "viewer", "s3cret-oper": "oper1"}
	withAnon := New(Options{Policy: staticPolicy(tokenPolicy(t, "anonym", tokens))})
	noAnon := New(Options{Policy: staticPolicy(tokenPolicy(t, "", tokens))})
	tests := []struct {
		name      string
		a         *Authenticator
		auth      []string
		status    int
		user      string
		method    Method
		challenge string
	}{
		{"token", noAnon, []string{"Bearer s3cret-oper"}, 200, "OPER1", MethodToken, ""},
		{"scheme in any case", noAnon, []string{"bearer s3cret-viewer"}, 200, "VIEWER", MethodToken, ""},
		{"anonymous", withAnon, nil, 200, "ANONYM", MethodAnonymous, ""},
		{"no credentials, no anonymous user", noAnon, nil, 401, "", "", `Bearer realm="nmigw"`},
		{"unknown token", withAnon, []string{"Bearer s3cret-nobody"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_token", error_description="unknown token"`},
		{"a token's prefix", noAnon, []string{"Bearer s3cret-ope"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_token", error_description="unknown token"`},
		{"basic", withAnon, []string{"Basic dXNlcjpwYXNz"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_request", error_description="only Bearer credentials are accepted"`},
		{"empty bearer", noAnon, []string{"Bearer "}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_request", error_description="the Authorization header has no token"`},
		{"bearer without a token", noAnon, []string{"Bearer"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_request", error_description="the Authorization header has no token"`},
		{"two tokens", noAnon, []string{"Bearer s3cret-oper s3cret-viewer"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_request", error_description="malformed Bearer credentials"`},
		{"two headers", noAnon, []string{"Bearer s3cret-oper", "Bearer s3cret-oper"}, 401, "", "",
			`Bearer realm="nmigw", error="invalid_request", error_description="more than one Authorization header"`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/v1/stacks", nil)
		for _, h := range tt.auth {
			r.Header.Add("Authorization", h)
		}
		got := serve(tt.a, r)
		if got.status != tt.status || got.user != tt.user || got.method != tt.method || got.challenge != tt.challenge {
			t.Errorf("%s: got %+v", tt.name, got)
		}
		if got.method == MethodToken && got.groups != "TOKGRP" {
			t.Errorf("%s: groups %q", tt.name, got.groups)
		}
	}
}

func TestMethodName(t *testing.T) {
	a := New(Options{Policy: staticPolicy(tokenPolicy(t, "ANONYM", nil))})
	var name string
	a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name = MethodName(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if name != "anonymous" || MethodName(t.Context()) != "" {
		t.Errorf("MethodName = %q", name)
	}
}

func TestUnauthorizedBody(t *testing.T) {
	a := New(Options{Policy: staticPolicy(tokenPolicy(t, "", nil))})
	rec := httptest.NewRecorder()
	a.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/whoami", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var prob map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &prob); err != nil {
		t.Fatal(err)
	}
	if prob["type"] != "urn:nmigw:problem:unauthorized" || prob["status"] != 401.0 ||
		prob["detail"] != "credentials required" || prob["instance"] != "/v1/whoami" || prob["title"] != "Unauthorized" {
		t.Errorf("problem %v", prob)
	}
}

func TestCustomErrorWriter(t *testing.T) {
	var got *Error
	a := New(Options{Policy: staticPolicy(tokenPolicy(t, "", nil)), Realm: `my "realm"`,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *Error) { got = e; w.WriteHeader(e.Status) }})
	res := serve(a, httptest.NewRequest("GET", "/", nil))
	if got == nil || got.Status != 401 || res.status != 401 || res.challenge != `Bearer realm="my realm"` {
		t.Errorf("error %+v, result %+v", got, res)
	}
}

func TestPolicyReloadTakesEffect(t *testing.T) {
	before := tokenPolicy(t, "", map[string]string{"old-token": "U1"})
	after := tokenPolicy(t, "", map[string]string{"new-token": "U1"})
	cur := before
	a := New(Options{Policy: func() *policy.Policy { return cur }})
	req := func(tok string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return serve(a, r).status
	}
	if req("old-token") != 200 || req("new-token") != 401 {
		t.Error("before reload")
	}
	cur = after
	if req("old-token") != 401 || req("new-token") != 200 {
		t.Error("after reload")
	}
}

func TestNoPolicy(t *testing.T) {
	a := New(Options{Policy: func() *policy.Policy { return nil }})
	if res := serve(a, httptest.NewRequest("GET", "/", nil)); res.status != 503 || res.user != "" {
		t.Errorf("without a policy: %+v", res)
	}
}

// A certificate the TLS layer did not verify is refused, not trusted.
func TestUnverifiedCertificate(t *testing.T) {
	a := New(Options{Policy: staticPolicy(tokenPolicy(t, "ANONYM", nil))})
	r := httptest.NewRequest("GET", "/", nil)
	cert, err := x509.ParseCertificate(newCA(t).issue(t, "CN=oper1").Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	if res := serve(a, r); res.status != 401 || res.user != "" {
		t.Errorf("unverified certificate: %+v", res)
	}
}

// The principal's groups are resolved when it is made: the identity's and
// the policy's for the user, upper case, sorted, once each.
func TestPrincipalGroupsResolved(t *testing.T) {
	p := tokenPolicy(t, "anonym", map[string]string{"s3cret-oper": "oper1"})
	p.Authz.Groups = map[string][]string{"OPER1": {"OPS", "TOKGRP"}, "ANONYM": {"GUESTS"}}
	p.Tokens[0].Groups = []string{"tokgrp", "extra"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(p)})
	r := httptest.NewRequest("GET", "/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer s3cret-oper")
	if got := serve(a, r); got.status != 200 || got.user != "OPER1" || got.groups != "EXTRA,OPS,TOKGRP" {
		t.Errorf("token: %+v", got)
	}
	if got := serve(a, httptest.NewRequest("GET", "/v1/whoami", nil)); got.status != 200 || got.user != "ANONYM" || got.groups != "GUESTS" {
		t.Errorf("anonymous: %+v", got)
	}
}
