package nmi

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Pool limits.
const (
	DefaultPoolSize   = 4
	MaxPoolSize       = MaxConnections
	defaultBackoffMin = 100 * time.Millisecond
	defaultBackoffMax = 10 * time.Second
)

// PoolConfig configures a Pool. Dial is required; the rest has defaults.
type PoolConfig struct {
	// Dial connects to the NMI, for example DialUnix(path). The pool runs
	// the NMI over what it returns with NewClient; ctx bounds the dial.
	Dial func(ctx context.Context) (net.Conn, error)
	// Addr names the endpoint in errors and logs, for example the socket
	// path.
	Addr string

	Size            int           // connections at most; default 4, at most 50
	MaxWait         time.Duration // longest wait for a free connection (ErrPoolExhausted); 0 = as long as ctx allows
	MaxResponseSize uint32        // per connection; default DefaultMaxResponseSize
	BackoffMin      time.Duration // first wait after a failed dial; default 100ms
	BackoffMax      time.Duration // longest wait between dials; default 10s
	Observer        Observer      // optional
}

// Observer is told about every exchange a Pool runs, for metrics. It is
// called synchronously and must not block.
type Observer interface {
	ObserveExchange(ExchangeEvent)
}

// InitObserver is an optional interface of PoolConfig.Observer: a Pool
// calls ObserveInit after every dial its caller did not abandon, with the
// time from connecting to NMsec_INIT (err nil), to a TERM refusing the
// connection (*StatusError with Refused), or to another failure.
type InitObserver interface {
	ObserveInit(d time.Duration, err error)
}

// ExchangeEvent describes one Pool.Do.
type ExchangeEvent struct {
	Type     MsgType
	Duration time.Duration // acquire and exchange
	Records  int           // records handed to the callback
	Failure  Failure       // Classify(Err)
	Err      error
}

// TermCause is the return and reason code a TERM carried.
type TermCause struct {
	Rc  ReturnCode
	Rsn ReasonCode
}

// PoolStats is a snapshot of a Pool's state and counters.
type PoolStats struct {
	MaxSize      int           // configured size
	Open         int           // connections open: in use + idle
	InUse        int           // connections lent out now
	Idle         int           // connections waiting for work
	Waits        uint64        // acquires that had to wait for a free connection
	WaitDuration time.Duration // total time spent waiting
	Exhausted    uint64        // acquires that gave up after MaxWait
	Opened       uint64        // connections dialed successfully
	Closed       uint64        // connections closed
	DialFailures uint64        // dials that failed (including refusals)
	Exchanges    uint64        // exchanges run
	Errors       uint64        // exchanges that did not end with return code 0
	Terms        map[TermCause]uint64
	Backoff      time.Duration // wait before the next dial is allowed; 0 when none
}

// Pool is a bounded set of Clients to one endpoint. Connections are dialed
// on demand, returned after a clean exchange and destroyed after any
// error. Dialing after a failure waits with exponential backoff; while it
// waits, acquires fail at once with an *UnavailableError.
type Pool struct {
	cfg PoolConfig
	sem chan struct{} // one token per connection lent out or being dialed

	mu        sync.Mutex
	idle      []*Client
	closed    bool
	inUse     int
	failures  int
	nextDial  time.Time
	lastErr   error
	lastOK    time.Time // end of the last exchange answered with return code 0
	stats     PoolStats
	termCount map[TermCause]uint64
}

// NewPool returns a pool of connections made with cfg.Dial. Without a
// dial function every dial fails.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Size <= 0 {
		cfg.Size = DefaultPoolSize
	}
	if cfg.Size > MaxPoolSize {
		cfg.Size = MaxPoolSize
	}
	if cfg.MaxResponseSize == 0 {
		cfg.MaxResponseSize = DefaultMaxResponseSize
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = defaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(defaultBackoffMax, cfg.BackoffMin)
	}
	return &Pool{cfg: cfg, sem: make(chan struct{}, cfg.Size), termCount: map[TermCause]uint64{}}
}

// Do runs one exchange on a pooled connection; see Client.Do.
func (p *Pool) Do(ctx context.Context, req *Request, fn func(Record) error) (Header, error) {
	start := time.Now()
	records := 0
	counted := fn
	if fn != nil {
		counted = func(r Record) error { records++; return fn(r) }
	}
	var h Header
	c, err := p.acquire(ctx)
	if err == nil {
		h, err = c.Do(ctx, req, counted)
		p.release(c, err)
	}
	p.observe(req.Type, time.Since(start), records, err)
	return h, err
}

func (p *Pool) observe(t MsgType, d time.Duration, records int, err error) {
	ev := ExchangeEvent{Type: t, Duration: d, Records: records, Err: err, Failure: Classify(err)}
	p.mu.Lock()
	p.stats.Exchanges++
	if err != nil {
		p.stats.Errors++
	} else {
		p.lastOK = time.Now()
	}
	p.mu.Unlock()
	if p.cfg.Observer != nil {
		p.cfg.Observer.ObserveExchange(ev)
	}
}

// acquire takes a token, then an idle connection or a new one.
func (p *Pool) acquire(ctx context.Context) (*Client, error) {
	select {
	case p.sem <- struct{}{}:
	default:
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if err := p.check(c); err != nil {
			continue
		}
		p.mu.Lock()
		p.inUse++
		p.mu.Unlock()
		return c, nil
	}
	c, err := p.dial(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// wait blocks for a token, up to MaxWait and as long as ctx allows.
func (p *Pool) wait(ctx context.Context) error {
	start := time.Now()
	p.mu.Lock()
	p.stats.Waits++
	p.mu.Unlock()
	var expired <-chan time.Time
	if p.cfg.MaxWait > 0 {
		t := time.NewTimer(p.cfg.MaxWait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = ErrPoolExhausted
	}
	p.mu.Lock()
	p.stats.WaitDuration += time.Since(start)
	if err == ErrPoolExhausted {
		p.stats.Exhausted++
	}
	p.mu.Unlock()
	return err
}

// check looks at an idle connection before lending it: if the server sent
// something meanwhile (a TERM) or closed it, the connection is destroyed.
// Only a connection that offers its socket (syscall.Conn) can be looked
// at without blocking; others are lent as they are, and a TERM waiting on
// them fails the next exchange.
func (p *Pool) check(c *Client) error {
	err := c.Err()
	if err == nil {
		err = c.idleInput()
	}
	if err == nil {
		return nil
	}
	p.destroy(c, err)
	return err
}

// idleInput returns why an idle connection cannot be used: the server sent
// a TERM (*StatusError), closed it, or sent something else; nil when
// nothing arrived. It never blocks: the bytes are peeked at, not read.
func (c *Client) idleInput() error {
	if c.br.Buffered() > 0 {
		return c.killIdle(c.br.Peek(min(c.br.Buffered(), HdrSize)))
	}
	var buf [HdrSize]byte
	n, pending, err := peekIdle(c.conn, buf[:])
	switch {
	case err != nil:
		c.kill(err)
		return err
	case !pending:
		return nil
	}
	return c.killIdle(buf[:n], nil)
}

// killIdle kills a connection after b arrived while it was idle and
// returns the cause: a TERM, the peer closing (b empty), or anything else.
func (c *Client) killIdle(b []byte, err error) error {
	var h Header
	switch {
	case err != nil:
	case len(b) == 0:
		err = io.EOF
	case len(b) < HdrSize:
		err = formatErr("header", RsnNone, "part of a message on an idle connection")
	default:
		err = h.UnmarshalBinary(b)
	}
	switch {
	case err != nil:
	case h.Type == MsgTerm:
		err = &StatusError{Type: MsgTerm, Rc: h.Rc, Rsn: h.Rsn, Term: true}
	default:
		err = formatErr("header", RsnNone, "unexpected "+h.Type.String()+" on an idle connection")
	}
	c.kill(err)
	return err
}

func (p *Pool) dial(ctx context.Context) (*Client, error) {
	p.mu.Lock()
	if p.nextDial.After(time.Now()) {
		err := &UnavailableError{Addr: p.cfg.Addr, RetryAt: p.nextDial, Last: p.lastErr}
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Unlock()
	start := time.Now()
	c, err := p.connect(ctx)
	abandoned := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	if o, ok := p.cfg.Observer.(InitObserver); ok && !abandoned {
		o.ObserveInit(time.Since(start), err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if abandoned {
			return nil, err // our caller gave up; says nothing about IKED
		}
		p.stats.DialFailures++
		var se *StatusError
		if errors.As(err, &se) {
			p.termCount[TermCause{se.Rc, se.Rsn}]++
		}
		p.failures++
		p.nextDial = time.Now().Add(backoff(p.cfg.BackoffMin, p.cfg.BackoffMax, p.failures))
		p.lastErr = err
		return nil, err
	}
	p.failures = 0
	p.nextDial = time.Time{}
	p.lastErr = nil
	p.stats.Opened++
	if p.closed {
		c.Close()
		p.stats.Closed++
		return nil, ErrClosed
	}
	p.inUse++
	return c, nil
}

var errNoDial = errors.New("nmi: PoolConfig.Dial is not set")

// connect dials and waits for INIT. A failed dial is an *OpError (OpDial),
// or the context's error when it ended.
func (p *Pool) connect(ctx context.Context) (*Client, error) {
	if p.cfg.Dial == nil {
		return nil, &OpError{Op: OpDial, Addr: p.cfg.Addr, Err: errNoDial}
	}
	conn, err := p.cfg.Dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &OpError{Op: OpDial, Addr: p.cfg.Addr, Err: err}
	}
	return NewClient(ctx, conn, WithMaxResponseSize(p.cfg.MaxResponseSize), WithAddr(p.cfg.Addr))
}

// backoff is the wait after the n-th dial failure in a row (n >= 1):
// lo doubled n-1 times, at most hi. It doubles only while the result stays
// at most hi, so it cannot overflow.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for ; n > 1 && d <= hi/2; n-- {
		d *= 2
	}
	if n > 1 || d > hi {
		return hi
	}
	return d
}

// release returns c after an exchange that ended with err. The connection
// goes back only if the stream is in step: no transport or protocol error,
// no cancellation, and no EINVAL answer (the server found our bytes bad).
func (p *Pool) release(c *Client, err error) {
	keep := c.Err() == nil
	var se *StatusError
	if errors.As(err, &se) && (se.Term || se.Rc == EINVAL) {
		keep = false
	}
	p.mu.Lock()
	p.inUse--
	if keep && !p.closed {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		<-p.sem
		return
	}
	p.mu.Unlock()
	p.destroy(c, err)
	<-p.sem
}

// destroy closes c and counts it (and the TERM that killed it, if any).
func (p *Pool) destroy(c *Client, cause error) {
	c.Close()
	var se *StatusError
	p.mu.Lock()
	p.stats.Closed++
	if errors.As(cause, &se) && se.Term {
		p.termCount[TermCause{se.Rc, se.Rsn}]++
	}
	p.mu.Unlock()
}

// Stats returns a snapshot of the pool's state and counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.MaxSize = p.cfg.Size
	s.InUse = p.inUse
	s.Idle = len(p.idle)
	s.Open = s.InUse + s.Idle
	s.Terms = make(map[TermCause]uint64, len(p.termCount))
	for k, v := range p.termCount {
		s.Terms[k] = v
	}
	if wait := time.Until(p.nextDial); wait > 0 {
		s.Backoff = wait
	}
	return s
}

// LastSuccess is when the last exchange answered with return code 0
// ended; the zero time if none has.
func (p *Pool) LastSuccess() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOK
}

// Close closes the idle connections and makes later acquires fail with
// ErrClosed; connections in use are closed when they come back.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.stats.Closed += uint64(len(idle))
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return nil
}
