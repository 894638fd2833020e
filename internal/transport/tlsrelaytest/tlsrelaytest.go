// Package tlsrelaytest runs, for tests, the kind of relay a tls://
// endpoint names: it accepts TLS connections on a loopback port and
// splices each to an AF_UNIX socket, as an AT-TLS-protected relay on z/OS
// would. It makes its own CA, server certificate and client certificate.
package tlsrelaytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay is a running relay.
type Relay struct {
	t      testing.TB
	Addr   string // 127.0.0.1:port
	CA     string // CA certificate file (PEM) that verifies the relay and the client certificate
	Cert   string // client certificate file (PEM)
	Key    string // client key file (PEM)
	target string

	ln    net.Listener
	cfg   *tls.Config
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start starts a relay to the socket at target. With clientAuth, the
// relay requires a client certificate issued by its CA.
func Start(t testing.TB, target string, clientAuth bool) *Relay {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCA(t)
	r := &Relay{t: t, target: target, conns: map[net.Conn]bool{}}
	r.CA = writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw)
	srvDER, srvKey := issue(t, caCert, caKey, "relay", false)
	cliDER, cliKey := issue(t, caCert, caKey, "NMIGW", true)
	r.Cert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	r.Key = writeKey(t, dir, "client-key.pem", cliKey)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	r.cfg = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientCAs:    pool,
	}
	if clientAuth {
		r.cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.Kill)
	return r
}

// URL is the relay's tls:// endpoint. The server certificate names
// 127.0.0.1.
func (r *Relay) URL() string { return "tls://" + r.Addr }

func (r *Relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.splice(tls.Server(c, r.cfg))
			}()
		}
	}()
}

func (r *Relay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
}

func (r *Relay) splice(c *tls.Conn) {
	r.track(c, true)
	defer r.track(c, false)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	u, err := net.Dial("unix", r.target)
	if err != nil {
		return
	}
	r.track(u, true)
	defer r.track(u, false)
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, u); c.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// Kill stops the relay and drops every connection through it.
func (r *Relay) Kill() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Restart serves again on the same address.
func (r *Relay) Restart() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", r.Addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.serve(ln)
}

func newCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nmigw test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

var serial atomic.Int64

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, client bool) ([]byte, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn := serial.Add(1) + 1 // 1 is the CA's
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t testing.TB, dir, name string, key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PRIVATE KEY", der)
}
