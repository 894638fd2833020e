package nmi

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// plainConn hides everything of a connection but net.Conn: no
// syscall.Conn, as a connection over SSH or TLS offers none.
type plainConn struct{ net.Conn }

// plainDial dials the AF_UNIX socket at path and hands over only its
// net.Conn.
func plainDial(path string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		c, err := DialUnix(path)(ctx)
		if err != nil {
			return nil, err
		}
		return plainConn{c}, nil
	}
}

func TestClientOverPlainConn(t *testing.T) {
	var _ net.Conn = plainConn{}
	if _, ok := net.Conn(plainConn{}).(syscall.Conn); ok {
		t.Fatal("plainConn offers syscall.Conn")
	}
	s := newTestServer(t)
	conn, err := plainDial(s.addr())(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(context.Background(), conn, WithAddr("iked.example:ipsecmgmt"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if names, err := stackNames(t, c); err != nil || len(names) != 2 {
		t.Fatalf("names %v, %v", names, err)
	}

	// The context reaches the connection through SetDeadline alone.
	hang(s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, stackReq, nil); err != context.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
	// The connection is dead; the error names the address given.
	_, err = c.Do(context.Background(), stackReq, nil)
	var oe *OpError
	if !errors.As(err, &oe) || oe.Addr != "iked.example:ipsecmgmt" || !errors.Is(err, ErrClosed) {
		t.Fatalf("after the deadline: %v", err)
	}
}

func TestClientCancelOverPlainConn(t *testing.T) {
	s := newTestServer(t)
	hang(s)
	conn, err := plainDial(s.addr())(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Do(ctx, stackReq, nil); done <- err }()
	for s.requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("got %v", err)
	}
}

func TestNewClientAddrDefaultsToRemoteAddr(t *testing.T) {
	s := newTestServer(t)
	s.onAccept = func(c *net.UnixConn) bool { c.Write(AppendTerm(nil, Version, 0, 0)[:HdrSize-1]); return false }
	conn, err := DialUnix(s.addr())(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClient(context.Background(), conn)
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != OpInit || oe.Addr != s.path {
		t.Fatalf("got %v", err)
	}
	// NewClient closed the connection it was given.
	if _, err := conn.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after a failed NewClient: %v", err)
	}
}

// TestPoolIdleCheckNeedsSyscallConn: a TERM on an idle connection that
// offers no socket cannot be seen before the connection is lent; the
// exchange on it fails with the TERM, and the next one dials afresh. With
// a socket the pool sees it first (TestPoolIdleConnectionGetsTerm).
func TestPoolIdleCheckNeedsSyscallConn(t *testing.T) {
	s := newTestServer(t)
	p := NewPool(PoolConfig{Dial: plainDial(s.addr()), Addr: "plain", Size: 1})
	defer p.Close()
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatal(err)
	}
	termIdle(s)
	_, err := p.Do(context.Background(), stackReq, nil)
	if f := Classify(err); f.Class != ClassTerm {
		t.Fatalf("exchange on the terminated connection: %v (%v)", err, f.Class)
	}
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatalf("next exchange: %v", err)
	}
	if st := p.Stats(); st.Opened != 2 || st.Terms[TermCause{}] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPoolIdleConnectionGetsGarbage: bytes other than a whole TERM on an
// idle connection destroy it before it is lent.
func TestPoolIdleConnectionGetsGarbage(t *testing.T) {
	for name, b := range map[string][]byte{
		"part of a header": AppendTerm(nil, Version, 0, 0)[:10],
		"an INIT":          AppendInit(nil, Version),
	} {
		t.Run(name, func(t *testing.T) {
			if runtime.GOOS != "linux" {
				t.Skip("idle connections are looked at on Linux only")
			}
			s := newTestServer(t)
			p := unixPool(s.addr(), PoolConfig{Size: 1})
			defer p.Close()
			if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			for c := range s.conns {
				c.Write(b)
			}
			s.mu.Unlock()
			// The bytes must have arrived before the next acquire looks.
			for !idlePending(t, p) {
				time.Sleep(time.Millisecond)
			}
			if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
				t.Fatalf("exchange after garbage on the idle connection: %v", err)
			}
			if st := p.Stats(); st.Opened != 2 || st.Closed != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// idlePending reports whether the pool's idle connection has input.
func idlePending(t *testing.T, p *Pool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 1 {
		t.Fatalf("%d idle connections", len(p.idle))
	}
	var buf [1]byte
	_, pending, err := peekIdle(p.idle[0].conn, buf[:])
	if err != nil {
		t.Fatal(err)
	}
	return pending
}

// termIdle sends a TERM on every connection of s and shuts its writing
// side.
func termIdle(s *testServer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Write(AppendTerm(nil, Version, 0, 0))
		c.CloseWrite()
	}
}
