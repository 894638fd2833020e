package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

const ioWait = 20 * time.Second // a bound against hangs, never a timing claim

// nmiConn is a bare NMI connection: it reads INIT, then exchanges requests.
type nmiConn struct {
	t    *testing.T
	c    net.Conn
	buf  []byte
	corr uint32
}

func connect(t *testing.T, path string) *nmiConn {
	t.Helper()
	n := &nmiConn{t: t, c: rawDial(t, path)}
	if h := n.read(); h.Type != nmi.MsgInit {
		t.Fatalf("got %v, want INIT", h.Type)
	}
	return n
}

func (n *nmiConn) read() nmi.Header {
	n.t.Helper()
	_ = n.c.SetReadDeadline(time.Now().Add(ioWait))
	h, msg, err := nmi.ReadMessage(n.c, n.buf, 1<<30)
	if err != nil {
		n.t.Fatalf("read: %v", err)
	}
	n.buf = msg
	return h
}

// do exchanges one request and returns the header and the number of records.
func (n *nmiConn) do(typ nmi.MsgType, target string) (nmi.Header, int) {
	n.t.Helper()
	h, recs := n.exchange(&nmi.Request{Type: typ, Target: target})
	return h, len(recs)
}

// exchange sends req and returns the answer's header and records; the
// records stay valid until the next read.
func (n *nmiConn) exchange(req *nmi.Request) (nmi.Header, []nmi.Record) {
	n.t.Helper()
	n.corr++
	b, err := nmi.AppendRequest(nil, req, n.corr)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.c.Write(b); err != nil {
		n.t.Fatal(err)
	}
	h := n.read()
	if h.Type != req.Type || h.Correlator != n.corr {
		n.t.Fatalf("answer %v/%d to %v/%d", h.Type, h.Correlator, req.Type, n.corr)
	}
	if h.RecCount == 0 {
		return h, nil
	}
	var recs []nmi.Record
	d := nmi.NewRecordDecoder(n.buf[h.RecOff:], int(h.RecCount))
	for d.Next() {
		recs = append(recs, d.Record())
	}
	if err := d.Err(); err != nil {
		n.t.Fatalf("%v: %v", req.Type, err)
	}
	return h, recs
}

var displayRequests = []nmi.MsgType{nmi.GetStackInfo, nmi.GetIPFltCurr, nmi.GetIPFltDefault, nmi.GetIPFltPolicy,
	nmi.GetIPInterfaces, nmi.GetIPTunManual, nmi.GetIPTunDynStack, nmi.GetIPTunDynIKE, nmi.GetIKETun,
	nmi.GetIKETunCascade, nmi.GetPortTrans, nmi.GetSummary, nmi.GetIKENSInfo}

// exchangeAll sends every display request for stack and wants records back.
func exchangeAll(t *testing.T, n *nmiConn, stack string) {
	t.Helper()
	for _, typ := range displayRequests {
		target := stack
		if typ.SystemWide() {
			target = ""
		}
		h, count := n.do(typ, target)
		if h.Rc != 0 || count == 0 {
			t.Errorf("%v: rc %v, %d records", typ, h.Rc, count)
		}
	}
}

func (n *nmiConn) expectTerm() {
	n.t.Helper()
	if h := n.read(); h.Type != nmi.MsgTerm || h.Rc != 0 {
		n.t.Fatalf("got %v rc %v, want TERM rc 0", h.Type, h.Rc)
	}
}

// lockedBuffer collects a program's output across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioWait)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	for _, args := range [][]string{
		{"--generate", "stacks=0"},
		{"--generate", "stacks=1", "--data", "x.yaml"},
		{"--socket-mode", "999"},
		{"--socket-mode", "rw"},
		{"--nope"},
		{"extra"},
		{"--data", filepath.Join(dir, "missing.yaml")},
		{"--policy", filepath.Join(dir, "missing.yaml")},
		{"--faults", "term-rate=2"},
		{"--faults", "drop=1"},
		{"--switch-time", "0s"},
		{"--negotiate-time", "-1s"},
		{"--pending-time", "0s"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append(args, "--socket", sock), func(string) string { return "" }, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	env := map[string]string{"IKED_SIM_INIT_DELAY": "soon"}
	if err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "IKED_SIM_INIT_DELAY") {
		t.Errorf("bad environment value: %v", err)
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sub", "ipsecmgmt")
	env := map[string]string{"IKED_SIM_SOCKET": sock, "IKED_SIM_SOCKET_MODE": "0600"}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--generate", "stacks=2,filters=500,tunnels=100,seed=9", "--system", "SYSB"},
			func(k string) string { return env[k] }, &out)
	}()
	waitFor(t, "the ready line", func() bool { return strings.Contains(out.String(), "iked-sim ready") })
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v", fi, err)
	}
	if !strings.Contains(out.String(), "system=SYSB") || !strings.Contains(out.String(), "stacks=TCPIP,TCPIPB") {
		t.Errorf("ready line: %s", out.String())
	}
	n := connect(t, sock)
	exchangeAll(t, n, "TCPIPB")
	cancel()
	n.expectTerm()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestWholeProgram starts iked-sim as a process and exchanges every
// display request with it; SIGHUP reloads the policy, SIGTERM ends it with
// a TERM to the client.
func TestWholeProgram(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	allow := "system: SYS1\nprofiles:\n  - name: EZB.NETMGMT.**\n    uacc: READ\n"
	if err := os.WriteFile(pol, []byte(allow), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "--policy", pol, "--init-delay", "10ms")
	n := connect(t, p.sock)
	exchangeAll(t, n, "TCPIP")

	// A policy that denies everything, loaded on SIGHUP: display is refused.
	deny := "system: SYS1\nprofiles:\n  - name: EZB.NETMGMT.**\n    uacc: NONE\n"
	if err := os.WriteFile(pol, []byte(deny), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(p.out.String(), "policy reloaded") })
	if h, _ := n.do(nmi.GetSummary, "TCPIP"); h.Rc != nmi.EACCES {
		t.Errorf("after reload: rc %v, want EACCES", h.Rc)
	}

	p.signal(syscall.SIGTERM)
	n.expectTerm()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
	if _, err := os.Stat(p.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left behind: %v", err)
	}
}

// TestListenerFailureTermsClients breaks the listener under a connected
// client: run returns the accept error, and the client still gets TERM
// and a closed connection instead of being left open.
func TestListenerFailureTermsClients(t *testing.T) {
	lns := make(chan net.Listener, 1)
	orig := listen
	listen = func(path string, mode os.FileMode) (net.Listener, error) {
		ln, err := orig(path, mode)
		if err == nil {
			lns <- ln
		}
		return ln, err
	}
	t.Cleanup(func() { listen = orig })

	sock := filepath.Join(t.TempDir(), "ipsecmgmt")
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--socket", sock}, func(string) string { return "" }, &out)
	}()
	ln := <-lns
	waitFor(t, "the ready line", func() bool { return strings.Contains(out.String(), "iked-sim ready") })
	n := connect(t, sock)
	if h, _ := n.do(nmi.GetIKETun, "TCPIP"); h.Rc != 0 {
		t.Fatalf("GetIKETun: rc %v", h.Rc)
	}
	ln.Close() // the next Accept fails with an error that is not a timeout
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("run: %v, want the accept error", err)
	}
	n.expectTerm()
	_ = n.c.SetReadDeadline(time.Now().Add(ioWait))
	if _, err := n.c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after TERM: %v, want EOF", err)
	}
}
