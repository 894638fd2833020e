package transport

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// startSim serves the simulator on a socket in dir (which the SSH server's
// user can reach) and returns the socket's path.
func startSim(t *testing.T, dir string, cfg ikedsim.Config) (*ikedsim.Server, string) {
	t.Helper()
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, path
}

// nmiConn speaks the NMI by hand over a stream, one exchange at a time.
type nmiConn struct {
	t    *testing.T
	c    net.Conn
	corr uint32
	buf  []byte
}

// readInit reads the first message, which must be NMsec_INIT.
func readInit(t *testing.T, c net.Conn) *nmiConn {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, _, err := nmi.ReadMessage(c, nil, 1<<20)
	if err != nil {
		t.Fatalf("reading INIT: %v", err)
	}
	if h.Type != nmi.MsgInit {
		t.Fatalf("first message %s, want NMsec_INIT", h.Type)
	}
	c.SetReadDeadline(time.Time{})
	return &nmiConn{t: t, c: c}
}

// do sends req and reads the answer.
func (n *nmiConn) do(req *nmi.Request) (nmi.Header, []nmi.Record, error) {
	n.corr++
	b, err := nmi.AppendRequest(nil, req, n.corr)
	if err != nil {
		n.t.Fatal(err)
	}
	n.c.SetDeadline(time.Now().Add(10 * time.Second))
	defer n.c.SetDeadline(time.Time{})
	if _, err := n.c.Write(b); err != nil {
		return nmi.Header{}, nil, err
	}
	h, msg, err := nmi.ReadMessage(n.c, n.buf, 64<<20)
	if err != nil {
		return h, nil, err
	}
	n.buf = msg
	if h.Type != req.Type || h.Correlator != n.corr {
		return h, nil, errors.New("answer " + h.Type.String() + " does not match the request")
	}
	var recs []nmi.Record
	if h.RecCount == 0 {
		return h, nil, nil
	}
	d := nmi.NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
	for d.Next() {
		recs = append(recs, d.Record())
	}
	return h, recs, d.Err()
}

// stackNames runs NMsec_GET_STACKINFO and returns the stack names.
func (n *nmiConn) stackNames() []string {
	n.t.Helper()
	h, recs, err := n.do(&nmi.Request{Type: nmi.GetStackInfo})
	if err != nil || h.Rc != nmi.RcOK {
		n.t.Fatalf("NMsec_GET_STACKINFO: rc %v, %v", h.Rc, err)
	}
	var names []string
	for _, r := range recs {
		var sr nmi.StackRecord
		if err := sr.Decode(r); err != nil {
			n.t.Fatal(err)
		}
		names = append(names, strings.TrimSpace(sr.Stack.Name.String()))
	}
	return names
}

func wantErr(t *testing.T, err error, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %q is not %q", err, target)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not say %q", msg, p)
		}
	}
}

// wantCause checks the fixed phrase a readiness probe would show, and
// that it comes with the endpoint.
func wantCause(t *testing.T, err error, phrase string) {
	t.Helper()
	var e interface {
		NMIEndpoint() string
		NMICause() string
	}
	if !errors.As(err, &e) {
		t.Fatalf("%v carries no endpoint and cause", err)
	}
	if e.NMICause() != phrase || !strings.Contains(err.Error(), e.NMIEndpoint()) {
		t.Errorf("cause %q at %q, want %q", e.NMICause(), e.NMIEndpoint(), phrase)
	}
}

// wantRefused reads the first message of a stream over the client limit:
// TERM with EAGAIN instead of INIT.
func wantRefused(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, _, err := nmi.ReadMessage(c, nil, 1<<20)
	if err != nil || h.Type != nmi.MsgTerm || h.Rc != nmi.EAGAIN {
		t.Fatalf("stream over the client limit: %s rc %v, %v; want TERM with EAGAIN", h.Type, h.Rc, err)
	}
}
