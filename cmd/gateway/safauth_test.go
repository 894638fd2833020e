package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/authz/safauth"
	"github.com/nmigw/nmigw/internal/authz/safauth/safauthtest"
	"github.com/nmigw/nmigw/internal/policy"
)

// writeClientCert writes a self-signed client certificate and its key
// (PEM) to dir, and returns the certificate.
func writeClientCert(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "nmigw"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "gw.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, filepath.Join(dir, "gw-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// safEndpoint is a saf-auth endpoint over TLS that requires the client
// certificate and Basic credentials, speaks ZSS's REST shape and decides
// as RACF would with these profiles: OPER1 may display and control every
// stack, VIEWER1 only display; nobody else anything. failing makes it
// answer {"error": true}.
type safEndpoint struct {
	srv     *safauthtest.Server
	ts      *httptest.Server
	failing atomic.Bool
}

func startSAFEndpoint(t *testing.T, clientCert *x509.Certificate) *safEndpoint {
	t.Helper()
	racf, err := authz.New(authz.Config{System: "SYS1", Profiles: []authz.Profile{
		{Name: "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", Access: []authz.Entry{{ID: "OPER1", Level: authz.AccessRead}, {ID: "VIEWER1", Level: authz.AccessRead}}},
		{Name: "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL", Access: []authz.Entry{{ID: "OPER1", Level: authz.AccessRead}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := &safEndpoint{srv: &safauthtest.Server{Username: "NMIGWSV", Password: "zss pass",
		Decide: safauthtest.ModelDecider(func() *authz.Model { return racf })}}
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.failing.Load() {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"error": true, "message": "ZIS cross-memory server not available"}`))
			return
		}
		e.srv.ServeHTTP(w, r)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	// Handshakes cut short when the test ends are not news.
	e.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.ts.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	return e
}

// TestWholeProgramSAFEndpoint runs the gateway with a policy that selects
// the saf-endpoint backend: RACF (the test endpoint) decides, not the
// policy's profiles, which would let everybody do everything, and not its
// superusers; decisions are cached until SIGHUP; a user ID RACF cannot
// hold never reaches the endpoint; an endpoint that answers an error
// gives 503 with Retry-After. The simulator behind keeps the policy
// model (its profiles let the gateway's own user in).
func TestWholeProgramSAFEndpoint(t *testing.T) {
	dir := t.TempDir()
	e := startSAFEndpoint(t, writeClientCert(t, dir))
	writeFile(t, filepath.Join(dir, "zss-ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.ts.Certificate().Raw}))
	writeFile(t, filepath.Join(dir, "zss-password"), []byte("zss pass\n"))
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, []byte(`system: SYS1
superusers: {users: [IBMUSER]}
profiles:
  - {name: "EZB.NETMGMT.SYS1.**", uacc: READ}
identities:
  tokens:
    - {sha256: "`+tokenHash("tok-oper")+`", user: OPER1}
    - {sha256: "`+tokenHash("tok-viewer")+`", user: VIEWER1}
    - {sha256: "`+tokenHash("tok-super")+`", user: IBMUSER}
    - {sha256: "`+tokenHash("tok-digit")+`", user: 1OPER}
authorization:
  backend: saf-endpoint
  safEndpoint:
    url: `+e.ts.URL+`/zss/api/v1/saf-auth
    caFile: zss-ca.pem
    certFile: gw.pem
    keyFile: gw-key.pem
    user: NMIGWSV
    passwordFile: zss-password
`))
	g := startGateway(t, "--policy", pol)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	checks := func() int { return len(e.srv.Checks()) }

	g.object("/v1/stacks/TCPIP/summary", http.StatusOK, as("tok-oper")...)
	g.object("/v1/stacks/TCPIP/summary", http.StatusOK, as("tok-oper")...)
	if n := checks(); n != 1 {
		t.Errorf("%d checks for one decision asked twice", n)
	}
	if got := e.srv.Checks(); len(got) != 1 || got[0] != (safauthtest.Check{User: "OPER1", Class: "SERVAUTH",
		Entity: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", Access: authz.AccessRead}) {
		t.Errorf("checks %+v", got)
	}
	g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusOK, as("tok-oper")...)

	// RACF's denials, though the policy's profiles grant everybody.
	p := g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusForbidden, as("tok-viewer")...)
	if p["resource"] != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || p["profile"] != nil ||
		!strings.Contains(str(p, "detail"), "RACF via saf-auth: not authorized") {
		t.Errorf("403 %v", p)
	}
	g.object("/v1/stacks/TCPIP/summary", http.StatusForbidden, as("tok-super")...) // no superuser bypass
	w := g.object("/v1/whoami", http.StatusOK, as("tok-viewer")...)
	for _, x := range w["stacks"].([]any) {
		if st := x.(map[string]any); st["display"] != true || st["control"] != false {
			t.Errorf("whoami of VIEWER1: %v", st)
		}
	}
	before := checks()
	p = g.object("/v1/stacks/TCPIP/summary", http.StatusForbidden, as("tok-digit")...)
	if !strings.Contains(str(p, "detail"), authz.ReasonBadUser) || checks() != before {
		t.Errorf("user 1OPER: %v, %d checks", p, checks()-before)
	}

	// The endpoint fails: the cached grant still answers until SIGHUP
	// empties the cache; then 503 with Retry-After, never a grant.
	e.failing.Store(true)
	g.object("/v1/stacks/TCPIP/summary", http.StatusOK, as("tok-oper")...)
	sendHUP(t)
	var resp *http.Response
	var body []byte
	waitUntil(t, g, "the cache emptied by SIGHUP", func() bool {
		resp, body = g.get("/v1/stacks/TCPIP/summary", as("tok-oper")...)
		return resp.StatusCode != http.StatusOK
	})
	var prob map[string]any
	if err := json.Unmarshal(body, &prob); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") == "" || prob["type"] != "urn:nmigw:problem:authorization-unavailable" ||
		strings.Contains(string(body), "ZIS") {
		t.Errorf("%d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = g.get("/v1/stacks", as("tok-viewer")...)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stack list with the endpoint failing: %d", resp.StatusCode)
	}
	e.failing.Store(false)
	g.object("/v1/stacks/TCPIP/summary", http.StatusOK, as("tok-oper")...)
}

// A bad saf-endpoint setting stops the gateway before it listens, naming
// the file, the line and the key.
func TestWholeProgramSAFEndpointBadConfig(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, filepath.Join(dir, "token"), []byte("tok\n"))
	writeFile(t, pol, []byte("system: SYS1\nauthorization:\n  backend: saf-endpoint\n  safEndpoint:\n    url: https://zos.example/saf-auth\n    cacheTTL: 30s\n    denialCacheTTL: 2m\n    tokenFile: token\n"))
	var out syncBuffer
	err := run(context.Background(), []string{"gateway", "--listen", "127.0.0.1:0", "--policy", pol}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), pol) || !strings.Contains(err.Error(), "line 7: authorization.safEndpoint.denialCacheTTL") {
		t.Errorf("run: %v", err)
	}
	if strings.Contains(out.String(), "listening") {
		t.Errorf("the gateway listened:\n%s", out.String())
	}
}

// The policy file and the client check the same bounds, so that a policy
// that loads makes a client.
func TestSAFBoundsAgree(t *testing.T) {
	if policy.MaxSAFTimeout != safauth.MaxTimeout || policy.MaxSAFCacheTTL != safauth.MaxCacheTTL ||
		policy.MaxSAFConcurrent != safauth.MaxConcurrentLimit || policy.DefaultSAFTimeout != safauth.DefaultTimeout ||
		policy.DefaultSAFCacheTTL != safauth.DefaultCacheTTL || policy.DefaultSAFMaxConcurrent != safauth.DefaultMaxConcurrent {
		t.Error("the bounds of internal/policy and internal/authz/safauth differ")
	}
}
