package transport

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// deadlineConn gives a stream without deadlines of its own (an SSH
// channel) the deadline semantics of net.Conn. A reader goroutine moves
// the stream's bytes into a one-buffer hand-off, so that a read waits
// either for bytes or for its deadline and no byte is lost when the
// deadline ends a read; a later read with a new deadline gets them. A
// write cannot be interrupted on the stream, so a write deadline that
// passes while a write is blocked closes the stream.
type deadlineConn struct {
	rw     io.ReadWriteCloser
	local  net.Addr
	remote net.Addr
	// lost, if set, explains why the stream ended (the SSH connection
	// under it was lost); nil while the connection is fine.
	lost func() error

	rdl, wdl *deadline

	rdata chan []byte   // reader goroutine to Read: bytes read
	rack  chan struct{} // Read to reader goroutine: the buffer is free again
	rerr  error         // why the stream ended; set before rdata closes

	rmu     sync.Mutex // serializes Read
	pending []byte     // bytes handed off and not yet read
	wmu     sync.Mutex // serializes Write

	once sync.Once
	done chan struct{} // closed by Close
}

// newDeadlineConn wraps rw and starts its reader goroutine, which ends
// when rw's Read fails (Close makes it fail).
func newDeadlineConn(rw io.ReadWriteCloser, local, remote net.Addr, lost func() error) *deadlineConn {
	c := &deadlineConn{
		rw: rw, local: local, remote: remote, lost: lost,
		rdl: newDeadline(), wdl: newDeadline(),
		rdata: make(chan []byte),
		rack:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	go c.pump()
	return c
}

func (c *deadlineConn) pump() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.rw.Read(buf)
		if n > 0 {
			select {
			case c.rdata <- buf[:n]:
			case <-c.done:
				return
			}
			select {
			case <-c.rack:
			case <-c.done:
				return
			}
		}
		if err != nil {
			if c.lost != nil && !isClosed(c.done) {
				if cause := c.lost(); cause != nil {
					err = cause
				}
			}
			c.rerr = err
			close(c.rdata)
			return
		}
	}
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) == 0 {
		if isClosed(c.done) {
			return 0, net.ErrClosed
		}
		if isClosed(c.rdl.wait()) {
			return 0, os.ErrDeadlineExceeded
		}
		select {
		case p, ok := <-c.rdata:
			if !ok {
				return 0, c.rerr
			}
			c.pending = p
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
	if len(b) == 0 {
		return 0, nil
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.rack <- struct{}{}
	}
	return n, nil
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	expired := c.wdl.wait()
	if isClosed(c.done) {
		return 0, net.ErrClosed
	}
	if isClosed(expired) {
		return 0, os.ErrDeadlineExceeded
	}
	// A watcher closes the stream if the deadline passes during the
	// write, including one set while the write is blocked (a canceled
	// context sets a deadline in the past): expired is the channel every
	// later setting closes until one of them has closed it. Write returns
	// only after the watcher has ended, so that a later change of the
	// deadline cannot reach this write's watcher.
	finished, exited := make(chan struct{}), make(chan struct{})
	fired := false
	go func() {
		defer close(exited)
		select {
		case <-expired:
			fired = true
			c.Close()
		case <-finished:
		}
	}()
	n, err := c.rw.Write(b)
	close(finished)
	<-exited
	if fired {
		return n, os.ErrDeadlineExceeded
	}
	return n, c.writeErr(err)
}

func (c *deadlineConn) writeErr(err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	if c.lost != nil {
		if cause := c.lost(); cause != nil {
			return cause
		}
	}
	return err
}

// Close closes the stream; blocked and later reads and writes fail.
func (c *deadlineConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		close(c.done)
		err = c.rw.Close()
	})
	return err
}

func (c *deadlineConn) LocalAddr() net.Addr  { return c.local }
func (c *deadlineConn) RemoteAddr() net.Addr { return c.remote }

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// deadline is a settable point in time with a channel that is closed once
// it has passed (the pattern of net.Pipe's deadlines).
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	expired chan struct{} // closed when the deadline passes
}

func newDeadline() *deadline { return &deadline{expired: make(chan struct{})} }

// set moves the deadline; the zero time removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expired // the timer's function is closing it: wait for that
	}
	d.timer = nil
	closed := isClosed(d.expired)
	if closed && (t.IsZero() || time.Until(t) > 0) {
		d.expired = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		ch := d.expired
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !isClosed(d.expired) {
		close(d.expired)
	}
}

// wait returns a channel closed when the deadline has passed.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// streamAddr is the address of one end of an SSH stream-local channel.
type streamAddr struct{ net, s string }

func (a streamAddr) Network() string { return a.net }
func (a streamAddr) String() string  { return a.s }
