package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Server-Sent Events of a stack (GET /v1/stacks/{stack}/events).
//
// One feed per stack polls the NMI (IKE tunnels, dynamic tunnels in the
// stack's view, manual tunnels, the stack's filter set) while it has
// subscribers, diffs each snapshot with the one before and appends the
// differences to a bounded ring of events that every subscriber reads.
// The feed (ring and last snapshot) outlives its poller, so a client that
// reconnects after everybody had left still resumes: the restarted poller
// reports what changed meanwhile. Each feed numbers its own events, and
// their IDs are opaque (eventid.go): an ID of another stack, of an
// earlier run, or one the ring no longer holds is answered with a reset.

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
	evReset     = "reset"
	evError     = "error"
	// evRecovered follows the first good poll after errors; like an
	// error it has no ID and is not replayed.
	evRecovered = "recovered"
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
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = time.Hour
	}
}

// eventHub holds the feeds of every stack.
type eventHub struct {
	a    *api
	opts EventOptions

	mu    sync.Mutex
	feeds map[string]*feed
}

func newEventHub(a *api, o EventOptions) *eventHub {
	o.setDefaults()
	return &eventHub{a: a, opts: o, feeds: map[string]*feed{}}
}

// entry is one event of a feed's ring. seq is its number in the feed
// (its ID sealed, eventIDs); error entries are sent without an ID (they
// are not replayed).
type entry struct {
	seq  uint64
	name string
	data []byte
}

// feed is one stack's events.
type feed struct {
	hub   *eventHub
	stack string
	ids   eventIDs

	// Guarded by hub.mu.
	subs   map[*subscriber]struct{}
	stop   context.CancelFunc // the running poller's; nil when none
	exited chan struct{}      // closed when the last poller returned
	rewake chan struct{}      // a shorter interval joined

	mu      sync.Mutex
	ring    []entry // oldest first, at most opts.History
	dropped uint64  // seq of the newest entry dropped from the ring
	last    uint64  // seq of the newest entry (0 before the first)
	snap    *snapshot
	polled  bool  // the running poller has polled once
	lastErr error // the last poll's error
	wake    chan struct{}
}

// subscriber is one stream of a feed (not of size zero: pointers to
// zero-size values need not differ).
type subscriber struct{ interval time.Duration }

// subscribe adds a subscriber to the feed of stack, starting its poller
// if it has none.
func (h *eventHub) subscribe(stack string, interval time.Duration) (*feed, *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[stack]
	if f == nil {
		f = &feed{hub: h, stack: stack, ids: newEventIDs(stack), subs: map[*subscriber]struct{}{},
			rewake: make(chan struct{}, 1), wake: make(chan struct{})}
		h.feeds[stack] = f
	}
	s := &subscriber{interval: interval}
	shorter := len(f.subs) > 0 && interval < h.intervalLocked(f)
	f.subs[s] = struct{}{}
	if f.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		prev, exited := f.exited, make(chan struct{})
		f.stop, f.exited = cancel, exited
		f.mu.Lock()
		f.polled = false
		f.mu.Unlock()
		go f.run(ctx, prev, exited)
	} else if shorter {
		select {
		case f.rewake <- struct{}{}:
		default:
		}
	}
	return f, s
}

// unsubscribe removes s; the last subscriber stops the poller. A feed that
// never saw its stack is forgotten.
func (h *eventHub) unsubscribe(f *feed, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(f.subs, s)
	if len(f.subs) > 0 {
		return
	}
	f.stop()
	f.stop = nil
	f.mu.Lock()
	known := f.snap != nil
	f.mu.Unlock()
	if !known && h.feeds[f.stack] == f {
		delete(h.feeds, f.stack)
	}
}

// intervalLocked is the shortest interval of f's subscribers.
func (h *eventHub) intervalLocked(f *feed) time.Duration {
	d := h.opts.MaxInterval
	for s := range f.subs {
		d = min(d, s.interval)
	}
	return d
}

func (h *eventHub) interval(f *feed) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.intervalLocked(f)
}

// run is a feed's poller: it polls until ctx is done, backing off after
// failures. It starts once the previous poller (prev) has returned.
func (f *feed) run(ctx context.Context, prev, exited chan struct{}) {
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
		s, err := f.hub.poll(ctx, f.stack)
		if ctx.Err() != nil {
			return
		}
		f.record(s, err)
		delay := f.hub.interval(f)
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
		case <-f.rewake:
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

// record appends the events of one poll: the differences from the last
// snapshot, or the error.
func (f *feed) record(s *snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if err != nil {
		p := classify(err)
		f.hub.a.log.LogAttrs(context.Background(), levelFor(err), "event poll failed",
			slog.String("stack", f.stack), attrError(err))
		f.append(evError, problemJSON(p, "/v1/stacks/"+f.stack+"/events", ""))
		f.lastErr = err
	} else {
		if f.lastErr != nil {
			f.append(evRecovered, recoveredData(f.stack, now))
		}
		if f.snap != nil {
			diff(f.snap, s, f.stack, now, f.append)
		}
		f.snap, f.lastErr = s, nil
	}
	f.polled = true
	close(f.wake)
	f.wake = make(chan struct{})
}

// append adds one event to the ring (f.mu held).
func (f *feed) append(name string, data []byte) {
	seq := f.last + 1
	if len(f.ring) >= f.hub.opts.History {
		f.dropped = f.ring[0].seq
		f.ring = append(f.ring[:0], f.ring[1:]...)
	}
	f.ring = append(f.ring, entry{seq: seq, name: name, data: data})
	f.last = seq
}

// since returns the entries after seq and the channel closed on the next
// change; lost is set when entries after seq have left the ring.
func (f *feed) since(seq uint64) (out []entry, lost bool, wake chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dropped > seq {
		return nil, true, f.wake
	}
	i, _ := slices.BinarySearchFunc(f.ring, seq+1, func(e entry, s uint64) int { return cmp.Compare(e.seq, s) })
	return slices.Clone(f.ring[i:]), false, f.wake
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
	filterSet string
	tunnels   map[tunnelRef]tunnelNow
}

// poll takes a snapshot of stack.
func (h *eventHub) poll(ctx context.Context, stack string) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, h.a.timeout)
	defer cancel()
	s := &snapshot{tunnels: map[tunnelRef]tunnelNow{}}
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
		return nil, err
	}
	if s.filterSet == "" {
		return nil, &unknownStackError{Stack: stack}
	}
	fams := map[tunnelRef]*ipsec.Family{}
	err = ipsec.Snapshot(ctx, h.a.nmi, stack, func(t *ipsec.Tunnel) error {
		ipsec.Fold(fams, tunnelRef{t.Kind, t.ID}, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for ref, f := range fams {
		s.tunnels[ref] = tunnelNow{f.Newest, f.NewestState}
	}
	return s, nil
}

// diff emits the events that turn old into cur, tunnels by kind and ID
// number.
func diff(old, cur *snapshot, stack string, now time.Time, emit func(name string, data []byte)) {
	if old.filterSet != cur.filterSet {
		var jw jsonw
		jw.beginObject()
		jw.str("stack", stack)
		jw.str("time", now.UTC().Format(time.RFC3339))
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
		jw.beginObject()
		jw.str("stack", stack)
		jw.str("time", now.UTC().Format(time.RFC3339))
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

// resetData is the payload of a reset event.
func resetData(stack, reason string) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("stack", stack)
	jw.str("reason", reason)
	jw.endObject()
	return jw.b
}

// recoveredData is the payload of a recovered event.
func recoveredData(stack string, t time.Time) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("stack", stack)
	jw.str("time", t.UTC().Format(time.RFC3339))
	jw.endObject()
	return jw.b
}

func (a *api) streamEvents(w http.ResponseWriter, r *http.Request) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	h := a.events
	interval, err := h.parseInterval(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f, sub := h.subscribe(stack, interval)
	defer h.unsubscribe(f, sub)

	// Wait for the poller's first poll: it sets the baseline of a fresh
	// subscription and tells an unknown stack.
	ctx := r.Context()
	for {
		f.mu.Lock()
		polled, wake := f.polled, f.wake
		f.mu.Unlock()
		if polled {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-h.opts.Done:
			a.writeProblem(w, r, problem{Type: probUnavailable, Title: "Shutting down", Status: http.StatusServiceUnavailable,
				Detail: "the gateway is shutting down", RetryAfter: retryAfterSeconds})
			return
		}
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

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead { // the stream's headers, no stream
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would end the request (its context) while
	// the stream is open; a closed connection still ends it.
	_ = rc.SetReadDeadline(time.Time{})
	sw := &sseWriter{w: w, rc: rc}

	// Where this subscriber starts: after the newest event (a fresh
	// subscription), after its Last-Event-ID (a resumption that the ring
	// still covers), or after a reset.
	cursor, reset := last, ""
	if v, ok := r.Header["Last-Event-Id"]; ok {
		id, ok := f.ids.parse(v[0])
		switch {
		case !ok || id > last:
			reset = "Last-Event-ID is not an event ID the gateway holds for this stack (another stack's, or the gateway restarted)"
		case id < dropped:
			reset = "Last-Event-ID is older than the events the gateway keeps"
		default:
			cursor = id
		}
	}
	// Errors are not replayed; the current one (the last poll failed) is
	// sent.
	liveFrom := last + 1
	if lastErr != nil {
		liveFrom = last
	}
	var werr error
	switch {
	case reset != "":
		werr = sw.event(evReset, f.ids.id(last), resetData(stack, reset))
	case cursor == last && known:
		// Sets the client's last event ID without dispatching an event.
		sw.buf = append(sw.buf, "id: "...)
		sw.buf = append(sw.buf, f.ids.id(last)...)
		sw.buf = append(sw.buf, '\n', '\n')
		werr = sw.send()
	case cursor < last:
		werr = sw.comment("resuming")
	default:
		werr = sw.comment("events of " + stack)
	}
	if lastErr != nil && cursor == last {
		cursor = last - 1
	}

	ping := time.NewTicker(h.opts.Heartbeat)
	defer ping.Stop()
	lifetime := time.NewTimer(h.opts.MaxLifetime)
	defer lifetime.Stop()
	guard := a.newStreamGuard(r, stack)
	defer guard.stop()
	// end sends the final error event of a stream ended for its
	// caller's sake.
	end := func(err error) {
		a.log.LogAttrs(ctx, slog.LevelInfo, "event stream ended: access no longer granted", attrRequestID(r),
			slog.String("stack", stack), attrError(err))
		_ = sw.event(evError, "", problemJSON(classify(err), r.URL.Path, requestID(ctx)))
	}
	for werr == nil {
		// Nothing more is sent once the caller's access is gone.
		if err := guard.check(); err != nil {
			end(err)
			return
		}
		es, lost, wake := f.since(cursor)
		if lost {
			f.mu.Lock()
			cursor = f.last
			f.mu.Unlock()
			werr = sw.event(evReset, f.ids.id(cursor), resetData(stack, "the client fell behind the events the gateway keeps"))
			continue
		}
		for _, e := range es {
			cursor = e.seq
			if e.name == evError || e.name == evRecovered {
				if e.seq >= liveFrom {
					werr = sw.event(e.name, "", e.data)
				}
			} else {
				werr = sw.event(e.name, f.ids.id(e.seq), e.data)
			}
			if werr != nil {
				break
			}
		}
		if werr != nil {
			break
		}
		select {
		case <-wake:
		case <-ping.C:
			werr = sw.comment("ping")
		case <-guard.changed:
			// Decided again at the top of the loop.
		case <-guard.expired:
			end(errExpired)
			return
		case <-lifetime.C:
			// The client reconnects with Last-Event-ID.
			a.log.LogAttrs(ctx, slog.LevelDebug, "event stream reached its lifetime", attrRequestID(r))
			return
		case <-ctx.Done():
			return
		case <-h.opts.Done:
			return
		}
	}
	// A client that goes away is the usual end of a stream.
	a.log.LogAttrs(ctx, slog.LevelDebug, "event stream ended", attrRequestID(r), attrError(werr))
}
