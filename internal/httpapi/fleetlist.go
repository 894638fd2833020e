package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Fleet lists: one per-stack list (listSpec) over every stack of every
// system that the caller may display. The systems are asked for their
// stacks (fleet.Systems), the authorizer once about all of them; then
// fleetWriter asks the stacks' lists, decoded as the per-stack list
// decodes them, and writes their items as they come. Items are ordered by
// system, stack, then as per stack: the sort key of an item is
// "system\x00stack\x00" and its per-stack key, so one page token works as
// on a stack's list, and a page starts at the token's stack. A system or
// stack that fails goes to "unreachable" (after the items) with the
// problem its own request would have answered; the list is then partial,
// never failed. A system that fails is listed on every page; a stack that
// fails on the pages that needed its items, which is at least the page
// that would have held them. Errors before the body (the caller, a
// token, a filter) are problem answers; once items are written, only the
// client going away ends the answer.

// fleetParallel bounds the stacks asked at once.
const fleetParallel = 8

// fleetStack is one stack of a fleet list.
type fleetStack struct {
	st     fleet.Stack
	prefix []byte // the sort key prefix: system, stack
	after  []byte // the page token's key within this stack (nil: all)
}

// fleetFail is a system (stack "") or a stack that did not answer.
type fleetFail struct {
	system, stack string
	err           error
}

func fleetPrefix(system, stack string) []byte {
	b := make([]byte, 0, len(system)+len(stack)+2)
	b = append(b, system...)
	b = append(b, 0)
	b = append(b, stack...)
	return append(b, 0)
}

// fleetList answers the fleet-wide list of spec.
func (a *api) fleetList(spec *listSpec) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.principal(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		pg, err := parsePage(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		nreq, err := spec.req(q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if nreq.Filters, err = inFilters(q, spec.allowed); err != nil {
			a.writeError(w, r, err)
			return
		}
		wantSys := map[string]bool{}
		for _, s := range q["system"] {
			wantSys[strings.ToUpper(s)] = true
		}
		wantStack := map[string]bool{}
		for _, s := range q["stack"] {
			wantStack[s] = true
		}

		// The stacks, under half of what is left of the request's time:
		// a system that hangs leaves the other half to the lists.
		ctx, cancel := a.systemsDeadline(r.Context())
		defer cancel()
		dctx := ctx
		if dl, ok := ctx.Deadline(); ok {
			var dcancel context.CancelFunc
			dctx, dcancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
			defer dcancel()
		}
		var stacks []*fleetStack
		var fails []fleetFail
		var res []string
		var failRes [][]string // per failed system: the resources of its known stacks
		for _, s := range a.fleet.Systems(dctx) {
			if len(wantSys) > 0 && !wantSys[s.Name] {
				continue
			}
			var known []fleet.Stack
			for _, st := range s.Stacks {
				if len(wantStack) == 0 || wantStack[st.Name] {
					known = append(known, st)
				}
			}
			if !s.Reachable {
				fails = append(fails, fleetFail{system: s.Name, err: s.Err})
				var fr []string
				for i := range known {
					fr = append(fr, known[i].Resource(a.authz, authz.Display))
				}
				failRes = append(failRes, fr)
				continue
			}
			for _, st := range known {
				stacks = append(stacks, &fleetStack{st: st, prefix: fleetPrefix(st.System, st.Name)})
				res = append(res, st.Resource(a.authz, authz.Display))
			}
		}
		all := slices.Clone(res)
		for _, fr := range failRes {
			all = append(all, fr...)
		}
		ds, err := a.authorizeBatch(r.Context(), p, all)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		// The stacks the caller may display; a failed system is shown
		// when the caller may display one of its known stacks, or, with
		// none known, some stack of the fleet (as in /v1/systems).
		var mine []*fleetStack
		for i, fs := range stacks {
			if ds[i].Allowed {
				mine = append(mine, fs)
			}
		}
		anyDisplay := len(mine) > 0
		k := len(stacks)
		var shownFails []fleetFail
		for i, f := range fails {
			shown := false
			for range failRes[i] {
				shown = shown || ds[k].Allowed
				anyDisplay = anyDisplay || ds[k].Allowed
				k++
			}
			if shown || len(failRes[i]) == 0 {
				shownFails = append(shownFails, f)
			}
		}
		if !anyDisplay {
			shownFails = nil
		}
		slices.SortFunc(mine, func(x, y *fleetStack) int { return bytes.Compare(x.prefix, y.prefix) })
		// The stacks from the token's on; the token's stack from its key.
		run := mine[:0]
		for _, fs := range mine {
			switch {
			case pg.after == nil:
			case bytes.HasPrefix(pg.after, fs.prefix):
				fs.after = pg.after[len(fs.prefix):]
			case bytes.Compare(fs.prefix, pg.after) < 0:
				continue
			}
			run = append(run, fs)
		}
		ask := func(ctx context.Context, fs *fleetStack, s *sorter) error {
			req := *nreq
			req.Target = fs.st.Name
			decode := spec.decoder(q)
			spg := page{after: fs.after}
			return a.do(withStack(ctx, &fs.st), &req, func(rec nmi.Record) error { return decode(rec, s, &spg) })
		}
		a.serveBody(w, r, func(bw *bodyWriter) error {
			f := fleetWriter{l: newListBody(bw, &pg), stacks: run, ask: ask}
			fails, err := f.write(ctx)
			if err != nil {
				return err
			}
			fails = append(fails, shownFails...)
			slices.SortStableFunc(fails, func(x, y fleetFail) int {
				return cmp.Or(strings.Compare(x.system, y.system), strings.Compare(x.stack, y.stack))
			})
			return f.l.finishWith(func(jw *jsonw) {
				jw.array("unreachable")
				for _, f := range fails {
					jw.elem()
					jw.beginObject()
					jw.str("system", f.system)
					jw.optStr("stack", f.stack)
					a.problemMember(jw, r, "problem", f.err)
					jw.endObject()
				}
				jw.endArray()
			})
		})
	}
}

// fleetHedge is how long the stacks in flight may all keep the writer
// waiting before it asks one more than the page or the window would
// (fleetWriter.write).
var fleetHedge = 200 * time.Millisecond

// fleetWriter writes the items of its stacks, in order, as they come:
// the stacks are asked concurrently (at most fleetParallel at once), and
// a stack's items are sorted and written once it and every stack before
// it have answered. The stacks held, asked or answered but not yet
// written, are a window of fleetParallel: the memory of the list is
// that of the stacks in the window, not of the fleet. A page asks only
// the stacks it is expected to need: one at a time until one stack has
// answered from its start, then as many as the items per stack so far
// say are missing (the page and one more item, which makes the next
// page's token). The stacks in flight when the page is full run to
// their end after the answer (not cancelled, which would cost their NMI
// connections), and what came of them is not this page's.
//
// A stack that is slow must not hold the others beyond the request's
// deadline: each fleetHedge that passes with nothing answered while
// stacks wait to be asked, one more is asked despite the page's estimate,
// or the window widens by fleetParallel; only a stack that hangs costs
// memory beyond the window.
//
// Nothing of the stacks is kept once written: a conditional request whose
// body outgrows the buffer, hashed to compare its ETag and found changed,
// is produced again (serveBody), and asks its stacks again.
type fleetWriter struct {
	l      *listBody
	stacks []*fleetStack
	ask    func(context.Context, *fleetStack, *sorter) error
}

// fleetAsk is what came of asking one stack.
type fleetAsk struct {
	s   sorter
	err error
	n   int // items
}

// write writes the stacks' items and returns the stacks that failed
// among those whose items the page needed. Its error is the body's
// (the client went away).
func (f *fleetWriter) write(ctx context.Context) ([]fleetFail, error) {
	n := len(f.stacks)
	asks := make([]fleetAsk, n)
	done := make(chan int, n)
	// The stacks still being asked when the page is full (or the client
	// has gone) are not cancelled: a cancelled exchange leaves its NMI
	// connection out of step, and the pool closes it, so that IKED sees a
	// client go and another come for nothing. They run to their end (or
	// to the request's deadline) after the answer, and only then is what
	// they hold given back.
	actx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		actx, cancel = context.WithDeadline(actx, dl)
	}
	var wg sync.WaitGroup
	defer func() {
		go func() {
			wg.Wait()
			cancel()
			for i := range asks {
				asks[i].s.release()
			}
		}()
	}()
	launch := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := &asks[i]
			if x.err = f.ask(actx, f.stacks[i], &x.s); x.err != nil {
				x.s.release()
			}
			x.n = len(x.s.list())
			done <- i
		}()
	}
	l, size := f.l, f.l.pg.size
	var (
		next, launched, inflight int
		answered                 = make([]bool, n)
		held                     int // items answered, not yet written
		whole, items             int // stacks answered from their start, and their items
		window                   = fleetParallel
		bonus                    int // launches allowed beyond the page's estimate
		fails                    []fleetFail
	)
	hedge := time.NewTimer(time.Hour)
	defer hedge.Stop()
	// may reports whether stack launched may be asked now, and if not,
	// whether a hedge would allow it (and how).
	const (
		launchNow = iota
		launchBonus
		waitWindow
		waitEstimate
		wait
	)
	may := func() int {
		switch {
		case launched >= n || inflight >= fleetParallel:
			return wait
		case launched-next >= window:
			return waitWindow
		case size == 0:
			return launchNow
		}
		need := size + 1 - l.n - held
		switch {
		case need <= 0:
			return wait
		case inflight == 0:
			return launchNow
		case bonus > 0:
			return launchBonus
		case whole == 0:
			return waitEstimate
		case items == 0 || inflight*items < need*whole:
			return launchNow
		}
		return waitEstimate
	}
	for next < n && !l.more {
		m := may()
		for ; m == launchNow || m == launchBonus; m = may() {
			if m == launchBonus {
				bonus--
			}
			launch(launched)
			launched++
			inflight++
		}
		var hedgeC <-chan time.Time
		if m == waitWindow || m == waitEstimate {
			hedge.Reset(fleetHedge)
			hedgeC = hedge.C
		}
		select {
		case i := <-done:
			inflight--
			bonus = 0 // a stack answered: the page's estimate holds again
			answered[i] = true
			held += asks[i].n
			if f.stacks[i].after == nil && asks[i].err == nil {
				whole++
				items += asks[i].n
			}
		case <-hedgeC:
			if m == waitWindow {
				window += fleetParallel
			} else {
				bonus++
			}
			continue
		}
		if answered[next] {
			window = fleetParallel // the stack that held the window answered
		}
		for ; next < n && answered[next] && !l.more; next++ {
			x, fs := &asks[next], f.stacks[next]
			held -= x.n
			if x.err != nil {
				fails = append(fails, fleetFail{system: fs.st.System, stack: fs.st.Name, err: x.err})
				continue
			}
			if err := f.writeStack(fs, &x.s); err != nil {
				return nil, err
			}
			x.s.release()
		}
	}
	return fails, nil
}

// writeStack writes a stack's items until the page is full.
func (f *fleetWriter) writeStack(fs *fleetStack, s *sorter) error {
	s.sort()
	// The body grows once per stack, never beyond what it holds before it
	// streams (bodyWriter.progress), instead of item by item through
	// append's steps, each a copy left to the collector.
	jw := &f.l.bw.jw
	k := len(s.list())
	if size := f.l.pg.size; size > 0 {
		k = min(k, size-f.l.n)
	}
	need := len(jw.b)
	if k > 0 {
		need += len(s.arena)/len(s.list())*k + k*(len(fs.st.System)+len(fs.st.Name)+32)
	}
	if c := min(max(need, 2*cap(jw.b)), bufferLimit+flushSize); need > cap(jw.b) && c > cap(jw.b) {
		b := make([]byte, len(jw.b), c)
		copy(b, jw.b)
		putBuf(jw.b)
		jw.b = b
	}
	var key []byte
	for j, it := range s.list() {
		key = append(append(key[:0], fs.prefix...), it.key...)
		m := s.members(j)
		err := f.l.add(key, func(jw *jsonw) {
			jw.str("system", fs.st.System)
			jw.str("stack", fs.st.Name)
			if len(m) > 0 {
				jw.b = append(jw.b, ',')
				jw.b = append(jw.b, m...)
			}
		})
		if err != nil || f.l.more {
			return err
		}
	}
	return nil
}
