package capture

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/nmigw/nmigw/internal/nmi"
)

// maxFrame is the largest message the tee assembles; beyond it the bytes
// are recorded as raw events.
const maxFrame = nmi.DefaultMaxResponseSize

// Conn wraps c so that every whole message written to it and read from it
// is recorded in w. It records an Open event now and a Close event when
// the connection is closed or a read or write fails.
func (w *Writer) Conn(c net.Conn) net.Conn {
	t := &teeConn{Conn: c, w: w, id: w.NextConn()}
	t.send.kind, t.recv.kind = Send, Recv
	w.Write(Event{Conn: t.id, Kind: Open})
	return t
}

// Dial wraps a dial function: every connection it opens is recorded.
func (w *Writer) Dial(dial func(context.Context) (net.Conn, error)) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		return w.Conn(c), nil
	}
}

type teeConn struct {
	net.Conn
	w          *Writer
	id         uint64
	send, recv framer
	once       sync.Once
}

func (t *teeConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.recv.feed(t, b[:n])
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		t.end(err)
	}
	return n, err
}

func (t *teeConn) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	if n > 0 {
		t.send.feed(t, b[:n])
	}
	if err != nil && !isTimeout(err) {
		t.end(err)
	}
	return n, err
}

func (t *teeConn) Close() error {
	t.end(nil)
	return t.Conn.Close()
}

// end records the Close event once, after any bytes left unframed.
func (t *teeConn) end(cause error) {
	t.once.Do(func() {
		t.send.flush(t)
		t.recv.flush(t)
		ev := Event{Conn: t.id, Kind: Close}
		if cause != nil && cause != io.EOF {
			ev.Err = cause.Error()
		}
		t.w.Write(ev)
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// framer cuts one direction's bytes into whole messages, using the
// message header's size. Bytes that do not frame (a bad identifier, a
// size below the header's or above maxFrame) switch it to raw events for
// the rest of the connection.
type framer struct {
	mu   sync.Mutex
	kind Kind
	buf  []byte
	raw  bool
}

func (f *framer) feed(t *teeConn, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.raw {
		t.w.Write(Event{Conn: t.id, Kind: Raw, Dir: string(f.kind), Data: append([]byte(nil), p...)})
		return
	}
	f.buf = append(f.buf, p...)
	for len(f.buf) >= nmi.HdrSize {
		var h nmi.Header
		err := h.UnmarshalBinary(f.buf[:nmi.HdrSize])
		var fe *nmi.FormatError
		if errors.As(err, &fe) && fe.Fatal || h.MsgSize > maxFrame {
			f.raw = true
			msg := "bytes do not frame as NMI messages"
			if err != nil {
				msg += ": " + err.Error()
			}
			t.w.Write(Event{Conn: t.id, Kind: Raw, Dir: string(f.kind), Data: f.buf, Err: msg})
			f.buf = nil
			return
		}
		if len(f.buf) < int(h.MsgSize) {
			return
		}
		n := int(h.MsgSize)
		t.w.Write(Event{Conn: t.id, Kind: f.kind, Type: h.Type.String(), Data: append([]byte(nil), f.buf[:n]...)})
		f.buf = append(f.buf[:0], f.buf[n:]...)
	}
}

// flush records what is left of an incomplete message.
func (f *framer) flush(t *teeConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		t.w.Write(Event{Conn: t.id, Kind: Raw, Dir: string(f.kind), Data: f.buf, Err: "incomplete message at the end of the connection"})
		f.buf = nil
	}
}
