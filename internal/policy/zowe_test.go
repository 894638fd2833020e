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
	"testing"
	"time"
)

func TestParseZoweJWT(t *testing.T) {
	p, err := Parse([]byte(`system: SYS1
identities:
  zoweJwt:
    jwksUrl: https://apiml.example:7554/gateway/api/v1/auth/keys/public/current
`))
	if err != nil {
		t.Fatal(err)
	}
	want := ZoweJWT{JWKSURL: "https://apiml.example:7554/gateway/api/v1/auth/keys/public/current", Issuer: DefaultZoweIssuer}
	if p.Zowe == nil || *p.Zowe != want {
		t.Errorf("zoweJwt: %+v, want %+v", p.Zowe, want)
	}
	p, err = Parse([]byte("system: SYS1\nidentities:\n  zoweJwt: {jwksUrl: 'http://127.0.0.1:7554/k', issuer: zOSMF}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Zowe.Issuer != "zOSMF" || p.Zowe.JWKSURL != "http://127.0.0.1:7554/k" {
		t.Errorf("zoweJwt: %+v", p.Zowe)
	}
}

// caPEM writes a self-signed CA certificate to dir/name.
func caPEM(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Zowe CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// caFile is resolved against the policy file's directory and read into
// RootCAs on every Load.
func TestLoadZoweCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := caPEM(t, dir, "zowe-ca.pem")
	path := filepath.Join(dir, "policy.yaml")
	doc := "system: SYS1\nidentities:\n  zoweJwt:\n    jwksUrl: https://apiml.example:7554/k\n    caFile: zowe-ca.pem\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Zowe.CAFile != ca || p.Zowe.RootCAs == nil {
		t.Errorf("caFile %q, RootCAs %v", p.Zowe.CAFile, p.Zowe.RootCAs)
	}
	if err := os.WriteFile(ca, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var pe *Error
	if !errors.As(err, &pe) || pe.Key != "identities.zoweJwt.caFile" || pe.Line != 5 || !errors.Is(err, ErrInvalid) {
		t.Errorf("a CA file without certificates: %v", err)
	}
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ca, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.As(err, &pe) || pe.Key != "identities.zoweJwt.caFile" || !errors.Is(err, ErrInvalid) {
		t.Errorf("a directory as CA file: %v", err)
	}
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.As(err, &pe) || pe.Key != "identities.zoweJwt.caFile" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing CA file: %v", err)
	}
}

func TestParseZoweJWTErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		line int
		key  string
		want error
	}{
		{"no jwksUrl", "system: S\nidentities:\n  zoweJwt:\n    issuer: APIML\n", 4, "identities.zoweJwt.jwksUrl", ErrMissingKey},
		{"http jwksUrl", "system: S\nidentities:\n  zoweJwt: {jwksUrl: 'http://apiml.example/k'}\n", 3, "identities.zoweJwt.jwksUrl", ErrInvalid},
		{"relative jwksUrl", "system: S\nidentities:\n  zoweJwt: {jwksUrl: /gateway/api/v1/auth/keys/public/current}\n", 3, "identities.zoweJwt.jwksUrl", ErrInvalid},
		{"jwksUrl with a query", "system: S\nidentities:\n  zoweJwt: {jwksUrl: 'https://a/k?x=1'}\n", 3, "identities.zoweJwt.jwksUrl", ErrInvalid},
		{"unknown key", "system: S\nidentities:\n  zoweJwt:\n    jwksUrl: https://a/k\n    audience: x\n", 5, "identities.zoweJwt.audience", ErrUnknownKey},
		{"not a mapping", "system: S\nidentities:\n  zoweJwt: https://a/k\n", 3, "identities.zoweJwt", ErrInvalid},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		var pe *Error
		if !errors.As(err, &pe) || pe.Line != tt.line || pe.Key != tt.key || !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want line %d key %s (%v)", tt.name, err, tt.line, tt.key, tt.want)
		}
	}
}
