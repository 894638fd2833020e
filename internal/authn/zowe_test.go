package authn

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// zoweKeysPath is where the API ML publishes its current signing key.
const zoweKeysPath = "/gateway/api/v1/auth/keys/public/current"

// apiml is an in-process stand-in for the API ML's key endpoint: it serves
// the JWK set of the current key and counts the fetches. Tokens are signed
// in the test with the API ML's claims (sub, iss APIML, iat, exp, jti,
// dom; no aud).
type apiml struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	key     *rsa.PrivateKey
	kid     string // "" = the JWK and the tokens name no key ID
	down    bool   // the endpoint answers 500
	fetches int
}

func newAPIML(t testing.TB, tlsServer bool) *apiml {
	m := &apiml{t: t}
	m.rotate("")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+zoweKeysPath, func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fetches++
		if m.down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &m.key.PublicKey, KeyID: m.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	if tlsServer {
		m.srv = httptest.NewUnstartedServer(mux)
		// The handshakes refused on purpose are not worth a log line.
		m.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		m.srv.StartTLS()
	} else {
		m.srv = httptest.NewServer(mux)
	}
	t.Cleanup(m.srv.Close)
	return m
}

func (m *apiml) rotate(kid string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		m.t.Fatal(err)
	}
	m.mu.Lock()
	m.key, m.kid = key, kid
	m.mu.Unlock()
}

func (m *apiml) setDown(down bool) { m.mu.Lock(); m.down = down; m.mu.Unlock() }

func (m *apiml) fetched() int { m.mu.Lock(); defer m.mu.Unlock(); return m.fetches }

// sign returns a token with the claims signed by the current key, or by
// key when given.
func (m *apiml) sign(claims map[string]any, key *rsa.PrivateKey) string {
	m.mu.Lock()
	kid := m.kid
	if key == nil {
		key = m.key
	}
	m.mu.Unlock()
	return signJWT(m.t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

func signJWT(t testing.TB, k jose.SigningKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(k, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type zoweEnv struct {
	m      *apiml
	clk    *clock
	a      *Authenticator
	logs   *syncLog
	claims func(over map[string]any) map[string]any
}

// syncLog is a log buffer safe for concurrent requests.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *syncLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func zoweSetup(t testing.TB, pol *policy.Policy) *zoweEnv {
	t.Helper()
	m := newAPIML(t, false)
	if pol == nil {
		pol = &policy.Policy{Authz: authz.Config{System: "SYS1"}}
	}
	pol.Zowe = &policy.ZoweJWT{JWKSURL: m.srv.URL + zoweKeysPath}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &syncLog{}
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: m.srv.Client(), Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{
			"sub": "oper1", "iss": "APIML", "dom": "security-domain",
			"iat": clk.Now().Unix(), "exp": clk.Now().Add(8 * time.Hour).Unix(),
			"jti": "0b8c3a5e-4f0e-4a44-9d0b-1c0d2e3f4a5b",
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
	return &zoweEnv{m: m, clk: clk, a: a, logs: logs, claims: claims}
}

func cookieRequest(token string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/whoami", nil)
	r.AddCookie(&http.Cookie{Name: "apimlAuthenticationToken", Value: token})
	return r
}

func TestZoweJWT(t *testing.T) {
	e := zoweSetup(t, nil)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hmac := signJWT(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, e.claims(nil))
	past := e.clk.Now().Add(-2 * time.Hour).Unix()
	tests := []struct {
		name   string
		req    *http.Request
		status int
		user   string
		detail string
	}{
		{"valid, as Bearer", bearerRequest(e.m.sign(e.claims(nil), nil)), 200, "OPER1", ""},
		{"valid, in the API ML's cookie", cookieRequest(e.m.sign(e.claims(nil), nil)), 200, "OPER1", ""},
		{"upper-case sub", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "IBMUSER"}), nil)), 200, "IBMUSER", ""},
		{"national characters", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "#OP$@1"}), nil)), 200, "#OP$@1", ""},
		{"expired", bearerRequest(e.m.sign(e.claims(map[string]any{"exp": past}), nil)), 401, "", "the token has expired"},
		{"expired, in the cookie", cookieRequest(e.m.sign(e.claims(map[string]any{"exp": past}), nil)), 401, "", "the token has expired"},
		{"no expiry", bearerRequest(e.m.sign(e.claims(map[string]any{"exp": nil}), nil)), 401, "", "the token has no expiry time"},
		{"not valid yet", bearerRequest(e.m.sign(e.claims(map[string]any{"nbf": e.clk.Now().Add(time.Hour).Unix()}), nil)), 401, "", "the token is not valid yet"},
		{"z/OSMF's issuer", bearerRequest(e.m.sign(e.claims(map[string]any{"iss": "zOSMF"}), nil)), 401, "", "the token is from another issuer"},
		{"no issuer", bearerRequest(e.m.sign(e.claims(map[string]any{"iss": nil}), nil)), 401, "", "the token is from another issuer"},
		{"signed by another key", bearerRequest(e.m.sign(e.claims(nil), other)), 401, "", "the token's signature does not verify"},
		{"tampered payload", bearerRequest(tamper(e.m.sign(e.claims(nil), nil))), 401, "", "the token's signature does not verify"},
		{"HMAC-signed", bearerRequest(hmac), 401, "", "the token is not a JWT signed with an accepted algorithm"},
		{"unsigned", bearerRequest("eyJhbGciOiJub25lIn0.eyJzdWIiOiJPUEVSMSIsImlzcyI6IkFQSU1MIn0."), 401, "", "the token is not a JWT signed with an accepted algorithm"},
		{"garbage in the cookie", cookieRequest("not-a-jwt"), 401, "", "the token is not a JWT signed with an accepted algorithm"},
		{"sub too long", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "operator1"}), nil)), 401, "", "the token's subject is not a user ID"},
		{"sub with a hyphen", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "op-1"}), nil)), 401, "", "the token's subject is not a user ID"},
		{"sub with a blank", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "OP 1"}), nil)), 401, "", "the token's subject is not a user ID"},
		{"sub not ASCII", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "ÖPER1"}), nil)), 401, "", "the token's subject is not a user ID"},
		{"sub an e-mail address", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": "a@b.c"}), nil)), 401, "", "the token's subject is not a user ID"},
		{"no sub", bearerRequest(e.m.sign(e.claims(map[string]any{"sub": nil}), nil)), 401, "", "the token's subject is not a user ID"},
	}
	for _, tt := range tests {
		got := serve(e.a, tt.req)
		if got.status != tt.status || got.user != tt.user || !strings.Contains(got.body, tt.detail) {
			t.Errorf("%s: got %+v", tt.name, got)
		}
		if got.status == 200 && got.method != MethodZowe {
			t.Errorf("%s: method %q", tt.name, got.method)
		}
		if got.status == 401 && !strings.Contains(got.challenge, `error="invalid_token"`) {
			t.Errorf("%s: challenge %q", tt.name, got.challenge)
		}
	}
	// The key set was fetched once; the tokens that no key held verifies
	// fetched nothing more within the refetch interval (the clock stood).
	if n := e.m.fetched(); n != 1 {
		t.Errorf("%d fetches of the JWK set, want 1", n)
	}
}

// The reasons are short and name neither the token's claims nor the
// configuration; the log has what the gateway saw.
func TestZoweJWTReasonsDoNotLeak(t *testing.T) {
	e := zoweSetup(t, nil)
	tok := e.m.sign(e.claims(map[string]any{"iss": "EVIL-ISSUER", "sub": "SPYUSER"}), nil)
	got := serve(e.a, bearerRequest(tok))
	if got.status != 401 {
		t.Fatalf("wrong issuer: %+v", got)
	}
	for _, secret := range []string{"EVIL-ISSUER", "APIML", "SPYUSER", e.m.srv.URL, tok} {
		if strings.Contains(got.body, secret) || strings.Contains(got.challenge, secret) {
			t.Errorf("the answer names %q: %s %s", secret, got.challenge, got.body)
		}
	}
	if !strings.Contains(e.logs.String(), `iss \"EVIL-ISSUER\", want \"APIML\"`) {
		t.Errorf("the log lacks the cause:\n%s", e.logs.String())
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Error("the log holds the token")
	}
}

// A rotated key is fetched when a token names it; tokens signed by unknown
// keys fetch the set at most once per refetch interval, however many come.
func TestZoweJWTKeyRotationAndRefetchLimit(t *testing.T) {
	e := zoweSetup(t, nil)
	e.m.rotate("k1")
	if got := serve(e.a, bearerRequest(e.m.sign(e.claims(nil), nil))); got.status != 200 {
		t.Fatalf("first token: %+v", got)
	}
	if n := e.m.fetched(); n != 1 {
		t.Fatalf("%d fetches after the first token, want 1", n)
	}

	// The API ML restarts with a new key: the first token signed by it
	// fetches the set again, but only once the interval has passed.
	e.m.rotate("k2")
	fresh := e.m.sign(e.claims(nil), nil)
	if got := serve(e.a, bearerRequest(fresh)); got.status != 401 {
		t.Errorf("a new key within the refetch interval: %+v", got)
	}
	if n := e.m.fetched(); n != 1 {
		t.Errorf("%d fetches within the refetch interval, want 1", n)
	}
	e.clk.add(zoweRefetch)
	if got := serve(e.a, bearerRequest(fresh)); got.status != 200 || got.user != "OPER1" {
		t.Errorf("after rotation: %+v", got)
	}
	if n := e.m.fetched(); n != 2 {
		t.Errorf("%d fetches after rotation, want 2", n)
	}

	// A flood of tokens signed by a key nobody publishes, concurrently
	// once the interval has passed: one fetch for all of them.
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := e.m.sign(e.claims(nil), stranger)
	e.clk.add(zoweRefetch)
	const n = 16
	var wg sync.WaitGroup
	results := make(chan result, n)
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); results <- serve(e.a, bearerRequest(forged)) }()
	}
	wg.Wait()
	close(results)
	for got := range results {
		if got.status != 401 {
			t.Errorf("forged token: %+v", got)
		}
	}
	if got := e.m.fetched(); got != 3 {
		t.Errorf("%d fetches after %d forged tokens, want 3", got, n)
	}
	// The good key still works, without a fetch.
	if got := serve(e.a, bearerRequest(fresh)); got.status != 200 {
		t.Errorf("after the forged tokens: %+v", got)
	}
	if got := e.m.fetched(); got != 3 {
		t.Errorf("%d fetches, want still 3", got)
	}
}

// The API ML's keys cannot be fetched: 503 with Retry-After, and the
// endpoint is asked again only after the pause.
func TestZoweJWTKeysUnavailable(t *testing.T) {
	e := zoweSetup(t, nil)
	e.m.setDown(true)
	tok := e.m.sign(e.claims(nil), nil)
	rec := httptest.NewRecorder()
	e.a.Middleware(http.NotFoundHandler()).ServeHTTP(rec, bearerRequest(tok))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" || !strings.Contains(rec.Body.String(), "keys cannot be fetched") {
		t.Errorf("keys down: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if strings.Contains(rec.Body.String(), e.m.srv.URL) {
		t.Errorf("the answer names the API ML: %s", rec.Body)
	}
	if !strings.Contains(e.logs.String(), "500 Internal Server Error") {
		t.Errorf("the log lacks the cause:\n%s", e.logs.String())
	}
	if got := serve(e.a, bearerRequest(tok)); got.status != 503 {
		t.Errorf("second request: %+v", got)
	}
	if n := e.m.fetched(); n != 1 {
		t.Errorf("%d fetches within the pause, want 1", n)
	}
	e.m.setDown(false)
	e.clk.add(zoweRefetch)
	if got := serve(e.a, bearerRequest(tok)); got.status != 200 {
		t.Errorf("after the pause: %+v", got)
	}
	if n := e.m.fetched(); n != 2 {
		t.Errorf("%d fetches after the pause, want 2", n)
	}
}

// An API ML whose certificate the system does not trust is reached with
// the CAs of identities.zoweJwt.caFile, and only with them.
func TestZoweJWTCAFile(t *testing.T) {
	m := newAPIML(t, true)
	clk := &clock{now: time.Now()}
	claims := map[string]any{"sub": "OPER1", "iss": "APIML", "exp": clk.Now().Add(time.Hour).Unix()}
	policyWith := func(roots *x509.CertPool) *policy.Policy {
		p := &policy.Policy{Authz: authz.Config{System: "SYS1"},
			Zowe: &policy.ZoweJWT{JWKSURL: m.srv.URL + zoweKeysPath, RootCAs: roots}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := New(Options{Policy: staticPolicy(policyWith(nil)), Now: clk.Now})
	if got := serve(a, bearerRequest(m.sign(claims, nil))); got.status != 503 {
		t.Errorf("untrusted API ML: %+v", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(m.srv.Certificate())
	a = New(Options{Policy: staticPolicy(policyWith(roots)), Now: clk.Now})
	if got := serve(a, bearerRequest(m.sign(claims, nil))); got.status != 200 || got.user != "OPER1" {
		t.Errorf("with the CA file: %+v", got)
	}
}

// With OIDC and Zowe JWTs both accepted, a token goes to the source its
// issuer names; the groups of OIDC do not leak into Zowe principals.
func TestZoweJWTBesideOIDC(t *testing.T) {
	is, clk, _, oidcClaims := oidcSetup(t)
	pol := &policy.Policy{Authz: authz.Config{System: "SYS1"},
		OIDC: &policy.OIDC{Issuer: is.srv.URL, Audience: "nmigw", GroupsClaim: "groups", Names: testNames(), Groups: testGroups()}}
	e := zoweSetup(t, pol)
	e.clk = clk
	a := New(Options{Policy: staticPolicy(pol), HTTPClient: http.DefaultClient, Now: clk.Now})
	if got := serve(a, bearerRequest(is.sign(oidcClaims(nil), nil))); got.status != 200 || got.method != MethodOIDC || got.groups != "NETADM,OPSGRP" {
		t.Errorf("OIDC token: %+v", got)
	}
	zc := map[string]any{"sub": "ADMIN1", "iss": "APIML", "exp": clk.Now().Add(time.Hour).Unix()}
	if got := serve(a, bearerRequest(e.m.sign(zc, nil))); got.status != 200 || got.method != MethodZowe || got.user != "ADMIN1" || got.groups != "" {
		t.Errorf("Zowe token: %+v", got)
	}
}

// The API ML's cookie wins over a client certificate (through the API ML,
// the certificate is the API ML's own), and an Authorization header wins
// over the cookie.
func TestZoweJWTPrecedence(t *testing.T) {
	pol := tokenPolicy(t, "", map[string]string{"s3cret-oper": "oper1"})
	pol.Certificates = append(pol.Certificates, policy.CertID{Subject: "CN=APIMLGW", User: "APIMLGW"})
	e := zoweSetup(t, pol)
	r := cookieRequest(e.m.sign(e.claims(map[string]any{"sub": "ZOWEUSR"}), nil))
	r.Header.Set("Authorization", "Bearer s3cret-oper")
	if got := serve(e.a, r); got.status != 200 || got.user != "OPER1" || got.method != MethodToken {
		t.Errorf("header and cookie: %+v", got)
	}
	ca := newCA(t)
	apimlCert, err := x509.ParseCertificate(ca.issue(t, "CN=APIMLGW").Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	r = cookieRequest(e.m.sign(e.claims(map[string]any{"sub": "ZOWEUSR"}), nil))
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{apimlCert},
		VerifiedChains: [][]*x509.Certificate{{apimlCert, ca.cert}}}
	if got := serve(e.a, r); got.status != 200 || got.user != "ZOWEUSR" || got.method != MethodZowe {
		t.Errorf("cookie and client certificate: %+v", got)
	}
	r.Header.Del("Cookie")
	if got := serve(e.a, r); got.status != 200 || got.user != "APIMLGW" || got.method != MethodCertificate {
		t.Errorf("client certificate alone: %+v", got)
	}
	// Without zoweJwt in the policy the cookie is not looked at.
	plain := tokenPolicy(t, "ANONYM", nil)
	a := New(Options{Policy: staticPolicy(plain)})
	if got := serve(a, cookieRequest(e.m.sign(e.claims(nil), nil))); got.status != 200 || got.user != "ANONYM" {
		t.Errorf("cookie without zoweJwt: %+v", got)
	}
}

// Whatever arrives as a Bearer token or in the API ML's cookie is answered
// 401, or 200 only for the tokens the API ML signed; never a panic.
func FuzzZoweJWT(f *testing.F) {
	e := zoweSetup(f, nil)
	good := e.m.sign(e.claims(nil), nil)
	for _, s := range []string{good, tamper(good), "a.b.c", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOjF9.AA", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, r := range []*http.Request{bearerRequest(tok), cookieRequest(tok)} {
			if got := serve(e.a, r); got.status != 401 && (tok != good || got.status != 200) {
				t.Errorf("%q: %+v", tok, got)
			}
		}
	})
}
