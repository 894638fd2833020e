package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key (PEM) to dir as
// name.pem and name-key.pem.
func writeCert(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, name+".pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, filepath.Join(dir, name+"-key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

const safPolicy = `system: SYS1
superusers: {users: [IBMUSER]}
authorization:
  backend: saf-endpoint
  safEndpoint:
    url: https://zos.example:7557/saf-auth
    timeout: 2s
    cacheTTL: 30s
    caFile: ca.pem
    certFile: gw.pem
    keyFile: gw-key.pem
    user: nmigwsv
    passwordFile: secrets/password
`

func TestAuthorizationSAFEndpoint(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "ca")
	writeCert(t, dir, "gw")
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "secrets", "password"), "pass word\n")
	path := filepath.Join(dir, "policy.yaml")
	write(t, path, safPolicy)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Authorization.SAF
	if p.Authorization.Backend != BackendSAFEndpoint || s == nil {
		t.Fatalf("%+v", p.Authorization)
	}
	if s.URL != "https://zos.example:7557/saf-auth" || s.Timeout != 2*time.Second || s.CacheTTL != 30*time.Second ||
		s.DenialCacheTTL != 30*time.Second || s.MaxConcurrent != DefaultSAFMaxConcurrent || s.User != "NMIGWSV" ||
		s.Password != "pass word" || s.Token != "" || s.RootCAs == nil || s.Certificate == nil ||
		s.CertFile != filepath.Join(dir, "gw.pem") || s.PasswordFile != filepath.Join(dir, "secrets", "password") {
		t.Errorf("%+v", s)
	}
	// The policy model is still built (the simulator uses it).
	if _, err := p.Authorizer(); err != nil {
		t.Error(err)
	}

	// The default backend, and the defaults of safEndpoint.
	p, err = Parse([]byte("system: S\n"))
	if err != nil || p.Authorization.Backend != BackendPolicy || p.Authorization.SAF != nil {
		t.Errorf("%+v, %v", p.Authorization, err)
	}
	write(t, filepath.Join(dir, "token"), "a.b.c")
	p, err = Parse([]byte("system: S\nauthorization:\n  backend: saf-endpoint\n  safEndpoint: {url: 'http://127.0.0.1:8542/saf-auth', tokenFile: " +
		filepath.Join(dir, "token") + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s = p.Authorization.SAF
	if s.Timeout != DefaultSAFTimeout || s.CacheTTL != DefaultSAFCacheTTL || s.DenialCacheTTL != DefaultSAFCacheTTL ||
		s.Token != "a.b.c" || s.Certificate != nil || s.RootCAs != nil {
		t.Errorf("defaults %+v", s)
	}
	// No cache at all.
	p, err = Parse([]byte("system: S\nauthorization:\n  backend: saf-endpoint\n  safEndpoint: {url: 'http://127.0.0.1:8542/saf-auth', cacheTTL: 0s, tokenFile: " +
		filepath.Join(dir, "token") + "}\n"))
	if err != nil || p.Authorization.SAF.CacheTTL != 0 || p.Authorization.SAF.DenialCacheTTL != 0 {
		t.Errorf("%+v, %v", p.Authorization.SAF, err)
	}
	// The simulator does not read the files.
	write(t, path, strings.Replace(safPolicy, "ca.pem", "missing.pem", 1))
	if _, err := LoadWith(path, LoadOptions{NoAuthorizationFiles: true}); err != nil {
		t.Errorf("LoadWith NoAuthorizationFiles: %v", err)
	}
	if _, err := Load(path); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "line 9: authorization.safEndpoint.caFile") {
		t.Errorf("missing CA file: %v", err)
	}
}

// Bad authorization settings name the line and the key.
func TestAuthorizationErrors(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "gw")
	write(t, filepath.Join(dir, "pw"), "secret\n")
	write(t, filepath.Join(dir, "empty"), "\n")
	write(t, filepath.Join(dir, "two"), "a\nb\n")
	write(t, filepath.Join(dir, "notpem"), "hello\n")
	pre := "system: S\nauthorization:\n  backend: saf-endpoint\n  safEndpoint:\n    url: https://zos.example/saf-auth\n"
	pw := "    user: NMIGWSV\n    passwordFile: " + filepath.Join(dir, "pw") + "\n"
	for _, c := range []struct {
		name, yaml string
		line       int
		key        string
		want       error
	}{
		{"unknown backend", "system: S\nauthorization:\n  backend: racf\n", 3, "authorization.backend", ErrInvalid},
		{"unknown key", "system: S\nauthorization:\n  backend: policy\n  cache: 5s\n", 4, "authorization.cache", ErrUnknownKey},
		{"settings with policy", "system: S\nauthorization:\n  safEndpoint: {url: 'https://h/saf-auth'}\n", 3, "authorization.safEndpoint", ErrInvalid},
		{"no settings", "system: S\nauthorization:\n  backend: saf-endpoint\n", 3, "authorization.safEndpoint", ErrMissingKey},
		{"no url", "system: S\nauthorization:\n  backend: saf-endpoint\n  safEndpoint:\n    timeout: 1s\n", 5, "authorization.safEndpoint.url", ErrMissingKey},
		{"unknown endpoint key", pre + pw + "    class: FACILITY\n", 8, "authorization.safEndpoint.class", ErrUnknownKey},
		{"http not loopback", strings.Replace(pre, "https://zos.example", "http://zos.example", 1) + pw, 5, "authorization.safEndpoint.url", ErrInvalid},
		{"url with user", strings.Replace(pre, "https://", "https://u:p@", 1) + pw, 5, "authorization.safEndpoint.url", ErrInvalid},
		{"bad duration", pre + pw + "    timeout: 5\n", 8, "authorization.safEndpoint.timeout", ErrInvalid},
		{"zero timeout", pre + pw + "    timeout: 0s\n", 0, "", nil},
		{"long timeout", pre + pw + "    timeout: 2m\n", 8, "authorization.safEndpoint.timeout", ErrInvalid},
		{"long cache", pre + pw + "    cacheTTL: 1h\n", 8, "authorization.safEndpoint.cacheTTL", ErrInvalid},
		{"negative cache", pre + pw + "    cacheTTL: -1s\n", 8, "authorization.safEndpoint.cacheTTL", ErrInvalid},
		{"denial longer than grant", pre + pw + "    cacheTTL: 10s\n    denialCacheTTL: 11s\n", 9, "authorization.safEndpoint.denialCacheTTL", ErrInvalid},
		{"denial with no cache", pre + pw + "    cacheTTL: 0s\n    denialCacheTTL: 1s\n", 9, "authorization.safEndpoint.denialCacheTTL", ErrInvalid},
		{"concurrency", pre + pw + "    maxConcurrent: 0x10\n", 8, "authorization.safEndpoint.maxConcurrent", ErrInvalid},
		{"concurrency too high", pre + pw + "    maxConcurrent: 65\n", 8, "authorization.safEndpoint.maxConcurrent", ErrInvalid},
		{"no credentials", pre, 5, "authorization.safEndpoint.user", ErrMissingKey},
		{"user without password", pre + "    user: NMIGWSV\n", 5, "authorization.safEndpoint.passwordFile", ErrMissingKey},
		{"bad user", strings.Replace(pre+pw, "NMIGWSV", "NMI.GW", 1), 6, "authorization.safEndpoint.user", nil},
		{"user and token", pre + pw + "    tokenFile: " + filepath.Join(dir, "pw") + "\n", 8, "authorization.safEndpoint.tokenFile", ErrInvalid},
		{"missing password file", strings.Replace(pre+pw, "/pw", "/nope", 1), 7, "authorization.safEndpoint.passwordFile", os.ErrNotExist},
		{"empty password file", strings.Replace(pre+pw, "/pw", "/empty", 1), 7, "authorization.safEndpoint.passwordFile", ErrInvalid},
		{"two-line password file", strings.Replace(pre+pw, "/pw", "/two", 1), 7, "authorization.safEndpoint.passwordFile", ErrInvalid},
		{"password file a directory", strings.Replace(pre+pw, "/pw", "", 1), 7, "authorization.safEndpoint.passwordFile", nil},
		{"cert without key", pre + "    certFile: " + filepath.Join(dir, "gw.pem") + "\n", 5, "authorization.safEndpoint.keyFile", ErrMissingKey},
		{"cert and wrong key", pre + "    certFile: " + filepath.Join(dir, "gw.pem") + "\n    keyFile: " + filepath.Join(dir, "pw") + "\n", 6, "authorization.safEndpoint.certFile", ErrInvalid},
		{"CA not PEM", pre + pw + "    caFile: " + filepath.Join(dir, "notpem") + "\n", 8, "authorization.safEndpoint.caFile", ErrInvalid},
		{"cert over http", "system: S\nauthorization:\n  backend: saf-endpoint\n  safEndpoint:\n    url: http://localhost/saf-auth\n    certFile: " +
			filepath.Join(dir, "gw.pem") + "\n    keyFile: " + filepath.Join(dir, "gw-key.pem") + "\n", 6, "authorization.safEndpoint.certFile", ErrInvalid},
	} {
		_, err := Parse([]byte(c.yaml))
		if c.key == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Line != c.line || pe.Key != c.key || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: error %v, want line %d key %s (%v)", c.name, err, c.line, c.key, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error holds the password: %v", c.name, err)
		}
	}
}
