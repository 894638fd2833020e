package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/policy"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

// issue signs a certificate; subject is "CN=x,OU=y,OU=z" (CN and OU only),
// "server" makes a server certificate for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, subject string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if subject == "server" {
		tmpl.Subject.CommonName = "127.0.0.1"
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		for _, rdn := range strings.Split(subject, ",") {
			k, v, _ := strings.Cut(rdn, "=")
			if k == "CN" {
				tmpl.Subject.CommonName = v
			} else {
				tmpl.Subject.OrganizationalUnit = append(tmpl.Subject.OrganizationalUnit, v)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClientCertificates runs a real TLS listener configured by
// ServerTLSConfig and presents client certificates.
func TestClientCertificates(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	dir := t.TempDir()
	srv := ca.issue(t, "server")
	keyDER, err := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", srv.Certificate[0])
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.der)
	cfg, err := ServerTLSConfig(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	pol, err := policy.Parse([]byte(`system: SYS1
anonymous: ANONYM
superusers: {users: [IBMUSER]}
users: {OPER1: [OPSGRP]}
identities:
  certificates:
    - {subject: "CN=dash,OU=NOC", user: DASHBRD, groups: [DASHGRP]}
  certificateCN: {prefix: "zos-"}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Policy: staticPolicy(pol)})
	results := make(chan result, 1)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		results <- serve(a, r)
	})}
	go hs.Serve(ln)
	defer hs.Close()

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	tests := []struct {
		name   string
		cert   *tls.Certificate
		status int
		user   string
		groups string
		method Method
	}{
		// Names of a certificate are user IDs and groups only through
		// the policy: a listed subject, or a CN with the required
		// prefix; OUs are never groups.
		{"mapped subject", ptr(ca.issue(t, "CN=dash,OU=NOC")), 200, "DASHBRD", "DASHGRP", MethodCertificate},
		{"CN with the prefix, OUs ignored", ptr(ca.issue(t, "CN=zos-oper1,OU=ADMINS,OU=SYS1")), 200, "OPER1", "OPSGRP", MethodCertificate},
		{"CN without the prefix", ptr(ca.issue(t, "CN=oper1,OU=OPSGRP")), 401, "", "", ""},
		{"CN that strips to a superuser", ptr(ca.issue(t, "CN=zos-ibmuser")), 401, "", "", ""},
		{"CN that is no user ID", ptr(ca.issue(t, "CN=zos-Operator One")), 401, "", "", ""},
		{"no certificate", nil, 200, "ANONYM", "", MethodAnonymous},
	}
	for _, tt := range tests {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if tt.cert != nil {
			tc.Certificates = []tls.Certificate{*tt.cert}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := client.Get("https://" + ln.Addr().String() + "/v1/whoami")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		client.CloseIdleConnections()
		got := <-results
		if got.status != tt.status || got.user != tt.user || got.groups != tt.groups || got.method != tt.method {
			t.Errorf("%s: got %+v", tt.name, got)
		}
	}

	// A certificate from another CA fails the handshake.
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{other.issue(t, "CN=oper1")}}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	if resp, err := client.Get("https://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		t.Error("a certificate of an unknown CA was accepted")
	}
	client.CloseIdleConnections()
}

func ptr[T any](v T) *T { return &v }

func TestServerTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ServerTLSConfig(filepath.Join(dir, "no.crt"), filepath.Join(dir, "no.key"), ""); err == nil {
		t.Error("missing certificate accepted")
	}
	ca := newCA(t)
	srv := ca.issue(t, "server")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", srv.Certificate[0])
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", keyDER)
	if err := os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("nothing"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ServerTLSConfig(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "empty.pem")); err == nil {
		t.Error("client CA file without certificates accepted")
	}
	cfg, err := ServerTLSConfig(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), "")
	if err != nil || cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("without client CA: %v %v", cfg, err)
	}
}
