package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
)

// The fleet stream (GET /v1/events): the events of every stack of every
// system that the caller may display, each naming its system and stack,
// narrowed by ?system and ?stack (exact names).
//
// It reads the feeds that the per-stack streams read (one poller per
// stack of a system, however many streams follow it): every feed also
// appends its events to the fleet's ring, whose numbers are the fleet
// stream's IDs, so one Last-Event-ID resumes the whole fleet. A stack's
// failure is told once, when it starts (stack.error), and its end
// (recovered); error events of every poll stay on the stack's own stream.
//
// The systems watcher asks the fleet (fleet.Systems) once per interval
// while a fleet stream is open: it tells a system that stops answering
// (system.unreachable) and answers again (system.reachable), and the
// stacks it knows, which the fleet streams follow as they appear (an NSS
// client connecting for the first time, a system that was down when the
// stream started). A system's events go to the callers that may display
// one of its known stacks; of a system none of whose stacks is known (it
// has not answered since the gateway started), to the callers whose
// DISPLAY covers every stack of the system: the resource checked names
// the stack "*" (or the ?stack asked for), which only a generic profile
// such as EZB.NETMGMT.SYSB.*.IPSEC.DISPLAY covers.
//
// Access is decided as for a stack's stream (eventauth.go), for every
// stack the stream covers, and like the fleet lists a stream shows what
// the caller may display, which may be nothing: it is never refused with
// 403. After a policy reload it follows the stacks the caller may display
// then (a stack whose DISPLAY is gone is no longer told of, before any
// more of its events is sent; one granted is followed from then on);
// a caller no longer authenticated gets the final 401, and one the
// authorizer cannot decide the final 503.

// sysState is one system as the systems watcher last saw it.
type sysState struct {
	endpoint  string // the configured endpoint that serves it
	reachable bool
	err       error
	stacks    []fleet.Stack // the last known, kept while unreachable
}

// sysWatch polls the fleet's systems for the fleet streams.
type sysWatch struct {
	hub *eventHub
	loop

	mu      sync.Mutex
	polled  bool // the running poller has polled once
	seen    bool // a poller has polled once (reachability changes are events)
	order   []string
	systems map[string]*sysState
	version uint64 // grows when the known stacks change
	wake    chan struct{}
}

func (w *sysWatch) restart() {
	w.mu.Lock()
	w.polled = false
	w.mu.Unlock()
}

func (w *sysWatch) pollOnce(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, w.hub.a.timeout)
	ss := w.hub.a.fleet.Systems(pctx)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := time.Now()
	var events []entry
	w.mu.Lock()
	for _, s := range ss {
		old := w.systems[s.Name]
		if old == nil {
			old = &sysState{endpoint: s.Endpoint, reachable: true}
			w.systems[s.Name] = old
			w.order = append(w.order, s.Name)
		}
		switch {
		case w.seen && old.reachable && !s.Reachable:
			events = append(events, entry{name: evUnreachable, data: unreachableData(s.Name, now, s.Err),
				live: true, system: s.Name})
		case w.seen && !old.reachable && s.Reachable:
			events = append(events, entry{name: evReachable, data: reachableData(s.Name, now),
				live: true, system: s.Name})
		}
		old.reachable, old.err = s.Reachable, s.Err
		if (s.Reachable || len(s.Stacks) > 0) && !sameStacks(old.stacks, s.Stacks) {
			old.stacks = s.Stacks
			w.version++
		}
	}
	w.polled, w.seen = true, true
	close(w.wake)
	w.wake = make(chan struct{})
	w.mu.Unlock()
	w.hub.fleetAdd(events...)
	return nil
}

// sameStacks: a and b name the same stacks, in the same order.
func sameStacks(a, b []fleet.Stack) bool {
	return slices.EqualFunc(a, b, func(x, y fleet.Stack) bool {
		return x.System == y.System && x.Name == y.Name && x.Target == y.Target
	})
}

// known returns every stack known, in the order of the systems, and the
// systems none of whose stacks is known (with their endpoints).
func (w *sysWatch) known() (stacks []fleet.Stack, blind [][2]string, version uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, name := range w.order {
		s := w.systems[name]
		if len(s.stacks) == 0 {
			blind = append(blind, [2]string{name, s.endpoint})
		}
		stacks = append(stacks, s.stacks...)
	}
	return stacks, blind, w.version
}

func unreachableData(system string, t time.Time, err error) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("system", system)
	jw.str("time", t.UTC().Format(time.RFC3339))
	jw.key("problem")
	jw.b = append(jw.b, problemJSON(classify(err), "/v1/systems/"+system, "")...)
	jw.endObject()
	return jw.b
}

func reachableData(system string, t time.Time) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("system", system)
	jw.str("time", t.UTC().Format(time.RFC3339))
	jw.endObject()
	return jw.b
}

// fleetStream is one open fleet stream: its scope, and the stacks in it
// that the caller may display, whose feeds it subscribes to.
type fleetStream struct {
	a             *api
	system, stack string // ?system, ?stack; "" for any
	interval      time.Duration
	allowed       map[feedKey]*fleetSub
	systems       map[string]bool // systems with an allowed stack
	version       uint64          // of the systems watcher's stacks, when decided
}

type fleetSub struct {
	f *feed
	s *subscriber
}

func (fs *fleetStream) inScope(st *fleet.Stack) bool {
	return (fs.system == "" || st.System == fs.system) && (fs.stack == "" || st.Name == fs.stack)
}

// decide decides which of the stacks known in scope the caller may
// display, and follows those, and which systems without a known stack
// it is told of; the error is the authorizer's (503).
func (fs *fleetStream) decide(ctx context.Context, p authz.Principal) error {
	a := fs.a
	known, blind, version := a.events.sys.known()
	var in []fleet.Stack
	for i := range known {
		if fs.inScope(&known[i]) {
			in = append(in, known[i])
		}
	}
	res := make([]string, len(in), len(in)+len(blind))
	for i := range in {
		res[i] = in[i].Resource(a.authz, authz.Display)
	}
	var blindIn []string
	for _, b := range blind {
		ep, ok := a.fleet.Endpoint(b[1])
		if !ok || fs.system != "" && b[0] != fs.system {
			continue
		}
		stack := cmp.Or(fs.stack, "*")
		blindIn = append(blindIn, b[0])
		res = append(res, a.authz.Resource(ep.SAFSystem, stack, authz.Display))
	}
	ds, err := a.authorizeBatch(ctx, p, res)
	if err != nil {
		return err
	}
	now := map[feedKey]bool{}
	for i, st := range in {
		k := feedKey{st.System, st.Name}
		if !ds[i].Allowed {
			continue
		}
		now[k] = true
		if fs.allowed[k] == nil {
			f, s := a.events.subscribe(st, fs.interval)
			fs.allowed[k] = &fleetSub{f, s}
		}
	}
	for k, sub := range fs.allowed {
		if !now[k] {
			a.events.unsubscribe(sub.f, sub.s)
			delete(fs.allowed, k)
		}
	}
	clear(fs.systems)
	for k := range fs.allowed {
		fs.systems[k.system] = true
	}
	for i, name := range blindIn {
		if ds[len(in)+i].Allowed {
			fs.systems[name] = true
		}
	}
	fs.version = version
	return nil
}

func (fs *fleetStream) close() {
	for k, sub := range fs.allowed {
		fs.a.events.unsubscribe(sub.f, sub.s)
		delete(fs.allowed, k)
	}
}

// shows: e is an event of a stack the caller may display, or of the
// system of one.
func (fs *fleetStream) shows(e *entry) bool {
	if e.stack == "" {
		return fs.systems[e.system]
	}
	return fs.allowed[feedKey{e.system, e.stack}] != nil
}

func (a *api) streamFleetEvents(w http.ResponseWriter, r *http.Request) {
	h := a.events
	q := r.URL.Query()
	interval, err := h.parseInterval(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.principal(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	fs := &fleetStream{a: a, system: strings.ToUpper(q.Get("system")), stack: q.Get("stack"), interval: interval,
		allowed: map[feedKey]*fleetSub{}, systems: map[string]bool{}}
	defer fs.close()

	// The systems watcher's first poll tells the systems and their stacks.
	h.mu.Lock()
	wsub := h.joinLocked(&h.sys.loop, h.sys, interval)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.leaveLocked(&h.sys.loop, wsub)
		h.mu.Unlock()
	}()
	ctx := r.Context()
	if !h.waitPolled(ctx, polled(&h.sys.mu, &h.sys.polled, &h.sys.wake)) {
		if ctx.Err() == nil {
			a.shuttingDown(w, r)
		}
		return
	}
	if fs.system != "" {
		h.sys.mu.Lock()
		_, ok := h.sys.systems[fs.system]
		h.sys.mu.Unlock()
		if !ok {
			a.writeError(w, r, &fleet.UnknownSystemError{System: fs.system})
			return
		}
	}
	if err := fs.decide(ctx, p); err != nil {
		a.writeError(w, r, err)
		return
	}
	// Each feed's first poll sets its baseline (each poll is bounded by
	// RequestTimeout).
	for _, sub := range fs.allowed {
		f := sub.f
		if !h.waitPolled(ctx, polled(&f.mu, &f.polled, &f.wake)) {
			if ctx.Err() == nil {
				a.shuttingDown(w, r)
			}
			return
		}
	}
	h.fleetMu.Lock()
	last, dropped := h.fleet.last, h.fleet.dropped
	h.fleetMu.Unlock()
	sw, ok := startStream(w, r)
	if !ok {
		return
	}

	cursor, reset := resumeAt(r, &h.fleetIDs, last, dropped, "the fleet stream (a stack's, or the gateway restarted)")
	liveFrom := last + 1
	var werr error
	switch {
	case reset != "":
		werr = sw.event(evReset, h.fleetIDs.id(last), resetData(feedKey{}, reset))
	case cursor == last:
		werr = sw.idAlone(h.fleetIDs.id(last))
	default:
		werr = sw.comment("resuming")
	}
	// The failures now: they are not replayed.
	if werr == nil {
		werr = fs.current(sw)
	}

	life := a.newStreamLife(r, sw, fs.decide)
	defer life.stop()
	for werr == nil {
		// Nothing more is sent once the caller's access is gone.
		if err := life.guard.check(); err != nil {
			a.endStream(sw, r, err)
			return
		}
		h.sys.mu.Lock()
		stacksChanged, sysWake := h.sys.version != fs.version, h.sys.wake
		h.sys.mu.Unlock()
		if stacksChanged {
			// Stacks appeared or went: the caller's access to them.
			if err := fs.decide(ctx, life.guard.p); err != nil {
				a.endStream(sw, r, err)
				return
			}
		}
		h.fleetMu.Lock()
		es, lost := h.fleet.after(cursor)
		wake := h.fleet.wake
		if lost {
			cursor = h.fleet.last
		}
		h.fleetMu.Unlock()
		if lost {
			werr = sw.event(evReset, h.fleetIDs.id(cursor), resetData(feedKey{}, "the client fell behind the events the gateway keeps"))
			continue
		}
		if werr = sw.entries(es, &cursor, liveFrom, h.fleetIDs.id, fs.shows); werr == nil {
			werr = life.wait(wake, sysWake)
		}
	}
	life.ended(werr)
}

// current sends the failures the stream starts in: the systems in its
// scope that do not answer, and the stacks whose polls fail.
func (fs *fleetStream) current(sw *sseWriter) error {
	h := fs.a.events
	now := time.Now()
	h.sys.mu.Lock()
	var down []entry
	for _, name := range h.sys.order {
		if s := h.sys.systems[name]; !s.reachable && fs.systems[name] {
			down = append(down, entry{name: evUnreachable, data: unreachableData(name, now, s.err)})
		}
	}
	h.sys.mu.Unlock()
	keys := make([]feedKey, 0, len(fs.allowed))
	for k := range fs.allowed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y feedKey) int {
		return strings.Compare(x.system+"\x00"+x.stack, y.system+"\x00"+y.stack)
	})
	for _, k := range keys {
		f := fs.allowed[k].f
		f.mu.Lock()
		err := f.lastErr
		f.mu.Unlock()
		if err != nil {
			down = append(down, entry{name: evStackError, data: stackErrorData(k, now, problemJSON(classify(err), eventsPath(k), ""))})
		}
	}
	for _, e := range down {
		if err := sw.event(e.name, "", e.data); err != nil {
			return err
		}
	}
	return nil
}
