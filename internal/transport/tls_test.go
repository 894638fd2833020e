package transport

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport/tlsrelaytest"
)

func tlsSetup(t *testing.T, cfg ikedsim.Config, clientAuth bool) (*tlsrelaytest.Relay, *Transport) {
	t.Helper()
	_, path := startSim(t, t.TempDir(), cfg)
	r := tlsrelaytest.Start(t, path, clientAuth)
	tr, err := Open(r.URL(), Options{TLSCA: r.CA, TLSCert: r.Cert, TLSKey: r.Key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return r, tr
}

func TestTLSDisplayAndControl(t *testing.T) {
	r, tr := tlsSetup(t, ikedsim.Config{}, true)
	if tr.Addr() != "tls://"+r.Addr {
		t.Errorf("Addr %q", tr.Addr())
	}
	a, b := readInit(t, dial(t, tr)), readInit(t, dial(t, tr))
	if got := a.stackNames(); !slices.Equal(got, []string{"TCPIP", "TCPIPB"}) {
		t.Errorf("stacks %q", got)
	}
	h, recs, err := b.do(&nmi.Request{Type: nmi.DeactIKETun, Target: "TCPIP"})
	if err != nil || h.Rc != nmi.RcOK || len(recs) == 0 {
		t.Fatalf("NMsec_DEACT_IKETUN: rc %v, %d records, %v", h.Rc, len(recs), err)
	}
}

func TestTLSClientLimit(t *testing.T) {
	_, tr := tlsSetup(t, ikedsim.Config{MaxClients: 1}, false)
	readInit(t, dial(t, tr))
	wantRefused(t, dial(t, tr))
}

func TestTLSRelayKilledAndRestarted(t *testing.T) {
	r, tr := tlsSetup(t, ikedsim.Config{}, true)
	n := readInit(t, dial(t, tr))
	n.stackNames()
	r.Kill()
	if _, _, err := n.do(&nmi.Request{Type: nmi.GetStackInfo}); err == nil {
		t.Fatal("exchange over a killed relay succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tr.Dial(ctx)
	wantErr(t, err, nil, "nmi endpoint "+tr.Addr(), "dial", "connection refused")
	r.Restart()
	readInit(t, dial(t, tr)).stackNames()
}

func TestTLSRefused(t *testing.T) {
	r, tr := tlsSetup(t, ikedsim.Config{}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A relay whose certificate another CA issued.
	other := tlsrelaytest.Start(t, filepath.Join(t.TempDir(), "none"), false)
	tw, err := New(tr.Endpoint(), Options{TLSCA: other.CA})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tw.Dial(ctx)
	wantErr(t, err, nil, tr.Addr(), "tls handshake", "certificate")
	wantCause(t, err, "TLS handshake failed")

	// No client certificate for a relay that requires one: TLS 1.3 tells
	// the client after its side of the handshake, on the first read.
	tn, err := New(tr.Endpoint(), Options{TLSCA: r.CA})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tn.Dial(ctx)
	if err == nil {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	wantErr(t, err, nil, "certificate")

	// Something that does not speak TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			c.Close()
		}
	}()
	tp, err := Open("tls://"+ln.Addr().String(), Options{TLSCA: r.CA})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Dial(ctx)
	wantErr(t, err, nil, tp.Addr(), "tls handshake")
}

func TestTLSConfigErrors(t *testing.T) {
	r, tr := tlsSetup(t, ikedsim.Config{}, false)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for _, c := range []struct {
		opts Options
		msg  string
	}{
		{Options{TLSCA: filepath.Join(dir, "absent")}, "--nmi-tls-ca"},
		{Options{TLSCA: junk}, "no PEM certificate"},
		{Options{TLSCA: r.CA, TLSCert: r.Cert}, "go together"},
		{Options{TLSCA: r.CA, TLSKey: r.Key}, "go together"},
		{Options{TLSCA: r.CA, TLSCert: junk, TLSKey: r.Key}, "--nmi-tls-cert"},
	} {
		_, err := New(tr.Endpoint(), c.opts)
		wantErr(t, err, nil, tr.Addr(), "configure", c.msg)
	}
}
