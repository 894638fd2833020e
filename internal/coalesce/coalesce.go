// Package coalesce lets NMI reads that ask the same question at the same
// time share one exchange, and, when allowed, reuse a recent answer.
//
// A Reader sits above the gateway's pool of NMI connections (one system)
// and below every reader of the NMI: the REST handlers, the event poller
// and the Prometheus exporter. Two display requests are the same question
// when they have the same request type, target stack and input filters;
// who asks is never part of it, so authorization must be decided per
// caller before Do is called.
//
// The guarantee: an answer never comes from an exchange that completed
// before the request arrived. A request joins an exchange of the same
// question only while that exchange is in flight and has not yet
// delivered its first record (it has at most been sent); the records are
// then handed to every member as they arrive, one member after the other,
// without being buffered, so that a list of any length streams to all of
// them. A request that finds the exchange already delivering starts its
// own. The one exception is MaxStaleness: a Reader configured with it may
// answer from a completed exchange younger than MaxStaleness, and says so
// (Info.Age); Fresh in the context, or Invalidate for the stack, prevents
// that.
//
// Control requests (and anything that is not a display request) are never
// shared: they pass straight through, and a control request invalidates
// what is kept about its stack (Invalidate) when it is sent and again
// when it is answered.
package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// NMI runs one exchange; *nmi.Pool satisfies it, and so does Reader.
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Defaults.
const (
	// DefaultMaxCachedBytes is the largest answer kept for reuse under
	// MaxStaleness; larger answers (a long filter list) are only streamed.
	DefaultMaxCachedBytes = 1 << 20
	// DefaultMaxCachedAnswers bounds the number of answers kept.
	DefaultMaxCachedAnswers = 1024
)

// Config configures a Reader.
type Config struct {
	// Off turns sharing off: every Do is an exchange of its own (for
	// comparison).
	Off bool
	// MaxStaleness lets a read reuse the answer of a completed exchange
	// younger than this. 0 (the default): never; only exchanges in flight
	// are shared.
	MaxStaleness time.Duration
	// MaxCachedBytes and MaxCachedAnswers bound what MaxStaleness keeps
	// (defaults DefaultMaxCachedBytes per answer, DefaultMaxCachedAnswers).
	MaxCachedBytes   int
	MaxCachedAnswers int
	Now              func() time.Time // nil: time.Now
}

// Reader shares NMI exchanges between concurrent readers. Its zero value
// is not usable; call New.
type Reader struct {
	next NMI
	cfg  Config

	mu     sync.Mutex
	open   map[string]*flight // flights still taking members, by question
	cache  map[string]*answer
	epochs map[string]uint64 // by target; Invalidate bumps it

	exchanges, shared, reused atomic.Uint64
}

var _ NMI = (*Reader)(nil)

// New returns a Reader over next.
func New(next NMI, cfg Config) *Reader {
	if cfg.MaxCachedBytes <= 0 {
		cfg.MaxCachedBytes = DefaultMaxCachedBytes
	}
	if cfg.MaxCachedAnswers <= 0 {
		cfg.MaxCachedAnswers = DefaultMaxCachedAnswers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Reader{next: next, cfg: cfg, open: map[string]*flight{}, cache: map[string]*answer{}, epochs: map[string]uint64{}}
}

// Stats counts what the Reader did.
type Stats struct {
	Exchanges uint64 // display exchanges it started
	Shared    uint64 // reads that joined an exchange another read started
	Reused    uint64 // reads answered from a completed exchange (MaxStaleness)
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats {
	return Stats{Exchanges: r.exchanges.Load(), Shared: r.shared.Load(), Reused: r.reused.Load()}
}

// Shares reports whether the Reader shares exchanges (Config.Off is not
// set): the readers above it may then share what they make of them.
func (r *Reader) Shares() bool { return !r.cfg.Off }

// MaxStaleness is the Reader's configured staleness bound.
func (r *Reader) MaxStaleness() time.Duration { return r.cfg.MaxStaleness }

// Info, put in a context with WithInfo, learns how a read was answered.
type Info struct {
	mu  sync.Mutex
	age time.Duration
	old bool
}

// Age is the age of the oldest reused answer among the reads made with
// the context, and whether any was reused at all.
func (i *Info) Age() (time.Duration, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.age, i.old
}

func (i *Info) note(age time.Duration) {
	i.mu.Lock()
	if !i.old || age > i.age {
		i.age = age
	}
	i.old = true
	i.mu.Unlock()
}

type infoKey struct{}
type freshKey struct{}

// WithInfo returns a context whose reads report to the returned Info.
func WithInfo(ctx context.Context) (context.Context, *Info) {
	i := &Info{}
	return context.WithValue(ctx, infoKey{}, i), i
}

// InfoFrom is the Info of ctx, or nil.
func InfoFrom(ctx context.Context) *Info { i, _ := ctx.Value(infoKey{}).(*Info); return i }

// Fresh returns a context whose reads never reuse a completed exchange
// (a client's Cache-Control: no-cache). They may still join one in
// flight.
func Fresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

func isFresh(ctx context.Context) bool { b, _ := ctx.Value(freshKey{}).(bool); return b }

// Invalidate forgets the answers kept about stack and the system-wide
// ones (a control action changed them), and closes the exchanges in
// flight about them to new members: reads from now on start afresh.
func (r *Reader) Invalidate(stack string) {
	var seal []*flight
	r.mu.Lock()
	r.epochs[stack]++
	r.epochs[""]++
	for k, a := range r.cache {
		if a.target == stack || a.target == "" {
			delete(r.cache, k)
		}
	}
	for k, f := range r.open {
		if f.target == stack || f.target == "" {
			delete(r.open, k)
			seal = append(seal, f)
		}
	}
	r.mu.Unlock()
	for _, f := range seal {
		f.seal()
	}
}

// key is the question a display request asks, or false when it is not
// one that may be shared.
func key(req *nmi.Request) (string, bool) {
	if !req.Type.IsDisplay() || len(req.Tunnels) > 0 || req.Policy != nil {
		return "", false
	}
	b := make([]byte, 0, 4+len(req.Target)+len(req.Filters)*64)
	b = append(b, byte(req.Type>>8), byte(req.Type), 0)
	b = append(b, req.Target...)
	b = append(b, 0)
	for i := range req.Filters {
		var err error
		if b, err = req.Filters[i].AppendBinary(b); err != nil {
			return "", false // the exchange will say what is wrong
		}
	}
	return string(b), true
}

// Do answers req: from a kept answer young enough (MaxStaleness), by
// joining an exchange of the same question that has not delivered yet, or
// by starting one. fn sees every record, as with the pool; it runs on the
// goroutine of the exchange, never after Do returns. When ctx ends, Do
// returns at once (after a call of fn in progress), and the exchange goes
// on for the other members; it is cancelled when none is left.
func (r *Reader) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	if req.Type.IsControl() {
		// What the stack shows changes: nothing kept about it is used
		// from now on, nor after the answer.
		r.Invalidate(req.Target)
		defer r.Invalidate(req.Target)
		return r.next.Do(ctx, req, fn)
	}
	k, ok := key(req)
	if !ok || r.cfg.Off {
		if ok {
			r.exchanges.Add(1)
		}
		return r.next.Do(ctx, req, fn)
	}
	if err := ctx.Err(); err != nil {
		return nmi.Header{}, err
	}
	if r.cfg.MaxStaleness > 0 && !isFresh(ctx) {
		if a := r.kept(k); a != nil {
			r.reused.Add(1)
			if i := InfoFrom(ctx); i != nil {
				i.note(r.cfg.Now().Sub(a.at))
			}
			return a.replay(fn)
		}
	}
	m := &member{fn: fn, done: make(chan struct{})}
	r.mu.Lock()
	f := r.open[k]
	if f == nil || !f.join(m) {
		f = r.start(ctx, k, req, m)
	} else {
		r.shared.Add(1)
	}
	r.mu.Unlock()
	select {
	case <-m.done:
	case <-ctx.Done():
		if m.leave(ctx.Err()) {
			f.left()
		}
	}
	return m.hdr, m.err
}

// kept is the kept answer of k if it is young enough.
func (r *Reader) kept(k string) *answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.cache[k]
	if a == nil {
		return nil
	}
	if r.cfg.Now().Sub(a.at) >= r.cfg.MaxStaleness || a.epoch != r.epochs[a.target] {
		delete(r.cache, k)
		return nil
	}
	return a
}

// start opens a flight for k with its first member m and runs its
// exchange. r.mu is held.
func (r *Reader) start(ctx context.Context, k string, req *nmi.Request, m *member) *flight {
	// The exchange belongs to every member, not to the first: it keeps
	// the first member's values and deadline but not its cancellation,
	// and ends when every member has left.
	xctx := context.WithoutCancel(ctx)
	var cancel context.CancelFunc
	if dl, ok := ctx.Deadline(); ok {
		xctx, cancel = context.WithDeadline(xctx, dl)
	} else {
		xctx, cancel = context.WithCancel(xctx)
	}
	f := &flight{r: r, key: k, target: req.Target, cancel: cancel, epoch: r.epochs[req.Target],
		members: []*member{m}, live: 1}
	r.open[k] = f
	r.exchanges.Add(1)
	cp := *req
	go f.run(xctx, &cp)
	return f
}

// errNoMembers ends an exchange every member has left.
var errNoMembers = errors.New("coalesce: every reader left")

// flight is one exchange and its members.
type flight struct {
	r      *Reader
	key    string
	target string
	epoch  uint64
	cancel context.CancelFunc

	mu      sync.Mutex // guards members, sealed, live
	members []*member
	sealed  bool // no more members: records are being delivered
	live    int  // members that have not left
}

// join adds m unless the flight is sealed.
func (f *flight) join(m *member) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sealed {
		return false
	}
	f.members = append(f.members, m)
	f.live++
	return true
}

// seal closes the flight to new members.
func (f *flight) seal() {
	f.mu.Lock()
	was := f.sealed
	f.sealed = true
	f.mu.Unlock()
	if !was {
		f.close()
	}
}

// close takes the sealed flight out of the open ones.
func (f *flight) close() {
	f.r.mu.Lock()
	if f.r.open[f.key] == f {
		delete(f.r.open, f.key)
	}
	f.r.mu.Unlock()
}

// left counts a member gone; the last one seals the flight (a read
// arriving now must not join an exchange being cancelled) and cancels the
// exchange.
func (f *flight) left() {
	f.mu.Lock()
	f.live--
	none := f.live == 0
	was := f.sealed
	if none {
		f.sealed = true
	}
	f.mu.Unlock()
	if none {
		if !was {
			f.close()
		}
		f.cancel()
	}
}

func (f *flight) run(ctx context.Context, req *nmi.Request) {
	defer f.cancel()
	keep := f.r.cfg.MaxStaleness > 0
	var kept []byte
	var members []*member
	hdr, err := f.r.next.Do(ctx, req, func(rec nmi.Record) error {
		if members == nil {
			f.seal()
			f.mu.Lock()
			members = f.members
			f.mu.Unlock()
		}
		if keep {
			if len(kept)+rec.Len() > f.r.cfg.MaxCachedBytes {
				keep, kept = false, nil
			} else {
				kept = append(kept, rec.Bytes()...)
			}
		}
		alive := false
		for _, m := range members {
			if m.deliver(rec) {
				alive = true
			} else if m.dropped() {
				f.left()
			}
		}
		if !alive {
			return errNoMembers
		}
		return nil
	})
	f.seal()
	if keep && err == nil {
		f.r.keep(f, &answer{hdr: hdr, recs: kept, at: f.r.cfg.Now()})
	}
	f.mu.Lock()
	members = f.members
	f.mu.Unlock()
	for _, m := range members {
		m.finish(hdr, err)
	}
}

// keep stores a completed answer unless an Invalidate came since the
// exchange started.
func (r *Reader) keep(f *flight, a *answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epochs[f.target] != f.epoch {
		return
	}
	if len(r.cache) >= r.cfg.MaxCachedAnswers {
		now := r.cfg.Now()
		for k, old := range r.cache {
			if now.Sub(old.at) >= r.cfg.MaxStaleness {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= r.cfg.MaxCachedAnswers {
			return
		}
	}
	a.target, a.epoch = f.target, f.epoch
	r.cache[f.key] = a
}

// member is one read waiting on a flight.
type member struct {
	mu   sync.Mutex // held while fn runs
	fn   func(nmi.Record) error
	gone bool // left, failed or finished: fn is not called again
	drop bool // fn failed and the flight has not counted it yet
	hdr  nmi.Header
	err  error
	done chan struct{}
}

// deliver calls fn with rec unless the member is gone; false when it is
// (now or before).
func (m *member) deliver(rec nmi.Record) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return false
	}
	if err := m.fn(rec); err != nil {
		m.gone, m.drop, m.err = true, true, err
		close(m.done)
		return false
	}
	return true
}

// dropped reports, once, that fn failed on the last delivery.
func (m *member) dropped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.drop
	m.drop = false
	return d
}

// leave ends the member's wait with err (its context ended); false when
// it had already ended.
func (m *member) leave(err error) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return false
	}
	m.gone, m.err = true, err
	close(m.done)
	return true
}

func (m *member) finish(hdr nmi.Header, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return
	}
	m.gone, m.hdr, m.err = true, hdr, err
	close(m.done)
}

// answer is a completed exchange kept for MaxStaleness: its header and
// its records, one after the other.
type answer struct {
	hdr    nmi.Header
	recs   []byte
	at     time.Time
	target string
	epoch  uint64
}

func (a *answer) replay(fn func(nmi.Record) error) (nmi.Header, error) {
	b := a.recs
	for len(b) > 0 {
		rec, err := nmi.ParseRecord(b)
		if err != nil {
			return a.hdr, err
		}
		if err := fn(rec); err != nil {
			return a.hdr, err
		}
		b = b[rec.Len():]
	}
	return a.hdr, nil
}
