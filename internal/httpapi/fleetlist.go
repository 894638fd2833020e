package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Fleet lists: one per-stack list (listSpec) over every stack of every
// system that the caller may display. The systems are asked for their
// stacks (fleet.Systems), the authorizer once about all of them, then
// each stack's list is asked concurrently (at most fleetParallel at once)
// and decoded as the per-stack list decodes it. Items are ordered by
// system, stack, then as per stack: the sort key of an item is
// "system\x00stack\x00" and its per-stack key, so one page token works as
// on a stack's list. A system or stack that fails goes to "unreachable"
// with the problem its own request would have answered; the list is then
// partial, never failed.

// fleetParallel bounds the stacks asked at once.
const fleetParallel = 8

// fleetStack is one stack of a fleet list and what came of its exchange.
type fleetStack struct {
	st     fleet.Stack
	prefix []byte // the sort key prefix: system, stack
	after  []byte // the page token's key within this stack (nil: all)
	skip   bool   // every item is on an earlier page
	s      sorter
	err    error
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
		for _, fs := range mine {
			switch {
			case pg.after == nil:
			case bytes.HasPrefix(pg.after, fs.prefix):
				fs.after = pg.after[len(fs.prefix):]
			case bytes.Compare(fs.prefix, pg.after) < 0:
				fs.skip = true
			}
		}
		defer func() {
			for _, fs := range mine {
				fs.s.release()
			}
		}()

		fleet.Parallel(ctx, len(mine), fleetParallel, func(ctx context.Context, i int) {
			fs := mine[i]
			if fs.skip {
				return
			}
			req := *nreq
			req.Target = fs.st.Name
			decode := spec.decoder(q)
			spg := page{after: fs.after}
			fs.err = a.do(withStack(ctx, &fs.st), &req, func(rec nmi.Record) error { return decode(rec, &fs.s, &spg) })
			if fs.err != nil {
				fs.s.release()
			}
		})
		for _, fs := range mine {
			if fs.err != nil {
				shownFails = append(shownFails, fleetFail{system: fs.st.System, stack: fs.st.Name, err: fs.err})
			}
		}
		slices.SortStableFunc(shownFails, func(x, y fleetFail) int {
			return cmp.Or(strings.Compare(x.system, y.system), strings.Compare(x.stack, y.stack))
		})

		a.serveBody(w, r, func(bw *bodyWriter) error {
			l := newListBody(bw, &pg)
			var key []byte
		stacks:
			for _, fs := range mine {
				if fs.skip || fs.err != nil {
					continue
				}
				fs.s.sort()
				for j, it := range fs.s.list() {
					key = append(append(key[:0], fs.prefix...), it.key...)
					m := fs.s.members(j)
					err := l.add(key, func(jw *jsonw) {
						jw.str("system", fs.st.System)
						jw.str("stack", fs.st.Name)
						if len(m) > 0 {
							jw.b = append(jw.b, ',')
							jw.b = append(jw.b, m...)
						}
					})
					if err != nil {
						return err
					}
					if l.more {
						break stacks
					}
				}
			}
			return l.finishWith(func(jw *jsonw) {
				jw.array("unreachable")
				for _, f := range shownFails {
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
