package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// noDeadlines hides the deadlines of one end of a net.Pipe, as an SSH
// channel has none.
type noDeadlines struct{ c net.Conn }

func (n noDeadlines) Read(b []byte) (int, error)  { return n.c.Read(b) }
func (n noDeadlines) Write(b []byte) (int, error) { return n.c.Write(b) }
func (n noDeadlines) Close() error                { return n.c.Close() }

func pipeConn(t *testing.T) (*deadlineConn, net.Conn) {
	a, b := net.Pipe()
	c := newDeadlineConn(noDeadlines{a}, streamAddr{"test", "a"}, streamAddr{"test", "b"}, nil)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

func TestDeadlineConnRead(t *testing.T) {
	c, peer := pipeConn(t)
	buf := make([]byte, 8)

	// A deadline in the past fails the read at once, as os.ErrDeadlineExceeded.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	var ne net.Error
	if _, err := c.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v is not a net.Error timeout", err)
	}

	// A deadline that passes while the read waits ends it.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read until deadline: %v", err)
	}

	// Bytes that arrive after a read timed out are not lost: clearing the
	// deadline reads them.
	go peer.Write([]byte("hello, world"))
	c.SetReadDeadline(time.Time{})
	got, err := io.ReadAll(io.LimitReader(c, 12))
	if err != nil || string(got) != "hello, world" {
		t.Fatalf("read after clearing the deadline: %q, %v", got, err)
	}

	// A deadline in the future that is moved to the past wakes a read.
	c.SetReadDeadline(time.Now().Add(time.Hour))
	done := make(chan error, 1)
	go func() { _, err := c.Read(buf); done <- err }()
	time.Sleep(10 * time.Millisecond)
	c.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read woken by a deadline in the past: %v", err)
	}
	// The end of the stream reaches the reader.
	c.SetReadDeadline(time.Time{})
	peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read at end of stream: %v", err)
	}
}

func TestDeadlineConnWrite(t *testing.T) {
	c, peer := pipeConn(t)
	// Nobody reads the pipe: the write blocks until its deadline, which
	// closes the stream.
	c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked write: %v", err)
	}
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer after the write deadline closed the stream: %v, want EOF", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestDeadlineConnWriteInTime(t *testing.T) {
	c, peer := pipeConn(t)
	go io.Copy(io.Discard, peer)
	c.SetDeadline(time.Now().Add(time.Hour))
	if n, err := c.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("abc")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past deadline: %v", err)
	}
	c.SetWriteDeadline(time.Time{})
	if _, err := c.Write([]byte("abc")); err != nil {
		t.Fatalf("write after clearing the deadline: %v", err)
	}
}

func TestDeadlineConnClose(t *testing.T) {
	c, _ := pipeConn(t)
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) && err != io.EOF {
		t.Fatalf("read during close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestDeadlineConnLost(t *testing.T) {
	a, b := net.Pipe()
	cause := errors.New("ssh connection lost: test")
	c := newDeadlineConn(noDeadlines{a}, nil, nil, func() error { return cause })
	defer c.Close()
	b.Close()
	if _, err := c.Read(make([]byte, 1)); err != cause {
		t.Fatalf("read after the connection under the stream was lost: %v", err)
	}
}

// A deadline set while a write is blocked, as a canceled context sets one
// in the past, ends the write.
func TestDeadlineConnWriteCanceled(t *testing.T) {
	c, _ := pipeConn(t)
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("x")); done <- err }() // nobody reads: it blocks
	time.Sleep(20 * time.Millisecond)
	c.SetWriteDeadline(time.Unix(1, 0))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked write after a deadline in the past: %v", err)
	}
}
