package ikedsim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// Config configures a Server.
type Config struct {
	System string   // MVS system name of the SAF resources; default the data set's, else SYS1
	Data   *DataSet // nil: Demo()

	// Policy returns the policy in force (for example a policy.Store's
	// Current). nil, or a nil policy, allows every peer.
	Policy func() *policy.Policy

	// INIT is sent once IKED is "connected to the Policy Agent": InitDelay
	// after Serve starts, or when SetReady(true) is called. With NotReady
	// the server waits for SetReady(true) alone.
	InitDelay time.Duration
	NotReady  bool

	MaxClients   int           // concurrent clients; default 50, the 51st is refused (Appendix A.7)
	ReadTimeout  time.Duration // to receive the rest of a message once it has begun; 0 = none
	IdleTimeout  time.Duration // a connection waiting longer for its next request is closed; 0 = none
	WriteTimeout time.Duration // to write one answer; 0 = none

	// Replay, when set, answers every request from a capture instead of
	// the model. Faults still apply; SAF checks do not (the capture holds
	// what its user was allowed to see).
	Replay *Replay

	// NSS, when set, makes the server play the NSS server (IBM's
	// /var/sock/nss) for the client systems it holds, instead of IKED:
	// System is then the NSS server's system name, and Data and Replay
	// must be nil. Every NSSChurn (0: never) one client, chosen by a
	// generator seeded with NSSChurnSeed, connects or disconnects.
	NSS          *NSSDataSet
	NSSChurn     time.Duration
	NSSChurnSeed uint64

	Logger *slog.Logger     // nil: discard
	Faults *Faults          // nil: none
	Now    func() time.Time // the model's clock; nil: time.Now
	Timing Timing           // speeds of simulated negotiations
}

// DefaultMaxClients is the client limit of the contract.
const DefaultMaxClients = 50

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("ikedsim: server closed")

// Server serves the NMI from a Model.
type Server struct {
	cfg   Config
	model *Model    // IKED; nil for an NSS server
	nss   *nssState // NSS server; nil for IKED
	log   *slog.Logger

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	closed    bool
	started   bool
	done      chan struct{}
	wg        sync.WaitGroup

	readyMu sync.Mutex
	readyCh chan struct{} // closed while ready
	timer   *time.Timer

	countMu  sync.Mutex
	requests map[nmi.MsgType]uint64 // well-formed requests received, by type
	sent     uint64                 // bytes of answers written (headers and records)
}

// NewServer builds the model of cfg.Data (or the demo) and a server for it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.NSS != nil {
		return newNSSServer(cfg)
	}
	ds := cfg.Data
	if ds == nil {
		ds = Demo()
	}
	if cfg.System != "" {
		d := *ds
		d.System = cfg.System
		ds = &d
	}
	m, err := NewModel(ds, cfg.Now, cfg.Timing)
	if err != nil {
		return nil, err
	}
	cfg.Data = nil // the model holds its own copy
	return newServer(cfg, m, nil), nil
}

// newNSSServer builds the models of cfg.NSS and a server that plays the
// NSS server for them.
func newNSSServer(cfg Config) (*Server, error) {
	if cfg.Data != nil || cfg.Replay != nil {
		return nil, errors.New("ikedsim: an NSS server takes neither a data set nor a replay")
	}
	if cfg.NSSChurn < 0 {
		return nil, errors.New("ikedsim: negative NSS churn interval")
	}
	n, err := newNSSState(cfg.System, cfg.NSS, cfg.Now, cfg.Timing, cfg.NSSChurnSeed)
	if err != nil {
		return nil, err
	}
	cfg.NSS = nil // the state holds its own copy
	return newServer(cfg, nil, n), nil
}

func newServer(cfg Config, m *Model, n *nssState) *Server {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, model: m, nss: n, log: cfg.Logger, conns: map[*conn]struct{}{},
		listeners: map[net.Listener]struct{}{}, done: make(chan struct{}), readyCh: make(chan struct{})}
}

func (s *Server) count(t nmi.MsgType) {
	s.countMu.Lock()
	if s.requests == nil {
		s.requests = map[nmi.MsgType]uint64{}
	}
	s.requests[t]++
	s.countMu.Unlock()
}

func (s *Server) countSent(n int) {
	s.countMu.Lock()
	s.sent += uint64(n)
	s.countMu.Unlock()
}

// Requests is the number of well-formed requests of type t the server
// has received; with no type, of every type. Tests and benchmarks count
// NMI exchanges with it, on the side of IKED.
func (s *Server) Requests(t ...nmi.MsgType) uint64 {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	var n uint64
	for typ, c := range s.requests {
		if len(t) == 0 || slices.Contains(t, typ) {
			n += c
		}
	}
	return n
}

// SentBytes is the number of bytes of answers (header and records) the
// server has written: the NMI traffic its clients caused.
func (s *Server) SentBytes() uint64 {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return s.sent
}

// Model is the server's state, for tests and tools; nil for a server that
// plays the NSS server (see Models and NSSModel).
func (s *Server) Model() *Model { return s.model }

// SetReady sets whether IKED is connected to the Policy Agent. Clients
// waiting for INIT get it when it becomes true.
func (s *Server) SetReady(ready bool) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	select {
	case <-s.readyCh:
		if !ready {
			s.readyCh = make(chan struct{})
		}
	default:
		if ready {
			close(s.readyCh)
		}
	}
}

// Ready tells whether INIT is being sent.
func (s *Server) Ready() bool {
	select {
	case <-s.readyChan():
		return true
	default:
		return false
	}
}

func (s *Server) readyChan() <-chan struct{} {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	return s.readyCh
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or an accept error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	if !s.started {
		s.started = true
		switch {
		case s.cfg.NotReady:
		case s.cfg.InitDelay > 0:
			s.timer = time.AfterFunc(s.cfg.InitDelay, func() { s.SetReady(true) })
		default:
			s.SetReady(true)
		}
		s.cfg.Faults.schedule(s.done)
		if s.nss != nil && s.cfg.NSSChurn > 0 {
			s.wg.Add(1)
			go s.runChurn(s.cfg.NSSChurn)
		}
	}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.accept(nc)
	}
}

// accept registers a new connection, or refuses it over the client limit
// (TERM with EAGAIN before any INIT, then close).
func (s *Server) accept(nc net.Conn) {
	c := &conn{s: s, nc: nc, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.terminate(nmi.RcOK, nmi.RsnNone)
		return
	}
	if len(s.conns) >= s.cfg.MaxClients {
		s.mu.Unlock()
		s.log.Info("client refused: limit reached", "limit", s.cfg.MaxClients)
		c.terminate(nmi.EAGAIN, nmi.RsnNone)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

// Clients is the number of connected clients.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, sends TERM (return code 0) to every client and
// closes its connection, after the answer it may be writing. When ctx ends
// first, the remaining connections are closed at once and ctx's error is
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	for ln := range s.listeners {
		ln.Close()
	}
	clear(s.listeners)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		go c.terminate(nmi.RcOK, nmi.RsnNone)
	}
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		<-finished
		return ctx.Err()
	}
}

// conn is one client connection. Requests are handled one at a time;
// wmu orders everything written (INIT, answers, TERM).
type conn struct {
	s    *Server
	nc   net.Conn
	done chan struct{} // closed when the connection ends

	wmu    sync.Mutex
	inited bool // INIT sent
	closed bool // TERM sent or connection closed: write nothing more
	bw     *bufio.Writer
	out    []byte // record buffer, reused

	uid      uint32
	uidErr   error
	userOf   *policy.Policy // the policy user was mapped with
	user     string
	rbuf     []byte
	deadline deadlineReader
}

const writeChunk = 64 << 10

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.terminate(nmi.RcOK, nmi.RsnNone)
		close(c.done)
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	c.uid, c.uidErr = peerUID(c.nc)
	c.bw = bufio.NewWriterSize(c.nc, writeChunk)
	c.deadline = deadlineReader{c: c.nc, idle: s.cfg.IdleTimeout, read: s.cfg.ReadTimeout}
	s.log.Debug("client connected", "uid", c.uid, "uidErr", c.uidErr)
	go c.sendInit()
	for {
		c.deadline.begin()
		h, msg, err := nmi.ReadMessage(&c.deadline, c.rbuf, nmi.MaxRequestSize)
		c.rbuf = msg[:0]
		if err != nil {
			var fe *nmi.FormatError
			if errors.As(err, &fe) {
				if fe.Fatal {
					c.fail(h, fe.Rsn)
					return
				}
				if !c.answerError(h, nmi.EINVAL, fe.Rsn) {
					return
				}
				continue
			}
			if !errors.Is(err, io.EOF) {
				s.log.Debug("client read ended", "err", err)
			}
			return
		}
		if !c.handle(msg) {
			return
		}
	}
}

// peerUID is the user ID of the process at the other end (SO_PEERCRED).
func peerUID(nc net.Conn) (uint32, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not an AF_UNIX connection")
	}
	uid, _, _, err := nmi.PeerCred(uc)
	return uid, err
}

// sendInit sends INIT once the server is ready.
func (c *conn) sendInit() {
	select {
	case <-c.s.readyChan():
	case <-c.done:
		return
	case <-c.s.done:
		return
	}
	if !c.s.cfg.Faults.waitHang(c.s.done, c.done) {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	c.inited = true
	version := uint16(nmi.Version)
	if c.s.cfg.Replay != nil {
		version = c.s.cfg.Replay.version
	}
	c.write(nmi.AppendInit(c.out[:0], version))
}

// write sends b with the write timeout; a failure closes the connection.
// Callers hold wmu.
func (c *conn) write(b []byte) bool {
	if c.closed {
		return false
	}
	if c.s.cfg.WriteTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	}
	if _, err := c.bw.Write(b); err != nil {
		c.closeLocked()
		return false
	}
	if err := c.bw.Flush(); err != nil {
		c.closeLocked()
		return false
	}
	return true
}

func (c *conn) closeLocked() {
	c.closed = true
	c.nc.Close()
}

// terminate sends TERM with rc and rsn (an attempt: the peer may be gone)
// and closes the connection.
func (c *conn) terminate(rc nmi.ReturnCode, rsn nmi.ReasonCode) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(nmi.AppendTerm(nil, nmi.Version, rc, rsn))
	c.closeLocked()
}

// fail answers a request whose bytes cannot be followed: the error
// response, then TERM with the same codes, then close.
func (c *conn) fail(h nmi.Header, rsn nmi.ReasonCode) {
	c.answerError(h, nmi.EINVAL, rsn)
	c.terminate(nmi.EINVAL, rsn)
}

// answerError answers the message of header h with rc and rsn and no
// records; false when the connection has ended. A message that claims to
// be INIT or TERM is not answered: the echo of its type would read as the
// server's own INIT or TERM. The connection ends with TERM carrying the
// codes instead.
func (c *conn) answerError(h nmi.Header, rc nmi.ReturnCode, rsn nmi.ReasonCode) bool {
	if h.Type == nmi.MsgInit || h.Type == nmi.MsgTerm {
		c.terminate(rc, rsn)
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(nmi.AppendError(c.out[:0], h, nmi.Version, rc, rsn))
}

// deadlineReader gives the wait for a request's first byte the idle
// timeout, and the rest of the message the read timeout.
type deadlineReader struct {
	c          net.Conn
	idle, read time.Duration
	started    bool
}

func (d *deadlineReader) begin() {
	d.started = false
	var t time.Time
	if d.idle > 0 {
		t = time.Now().Add(d.idle)
	}
	_ = d.c.SetReadDeadline(t)
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.c.Read(p)
	if n > 0 && !d.started {
		d.started = true
		var t time.Time
		if d.read > 0 {
			t = time.Now().Add(d.read)
		}
		_ = d.c.SetReadDeadline(t)
	}
	return n, err
}

// handle answers one request; false ends the connection.
func (c *conn) handle(msg []byte) bool {
	h, req, err := nmi.DecodeRequest(msg, nmi.Version)
	if err != nil {
		var fe *nmi.FormatError
		if !errors.As(err, &fe) {
			fe = &nmi.FormatError{Rsn: nmi.RsnMsgSize, Fatal: true}
		}
		if fe.Fatal {
			c.fail(h, fe.Rsn)
			return false
		}
		return c.answerError(h, nmi.EINVAL, fe.Rsn)
	}
	c.s.count(h.Type)
	c.wmu.Lock()
	inited := c.inited
	c.wmu.Unlock()
	if !inited {
		c.answerError(h, nmi.EINVAL, nmi.RsnNotReady)
		return true
	}
	if !c.s.cfg.Faults.waitHang(c.s.done, nil) {
		return false
	}
	if c.s.cfg.Faults.termNow() {
		c.terminate(nmi.RcOK, nmi.RsnNone)
		return false
	}
	fault, faulty := c.s.cfg.Faults.take(h.Type)
	if faulty {
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-c.s.done:
				t.Stop()
				return false
			}
		}
		switch {
		case fault.NoReply:
			return true
		case fault.TermClose:
			c.terminate(fault.Rc, fault.Rsn)
			return false
		case fault.Rc != nmi.RcOK:
			c.answerError(h, fault.Rc, fault.Rsn)
			return true
		}
	}
	if c.s.cfg.Replay != nil {
		return c.replay(h, &req)
	}
	src, rc, rsn := c.dispatch(&req)
	if rc != nmi.RcOK {
		c.answerError(h, rc, rsn)
		return true
	}
	return c.sendRecords(h, src, fault)
}

// sendMutated builds the whole answer in memory, lets mutate rewrite it,
// and sends the result.
func (c *conn) sendMutated(resp nmi.Header, src recordSource, mutate func([]byte) []byte) bool {
	b, _ := resp.AppendBinary(nil)
	if err := src(func(r record, _ int) error {
		var err error
		b, err = r.Append(b)
		return err
	}); err != nil {
		c.answerError(resp, nmi.EIO, nmi.RsnNone)
		return true
	}
	b = mutate(b)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(b)
}

// allowed runs the SAF check of READ access to resource for the peer.
func (c *conn) allowed(resource string) bool {
	if c.s.cfg.Policy == nil {
		return true
	}
	p := c.s.cfg.Policy()
	if p == nil {
		return true
	}
	a, err := p.Authorizer()
	if err != nil || c.uidErr != nil {
		return false
	}
	if c.userOf != p {
		c.userOf, c.user = p, p.UserForUID(c.uid)
	}
	d := a.Check(authz.Principal{User: c.user}, resource)
	// UID 0 is a superuser even without a user ID of its own.
	return d.Allowed || c.uid == 0 && d.Profile == ""
}

// record is a typed record of the codec.
type record interface {
	Append(b []byte) ([]byte, error)
}

// recordSource yields the records of an answer with their sizes; it is
// called twice (sizes, then bytes) and yields the same records both times.
type recordSource func(yield func(r record, size int) error) error

var (
	errSize      = errors.New("record size differs from its computed size")
	errTruncated = errors.New("answer cut short on purpose")
	errShutdown  = errors.New("server shutting down")
)

// sendRecords writes the answer: the header with the total size first,
// then the records one by one through a buffer of about 64 KiB. False
// ends the connection.
func (c *conn) sendRecords(h nmi.Header, src recordSource, f Fault) bool {
	count, size := 0, 0
	if err := src(func(_ record, n int) error { count++; size += n; return nil }); err != nil {
		c.s.log.Error("building an answer", "type", h.Type, "err", err)
		c.answerError(h, nmi.EIO, nmi.RsnNone)
		return true
	}
	if size > math.MaxUint32-nmi.HdrSize {
		// NMsMMsgSize cannot say how long the answer is.
		c.s.log.Error("answer too large for NMsMMsgSize", "type", h.Type, "bytes", size)
		c.answerError(h, nmi.EIO, nmi.RsnExcessiveSize)
		return true
	}
	resp := nmi.Header{Version: nmi.Version, Type: h.Type, Correlator: h.Correlator, Target: h.Target,
		MsgSize: uint32(nmi.HdrSize + size), RecCount: uint32(count)}
	if count > 0 {
		resp.RecOff = nmi.HdrSize
	}
	if f.WrongCorrelator {
		resp.Correlator++
	}
	if f.Mutate != nil {
		return c.sendMutated(resp, src, f.Mutate)
	}
	limit := -1 // bytes of the message to send, -1 = all
	switch {
	case f.Oversize:
		resp.MsgSize, limit = 1<<31-1, nmi.HdrSize
	case f.Truncate, f.Stall:
		limit = nmi.HdrSize + size/2
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return false
	}
	if c.s.cfg.WriteTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	}
	sent := 0
	write := c.bw.Write
	if f.Pace > 0 {
		write = c.pacedWriter(f.Pace, f.PaceBytes)
	}
	emit := func(p []byte) error {
		if limit >= 0 && sent+len(p) >= limit {
			_, err := write(p[:limit-sent])
			sent = limit
			return errors.Join(err, errTruncated)
		}
		_, err := write(p)
		sent += len(p)
		return err
	}
	b, _ := resp.AppendBinary(c.out[:0])
	err := src(func(r record, n int) error {
		start := len(b)
		var err error
		if b, err = r.Append(b); err != nil {
			return err
		}
		if len(b)-start != n {
			return errSize
		}
		if len(b) >= writeChunk {
			err, b = emit(b), b[:0]
		}
		return err
	})
	if err == nil {
		err = emit(b)
	}
	if err == nil || errors.Is(err, errTruncated) {
		if ferr := c.bw.Flush(); ferr != nil {
			err = ferr
		}
	}
	c.s.countSent(sent)
	c.out = b[:0]
	if cap(c.out) > 4*writeChunk {
		c.out = nil
	}
	if f.Stall && errors.Is(err, errTruncated) && !errors.Is(err, errShutdown) {
		return true // half the answer sent; the rest never comes
	}
	if err != nil {
		if !errors.Is(err, errTruncated) {
			c.s.log.Debug("writing an answer", "type", h.Type, "err", err)
		}
		c.closeLocked()
		return false
	}
	return true
}

// pacedWriter returns a write function for the Pace fault: it sends what
// it is given in pieces of n bytes (default 64 KiB), each flushed, and
// waits d before every piece after the first of the answer. A shutdown
// ends the wait with errShutdown. Callers hold wmu.
func (c *conn) pacedWriter(d time.Duration, n int) func([]byte) (int, error) {
	if n <= 0 {
		n = writeChunk
	}
	first := true
	return func(p []byte) (int, error) {
		done := 0
		for len(p) > 0 {
			if !first {
				if err := c.bw.Flush(); err != nil {
					return done, err
				}
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-c.s.done:
					t.Stop()
					return done, errShutdown
				}
			}
			first = false
			k := min(n, len(p))
			if _, err := c.bw.Write(p[:k]); err != nil {
				return done, err
			}
			done += k
			p = p[k:]
		}
		return done, nil
	}
}
