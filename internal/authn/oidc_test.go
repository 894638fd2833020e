package authn

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// issuer is an in-process OpenID Connect issuer: discovery document, JWKS,
// and RS256 signing with a key that can be rotated.
type issuer struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	key        *rsa.PrivateKey
	kid        string
	down       bool // discovery answers 500
	discovered int  // discovery requests
	jwksServed int
	hold       chan struct{} // when set, discovery waits for it to close
	started    chan struct{} // told when a held discovery begins
}

func newIssuer(t *testing.T) *issuer {
	is := &issuer{t: t}
	is.rotate("k1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.discovered++
		down, hold, started := is.down, is.hold, is.started
		is.mu.Unlock()
		if hold != nil {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.srv.URL,
			"jwks_uri":                              is.srv.URL + "/keys",
			"authorization_endpoint":                is.srv.URL + "/auth",
			"token_endpoint":                        is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		is.jwksServed++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// counts returns the discovery and JWKS requests served so far.
func (is *issuer) counts() (discovered, jwks int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.discovered, is.jwksServed
}

// holdDiscovery makes discovery wait until release is called (at the
// latest when the test ends); started is told when a discovery begins.
func (is *issuer) holdDiscovery() (started <-chan struct{}, release func()) {
	hold, st := make(chan struct{}), make(chan struct{}, 1)
	is.mu.Lock()
	is.hold, is.started = hold, st
	is.mu.Unlock()
	release = sync.OnceFunc(func() { close(hold) })
	is.t.Cleanup(release)
	return st, release
}

// rotate replaces the signing key; the JWKS serves only the new one.
func (is *issuer) rotate(kid string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		is.t.Fatal(err)
	}
	is.mu.Lock()
	is.key, is.kid = key, kid
	is.mu.Unlock()
}

// sign returns a compact JWT with the claims, signed by the current key
// (or by key, when given).
func (is *issuer) sign(claims map[string]any, key *rsa.PrivateKey) string {
	is.mu.Lock()
	kid := is.kid
	if key == nil {
		key = is.key
	}
	is.mu.Unlock()
	return signJWT(is.t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func oidcSetup(t *testing.T) (*issuer, *clock, *Authenticator, func(claims map[string]any) map[string]any) {
	is := newIssuer(t)
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	pol := &policy.Policy{
		Authz: authz.Config{System: "SYS1"},
		OIDC:  &policy.OIDC{Issuer: is.srv.URL, Audience: "nmigw", GroupsClaim: "groups", Names: testNames(), Groups: testGroups()},
	}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: is.srv.Client(), Now: clk.Now})
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{
			"iss": is.srv.URL, "sub": "0f6a1c", "aud": "nmigw",
			"iat": clk.Now().Unix(), "exp": clk.Now().Add(time.Hour).Unix(),
			"preferred_username": "oper1", "groups": []string{"opsgrp", "netadm"},
		}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	return is, clk, a, claims
}

// testNames maps the tests' IdP user name oper1 to OPER1.
func testNames() policy.NameMap { return policy.NameMap{Users: map[string]string{"oper1": "OPER1"}} }

// testGroups maps the tests' IdP groups to groups of the same names.
func testGroups() map[string]string {
	return map[string]string{"opsgrp": "OPSGRP", "netadm": "NETADM", "noc": "NOC"}
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestOIDC(t *testing.T) {
	is, _, a, claims := oidcSetup(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		status int
		user   string
		groups string
		detail string
	}{
		{"valid", is.sign(claims(nil), nil), 200, "OPER1", "NETADM,OPSGRP", ""},
		{"groups as one string", is.sign(claims(map[string]any{"groups": "noc"}), nil), 200, "OPER1", "NOC", ""},
		{"no groups claim", is.sign(claims(map[string]any{"groups": nil}), nil), 200, "OPER1", "", ""},
		{"audience list", is.sign(claims(map[string]any{"aud": []string{"other", "nmigw"}}), nil), 200, "OPER1", "NETADM,OPSGRP", ""},
		{"wrong audience", is.sign(claims(map[string]any{"aud": "other"}), nil), 401, "", "", "the token does not verify"},
		{"wrong issuer", is.sign(claims(map[string]any{"iss": "https://evil.example"}), nil), 401, "", "", "the token does not verify"},
		{"expired", is.sign(claims(map[string]any{"exp": time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Unix()}), nil), 401, "", "", "the token has expired"},
		{"signed by a key the issuer does not publish", is.sign(claims(nil), other), 401, "", "", "the token does not verify"},
		{"user claim missing", is.sign(claims(map[string]any{"preferred_username": nil}), nil), 401, "", "", reasonNoUser},
		{"user claim too long", is.sign(claims(map[string]any{"preferred_username": "operator1"}), nil), 401, "", "", reasonNoUser},
		{"tampered payload", tamper(is.sign(claims(nil), nil)), 401, "", "", "the token does not verify"},
		{"not a JWT", "abc.def", 401, "", "", "unknown token"},
	}
	for _, tt := range tests {
		got := serve(a, bearerRequest(tt.token))
		if got.status != tt.status || got.user != tt.user || got.groups != tt.groups || !strings.Contains(got.body, tt.detail) {
			t.Errorf("%s: got %+v", tt.name, got)
		}
		if got.status == 200 && got.method != MethodOIDC {
			t.Errorf("%s: method %q", tt.name, got.method)
		}
	}
	if d, _ := is.counts(); d != 1 {
		t.Errorf("%d discoveries, want 1", d)
	}
}

// A 401 for a token says a fixed, short reason: not the audience the
// gateway expects, the token's algorithm or the server's time, which the
// library's errors name. Those go to the log, with the request ID.
func TestOIDCUnauthorizedReasonsFixed(t *testing.T) {
	is, _, _, claims := oidcSetup(t)
	var logs bytes.Buffer
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	pol := &policy.Policy{Authz: authz.Config{System: "SYS1"},
		OIDC: &policy.OIDC{Issuer: is.srv.URL, Audience: "aud-7f3c1e", Names: testNames()}}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: is.srv.Client(), Now: clk.Now,
		Logger:    slog.New(slog.NewJSONHandler(&logs, nil)),
		RequestID: func(ctx context.Context) string { return "rid-" + ctx.Value(ridKey{}).(string) }})
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims(map[string]any{"aud": "aud-7f3c1e"}))
	jws, err := hs.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	hsToken, _ := jws.CompactSerialize()
	for _, c := range []struct {
		name, token, reason, cause string
	}{
		{"wrong audience", is.sign(claims(map[string]any{"aud": "other"}), nil), reasonNotVerified, "aud-7f3c1e"},
		{"HS256", hsToken, reasonNotVerified, "HS256"},
		{"expired", is.sign(claims(map[string]any{"aud": "aud-7f3c1e", "exp": time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Unix()}), nil), reasonExpired, "2026"},
		{"unmapped user", is.sign(claims(map[string]any{"aud": "aud-7f3c1e", "preferred_username": "operator-x"}), nil), reasonNoUser, "preferred_username"},
	} {
		logs.Reset()
		r := bearerRequest(c.token)
		r = r.WithContext(context.WithValue(r.Context(), ridKey{}, c.name))
		got := serve(a, r)
		var prob map[string]any
		if err := json.Unmarshal([]byte(got.body), &prob); err != nil {
			t.Fatal(err)
		}
		if got.status != 401 || prob["detail"] != c.reason || !strings.Contains(got.challenge, `error_description="`+c.reason+`"`) {
			t.Errorf("%s: %d %v, challenge %q; want reason %q", c.name, got.status, prob, got.challenge, c.reason)
		}
		for _, leak := range []string{"aud-7f3c1e", "HS256", "RS256", "2026", "preferred_username", "expected"} {
			if strings.Contains(got.body, leak) || strings.Contains(got.challenge, leak) {
				t.Errorf("%s: the answer names %q: %s %s", c.name, leak, got.body, got.challenge)
			}
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("%s: log %q: %v", c.name, logs.String(), err)
		}
		if line["requestId"] != "rid-"+c.name || !strings.Contains(fmt.Sprint(line["cause"]), c.cause) || line["reason"] != c.reason {
			t.Errorf("%s: log line %v: want the request ID and a cause naming %q", c.name, line, c.cause)
		}
	}
}

type ridKey struct{}

// An IdP's names become user IDs only through the policy's mapping: a
// name alone is no user ID (preferred_username ibmuser is not IBMUSER), a
// stripped domain never reaches a superuser, and the token's groups count
// only where the policy maps them.
func TestOIDCNameMapping(t *testing.T) {
	is, clk, _, claims := oidcSetup(t)
	pol, err := policy.Parse([]byte(`system: SYS1
superusers: {users: [IBMUSER], groups: [SYS1]}
users: {OPER2: [SYS1], OPER1: [NETADM]}
identities:
  oidc:
    issuer: ` + is.srv.URL + `
    audience: nmigw
    users: {alice.smith@example.com: ALICE}
    userDomain: example.com
    groupsClaim: groups
    groups: {ipsec-ops: OPSGRP}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: is.srv.Client(), Now: clk.Now})
	idp := []string{"admins", "ipsec-ops", "SYS1", "sys1"}
	for _, c := range []struct {
		name, user, groups string
		status             int
	}{
		{"ibmuser", "", "", 401},
		{"IBMUSER", "", "", 401},
		{"oper1", "", "", 401},
		{"ibmuser@example.com", "", "", 401},
		{"oper2@example.com", "", "", 401}, // member of a superuser group
		{"oper1@evil.example", "", "", 401},
		{"oper1@example.com@example.com", "", "", 401},
		{"oper1@EXAMPLE.com", "OPER1", "NETADM,OPSGRP", 200},
		{"alice.smith@example.com", "ALICE", "OPSGRP", 200},
	} {
		got := serve(a, bearerRequest(is.sign(claims(map[string]any{"preferred_username": c.name, "groups": idp}), nil)))
		if got.status != c.status || got.user != c.user || got.groups != c.groups {
			t.Errorf("preferred_username %q: %+v, want %d %s %s", c.name, got, c.status, c.user, c.groups)
		}
	}
}

// The middleware tells when an OIDC token expires (ExpiryFrom), so that
// long requests can end then; other credentials have no expiry.
func TestOIDCExpiryInContext(t *testing.T) {
	is, clk, a, claims := oidcSetup(t)
	exp := clk.Now().Add(20 * time.Minute).Truncate(time.Second)
	var got time.Time
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ExpiryFrom(r.Context()) }))
	h.ServeHTTP(httptest.NewRecorder(), bearerRequest(is.sign(claims(map[string]any{"exp": exp.Unix()}), nil)))
	if !got.Equal(exp) {
		t.Errorf("ExpiryFrom = %v, want the token's exp %v", got, exp)
	}
	if !ExpiryFrom(t.Context()).IsZero() {
		t.Error("ExpiryFrom outside a request is not zero")
	}
}

// tamper changes the payload's user while keeping the signature.
func tamper(jwt string) string {
	parts := strings.Split(jwt, ".")
	parts[1] = strings.ToUpper(parts[1][:4]) + parts[1][4:]
	return strings.Join(parts, ".")
}

// The JWKS is fetched again when no key held verifies a token (the issuer
// rotated its keys), once the last fetch is keySetRefetch old.
func TestOIDCKeyRotation(t *testing.T) {
	is, clk, a, claims := oidcSetup(t)
	if got := serve(a, bearerRequest(is.sign(claims(nil), nil))); got.status != 200 {
		t.Fatalf("before rotation: %+v", got)
	}
	is.rotate("k2")
	clk.add(keySetRefetch)
	if got := serve(a, bearerRequest(is.sign(claims(nil), nil))); got.status != 200 || got.user != "OPER1" {
		t.Errorf("after rotation: %+v", got)
	}
	if _, j := is.counts(); j != 2 {
		t.Errorf("JWKS fetched %d times, want one refetch", j)
	}
}

// Tokens that no key held verifies (forged, or of another key) do not make
// the gateway fetch the issuer's keys each time: at most once per
// keySetRefetch, and meanwhile the keys held keep verifying good tokens.
func TestOIDCKeySetRefetchRateLimited(t *testing.T) {
	is, clk, a, claims := oidcSetup(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := is.sign(claims(nil), nil)
	if got := serve(a, bearerRequest(good)); got.status != 200 {
		t.Fatalf("first token: %+v", got)
	}
	forged := is.sign(claims(nil), other) // the issuer's key ID, another key
	for i := range 20 {
		if got := serve(a, bearerRequest(forged)); got.status != 401 {
			t.Fatalf("forged token %d: %+v", i, got)
		}
		if got := serve(a, bearerRequest(good)); got.status != 200 {
			t.Fatalf("good token after %d forged ones: %+v", i+1, got)
		}
	}
	if _, j := is.counts(); j != 1 {
		t.Errorf("20 forged tokens: JWKS fetched %d times, want 1 (the first)", j)
	}
	clk.add(keySetRefetch - time.Second)
	serve(a, bearerRequest(forged))
	if _, j := is.counts(); j != 1 {
		t.Errorf("%s after the fetch: JWKS fetched %d times, want 1", keySetRefetch-time.Second, j)
	}
	clk.add(time.Second)
	for range 5 {
		serve(a, bearerRequest(forged))
	}
	if _, j := is.counts(); j != 2 {
		t.Errorf("%s after the fetch, 5 forged tokens: JWKS fetched %d times, want 2", keySetRefetch, j)
	}
}

// An unreachable issuer is a 503 with Retry-After; discovery is retried
// after the pause, not on every request.
func TestOIDCIssuerDown(t *testing.T) {
	is, clk, a, claims := oidcSetup(t)
	is.mu.Lock()
	is.down = true
	is.mu.Unlock()
	tok := is.sign(claims(map[string]any{"exp": clk.Now().Add(24 * time.Hour).Unix()}), nil)
	rec := httptest.NewRecorder()
	a.Middleware(http.NotFoundHandler()).ServeHTTP(rec, bearerRequest(tok))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "10" || !strings.Contains(rec.Body.String(), "authentication-unavailable") {
		t.Errorf("issuer down: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if got := serve(a, bearerRequest(tok)); got.status != 503 {
		t.Errorf("second request: %+v", got)
	}
	if d, _ := is.counts(); d != 1 {
		t.Errorf("discovery retried at once: %d discoveries", d)
	}
	is.mu.Lock()
	is.down = false
	is.mu.Unlock()
	clk.add(oidcRetry)
	if got := serve(a, bearerRequest(tok)); got.status != 200 {
		t.Errorf("after the pause: %+v", got)
	}
	if d, _ := is.counts(); d != 2 {
		t.Errorf("after the pause: %d discoveries, want 2", d)
	}
}

// Why the issuer cannot be reached (its address, the network's error) is
// logged for the operator and never told to the unauthenticated caller.
func TestOIDCIssuerUnreachableCauseOnlyLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs bytes.Buffer
	pol := tokenPolicy(t, "", nil)
	pol.OIDC = &policy.OIDC{Issuer: "http://" + addr, Audience: "nmigw", UserClaim: "preferred_username", Names: testNames()}
	a := New(Options{Policy: staticPolicy(pol), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	got := serve(a, bearerRequest("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"))
	if got.status != 503 || !strings.Contains(got.body, "the OpenID Connect issuer cannot be reached") {
		t.Fatalf("unreachable issuer: %+v", got)
	}
	if strings.Contains(got.body, addr) {
		t.Errorf("the body names the issuer's address: %s", got.body)
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("the log lacks the cause:\n%s", logs.String())
	}
}

// While the issuer's discovery hangs, a request with a policy token is
// answered, and the OIDC requests waiting meanwhile share one discovery.
func TestOIDCSlowDiscovery(t *testing.T) {
	is, clk, _, claims := oidcSetup(t)
	pol := tokenPolicy(t, "", map[string]string{"s3cret-oper": "oper1"})
	pol.OIDC = &policy.OIDC{Issuer: is.srv.URL, Audience: "nmigw", GroupsClaim: "groups", Names: testNames(), Groups: testGroups()}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: is.srv.Client(), Now: clk.Now})
	started, release := is.holdDiscovery()
	jwt := is.sign(claims(nil), nil)
	const n = 8
	results := make(chan result, n)
	for range n {
		go func() { results <- serve(a, bearerRequest(jwt)) }()
	}
	<-started
	if got := serve(a, bearerRequest("s3cret-oper")); got.status != 200 || got.user != "OPER1" || got.method != MethodToken {
		t.Errorf("policy token during discovery: %+v", got)
	}
	release()
	for range n {
		if got := <-results; got.status != 200 || got.user != "OPER1" {
			t.Errorf("OIDC request: %+v", got)
		}
	}
	if d, _ := is.counts(); d != 1 {
		t.Errorf("%d discoveries, want 1", d)
	}
}

// A reload that names another issuer takes effect while the old issuer's
// discovery hangs: the new issuer's tokens verify at once, and the request
// that was waiting for the old issuer gets its answer when it comes.
func TestOIDCReloadDuringSlowDiscovery(t *testing.T) {
	old, clk, _, oldClaims := oidcSetup(t)
	fresh := newIssuer(t)
	policyFor := func(is *issuer) *policy.Policy {
		p := &policy.Policy{Authz: authz.Config{System: "SYS1"}, OIDC: &policy.OIDC{Issuer: is.srv.URL, Audience: "nmigw", Names: testNames()}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var cur atomic.Pointer[policy.Policy]
	cur.Store(policyFor(old))
	a := New(Options{Policy: cur.Load, HTTPClient: old.srv.Client(), Now: clk.Now})
	started, release := old.holdDiscovery()
	waiting := make(chan result, 1)
	go func() { waiting <- serve(a, bearerRequest(old.sign(oldClaims(nil), nil))) }()
	<-started

	cur.Store(policyFor(fresh))
	c := oldClaims(map[string]any{"iss": fresh.srv.URL})
	if got := serve(a, bearerRequest(fresh.sign(c, nil))); got.status != 200 || got.user != "OPER1" {
		t.Errorf("the new issuer's token: %+v", got)
	}
	select {
	case got := <-waiting:
		t.Fatalf("the old issuer's request ended before its discovery: %+v", got)
	default:
	}
	release()
	if got := <-waiting; got.status != 200 || got.user != "OPER1" {
		t.Errorf("the old issuer's request: %+v", got)
	}
}
