package nmi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var stackReq = &Request{Type: GetStackInfo}

func dial(t *testing.T, s *testServer, opts ...Option) *Client {
	t.Helper()
	c, err := dialUnix(context.Background(), s.addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func stackNames(t *testing.T, c *Client) ([]string, error) {
	var names []string
	var r StackRecord
	_, err := c.Do(context.Background(), stackReq, func(rec Record) error {
		if err := r.Decode(rec); err != nil {
			return err
		}
		names = append(names, r.Stack.Name.String())
		return nil
	})
	return names, err
}

func TestClientExchange(t *testing.T) {
	s := newTestServer(t)
	c := dial(t, s)
	if c.ServerVersion() != 1 {
		t.Fatalf("version %d", c.ServerVersion())
	}
	for i := 0; i < 3; i++ {
		names, err := stackNames(t, c)
		if err != nil || strings.Join(names, ",") != "TCPIP,TCPIPB" {
			t.Fatalf("names %v, %v", names, err)
		}
	}
	h, err := c.Do(context.Background(), &Request{Type: GetSummary, Target: "TCPIP"}, nil)
	if err != nil || h.RecCount != 1 || h.TargetName() != "TCPIP" || h.Correlator != 4 {
		t.Fatalf("summary %+v %v", h, err)
	}
	// A request the encoder refuses costs nothing and leaves the connection fine.
	if _, err := c.Do(context.Background(), &Request{Type: GetSummary}, nil); err == nil || c.Err() != nil {
		t.Fatalf("bad request: %v, connection %v", err, c.Err())
	}
}

func TestClientLargeRecordsStream(t *testing.T) {
	s := newTestServer(t)
	s.filters, s.ikes, s.idLen = 2000, 50, 9000 // identities larger than the read buffer
	c := dial(t, s, WithReadBufferSize(4096))
	var fr FilterRecord
	n := 0
	if _, err := c.Do(context.Background(), &Request{Type: GetIPFltCurr, Target: "TCPIP"}, func(r Record) error {
		if err := fr.Decode(r); err != nil || fr.Filter.NameExt != uint32(n) {
			t.Fatalf("record %d: %v %d", n, err, fr.Filter.NameExt)
		}
		n++
		return nil
	}); err != nil || n != 2000 {
		t.Fatalf("%d filters, %v", n, err)
	}
	var ir IKETunnelRecord
	n = 0
	if _, err := c.Do(context.Background(), &Request{Type: GetIKETun, Target: "TCPIP"}, func(r Record) error {
		if err := ir.Decode(r); err != nil || len(ir.RemoteID) != 9000 || ir.Tunnel.Generation != uint32(n) {
			t.Fatalf("record %d: %v", n, err)
		}
		n++
		return nil
	}); err != nil || n != 50 {
		t.Fatalf("%d tunnels, %v", n, err)
	}
}

func TestClientCallbackError(t *testing.T) {
	s := newTestServer(t)
	s.filters = 100
	c := dial(t, s)
	stop := errors.New("stop")
	n := 0
	_, err := c.Do(context.Background(), &Request{Type: GetIPFltCurr, Target: "T"}, func(Record) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("got %v after %d records", err, n)
	}
	if names, err := stackNames(t, c); err != nil || len(names) != 2 {
		t.Fatalf("connection out of step after a callback error: %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	s := newTestServer(t)
	s.onAccept = func(c *net.UnixConn) bool { c.Write(AppendTerm(nil, Version, EAGAIN, 0)); return false }
	_, err := dialUnix(context.Background(), s.addr(), WithAddr("unix://"+s.addr()))
	var se *StatusError
	if !errors.As(err, &se) || !se.Refused || !se.Term || se.Rc != EAGAIN || !se.Temporary() {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "EAGAIN") {
		t.Fatalf("message %q", err)
	}
	// The refusal names the endpoint that refused.
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != OpInit || oe.Addr != "unix://"+s.addr() {
		t.Fatalf("%v: want an init error naming the endpoint", err)
	}
}

func TestDialRejectsInitWithRecords(t *testing.T) {
	s := newTestServer(t)
	s.onAccept = func(c *net.UnixConn) bool {
		// INIT is header only (framing rule 5); this one carries a record.
		h := Header{Version: Version, Type: MsgInit, MsgSize: HdrSize + RecHdrSize, RecOff: HdrSize, RecCount: 1}
		b, _ := h.AppendBinary(nil)
		rec := make([]byte, RecHdrSize)
		be.PutUint32(rec[offRIdent:], RIdent)
		be.PutUint32(rec[offRRecLen:], RecHdrSize)
		_, err := c.Write(append(b, rec...))
		return err == nil
	}
	c, err := dialUnix(context.Background(), s.addr())
	var fe *FormatError
	if !isOp(err, OpInit) || !errors.As(err, &fe) || fe.Path != "NMsMMsgSize" {
		if c != nil {
			c.Close()
		}
		t.Fatalf("INIT with a record: %v", err)
	}
}

func TestDialWaitsForInit(t *testing.T) {
	s := newTestServer(t)
	release := make(chan struct{})
	s.onAccept = func(c *net.UnixConn) bool {
		select {
		case <-release:
		case <-s.block:
			return false
		}
		_, err := c.Write(AppendInit(nil, 3))
		return err == nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := dialUnix(ctx, s.addr()); err != context.DeadlineExceeded {
		t.Fatalf("no INIT by the deadline: %v", err)
	}
	close(release)
	c, err := dialUnix(context.Background(), s.addr())
	if err != nil || c.ServerVersion() != 3 {
		t.Fatalf("%v", err)
	}
	c.Close()
	// Nothing listening: the pool reports the dial's error as an *OpError.
	p := unixPool(s.addr()+"-none", PoolConfig{})
	defer p.Close()
	if _, err := p.Do(context.Background(), stackReq, nil); !isOp(err, OpDial) || Classify(err).Class != ClassUnavailable {
		t.Fatalf("dial nowhere: %v", err)
	}
}

func isOp(err error, op Op) bool {
	var oe *OpError
	return errors.As(err, &oe) && oe.Op == op
}

func TestClientStatusError(t *testing.T) {
	s := newTestServer(t)
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool {
		if req.Type == GetStackInfo {
			return s.answer(c, h, req, err)
		}
		c.Write(AppendError(nil, h, Version, EACCES, 0))
		return true
	}
	c := dial(t, s)
	_, err := c.Do(context.Background(), &Request{Type: GetSummary, Target: "TCPIP"}, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Rc != EACCES || se.Term || se.Type != GetSummary {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "NMsec_GET_SUMMARY") || !strings.Contains(err.Error(), "EACCES (111)") {
		t.Fatalf("message %q", err)
	}
	if _, err := stackNames(t, c); err != nil {
		t.Fatalf("connection unusable after a status error: %v", err)
	}
}

func TestClientTermAfterRequest(t *testing.T) {
	s := newTestServer(t)
	s.handle = reply(AppendTerm(nil, Version, 0, 0), false, false)
	c := dial(t, s)
	_, err := c.Do(context.Background(), stackReq, nil)
	var se *StatusError
	if !errors.As(err, &se) || !se.Term || se.Refused {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Do(context.Background(), stackReq, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after TERM: %v", err)
	}
}

// Bytes from the server that break the contract: a typed error, and the
// connection is dead.
func TestClientBadResponses(t *testing.T) {
	good, _ := AppendMessage(nil, Header{Version: 1, Type: GetStackInfo}, nil, 0)
	rec, _ := (&StackRecord{}).Append(nil)
	withRec, _ := AppendMessage(nil, Header{Version: 1, Type: GetStackInfo}, rec, 1)
	cases := []struct {
		name string
		resp []byte
		fix  bool
		keep bool
		rsn  ReasonCode
		is   error
	}{
		{"wrong correlator", good, false, true, RsnNone, nil},
		{"wrong type", func() []byte {
			b, _ := AppendMessage(nil, Header{Version: 1, Type: GetSummary, Correlator: 1}, nil, 0)
			return b
		}(), false, true, RsnNone, nil},
		{"bad ident", append([]byte{0}, good[1:]...), true, true, RsnBadIdent, nil},
		{"oversized", func() []byte { b := bytes.Clone(good); be.PutUint32(b[offMMsgSize:], 1<<30); return b }(), true, true, RsnExcessiveSize, ErrTooLarge},
		{"truncated", withRec[:len(withRec)-10], true, false, RsnNone, io.ErrUnexpectedEOF},
		{"bad record length", func() []byte { b := bytes.Clone(withRec); be.PutUint32(b[HdrSize+4:], 1000); return b }(), true, true, RsnRecordLength, nil},
		{"count too high", func() []byte { b := bytes.Clone(withRec); b[offMRecCount+3] = 2; return b }(), true, true, RsnMsgSize, nil},
		{"bytes left over", func() []byte {
			b := append(bytes.Clone(withRec), rec...)
			be.PutUint32(b[offMMsgSize:], uint32(len(b)))
			return b
		}(), true, true, RsnMsgSize, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			s.handle = reply(tc.resp, tc.fix, tc.keep)
			c := dial(t, s, WithMaxResponseSize(1<<20))
			_, err := c.Do(context.Background(), stackReq, nil)
			if !isOp(err, OpRead) {
				t.Fatalf("got %v (%T)", err, err)
			}
			if tc.rsn != RsnNone {
				wantRsn(t, err, tc.rsn)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if c.Err() == nil {
				t.Fatal("connection still marked usable")
			}
		})
	}
}

func TestClientServerKilledMidExchange(t *testing.T) {
	s := newTestServer(t)
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool { return false }
	c := dial(t, s)
	_, err := c.Do(context.Background(), stackReq, nil)
	if !isOp(err, OpRead) || !errors.Is(err, io.EOF) {
		t.Fatalf("got %v", err)
	}
}

// hang makes the server read the request and answer nothing until the test ends.
func hang(s *testServer) {
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool {
		<-s.block
		return false
	}
}

func TestClientCancel(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		s := newTestServer(t)
		c := dial(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Do(ctx, stackReq, nil); err != context.Canceled {
			t.Fatalf("got %v", err)
		}
		if _, err := stackNames(t, c); err != nil || s.requests() != 1 {
			t.Fatalf("connection after an early cancel: %v, %d requests", err, s.requests())
		}
	})
	t.Run("during", func(t *testing.T) {
		s := newTestServer(t)
		hang(s)
		c := dial(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { _, err := c.Do(ctx, stackReq, nil); done <- err }()
		for s.requests() == 0 {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("got %v", err)
		}
		if c.Err() == nil {
			t.Fatal("connection usable after a cancel mid-exchange")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		s := newTestServer(t)
		hang(s)
		c := dial(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.Do(ctx, stackReq, nil); err != context.DeadlineExceeded {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("waiting for the turn", func(t *testing.T) {
		s := newTestServer(t)
		hang(s)
		c := dial(t, s)
		first, cancelFirst := context.WithCancel(context.Background())
		go c.Do(first, stackReq, nil)
		for s.requests() == 0 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { _, err := c.Do(ctx, stackReq, nil); done <- err }()
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("got %v", err)
		}
		cancelFirst()
	})
}

func TestClientConcurrentCallers(t *testing.T) {
	s := newTestServer(t)
	c := dial(t, s)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if names, err := stackNames(t, c); err != nil || len(names) != 2 {
					t.Errorf("%v %v", names, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPeerCred(t *testing.T) {
	s := newTestServer(t)
	got := make(chan [3]int64, 1)
	s.onAccept = func(c *net.UnixConn) bool {
		uid, gid, pid, err := PeerCred(c)
		if err != nil {
			t.Error(err)
		}
		got <- [3]int64{int64(uid), int64(gid), int64(pid)}
		_, err = c.Write(AppendInit(nil, 1))
		return err == nil
	}
	dial(t, s)
	if g := <-got; g[2] != int64(osGetpid()) || g[0] != int64(osGetuid()) || g[1] != int64(osGetgid()) {
		t.Fatalf("peer credentials %v", g)
	}
}
