package nmi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a Client.
type Option func(*clientConfig)

type clientConfig struct {
	maxResponse uint32
	bufSize     int
	addr        string
	hasAddr     bool
}

// WithAddr names the endpoint in errors (*OpError.Addr); the default is
// the connection's remote address.
func WithAddr(addr string) Option {
	return func(c *clientConfig) { c.addr, c.hasAddr = addr, true }
}

// WithMaxResponseSize caps the size of a response the client accepts
// (default DefaultMaxResponseSize). A larger response fails with ErrTooLarge
// before anything beyond its header is read, and the connection is closed.
func WithMaxResponseSize(n uint32) Option {
	return func(c *clientConfig) {
		if n >= HdrSize {
			c.maxResponse = n
		}
	}
}

// WithReadBufferSize sets the size of the read buffer (default 64 KiB).
// Records that fit in it are handed to the callback without a copy.
func WithReadBufferSize(n int) Option {
	return func(c *clientConfig) {
		if n >= 4096 {
			c.bufSize = n
		}
	}
}

// Client is one connection to the NMI. It runs one exchange at a time;
// concurrent calls to Do wait their turn. After a transport or protocol
// error, or a TERM, the connection is dead and every later call fails.
type Client struct {
	addr    string
	conn    net.Conn
	br      *bufio.Reader
	turn    chan struct{} // holds a token during an exchange
	cfg     clientConfig
	version uint16

	// Guarded by turn.
	wbuf []byte
	rbuf []byte
	corr uint32

	// The exchange in progress (see watch), guarded by turn; canceled is
	// also set by the context's end.
	reqType  MsgType
	stall    time.Duration // longest silence of the endpoint; 0: none
	ctxDL    time.Time     // the caller's deadline; zero: none
	dl       time.Time     // the read deadline set last
	reads    int           // reads of the answer that returned bytes
	canceled atomic.Bool   // the context ended: the deadline stays in the past

	mu   sync.Mutex
	dead error // why the connection is unusable; nil while it is fine
}

// NewClient runs the NMI over conn, a connection to the NMI socket fresh
// from its dial: it waits for NMsec_INIT as long as ctx allows (IKED sends
// INIT only once it is connected to the Policy Agent). A TERM instead of
// INIT is an *OpError (OpInit, naming the endpoint) around a *StatusError
// with Refused set, carrying the server's return and reason codes
// (EAGAIN: too many clients). The Client owns conn from
// then on and closes it on failure. It needs nothing of conn beyond
// net.Conn; ctx and the contexts of later calls are applied with
// SetDeadline.
func NewClient(ctx context.Context, conn net.Conn, opts ...Option) (*Client, error) {
	cfg := clientConfig{maxResponse: DefaultMaxResponseSize, bufSize: 64 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.hasAddr {
		if ra := conn.RemoteAddr(); ra != nil {
			cfg.addr = ra.String()
		}
	}
	c := &Client{
		addr: cfg.addr,
		conn: conn,
		turn: make(chan struct{}, 1),
		cfg:  cfg,
	}
	c.br = bufio.NewReaderSize(progressReader{c}, cfg.bufSize)
	if err := c.readInit(ctx); err != nil {
		c.kill(err)
		return nil, err
	}
	return c, nil
}

// DialUnix returns a dial function for the AF_UNIX stream socket at path,
// for PoolConfig.Dial.
func DialUnix(path string) func(context.Context) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}
}

func (c *Client) readInit(ctx context.Context) error {
	stop, err := c.watch(ctx, 0, 0)
	if err != nil {
		return err
	}
	defer stop()
	b, err := c.br.Peek(HdrSize)
	if err != nil {
		return c.ioErr(ctx, OpInit, err)
	}
	var h Header
	if err := h.UnmarshalBinary(b); err != nil {
		return &OpError{Op: OpInit, Addr: c.addr, Err: err}
	}
	if _, err := c.br.Discard(HdrSize); err != nil {
		return c.ioErr(ctx, OpInit, err)
	}
	switch {
	case h.Type == MsgTerm:
		return &OpError{Op: OpInit, Addr: c.addr, Err: &StatusError{Type: MsgTerm, Rc: h.Rc, Rsn: h.Rsn, Term: true, Refused: true}}
	case h.Type != MsgInit:
		return &OpError{Op: OpInit, Addr: c.addr, Err: formatErr("NMsMType", RsnBadType, "expected NMsec_INIT, got "+h.Type.String())}
	case h.Version == 0:
		return &OpError{Op: OpInit, Addr: c.addr, Err: formatErr("NMsMVersion", RsnBadVersion, "NMsec_INIT announces version 0")}
	case h.MsgSize != HdrSize:
		// Framing rule 5: header only. Bytes after it would put the
		// stream out of step.
		return &OpError{Op: OpInit, Addr: c.addr, Err: formatErr("NMsMMsgSize", RsnMsgSize, "NMsec_INIT is longer than its header")}
	}
	c.version = h.Version
	return nil
}

// ServerVersion returns the highest interface version the server announced
// in NMsec_INIT.
func (c *Client) ServerVersion() uint16 { return c.version }

// Err returns why the connection is unusable, or nil while it is fine.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// Close closes the connection. An exchange in progress fails.
func (c *Client) Close() error {
	c.mu.Lock()
	first := c.dead == nil
	if first {
		c.dead = ErrClosed
	}
	c.mu.Unlock()
	if !first {
		return nil
	}
	return c.conn.Close()
}

// kill marks the connection dead with cause and closes it.
func (c *Client) kill(cause error) {
	c.mu.Lock()
	first := c.dead == nil
	if first {
		c.dead = cause
	}
	c.mu.Unlock()
	if first {
		c.conn.Close()
	}
}

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// watch applies ctx to the socket: its deadline becomes the socket's, and
// cancellation sets a deadline in the past. With stall > 0 the endpoint
// may also stay silent for at most stall at a time: the deadline is at
// most stall ahead, and every read that returns bytes moves it on (see
// progressReader); the failure then names t. stop must be called when the
// operation ends; it waits until a cancellation in flight has finished.
func (c *Client) watch(ctx context.Context, t MsgType, stall time.Duration) (stop func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.ctxDL, _ = ctx.Deadline()
	c.reqType, c.stall, c.reads = t, stall, 0
	c.canceled.Store(false)
	c.dl = c.ctxDL
	if stall > 0 {
		c.dl = c.stallDeadline()
	}
	if err := c.conn.SetDeadline(c.dl); err != nil {
		return nil, &OpError{Op: OpDeadline, Addr: c.addr, Err: err}
	}
	if ctx.Done() == nil {
		return func() {}, nil
	}
	done := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		c.canceled.Store(true)
		c.conn.SetDeadline(aLongTimeAgo)
		close(done)
	})
	return func() {
		if !cancel() {
			<-done
		}
	}, nil
}

// stallDeadline is stall from now, or the caller's deadline if sooner.
func (c *Client) stallDeadline() time.Time {
	dl := time.Now().Add(c.stall)
	if !c.ctxDL.IsZero() && c.ctxDL.Before(dl) {
		return c.ctxDL
	}
	return dl
}

// progressReader is what the client's buffered reader reads from: the
// connection, moving the read deadline on after every read that returns
// bytes while the exchange has a stall bound. That is one deadline per
// read of the buffer (up to its size), not per record, and no timer of
// its own.
type progressReader struct{ c *Client }

func (r progressReader) Read(b []byte) (int, error) {
	c := r.c
	n, err := c.conn.Read(b)
	if n > 0 && c.stall > 0 {
		c.reads++
		if dl := c.stallDeadline(); !dl.Equal(c.dl) {
			c.dl = dl
			c.conn.SetReadDeadline(dl)
			// A cancellation that set its deadline in the past before
			// ours is not undone: it set canceled first.
			if c.canceled.Load() {
				c.conn.SetReadDeadline(aLongTimeAgo)
			}
		}
	}
	return n, err
}

// ioErr kills the connection after a failed read or write and returns the
// error to report: the context's error when the context ended, else an
// *OpError.
func (c *Client) ioErr(ctx context.Context, op Op, err error) error {
	c.kill(err)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		<-ctx.Done() // the socket deadline is the context's: it is about to end
		return ctx.Err()
	}
	if c.stall > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		what := "no answer to " + c.reqType.String()
		if c.reads > 0 {
			what = "the answer to " + c.reqType.String() + " stalled: nothing more"
		}
		return &OpError{Op: op, Addr: c.addr, Err: &timeoutError{what: what, d: c.stall, stall: true}}
	}
	return &OpError{Op: op, Addr: c.addr, Err: err}
}

// protoErr kills the connection after bytes that break the contract.
func (c *Client) protoErr(err error) error {
	c.kill(err)
	return &OpError{Op: OpRead, Addr: c.addr, Err: err}
}

// Do runs one exchange: it sends req, reads the response header, checks
// that it answers req (type and correlator), then reads the records one by
// one from the socket and calls fn for each, in order. A Record is valid
// only during its call. If fn returns an error, Do reads and discards the
// rest of the response and returns that error unchanged.
//
// A nonzero return code is a *StatusError (the connection stays usable);
// a TERM is a *StatusError with Term set (the connection is dead). When
// ctx ends, Do returns ctx.Err(). Other failures are *OpError; after them
// the connection is dead.
func (c *Client) Do(ctx context.Context, req *Request, fn func(Record) error) (Header, error) {
	return c.do(ctx, req, fn, 0)
}

// do is Do with a bound on the endpoint's silence: with stall > 0, an
// exchange whose answer does not start within stall, or stops for longer
// than stall, fails with an *OpError around a *timeoutError (stall set)
// and the connection is dead. The answer as a whole may take longer,
// within ctx.
func (c *Client) do(ctx context.Context, req *Request, fn func(Record) error, stall time.Duration) (Header, error) {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return Header{}, ctx.Err()
	}
	defer func() { <-c.turn }()
	if err := c.Err(); err != nil {
		return Header{}, &OpError{Op: OpWrite, Addr: c.addr, Err: errors.Join(ErrClosed, err)}
	}
	c.corr++
	if c.corr == 0 { // 0 is what INIT and TERM carry
		c.corr = 1
	}
	b, err := AppendRequest(c.wbuf[:0], req, c.corr)
	if err != nil {
		return Header{}, err
	}
	c.wbuf = b
	stop, err := c.watch(ctx, req.Type, stall)
	if err != nil {
		return Header{}, err
	}
	defer stop()
	if _, err := c.conn.Write(b); err != nil {
		return Header{}, c.ioErr(ctx, OpWrite, err)
	}
	return c.readResponse(ctx, req.Type, c.corr, fn)
}

func (c *Client) readResponse(ctx context.Context, t MsgType, corr uint32, fn func(Record) error) (Header, error) {
	var h Header
	hb, err := c.br.Peek(HdrSize)
	if err != nil {
		if len(hb) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, c.ioErr(ctx, OpRead, err)
	}
	h.fill(hb)
	if err := h.checkFraming(hb); err != nil {
		return h, c.protoErr(err)
	}
	if h.MsgSize > c.cfg.maxResponse {
		return h, c.protoErr(errors.Join(ErrTooLarge, formatErr("NMsMMsgSize", RsnExcessiveSize,
			strconv.FormatUint(uint64(h.MsgSize), 10)+" bytes, the maximum is "+strconv.FormatUint(uint64(c.cfg.maxResponse), 10))))
	}
	err = checkHeaderReserved(hb)
	if err == nil {
		err = h.checkRecords()
	}
	c.br.Discard(HdrSize)
	if err != nil {
		return h, c.protoErr(err)
	}
	if h.Type == MsgTerm {
		serr := &StatusError{Type: MsgTerm, Rc: h.Rc, Rsn: h.Rsn, Term: true}
		c.kill(serr)
		return h, serr
	}
	if h.Type != t || h.Correlator != corr {
		return h, c.protoErr(formatErr("header", RsnNone, "response "+h.Type.String()+"/"+
			strconv.FormatUint(uint64(h.Correlator), 10)+" does not answer request "+t.String()+"/"+strconv.FormatUint(uint64(corr), 10)))
	}
	rem := int(h.MsgSize) - HdrSize
	if h.Rc != RcOK {
		if err := c.discard(ctx, rem); err != nil {
			return h, err
		}
		return h, &StatusError{Type: h.Type, Rc: h.Rc, Rsn: h.Rsn}
	}
	if h.RecCount == 0 {
		return h, nil
	}
	gap := int(h.RecOff) - HdrSize
	if gap > 0 {
		g, err := c.readN(ctx, gap)
		if err != nil {
			return h, err
		}
		if !allZero(g) {
			return h, c.protoErr(formatErr("NMsMRecOff", RsnReservedNonzero, "bytes before the first record not zero"))
		}
		rem -= gap
	}
	var fnErr error
	for i := 0; i < int(h.RecCount); i++ {
		if fnErr != nil {
			break
		}
		if rem < RecHdrSize {
			return h, c.protoErr(formatErr(indexPath("record", i), RsnMsgSize, "fewer records than NMsMRecCount"))
		}
		rh, err := c.br.Peek(8)
		if err != nil {
			return h, c.ioErr(ctx, OpRead, unexpected(err))
		}
		if be.Uint32(rh[offRIdent:]) != RIdent {
			return h, c.protoErr(&FormatError{Path: indexPath("record", i), Rsn: RsnBadIdent, Msg: "bad record identifier", Fatal: true})
		}
		n := be.Uint32(rh[offRRecLen:])
		if n < RecHdrSize || n%recAlign != 0 || n > uint32(rem) {
			return h, c.protoErr(formatErr(indexPath("record", i)+".NMsRRecLen", RsnRecordLength, "bad record length "+strconv.FormatUint(uint64(n), 10)))
		}
		var rb []byte
		peeked := int(n) <= c.br.Size()
		if peeked {
			if rb, err = c.br.Peek(int(n)); err != nil {
				return h, c.ioErr(ctx, OpRead, unexpected(err))
			}
		} else if rb, err = c.readN(ctx, int(n)); err != nil {
			return h, err
		}
		rec, err := ParseRecord(rb)
		if err != nil {
			return h, c.protoErr(at(indexPath("record", i), err))
		}
		if fn != nil {
			fnErr = fn(rec)
		}
		if peeked {
			c.br.Discard(int(n))
		}
		rem -= int(n)
	}
	if fnErr != nil {
		if err := c.discard(ctx, rem); err != nil {
			return h, err
		}
		return h, fnErr
	}
	if rem != 0 {
		return h, c.protoErr(formatErr("NMsMMsgSize", RsnMsgSize, "records do not add up to the message size"))
	}
	return h, nil
}

// readN reads n bytes (n already checked against the response size) into
// the client's reused buffer.
func (c *Client) readN(ctx context.Context, n int) ([]byte, error) {
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	b := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return nil, c.ioErr(ctx, OpRead, unexpected(err))
	}
	return b, nil
}

func (c *Client) discard(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	if _, err := c.br.Discard(n); err != nil {
		return c.ioErr(ctx, OpRead, unexpected(err))
	}
	return nil
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF: the stream ended
// inside a message.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
