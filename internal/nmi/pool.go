package nmi

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Pool limits.
const (
	DefaultPoolSize        = 4
	MaxPoolSize            = MaxConnections
	DefaultExchangeTimeout = 10 * time.Second
	DefaultDialTimeout     = 5 * time.Second
	defaultBackoffMin      = 100 * time.Millisecond
	defaultBackoffMax      = 500 * time.Millisecond
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
	BackoffMax      time.Duration // longest wait between probes while the endpoint is down; default 500ms
	// ExchangeTimeout bounds how long the endpoint may stay silent in an
	// exchange, apart from the caller's context: the wait for the answer
	// to start, and then each wait for more of it. An exchange left
	// unanswered that long, or whose answer stops that long, is
	// abandoned, its connection destroyed, and it fails with an *OpError
	// whose Timeout() is true. An answer that keeps coming may take longer
	// as a whole; the caller's context bounds the total. Default
	// DefaultExchangeTimeout.
	ExchangeTimeout time.Duration
	// DialTimeout bounds a dial and the wait for NMsec_INIT, apart from
	// the caller's context. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// Probe is the request the background prober sends after its dial
	// and INIT while the endpoint is down; default NMsec_GET_STACKINFO.
	Probe    *Request
	Observer Observer // optional
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

// StateObserver is an optional interface of PoolConfig.Observer: a Pool
// calls ObserveDown when a dial failure marks the endpoint down (cause is
// that failure) and ObserveUp when a probe is answered again, with how
// long the endpoint was down. Neither is called twice in a row; closing
// the pool while down calls neither.
type StateObserver interface {
	ObserveDown(cause error)
	ObserveUp(downFor time.Duration)
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
	InUse        int           // connections lent out now, or being closed
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
	Backoff      time.Duration // wait before the next probe; 0 when none
	Down         bool          // the endpoint failed and the prober runs; acquires that must dial fail at once
	Probes       uint64        // probes run while down (dial, INIT and one request)
	Abandoned    uint64        // exchanges abandoned after ExchangeTimeout
}

// Pool is a bounded set of Clients to one endpoint. Connections are dialed
// on demand, returned after a clean exchange and destroyed after any
// error.
//
// A dial that fails because of the endpoint (refused, reset, TERM instead
// of INIT, a bad INIT, no INIT within DialTimeout) marks the endpoint
// down; the caller's own context running out or being canceled never
// does. While down, acquires that would dial fail at once with an
// *UnavailableError, and a background prober alone dials: a dial, INIT and
// one cheap request, with a jittered exponential backoff from BackoffMin
// up to BackoffMax. The backoff advances once per probe, however many
// requests failed meanwhile. The first probe answered ends the down state
// and its connection serves the next request.
//
// The pool never holds more than Size connections open at once, as the
// endpoint counts them (IKED refuses its 51st client for everyone): a
// connection counts from the start of its dial until its Close has
// returned, so a replacement is dialed only once the connection it
// replaces is closed, and the prober's connection joins the pool only
// while it leaves room.
type Pool struct {
	cfg PoolConfig
	sem chan struct{} // one token per connection lent out, being dialed, or being closed

	ctx    context.Context // ends when the pool closes: bounds the prober
	cancel context.CancelFunc
	wg     sync.WaitGroup // the prober

	mu        sync.Mutex
	idle      []*Client
	closed    bool
	inUse     int       // connections lent out, or taken to be closed
	dialing   int       // dials under way for an acquire
	down      bool      // the endpoint failed; the prober runs
	epoch     uint64    // advanced whenever the endpoint goes down
	failures  int       // probes failed in a row since going down, plus the dial that began it
	nextDial  time.Time // next probe
	lastErr   error
	downSince time.Time
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
	if cfg.ExchangeTimeout <= 0 {
		cfg.ExchangeTimeout = DefaultExchangeTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Probe == nil {
		cfg.Probe = &Request{Type: GetStackInfo}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{cfg: cfg, sem: make(chan struct{}, cfg.Size), termCount: map[TermCause]uint64{}, ctx: ctx, cancel: cancel}
}

// errDialTimeout ends a context bounded by DialTimeout (its cause, see
// context.WithTimeoutCause).
var errDialTimeout = errors.New("dial timeout")

// timeoutError is the endpoint not answering within one of the pool's
// own timeouts, as the Err of an *OpError.
type timeoutError struct {
	what  string
	d     time.Duration
	stall bool // ExchangeTimeout: the endpoint silent in an exchange
}

func (e *timeoutError) Error() string {
	return e.what + " within " + strconv.FormatInt(e.d.Milliseconds(), 10) + "ms"
}
func (e *timeoutError) Timeout() bool { return true }

// ctxEnded returns ctx's error once it has ended or its deadline has
// passed (the context's own timer may not have fired yet, while a socket
// deadline set from it already has); nil otherwise.
func ctxEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
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
		h, err = p.exchange(ctx, c, req, counted)
		p.release(c, err)
	}
	p.observe(req.Type, time.Since(start), records, err)
	return h, err
}

// exchange runs one exchange on c within ctx, with the endpoint's
// silence bounded by ExchangeTimeout. An exchange the endpoint leaves
// unanswered, or whose answer stops, for longer fails with an *OpError
// that is a timeout; the client has killed the connection by then, so
// release destroys it.
func (p *Pool) exchange(ctx context.Context, c *Client, req *Request, fn func(Record) error) (Header, error) {
	h, err := c.do(ctx, req, fn, p.cfg.ExchangeTimeout)
	if stalled(err) {
		p.mu.Lock()
		p.stats.Abandoned++
		p.mu.Unlock()
	}
	return h, err
}

// stalled reports whether err is the endpoint's silence past
// ExchangeTimeout.
func stalled(err error) bool {
	var te *timeoutError
	return errors.As(err, &te) && te.stall
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

// acquire takes a token, then an idle connection or a new one. The
// choice between them and the check that the endpoint is up are made
// under one lock, and a dial is counted from then on, so that the prober
// sees every connection under way.
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
		if n := len(p.idle); n > 0 {
			c := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.inUse++
			p.mu.Unlock()
			if err := p.check(c); err != nil {
				p.discard(c, err)
				continue
			}
			return c, nil
		}
		if p.down {
			err := &UnavailableError{Addr: p.cfg.Addr, RetryAt: p.nextDial, Last: p.lastErr}
			p.mu.Unlock()
			<-p.sem
			return nil, err
		}
		p.dialing++
		epoch := p.epoch
		p.mu.Unlock()
		c, err := p.dial(ctx, epoch)
		if err != nil {
			<-p.sem
			return nil, err
		}
		return c, nil
	}
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
// something meanwhile (a TERM) or closed it, it returns why, and the
// connection must be discarded. Only a connection that offers its socket
// (syscall.Conn) can be looked at without blocking; others are lent as
// they are, and a TERM waiting on them fails the next exchange.
func (p *Pool) check(c *Client) error {
	err := c.Err()
	if err == nil {
		err = c.idleInput()
	}
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

// dial connects for an acquire that counted itself in dialing, with the
// endpoint up in epoch. A failed connect has closed its connection, so
// the dial stops counting once it returns.
func (p *Pool) dial(ctx context.Context, epoch uint64) (*Client, error) {
	start := time.Now()
	c, err := p.connect(ctx)
	abandoned := err != nil && !endpointFailure(Classify(err))
	if o, ok := p.cfg.Observer.(InitObserver); ok && !abandoned {
		o.ObserveInit(time.Since(start), err)
	}
	p.mu.Lock()
	p.dialing--
	if abandoned {
		p.mu.Unlock()
		return nil, err // our caller gave up; says nothing about the endpoint
	}
	if err != nil {
		p.countDialFailure(err)
		wentDown := p.epoch == epoch && !p.down && !p.closed
		if wentDown {
			// The first failure since the endpoint was last up: it
			// goes down once, however many dials fail together.
			p.goDown(err)
		}
		p.mu.Unlock()
		if o, ok := p.cfg.Observer.(StateObserver); ok && wentDown {
			o.ObserveDown(err)
		}
		return nil, err
	}
	defer p.mu.Unlock()
	p.stats.Opened++
	if p.closed {
		c.Close()
		p.stats.Closed++
		return nil, ErrClosed
	}
	p.inUse++
	return c, nil
}

// endpointFailure reports whether a failure may be blamed on the endpoint
// and so may mark it down: not the caller's context ending, nor a
// failure of no NMI.
func endpointFailure(f Failure) bool {
	switch f.Class {
	case ClassOK, ClassDeadline, ClassCanceled, ClassExhausted, ClassOther:
		return false
	}
	return true
}

// countDialFailure counts a failed dial or probe. Callers hold mu.
func (p *Pool) countDialFailure(err error) {
	p.stats.DialFailures++
	var se *StatusError
	if errors.As(err, &se) {
		p.termCount[TermCause{se.Rc, se.Rsn}]++
	}
	p.lastErr = err
}

// goDown marks the endpoint down after err and starts the prober.
// Callers hold mu.
func (p *Pool) goDown(err error) {
	p.down = true
	p.downSince = time.Now()
	p.epoch++
	p.failures = 1
	p.lastErr = err
	p.nextDial = time.Now().Add(p.jittered())
	p.wg.Add(1)
	go p.probe()
}

// jittered is the wait before the next probe: the backoff of the failures
// so far, less up to half of it at random, so that gateways started
// together do not probe together. Callers hold mu.
func (p *Pool) jittered() time.Duration {
	d := backoff(p.cfg.BackoffMin, p.cfg.BackoffMax, p.failures)
	return d - rand.N(d/2+1)
}

// probe runs while the endpoint is down: it waits for the backoff, dials,
// waits for INIT and sends the probe request, until one is answered (any
// answer but TERM: an error return code still shows a live endpoint) or
// the pool closes. The answered connection goes to the idle list.
func (p *Pool) probe() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		wait := time.Until(p.nextDial)
		p.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			p.endProbe(nil)
			return
		}
		start := time.Now()
		c, err := p.connect(p.ctx)
		if o, ok := p.cfg.Observer.(InitObserver); ok && p.ctx.Err() == nil {
			o.ObserveInit(time.Since(start), err)
		}
		if err == nil {
			err = p.probeExchange(c)
		}
		if p.ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			p.endProbe(nil)
			return
		}
		p.mu.Lock()
		p.stats.Probes++
		if err != nil {
			if c != nil {
				p.stats.Opened++
				p.stats.Closed++
			}
			p.countDialFailure(err)
			p.failures++
			p.nextDial = time.Now().Add(p.jittered())
			p.mu.Unlock()
			continue
		}
		p.stats.Opened++
		p.mu.Unlock()
		p.endProbe(c)
		return
	}
}

// probeExchange sends the probe request on c; nil when the endpoint
// answered it. c is closed unless it stays usable.
func (p *Pool) probeExchange(c *Client) error {
	_, err := c.do(p.ctx, p.cfg.Probe, nil, p.cfg.ExchangeTimeout)
	var se *StatusError
	if errors.As(err, &se) && !se.Term {
		err = nil // answered
	}
	if err != nil || c.Err() != nil {
		c.Close()
		if err == nil {
			err = c.Err()
		}
		if stalled(err) {
			err = &OpError{Op: OpRead, Addr: p.cfg.Addr, Err: &timeoutError{what: "no answer to the probe " + p.cfg.Probe.Type.String(), d: p.cfg.ExchangeTimeout, stall: true}}
		}
		return err
	}
	return nil
}

// endProbe ends the down state with c, the connection of the answered
// probe (nil when the pool closed).
func (p *Pool) endProbe(c *Client) {
	p.mu.Lock()
	downFor := time.Since(p.downSince)
	defer func() {
		p.mu.Unlock()
		if o, ok := p.cfg.Observer.(StateObserver); ok && c != nil {
			o.ObserveUp(downFor)
		}
	}()
	p.down = false
	p.failures = 0
	p.nextDial = time.Time{}
	p.lastErr = nil
	if c == nil {
		return
	}
	if p.closed || len(p.idle)+p.inUse+p.dialing >= p.cfg.Size {
		c.Close()
		p.stats.Closed++
		return
	}
	p.idle = append(p.idle, c)
}

var errNoDial = errors.New("nmi: PoolConfig.Dial is not set")

// connect dials and waits for INIT, within DialTimeout. A failed dial is
// an *OpError (OpDial), a missing or bad INIT an *OpError (OpInit), a
// TERM instead of INIT an *OpError (OpInit) around a *StatusError; when
// ctx ends (or its deadline
// passes) first, the error is ctx's.
func (p *Pool) connect(ctx context.Context) (*Client, error) {
	if p.cfg.Dial == nil {
		return nil, &OpError{Op: OpDial, Addr: p.cfg.Addr, Err: errNoDial}
	}
	dctx, cancel := context.WithTimeoutCause(ctx, p.cfg.DialTimeout, errDialTimeout)
	defer cancel()
	op := OpDial
	conn, err := p.cfg.Dial(dctx)
	var c *Client
	if err == nil {
		op = OpInit
		c, err = NewClient(dctx, conn, WithMaxResponseSize(p.cfg.MaxResponseSize), WithAddr(p.cfg.Addr))
	}
	if err == nil {
		return c, nil
	}
	if cerr := ctxEnded(ctx); cerr != nil {
		return nil, cerr
	}
	if ctxEnded(dctx) != nil && context.Cause(dctx) == errDialTimeout {
		what := "no connection"
		if op == OpInit {
			what = "no NMsec_INIT"
		}
		return nil, &OpError{Op: op, Addr: p.cfg.Addr, Err: &timeoutError{what: what, d: p.cfg.DialTimeout}}
	}
	var oe *OpError
	var se *StatusError
	if op == OpDial && !errors.As(err, &oe) {
		err = &OpError{Op: OpDial, Addr: p.cfg.Addr, Err: err}
	} else if op == OpInit && !errors.As(err, &oe) && !errors.As(err, &se) {
		err = &OpError{Op: OpInit, Addr: p.cfg.Addr, Err: err}
	}
	return nil, err
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
// Otherwise it is closed before its token is given back.
func (p *Pool) release(c *Client, err error) {
	keep := c.Err() == nil
	var se *StatusError
	if errors.As(err, &se) && (se.Term || se.Rc == EINVAL) {
		keep = false
	}
	p.mu.Lock()
	if keep && !p.closed {
		p.inUse--
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		<-p.sem
		return
	}
	p.mu.Unlock()
	p.discard(c, err)
	<-p.sem
}

// discard closes c, a connection counted in inUse, and stops counting it
// once its Close has returned; it counts the close (and the TERM that
// caused it, if any).
func (p *Pool) discard(c *Client, cause error) {
	c.Close()
	var se *StatusError
	p.mu.Lock()
	p.inUse--
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
	if wait := time.Until(p.nextDial); p.down && wait > 0 {
		s.Backoff = wait
	}
	s.Down = p.down
	return s
}

// LastSuccess is when the last exchange answered with return code 0
// ended; the zero time if none has.
func (p *Pool) LastSuccess() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOK
}

// Close stops the prober, closes the idle connections and makes later
// acquires fail with ErrClosed; connections in use are closed when they
// come back.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.stats.Closed += uint64(len(idle))
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return nil
}
