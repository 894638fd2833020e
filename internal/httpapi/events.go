package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Server-Sent Events of a stack (GET /v1/systems/{system}/stacks/{stack}/events,
// and /v1/stacks/{stack}/events for the default system), and of the
// fleet (GET /v1/events, eventfleet.go).
//
// One feed per stack of a system polls the NMI (IKE tunnels, dynamic
// tunnels in the stack's view, manual tunnels; an IKED's stack's filter
// set; an NSS client's connection) while it has subscribers, diffs each
// snapshot with the one before and appends the differences to a bounded
// ring of events that every subscriber reads, and to the fleet's ring
// that the fleet streams read. The feed (ring and last snapshot) outlives
// its poller, so a client that reconnects after everybody had left still
// resumes: the restarted poller reports what changed meanwhile. Each feed
// numbers its own events, and their IDs are opaque (eventid.go): an ID of
// another stack or system, of an earlier run, or one the ring no longer
// holds is answered with a reset.
//
// A stack behind an NSS server has no NMsec_GET_STACKINFO (the NSS server
// does not route it): its feed asks NMsec_GET_CLIENTINFO for the client
// instead, and tells stack.disconnected when the NSS server no longer has
// the client (ENXIO) and stack.connected when it has it again or its
// connect time changed (the client reconnected between two polls). Its
// filter set is not told. While it is disconnected the tunnels last seen
// stay the baseline, so its first poll after it reconnected tells what
// changed.

// EventOptions tune the event streams. Zero values take the defaults.
type EventOptions struct {
	// Interval is the polling interval when the caller gives no
	// ?interval (default 5s). A feed polls at the shortest interval its
	// subscribers asked for.
	Interval time.Duration
	// MinInterval and MaxInterval clamp ?interval (default 1s and 5m).
	MinInterval, MaxInterval time.Duration
	// Heartbeat is the time between ": ping" comments (default 15s).
	Heartbeat time.Duration
	// History is the number of recent events kept per stack for
	// Last-Event-ID (default 256).
	History int
	// FleetHistory is the number of recent events of every stack kept
	// for Last-Event-ID on the fleet stream (default 16 × History).
	FleetHistory int
	// MaxLifetime ends every stream this long after it started (default
	// 1h); the client reconnects with Last-Event-ID, and is authenticated
	// and authorized again.
	MaxLifetime time.Duration
	// Done, when closed, ends every stream: wire it to the server's
	// shutdown (http.Server.RegisterOnShutdown), which does not wait for
	// streams by itself.
	Done <-chan struct{}
}

// Event names.
const (
	evAdded     = "tunnel.added"
	evChanged   = "tunnel.changed"
	evRemoved   = "tunnel.removed"
	evFilterSet = "stack.filterSetChanged"
	// An NSS client's connection.
	evConnected    = "stack.connected"
	evDisconnected = "stack.disconnected"
	evReset        = "reset"
	evError        = "error"
	// evRecovered follows the first good poll after errors; like an
	// error it has no ID and is not replayed.
	evRecovered = "recovered"
	// On the fleet stream, without IDs: polling a stack failed (told once,
	// when it starts), a system stopped answering or answers again.
	evStackError  = "stack.error"
	evUnreachable = "system.unreachable"
	evReachable   = "system.reachable"
)

// maxBackoff caps the wait after failed polls (never below the interval).
const maxBackoff = 30 * time.Second

func (o *EventOptions) setDefaults() {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.MinInterval <= 0 {
		o.MinInterval = time.Second
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 5 * time.Minute
	}
	if o.MaxInterval < o.MinInterval {
		o.MaxInterval = o.MinInterval
	}
	o.Interval = min(max(o.Interval, o.MinInterval), o.MaxInterval)
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.History <= 0 {
		o.History = 256
	}
	if o.FleetHistory <= 0 {
		o.FleetHistory = 16 * o.History
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = time.Hour
	}
}

// eventHub holds the feeds of every stack of every system, the
// systems watcher of the fleet streams, and the fleet's ring of events.
type eventHub struct {
	a    *api
	opts EventOptions

	mu    sync.Mutex
	feeds map[feedKey]*feed
	sys   *sysWatch

	// fleet is every feed's events in the order they were recorded, and
	// the systems watcher's; the fleet streams read it (eventfleet.go).
	fleet    ring
	fleetMu  sync.Mutex
	fleetIDs eventIDs
}

func newEventHub(a *api, o EventOptions) *eventHub {
	o.setDefaults()
	h := &eventHub{a: a, opts: o, feeds: map[feedKey]*feed{}, fleetIDs: newEventIDs("", "")}
	h.fleet.wake = make(chan struct{})
	h.sys = &sysWatch{hub: h, loop: newLoop(), wake: make(chan struct{}), systems: map[string]*sysState{}}
	return h
}

// entry is one event of a ring. seq is its number in the ring (its ID
// sealed, eventIDs). A live entry (a failure, a recovery, a system's
// reachability) is sent without an ID to the streams open when it was
// recorded, and never replayed.
type entry struct {
	seq  uint64
	name string
	data []byte
	live bool
	// system and stack tell whose event an entry of the fleet ring is
	// (stack "": the system's).
	system, stack string
}

// ring is a bounded sequence of numbered entries. Its owner guards it.
type ring struct {
	entries []entry // oldest first
	dropped uint64  // seq of the newest entry dropped
	last    uint64  // seq of the newest entry (0 before the first)
	wake    chan struct{}
}

// add numbers e and appends it, dropping the oldest entry past size.
func (r *ring) add(size int, e entry) {
	e.seq = r.last + 1
	if len(r.entries) >= size {
		r.dropped = r.entries[0].seq
		r.entries = append(r.entries[:0], r.entries[1:]...)
	}
	r.entries = append(r.entries, e)
	r.last = e.seq
}

// notify wakes the readers waiting on the ring.
func (r *ring) notify() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// after returns the entries after seq; lost is set when some of them
// have left the ring.
func (r *ring) after(seq uint64) (out []entry, lost bool) {
	if r.dropped > seq {
		return nil, true
	}
	i, _ := slices.BinarySearchFunc(r.entries, seq+1, func(e entry, s uint64) int { return cmp.Compare(e.seq, s) })
	return slices.Clone(r.entries[i:]), false
}

// feedKey names a feed: one stack of one system.
type feedKey struct{ system, stack string }

// loop is the life of a poller: it runs while it has subscribers. Guarded
// by hub.mu.
type loop struct {
	subs   map[*subscriber]struct{}
	stop   context.CancelFunc // the running poller's; nil when none
	exited chan struct{}      // closed when the last poller returned
	rewake chan struct{}      // a shorter interval joined
}

func newLoop() loop {
	return loop{subs: map[*subscriber]struct{}{}, rewake: make(chan struct{}, 1)}
}

// poller is what a loop polls: a feed, or the systems watcher.
type poller interface {
	// restart is told that a poller starts (hub.mu held).
	restart()
	// pollOnce polls once and records what it saw; the error makes the
	// next poll wait longer.
	pollOnce(ctx context.Context) error
}

// feed is one stack's events.
type feed struct {
	hub *eventHub
	key feedKey
	ids eventIDs
	loop

	mu      sync.Mutex
	st      fleet.Stack // where the stack lives
	ring                // at most opts.History
	snap    *snapshot
	polled  bool  // the running poller has polled once
	lastErr error // the last poll's error
}

// subscriber is one stream of a feed (not of size zero: pointers to
// zero-size values need not differ).
type subscriber struct{ interval time.Duration }

// subscribe adds a subscriber to the feed of stack st, starting its
// poller if it has none.
func (h *eventHub) subscribe(st fleet.Stack, interval time.Duration) (*feed, *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := feedKey{st.System, st.Name}
	f := h.feeds[key]
	if f == nil {
		f = &feed{hub: h, key: key, ids: newEventIDs(st.System, st.Name), loop: newLoop()}
		f.wake = make(chan struct{})
		h.feeds[key] = f
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	return f, h.joinLocked(&f.loop, f, interval)
}

// joinLocked adds a subscriber to l, starting p's poller if it has none
// (h.mu held).
func (h *eventHub) joinLocked(l *loop, p poller, interval time.Duration) *subscriber {
	s := &subscriber{interval: interval}
	shorter := len(l.subs) > 0 && interval < h.intervalLocked(l)
	l.subs[s] = struct{}{}
	if l.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		prev, exited := l.exited, make(chan struct{})
		l.stop, l.exited = cancel, exited
		p.restart()
		go h.run(ctx, l, p, prev, exited)
	} else if shorter {
		select {
		case l.rewake <- struct{}{}:
		default:
		}
	}
	return s
}

// leaveLocked removes s from l; the last subscriber stops the poller,
// and true is returned (h.mu held).
func (h *eventHub) leaveLocked(l *loop, s *subscriber) bool {
	delete(l.subs, s)
	if len(l.subs) > 0 || l.stop == nil {
		return false
	}
	l.stop()
	l.stop = nil
	return true
}

// unsubscribe removes s; the last subscriber stops the poller. A feed that
// never saw its stack is forgotten.
func (h *eventHub) unsubscribe(f *feed, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.leaveLocked(&f.loop, s) {
		return
	}
	f.mu.Lock()
	known := f.snap != nil
	f.mu.Unlock()
	if !known && h.feeds[f.key] == f {
		delete(h.feeds, f.key)
	}
}

// intervalLocked is the shortest interval of l's subscribers.
func (h *eventHub) intervalLocked(l *loop) time.Duration {
	d := h.opts.MaxInterval
	for s := range l.subs {
		d = min(d, s.interval)
	}
	return d
}

func (h *eventHub) interval(l *loop) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.intervalLocked(l)
}

// run is a poller: it polls until ctx is done, backing off after
// failures. It starts once the previous poller (prev) has returned.
func (h *eventHub) run(ctx context.Context, l *loop, p poller, prev, exited chan struct{}) {
	defer close(exited)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	failures := 0
	for {
		err := p.pollOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		delay := h.interval(l)
		if err != nil {
			failures++
			delay = backoff(delay, failures)
		} else {
			failures = 0
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.rewake:
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff is the wait after n failed polls in a row: the interval doubled
// n-1 times, at most maxBackoff (or the interval, if longer).
func backoff(interval time.Duration, n int) time.Duration {
	limit := max(interval, maxBackoff)
	d := interval
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (f *feed) restart() {
	f.mu.Lock()
	f.polled = false
	f.mu.Unlock()
}

func (f *feed) pollOnce(ctx context.Context) error {
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	s, err := f.hub.poll(ctx, st)
	if ctx.Err() != nil {
		return err
	}
	f.record(s, err)
	return err
}

// eventsPath is the path of a stack's event stream, the instance of its
// error events.
func eventsPath(k feedKey) string {
	return "/v1/systems/" + k.system + "/stacks/" + k.stack + "/events"
}

// record appends the events of one poll: the differences from the last
// snapshot, or the error. The fleet ring gets the same events, and a
// failure once, when it starts.
func (f *feed) record(s *snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var toFleet []entry
	emit := func(name string, data []byte, live bool) {
		f.add(f.hub.opts.History, entry{name: name, data: data, live: live})
		toFleet = append(toFleet, entry{name: name, data: data, live: live, system: f.key.system, stack: f.key.stack})
	}
	if err != nil {
		p := classify(err)
		f.hub.a.log.LogAttrs(context.Background(), levelFor(err), "event poll failed",
			slog.String("system", f.key.system), slog.String("stack", f.key.stack), attrError(err))
		pj := problemJSON(p, eventsPath(f.key), "")
		f.add(f.hub.opts.History, entry{name: evError, data: pj, live: true})
		if f.lastErr == nil {
			toFleet = append(toFleet, entry{name: evStackError, data: stackErrorData(f.key, now, pj), live: true,
				system: f.key.system, stack: f.key.stack})
		}
		f.lastErr = err
	} else {
		if f.lastErr != nil {
			emit(evRecovered, recoveredData(f.key, now), true)
		}
		if f.snap != nil {
			diff(f.snap, s, f.key, now, func(name string, data []byte) { emit(name, data, false) })
		}
		if s.disconnected && f.snap != nil {
			// The last tunnels seen stay the baseline.
			s.tunnels = f.snap.tunnels
		}
		f.snap, f.lastErr = s, nil
	}
	f.polled = true
	f.notify()
	f.hub.fleetAdd(toFleet...)
}

// fleetAdd appends entries to the fleet's ring.
func (h *eventHub) fleetAdd(es ...entry) {
	if len(es) == 0 {
		return
	}
	h.fleetMu.Lock()
	defer h.fleetMu.Unlock()
	for _, e := range es {
		h.fleet.add(h.opts.FleetHistory, e)
	}
	h.fleet.notify()
}

// since returns the entries after seq and the channel closed on the next
// change; lost is set when entries after seq have left the ring.
func (f *feed) since(seq uint64) (out []entry, lost bool, wake chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, lost = f.after(seq)
	return out, lost, f.wake
}

// Snapshots.

type tunnelRef struct {
	kind ipsec.Kind
	id   string
}

// tunnelNow is the newest generation of a tunnel and its state.
type tunnelNow struct {
	gen   uint32
	state string
}

type snapshot struct {
	filterSet string // "" for an NSS client (not told)
	// An NSS client's connection: disconnected when the NSS server no
	// longer has it (ENXIO), else when it connected.
	disconnected bool
	connectTime  uint32
	tunnels      map[tunnelRef]tunnelNow
}

// poll takes a snapshot of stack st. An IKED's stack: its filter set
// (NMsec_GET_STACKINFO) and tunnels. An NSS client: its connection
// (NMsec_GET_CLIENTINFO for the client: the NSS server does not route
// NMsec_GET_STACKINFO) and, when connected, its tunnels.
func (h *eventHub) poll(ctx context.Context, st fleet.Stack) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(withStack(ctx, &st), h.a.timeout)
	defer cancel()
	s := &snapshot{tunnels: map[tunnelRef]tunnelNow{}}
	var err error
	if st.Kind == fleet.NSS {
		err = h.pollClient(ctx, &st, s)
	} else {
		err = h.pollStackInfo(ctx, st.Name, s)
	}
	if err != nil || s.disconnected {
		return s, err
	}
	fams := map[tunnelRef]*ipsec.Family{}
	err = ipsec.Snapshot(ctx, h.a.nmi, st.Name, func(t *ipsec.Tunnel) error {
		ipsec.Fold(fams, tunnelRef{t.Kind, t.ID}, t)
		return nil
	})
	if st.Kind == fleet.NSS && notConnected(err) {
		return &snapshot{disconnected: true}, nil
	}
	if err != nil {
		return nil, err
	}
	for ref, f := range fams {
		s.tunnels[ref] = tunnelNow{f.Newest, f.NewestState}
	}
	return s, nil
}

// pollStackInfo reads the filter set of an IKED's stack.
func (h *eventHub) pollStackInfo(ctx context.Context, stack string, s *snapshot) error {
	var srec nmi.StackRecord
	_, err := h.a.nmi.Do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(rec nmi.Record) error {
		if err := srec.Decode(rec); err != nil {
			return err
		}
		if srec.Stack.Name.String() == stack {
			s.filterSet = srec.Stack.FilterSet.String()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.filterSet == "" {
		return &unknownStackError{Stack: stack}
	}
	return nil
}

// pollClient reads the connection of an NSS client.
func (h *eventHub) pollClient(ctx context.Context, st *fleet.Stack, s *snapshot) error {
	var filter nmi.InFilter
	filter.HasName = true
	if err := filter.Name.Set(nmi.DisciplineIPSec.String()); err != nil {
		return err
	}
	var rec nmi.ClientInfoRecord
	found := false
	_, err := h.a.nmi.Do(ctx, &nmi.Request{Type: nmi.GetClientInfo, Target: st.Target, Filters: []nmi.InFilter{filter}},
		func(r nmi.Record) error {
			if err := rec.Decode(r); err != nil {
				return err
			}
			if rec.ClientInfo.ClientName.String() == st.Target {
				found = true
				s.connectTime = rec.ClientInfo.ConnectTime
			}
			return nil
		})
	switch {
	case notConnected(err):
		s.disconnected = true
		return nil
	case err != nil:
		return err
	case !found:
		s.disconnected = true
	}
	return nil
}

// notConnected: the NSS server has no such client connected (ENXIO).
func notConnected(err error) bool {
	var se *nmi.StatusError
	return errors.As(err, &se) && se.Rc == nmi.ENXIO
}

// diff emits the events that turn old into cur: an NSS client's
// connection first, then the filter set, then tunnels by kind and ID
// number.
func diff(old, cur *snapshot, k feedKey, now time.Time, emit func(name string, data []byte)) {
	head := func(jw *jsonw) {
		jw.beginObject()
		jw.str("system", k.system)
		jw.str("stack", k.stack)
		jw.str("time", now.UTC().Format(time.RFC3339))
	}
	switch {
	case cur.disconnected && !old.disconnected:
		var jw jsonw
		head(&jw)
		jw.unixTime("connectTime", old.connectTime)
		jw.endObject()
		emit(evDisconnected, jw.b)
		return
	case cur.disconnected:
		return
	case old.disconnected || old.connectTime != cur.connectTime:
		var jw jsonw
		head(&jw)
		jw.unixTime("connectTime", cur.connectTime)
		if !old.disconnected {
			jw.unixTime("oldConnectTime", old.connectTime)
		}
		jw.endObject()
		emit(evConnected, jw.b)
	}
	if old.filterSet != cur.filterSet && old.filterSet != "" && cur.filterSet != "" {
		var jw jsonw
		head(&jw)
		jw.str("oldFilterSet", old.filterSet)
		jw.str("newFilterSet", cur.filterSet)
		jw.endObject()
		emit(evFilterSet, jw.b)
	}
	refs := make([]tunnelRef, 0, len(cur.tunnels))
	for r := range old.tunnels {
		refs = append(refs, r)
	}
	for r := range cur.tunnels {
		if _, ok := old.tunnels[r]; !ok {
			refs = append(refs, r)
		}
	}
	slices.SortFunc(refs, func(a, b tunnelRef) int {
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return bytes.Compare(natKey(nil, a.id), natKey(nil, b.id))
	})
	for _, r := range refs {
		o, hadOld := old.tunnels[r]
		n, hasNew := cur.tunnels[r]
		var name string
		switch {
		case !hadOld:
			name = evAdded
		case !hasNew:
			name = evRemoved
		case o != n:
			name = evChanged
		default:
			continue
		}
		var jw jsonw
		head(&jw)
		jw.str("kind", r.kind.String())
		jw.str("tunnelId", r.id)
		if hasNew && r.kind.Generations() {
			jw.uint("generation", uint64(n.gen))
		}
		if hadOld && hasNew && o.gen != n.gen {
			jw.uint("oldGeneration", uint64(o.gen))
		}
		if hadOld {
			jw.str("oldState", o.state)
		}
		if hasNew {
			jw.str("newState", n.state)
		}
		jw.endObject()
		emit(name, jw.b)
	}
}

// The handler.

// parseInterval reads ?interval, clamped to the configured range.
func (h *eventHub) parseInterval(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("interval")
	if s == "" {
		return h.opts.Interval, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, &paramError{Name: "interval", Reason: "not a positive duration, such as 5s"}
	}
	return min(max(d, h.opts.MinInterval), h.opts.MaxInterval), nil
}

// sseWriter writes events and comments, each flushed at once, with the
// write deadline moved forward before each.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

func (s *sseWriter) send() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteIdle)) // not every writer supports deadlines
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	return s.rc.Flush()
}

// event writes one event; id "" sends none.
func (s *sseWriter) event(name string, id string, data []byte) error {
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, name...)
	s.buf = append(s.buf, '\n')
	if id != "" {
		s.buf = append(s.buf, "id: "...)
		s.buf = append(s.buf, id...)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...) // JSON from jsonw: one line
	s.buf = append(s.buf, '\n', '\n')
	return s.send()
}

func (s *sseWriter) comment(text string) error {
	s.buf = append(s.buf, ": "...)
	s.buf = append(s.buf, text...)
	s.buf = append(s.buf, '\n', '\n')
	return s.send()
}

// resetData is the payload of a reset event; k is zero on the fleet
// stream.
func resetData(k feedKey, reason string) []byte {
	var jw jsonw
	jw.beginObject()
	if k.stack != "" {
		jw.str("system", k.system)
		jw.str("stack", k.stack)
	}
	jw.str("reason", reason)
	jw.endObject()
	return jw.b
}

// recoveredData is the payload of a recovered event.
func recoveredData(k feedKey, t time.Time) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("system", k.system)
	jw.str("stack", k.stack)
	jw.str("time", t.UTC().Format(time.RFC3339))
	jw.endObject()
	return jw.b
}

// stackErrorData is the payload of a stack.error event: the problem of
// the failed poll.
func stackErrorData(k feedKey, t time.Time, problem []byte) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("system", k.system)
	jw.str("stack", k.stack)
	jw.str("time", t.UTC().Format(time.RFC3339))
	jw.key("problem")
	jw.b = append(jw.b, problem...)
	jw.endObject()
	return jw.b
}

// startStream sends the headers of an event stream; false for HEAD (the
// headers, no stream).
func startStream(w http.ResponseWriter, r *http.Request) (*sseWriter, bool) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil, false
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would end the request (its context) while
	// the stream is open; a closed connection still ends it.
	_ = rc.SetReadDeadline(time.Time{})
	return &sseWriter{w: w, rc: rc}, true
}

// idAlone sets the client's last event ID without dispatching an event.
func (s *sseWriter) idAlone(id string) error {
	s.buf = append(s.buf, "id: "...)
	s.buf = append(s.buf, id...)
	s.buf = append(s.buf, '\n', '\n')
	return s.send()
}

// shuttingDown answers a stream refused because the gateway shuts down.
func (a *api) shuttingDown(w http.ResponseWriter, r *http.Request) {
	a.writeProblem(w, r, problem{Type: probUnavailable, Title: "Shutting down", Status: http.StatusServiceUnavailable,
		Detail: "the gateway is shutting down", RetryAfter: retryAfterSeconds})
}

// waitPolled waits until polled reports true, each change announced by
// the channel it returns; false when ctx or the gateway's shutdown came
// first.
func (h *eventHub) waitPolled(ctx context.Context, polled func() (bool, chan struct{})) bool {
	for {
		ok, wake := polled()
		if ok {
			return true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		case <-h.opts.Done:
			return false
		}
	}
}

func (a *api) streamEvents(w http.ResponseWriter, r *http.Request) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st := stackFrom(r.Context())
	if st == nil || st.Name != stack {
		a.writeError(w, r, errors.New("event stream: no stack in the request"))
		return
	}
	h := a.events
	interval, err := h.parseInterval(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f, sub := h.subscribe(*st, interval)
	defer h.unsubscribe(f, sub)

	// Wait for the poller's first poll: it sets the baseline of a fresh
	// subscription and tells an unknown stack.
	ctx := r.Context()
	if !h.waitPolled(ctx, polled(&f.mu, &f.polled, &f.wake)) {
		if ctx.Err() == nil {
			a.shuttingDown(w, r)
		}
		return
	}
	f.mu.Lock()
	known, lastErr, last, dropped := f.snap != nil, f.lastErr, f.last, f.dropped
	f.mu.Unlock()
	if !known && lastErr != nil {
		if p := classify(lastErr); p.Status < http.StatusInternalServerError {
			a.writeProblem(w, r, p)
			return
		}
	}
	sw, ok := startStream(w, r)
	if !ok {
		return
	}

	cursor, reset := resumeAt(r, &f.ids, last, dropped, "this stack (another stack's or system's, or the gateway restarted)")
	// Errors are not replayed; the current one (the last poll failed) is
	// sent.
	liveFrom := last + 1
	if lastErr != nil {
		liveFrom = last
	}
	var werr error
	switch {
	case reset != "":
		werr = sw.event(evReset, f.ids.id(last), resetData(f.key, reset))
	case cursor == last && known:
		werr = sw.idAlone(f.ids.id(last))
	case cursor < last:
		werr = sw.comment("resuming")
	default:
		werr = sw.comment("events of " + stack)
	}
	if lastErr != nil && cursor == last {
		cursor = last - 1
	}

	life := a.newStreamLife(r, sw, func(ctx context.Context, p authz.Principal) error {
		_, err := a.authorize(ctx, p, stack, authz.Display)
		return err
	})
	defer life.stop()
	for werr == nil {
		// Nothing more is sent once the caller's access is gone.
		if err := life.guard.check(); err != nil {
			a.endStream(sw, r, err)
			return
		}
		es, lost, wake := f.since(cursor)
		if lost {
			f.mu.Lock()
			cursor = f.last
			f.mu.Unlock()
			werr = sw.event(evReset, f.ids.id(cursor), resetData(f.key, "the client fell behind the events the gateway keeps"))
			continue
		}
		if werr = sw.entries(es, &cursor, liveFrom, f.ids.id, nil); werr == nil {
			werr = life.wait(wake, nil)
		}
	}
	life.ended(werr)
}

// entries sends the entries that shows accepts (nil: all), live ones
// only from liveFrom on and without an ID, and moves cursor past each.
func (s *sseWriter) entries(es []entry, cursor *uint64, liveFrom uint64, id func(uint64) string, shows func(*entry) bool) error {
	for i := range es {
		e := &es[i]
		*cursor = e.seq
		var err error
		switch {
		case shows != nil && !shows(e):
		case e.live:
			if e.seq >= liveFrom {
				err = s.event(e.name, "", e.data)
			}
		default:
			err = s.event(e.name, id(e.seq), e.data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// streamLife is what ends a stream besides its client: its caller's
// access (guard), its lifetime, the gateway's shutdown; and its
// heartbeats.
type streamLife struct {
	a        *api
	r        *http.Request
	sw       *sseWriter
	guard    *streamGuard
	ping     *time.Ticker
	lifetime *time.Timer
}

func (a *api) newStreamLife(r *http.Request, sw *sseWriter, decide func(ctx context.Context, p authz.Principal) error) *streamLife {
	return &streamLife{a: a, r: r, sw: sw, guard: a.newStreamGuard(r, decide),
		ping: time.NewTicker(a.events.opts.Heartbeat), lifetime: time.NewTimer(a.events.opts.MaxLifetime)}
}

func (l *streamLife) stop() {
	l.guard.stop()
	l.ping.Stop()
	l.lifetime.Stop()
}

// errStreamOver ends a stream that has sent what it had to.
var errStreamOver = errors.New("the stream is over")

// wait waits for wake or other (nil: never), sending heartbeats; a
// policy change returns nil too (the caller decides again). An error ends
// the stream: errStreamOver when it ended as it should (its lifetime, its
// credentials' expiry after the final event, the client or the gateway
// gone), else the write's.
func (l *streamLife) wait(wake, other <-chan struct{}) error {
	for {
		select {
		case <-wake:
			return nil
		case <-other:
			return nil
		case <-l.guard.changed:
			return nil
		case <-l.ping.C:
			if err := l.sw.comment("ping"); err != nil {
				return err
			}
		case <-l.guard.expired:
			l.a.endStream(l.sw, l.r, errExpired)
			return errStreamOver
		case <-l.lifetime.C:
			// The client reconnects with Last-Event-ID.
			l.a.log.LogAttrs(l.r.Context(), slog.LevelDebug, "event stream reached its lifetime", attrRequestID(l.r))
			return errStreamOver
		case <-l.r.Context().Done():
			return errStreamOver
		case <-l.a.events.opts.Done:
			return errStreamOver
		}
	}
}

// ended logs the end of a stream by a failed write: a client that goes
// away is the usual end of a stream.
func (l *streamLife) ended(err error) {
	if err != errStreamOver {
		l.a.log.LogAttrs(l.r.Context(), slog.LevelDebug, "event stream ended", attrRequestID(l.r), attrError(err))
	}
}

// endStream sends the final error event of a stream ended for its
// caller's sake.
func (a *api) endStream(sw *sseWriter, r *http.Request, err error) {
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "event stream ended: access no longer granted", attrRequestID(r),
		slog.String("path", r.URL.Path), attrError(err))
	_ = sw.event(evError, "", problemJSON(classify(err), r.URL.Path, requestID(r.Context())))
}

// polled reads, under mu, whether a poller has polled once and the channel
// closed at its next poll: what waitPolled waits on.
func polled(mu *sync.Mutex, polled *bool, wake *chan struct{}) func() (bool, chan struct{}) {
	return func() (bool, chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		return *polled, *wake
	}
}

// resumeAt is where a subscriber of a ring whose events ids seals starts:
// after the newest event, last (a fresh subscription), after its
// Last-Event-ID (a resumption that the ring still covers, from dropped
// on), or after a reset, whose reason is given; whose names what the
// stream's IDs belong to, for the reason of a foreign ID.
func resumeAt(r *http.Request, ids *eventIDs, last, dropped uint64, whose string) (cursor uint64, reset string) {
	v, ok := r.Header["Last-Event-Id"]
	if !ok {
		return last, ""
	}
	id, ok := ids.parse(v[0])
	switch {
	case !ok || id > last:
		return last, "Last-Event-ID is not an event ID the gateway holds for " + whose
	case id < dropped:
		return last, "Last-Event-ID is older than the events the gateway keeps"
	}
	return id, ""
}
