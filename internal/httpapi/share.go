package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nmigw/nmigw/internal/coalesce"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Rendered answers are shared between concurrent requests of the same
// view: the same path and query, Accept and freshness (Cache-Control:
// no-cache). One request, the first, runs the handler's NMI exchanges and
// renders the body once; the others that arrive before the first NMI
// record is delivered wait for it and send the same bytes. Every request
// was authorized before it joins (the handlers check the stack first),
// and only handlers whose body depends on nothing else share
// (serveShared); conditional requests and HEAD are answered per request
// from the shared body.
//
// The guarantee is the one of coalesce: an answer never comes from an
// NMI exchange that completed before the request arrived. A body over
// bufferLimit is not shared: its rendering stops there, and every
// request of the view then produces its own, streamed as serveBody does
// (the NMI exchanges may still be shared by the coalesce.Reader).

// maxSharedFilterPage is the largest page of filter rules whose rendering
// is shared (about 700 bytes each, under bufferLimit): larger pages and
// whole filter sets stream to each caller.
const maxSharedFilterPage = 1000

// errTooLarge ends a shared rendering that grew past bufferLimit.
var errTooLarge = errors.New("httpapi: answer too large to share")

// errAbandoned is the outcome of a rendering whose request panicked.
var errAbandoned = errors.New("httpapi: shared rendering abandoned")

// views holds the renderings that still take members, by view.
type views struct {
	mu   sync.Mutex
	open map[string]*rendering
}

// viewJoins counts the requests of every handler that were answered by
// another's rendering (tests observe it).
var viewJoins atomic.Uint64

// newViews returns the shared renderings of a handler over the systems of
// f: none (nil) unless every system's NMI shares exchanges between readers
// (a coalesce.Reader that is not Off), so that turning sharing off
// (--coalesce=false) turns off both.
func newViews(f *fleet.Fleet) *views {
	for _, e := range f.Endpoints() {
		if s, ok := e.NMI.(interface{ Shares() bool }); !ok || !s.Shares() {
			return nil
		}
	}
	return &views{open: map[string]*rendering{}}
}

// rendering is one shared rendering of a view, run by its first request.
type rendering struct {
	v    *views
	key  string
	done chan struct{}
	once sync.Once // seal
	// refs counts the members that have not yet sent body (or left): the
	// last one gives its buffer back to the pool. Members are added under
	// v.mu before the rendering is sealed, never after.
	refs atomic.Int32

	// Set before done is closed.
	body []byte
	tag  string
	err  error
	age  time.Duration
	aged bool
}

// seal closes the rendering to new members.
func (g *rendering) seal() {
	g.once.Do(func() {
		g.v.mu.Lock()
		if g.v.open[g.key] == g {
			delete(g.v.open, g.key)
		}
		g.v.mu.Unlock()
	})
}

// renderSlot, in every scoped request's context, names the rendering the
// request runs, if any, so that its NMI exchanges can seal it.
type renderSlot struct{ g *rendering }

type renderSlotKey struct{}

func withRenderSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, renderSlotKey{}, &renderSlot{})
}

// sealOnFirst wraps fn so that the first record closes the rendering that
// ctx's request runs, if any, to new members: they would get an answer
// that an exchange began delivering before they arrived.
func sealOnFirst(ctx context.Context, fn func(nmi.Record) error) func(nmi.Record) error {
	s, _ := ctx.Value(renderSlotKey{}).(*renderSlot)
	if s == nil || s.g == nil {
		return fn
	}
	g := s.g
	return func(rec nmi.Record) error {
		g.seal()
		return fn(rec)
	}
}

// viewKey is the view of r: what its answer depends on once it is
// authorized.
func viewKey(r *http.Request) string {
	fresh := "0"
	if noCache(r.Header) {
		fresh = "1"
	}
	return fresh + r.Header.Get("Accept") + "\x00" + r.URL.Path + "?" + r.URL.RawQuery
}

// serveShared answers r with produce as serveBody does, sharing the
// rendered body with concurrent requests of the same view. produce must
// depend on nothing of r but its view (the caller is authorized before).
func (a *api) serveShared(w http.ResponseWriter, r *http.Request, produce func(*bodyWriter) error) {
	slot, _ := r.Context().Value(renderSlotKey{}).(*renderSlot)
	if a.views == nil || slot == nil || slot.g != nil {
		a.serveBody(w, r, produce)
		return
	}
	k := viewKey(r)
	v := a.views
	v.mu.Lock()
	g := v.open[k]
	lead := g == nil
	if lead {
		g = &rendering{v: v, key: k, done: make(chan struct{})}
		v.open[k] = g
	}
	g.refs.Add(1)
	v.mu.Unlock()
	defer g.release()
	if lead {
		slot.g = g
		a.render(r, g, produce)
		slot.g = nil
	} else {
		viewJoins.Add(1)
		select {
		case <-g.done:
		case <-r.Context().Done():
			a.writeError(w, r, r.Context().Err())
			return
		}
	}
	switch {
	case g.err == nil:
		a.writeShared(w, r, g)
	case errors.Is(g.err, errTooLarge),
		// The first request ended (its client left, its deadline
		// passed, it panicked): the others produce their own.
		!lead && (isContextErr(g.err) || g.err == errAbandoned) && r.Context().Err() == nil:
		a.serveBody(w, r, produce)
	default:
		a.writeError(w, r, g.err)
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// release counts a member done with the body; the last one gives the
// buffer back to the pool.
func (g *rendering) release() {
	if g.refs.Add(-1) == 0 {
		putBuf(g.body)
		g.body = nil
	}
}

// render runs produce into memory for the members of g.
func (a *api) render(r *http.Request, g *rendering, produce func(*bodyWriter) error) {
	defer close(g.done)
	defer g.seal()
	bw := &bodyWriter{r: r, capture: true, status: http.StatusOK}
	bw.jw.b = getBuf()
	g.body = bw.jw.b     // kept by the members, given back by the last
	g.err = errAbandoned // until produce returns
	if g.err = produce(bw); g.err != nil {
		g.body = bw.jw.b[:0]
		return
	}
	g.body = bw.jw.b
	g.tag = etagOf(g.body)
	if i := coalesce.InfoFrom(r.Context()); i != nil {
		g.age, g.aged = i.Age()
	}
}

// writeShared sends a shared body to one member, with its own condition.
func (a *api) writeShared(w http.ResponseWriter, r *http.Request, g *rendering) {
	h := w.Header()
	h.Set("ETag", g.tag)
	h.Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, g.tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(g.body)))
	if g.aged {
		h.Set("Age", strconv.FormatInt(int64(g.age/time.Second), 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(g.body)
	}
}
