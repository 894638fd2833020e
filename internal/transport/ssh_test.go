package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport/sshdtest"
	"golang.org/x/crypto/ssh"
)

// sshSetup starts sshd and a simulator behind it and opens a transport.
func sshSetup(t *testing.T, cfg ikedsim.Config, opts Options) (*sshdtest.Server, *ikedsim.Server, *Transport) {
	t.Helper()
	sshd := sshdtest.Start(t)
	sim, path := startSim(t, sshd.MkdirShared("sock"), cfg)
	if opts.SSHKey == "" {
		opts.SSHKey = sshd.Key
	}
	if opts.SSHKnownHosts == "" {
		opts.SSHKnownHosts = sshd.Known
	}
	tr, err := Open(sshd.URL(path), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return sshd, sim, tr
}

func dial(t *testing.T, tr *Transport) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", tr.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSSHDisplayAndControl(t *testing.T) {
	sshd, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	if !strings.HasPrefix(tr.Addr(), "ssh://"+sshd.User+"@"+sshd.Addr()+"/") {
		t.Errorf("Addr %q", tr.Addr())
	}
	// Several streams at once share one SSH connection.
	var conns []*nmiConn
	for range 4 {
		conns = append(conns, readInit(t, dial(t, tr)))
	}
	var wg sync.WaitGroup
	names := make([][]string, len(conns))
	for i, n := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names[i] = n.stackNames()
		}()
	}
	wg.Wait()
	for i := range names {
		if !slices.Equal(names[i], []string{"TCPIP", "TCPIPB"}) {
			t.Errorf("stream %d: stacks %q", i, names[i])
		}
	}
	// A control request: deactivate every IKE tunnel of TCPIP.
	h, recs, err := conns[0].do(&nmi.Request{Type: nmi.DeactIKETun, Target: "TCPIP"})
	if err != nil || h.Rc != nmi.RcOK || len(recs) == 0 {
		t.Fatalf("NMsec_DEACT_IKETUN: rc %v, %d records, %v", h.Rc, len(recs), err)
	}
	if n := strings.Count(sshd.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("sshd accepted %d logins, want 1 (one SSH connection for every stream)\n%s", n, sshd.Log())
	}
}

func TestSSHClientLimit(t *testing.T) {
	_, _, tr := sshSetup(t, ikedsim.Config{MaxClients: 2}, Options{})
	readInit(t, dial(t, tr))
	readInit(t, dial(t, tr))
	wantRefused(t, dial(t, tr))
}

func TestSSHServerKilledAndRestarted(t *testing.T) {
	sshd, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	n := readInit(t, dial(t, tr))
	n.stackNames()

	sshd.Kill()
	// The open stream fails as an I/O error that says the connection is gone.
	_, _, err := n.do(&nmi.Request{Type: nmi.GetStackInfo})
	wantErr(t, err, ErrConnectionLost)
	wantCause(t, err, "SSH connection lost")
	// While sshd is down, a dial fails naming the endpoint.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = tr.Dial(ctx)
	wantErr(t, err, nil, "nmi endpoint "+tr.Addr(), "dial", "connection refused")
	wantCause(t, err, "cannot connect")

	sshd.Restart()
	n = readInit(t, dial(t, tr))
	if got := n.stackNames(); len(got) != 2 {
		t.Fatalf("after restart: stacks %q", got)
	}
}

func TestSSHHostKeyRefused(t *testing.T) {
	sshd, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other, _ := sshdtest.NewKey(t)
	dir := t.TempDir()

	changed := filepath.Join(dir, "changed")
	os.WriteFile(changed, []byte(sshdtest.KnownHostsLine(sshd.Addr(), other)), 0o600)
	tc, err := New(tr.Endpoint(), Options{SSHKey: sshd.Key, SSHKnownHosts: changed})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_, err = tc.Dial(ctx)
	wantErr(t, err, ErrHostKeyChanged, tr.Addr(), "host key", ssh.FingerprintSHA256(sshd.HostKey), ssh.FingerprintSHA256(other))
	wantCause(t, err, "SSH host key does not match known_hosts")

	unknown := filepath.Join(dir, "unknown")
	os.WriteFile(unknown, []byte(sshdtest.KnownHostsLine("192.0.2.1:22", sshd.HostKey)), 0o600)
	tu, err := New(tr.Endpoint(), Options{SSHKey: sshd.Key, SSHKnownHosts: unknown})
	if err != nil {
		t.Fatal(err)
	}
	defer tu.Close()
	_, err = tu.Dial(ctx)
	wantErr(t, err, ErrHostKeyUnknown, tr.Addr(), ssh.FingerprintSHA256(sshd.HostKey), unknown)
	wantCause(t, err, "SSH host key not in known_hosts")
	if strings.Contains(sshd.Log(), "Accepted publickey") {
		t.Error("a connection with a refused host key went on to log in")
	}
}

func TestSSHAuthRefused(t *testing.T) {
	sshd, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	_, other := sshdtest.NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "other")
	os.WriteFile(keyFile, other, 0o600)
	ta, err := New(tr.Endpoint(), Options{SSHKey: keyFile, SSHKnownHosts: sshd.Known})
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = ta.Dial(ctx)
	wantErr(t, err, ErrAuthRefused, tr.Addr(), "authenticate", "user "+sshd.User)
	wantCause(t, err, "SSH authentication refused")
	if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), keyFile) {
		t.Errorf("error shows the key: %q", err)
	}
}

func TestSSHEncryptedKey(t *testing.T) {
	sshd, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	const pass = "correct horse battery staple"
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	sshd.Authorize(pub)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, pem.EncodeToMemory(blk), 0o600)
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte(pass+"\n"), 0o600)
	wrongFile := filepath.Join(dir, "wrong")
	os.WriteFile(wrongFile, []byte("not it\n"), 0o600)

	te, err := New(tr.Endpoint(), Options{SSHKey: keyFile, SSHKeyPassphraseFile: passFile, SSHKnownHosts: sshd.Known})
	if err != nil {
		t.Fatal(err)
	}
	defer te.Close()
	readInit(t, dial(t, te)).stackNames()

	for _, c := range []struct {
		opts Options
		msg  string
	}{
		{Options{SSHKey: keyFile, SSHKnownHosts: sshd.Known}, "encrypted and no --ssh-key-passphrase-file"},
		{Options{SSHKey: keyFile, SSHKeyPassphraseFile: wrongFile, SSHKnownHosts: sshd.Known}, "cannot decrypt"},
		{Options{SSHKey: keyFile, SSHKeyPassphraseFile: filepath.Join(dir, "absent"), SSHKnownHosts: sshd.Known}, "no such file"},
		{Options{SSHKey: passFile, SSHKnownHosts: sshd.Known}, "not a private key"},
		{Options{SSHKnownHosts: sshd.Known}, "--ssh-key is required"},
		{Options{SSHKey: keyFile, SSHKeyPassphraseFile: passFile}, "--ssh-known-hosts is required"},
		{Options{SSHKey: keyFile, SSHKeyPassphraseFile: passFile, SSHKnownHosts: passFile}, "--ssh-known-hosts"},
	} {
		_, err := New(tr.Endpoint(), c.opts)
		wantErr(t, err, nil, tr.Addr(), "configure", c.msg)
		if strings.Contains(err.Error(), "horse") || strings.Contains(err.Error(), "not it") {
			t.Errorf("error shows the passphrase: %q", err)
		}
	}
}

func TestSSHDeadlines(t *testing.T) {
	faults := ikedsim.NewFaults()
	faults.Set(nmi.GetSummary, ikedsim.Fault{NoReply: true})
	_, _, tr := sshSetup(t, ikedsim.Config{Faults: faults}, Options{})
	c := dial(t, tr)
	n := readInit(t, c)
	// No answer: the read deadline ends the read with a timeout.
	b, _ := nmi.AppendRequest(nil, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, 1)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with no answer: %v, want a timeout", err)
	}
	// A stream whose read timed out is still readable, as a socket is.
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	n.corr = 1
	n.stackNames()
}

func TestSSHMissingSocket(t *testing.T) {
	sshd, _, _ := sshSetup(t, ikedsim.Config{}, Options{})
	tm, err := Open(sshd.URL("/nonexistent/ipsecmgmt"), Options{SSHKey: sshd.Key, SSHKnownHosts: sshd.Known})
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = tm.Dial(ctx)
	wantErr(t, err, nil, tm.Addr(), "open channel: /nonexistent/ipsecmgmt")
	wantCause(t, err, "SSH server refused the channel to the socket")
}

func TestSSHDialCanceled(t *testing.T) {
	_, _, tr := sshSetup(t, ikedsim.Config{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Dial(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a canceled context: %v", err)
	}
	tr.Close()
	_, err := tr.Dial(context.Background())
	wantErr(t, err, net.ErrClosed, tr.Addr())
}

// freezer relays TCP and can stop relaying, as a peer that hangs or a
// network that drops every packet.
type freezer struct {
	ln     net.Listener
	frozen chan struct{}
}

func startFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, frozen: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); u.Close() })
			go f.pipe(c, u)
			go f.pipe(u, c)
		}
	}()
	return f
}

func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if isClosed(f.frozen) {
			<-make(chan struct{}) // hold everything
		}
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) freeze() { close(f.frozen) }

func TestSSHKeepaliveDetectsDeadPeer(t *testing.T) {
	sshd := sshdtest.Start(t)
	_, path := startSim(t, sshd.MkdirShared("sock"), ikedsim.Config{})
	fz := startFreezer(t, sshd.Addr())
	known := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(known, []byte(sshdtest.KnownHostsLine(fz.ln.Addr().String(), sshd.HostKey)), 0o600)
	tr, err := Open("ssh://"+sshd.User+"@"+fz.ln.Addr().String()+path,
		Options{SSHKey: sshd.Key, SSHKnownHosts: known, SSHKeepalive: 250 * time.Millisecond, SSHKeepaliveCount: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c := dial(t, tr)
	readInit(t, c).stackNames()
	fz.freeze()
	// No deadline: only the keepalives can end this read.
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(c, make([]byte, 1)); done <- err }()
	select {
	case err := <-done:
		wantErr(t, err, ErrConnectionLost, "keepalive")
	case <-time.After(30 * time.Second):
		t.Fatal("a silent peer was not detected")
	}
}
