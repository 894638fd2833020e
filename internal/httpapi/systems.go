package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
)

// The systems of the fleet: /v1/systems, a system's stacks, and the
// rights of whoami. The endpoints are asked first (fleet.Systems, each
// under the request's deadline), then the authorizer, once, about every
// stack they named: no authorizer is asked while an NMI connection is held.

// sysView is one system as the caller may see it: the stacks it may
// display (display[i] for s.Stacks[i]).
type sysView struct {
	s       fleet.SystemStatus
	display []bool
	shown   bool // the caller may see the system at all
}

// visibleSystems asks every endpoint for its systems and decides, in one
// batch, which stacks the caller may display. A system is shown when the
// caller may display one of its stacks; a system that did not answer and
// whose stacks were never seen, when the caller may display some stack of
// any system (its name and its failure are all there is to see).
func (a *api) visibleSystems(ctx context.Context, r *http.Request) ([]sysView, error) {
	p, err := a.principal(r)
	if err != nil {
		return nil, err
	}
	ss := a.fleet.Systems(ctx)
	var res []string
	for _, s := range ss {
		for i := range s.Stacks {
			res = append(res, s.Stacks[i].Resource(a.authz, authz.Display))
		}
	}
	ds, err := a.authorizeBatch(ctx, p, res)
	if err != nil {
		return nil, err
	}
	out := make([]sysView, len(ss))
	anyDisplay := false
	k := 0
	for i, s := range ss {
		v := sysView{s: s, display: make([]bool, len(s.Stacks))}
		for j := range s.Stacks {
			v.display[j] = ds[k].Allowed
			v.shown = v.shown || ds[k].Allowed
			k++
		}
		anyDisplay = anyDisplay || v.shown
		out[i] = v
	}
	for i := range out {
		if !out[i].s.Reachable && len(out[i].s.Stacks) == 0 {
			out[i].shown = anyDisplay
		}
	}
	return out, nil
}

// systemsDeadline bounds the exchanges of a request that asks several
// endpoints: a little before the request's own deadline, so that the
// answer can still be written when one of them does not answer.
func (a *api) systemsDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithTimeout(ctx, a.timeout)
	}
	margin := min(time.Until(dl)/10, time.Second)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

func (a *api) listSystems(w http.ResponseWriter, r *http.Request) {
	a.writeSystems(w, r, "")
}

func (a *api) getSystem(w http.ResponseWriter, r *http.Request) {
	name, err := authz.NormalizeSystem(pathParam(r, "system"))
	if err != nil {
		a.writeError(w, r, &fleet.UnknownSystemError{System: pathParam(r, "system")})
		return
	}
	a.writeSystems(w, r, name)
}

// writeSystems answers the systems the caller may see, or the one named
// one (404 naming it when there is none the caller may see).
func (a *api) writeSystems(w http.ResponseWriter, r *http.Request, one string) {
	ctx, cancel := a.systemsDeadline(r.Context())
	defer cancel()
	vs, err := a.visibleSystems(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var jw jsonw
	if one == "" {
		jw.beginObject()
		jw.array("items")
	}
	found := false
	for i := range vs {
		v := &vs[i]
		if !v.shown || (one != "" && v.s.Name != one) {
			continue
		}
		found = true
		if one == "" {
			jw.elem()
		}
		jw.beginObject()
		a.viewSystem(&jw, r, v)
		jw.endObject()
	}
	if one == "" {
		jw.endArray()
		jw.endObject()
	} else if !found {
		a.writeError(w, r, &fleet.UnknownSystemError{System: one})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(jw.b)
}

func (a *api) viewSystem(jw *jsonw, r *http.Request, v *sysView) {
	jw.str("name", v.s.Name)
	jw.str("kind", string(v.s.Kind))
	jw.boolean("reachable", v.s.Reachable)
	jw.boolean("default", v.s.Default)
	jw.array("stacks")
	for j, st := range v.s.Stacks {
		if !v.display[j] {
			continue
		}
		jw.elem()
		jw.beginObject()
		jw.str("name", st.Name)
		jw.boolean("connected", st.Connected)
		jw.endObject()
	}
	jw.endArray()
	if !v.s.Reachable && v.s.Err != nil {
		a.problemMember(jw, r, "problem", v.s.Err)
	}
}

// problemMember writes member k: the problem err would be answered as.
func (a *api) problemMember(jw *jsonw, r *http.Request, k string, err error) {
	jw.key(k)
	jw.b = append(jw.b, problemJSON(classify(err), r.URL.Path, requestID(r.Context()))...)
	jw.comma = true
}

// listSystemStacks answers /v1/systems/{system}/stacks: an IKE daemon's
// stacks as /v1/stacks gives them; behind an NSS server, the clients of
// the system, from their NMsecClientInfo (NMsec_GET_STACKINFO is not
// routed to them).
func (a *api) listSystemStacks(w http.ResponseWriter, r *http.Request) {
	sys := strings.ToUpper(pathParam(r, "system"))
	if ep, ok := a.fleet.Endpoint(sys); ok && ep.Kind == fleet.IKED {
		st, err := a.fleet.Lookup(r.Context(), sys, "")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		a.listStacks(w, r.WithContext(withStack(r.Context(), &st)))
		return
	}
	pg, err := parsePage(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.principal(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx, cancel := a.systemsDeadline(r.Context())
	defer cancel()
	var sys1 *fleet.SystemStatus
	for _, s := range a.fleet.Systems(ctx) {
		if s.Name == sys {
			sys1 = &s
			break
		}
	}
	if sys1 == nil {
		a.writeError(w, r, &fleet.UnknownSystemError{System: sys})
		return
	}
	if len(sys1.Stacks) == 0 && sys1.Err != nil {
		a.writeError(w, r, sys1.Err)
		return
	}
	res := make([]string, len(sys1.Stacks))
	for i := range sys1.Stacks {
		res[i] = sys1.Stacks[i].Resource(a.authz, authz.Display)
	}
	ds, err := a.authorizeBatch(r.Context(), p, res)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.serveBody(w, r, func(bw *bodyWriter) error {
		var s sorter
		defer s.release()
		for i := range sys1.Stacks {
			if ds[i].Allowed {
				st := &sys1.Stacks[i]
				s.add(&pg, []byte(st.Name), func(jw *jsonw) { viewClientStack(jw, st) })
			}
		}
		return s.writeTo(newListBody(bw, &pg))
	})
}

// viewClientStack writes a stack behind an NSS server: its name and its
// client (SystemStack in api/openapi.yaml).
func viewClientStack(w *jsonw, st *fleet.Stack) {
	w.str("name", st.Name)
	w.object("nss")
	w.str("clientName", st.Target)
	if c := st.Client; c != nil {
		w.optText("stackName", c.StackName[:])
		w.optText("userId", c.Userid[:])
	}
	w.str("serverSystemName", st.Endpoint)
	w.boolean("configured", true)
	cert := st.Client != nil && st.Client.CertSvc
	w.boolean("certificateServicesSelected", cert)
	w.boolean("certificateServicesEnabled", cert)
	w.boolean("connected", st.Connected)
	w.endObject()
}

// getClientStack answers GET of a stack behind an NSS server from its
// client record: 404 when the client is not connected.
func (a *api) getClientStack(w http.ResponseWriter, r *http.Request, st *fleet.Stack) {
	if !st.Connected {
		a.writeError(w, r, &fleet.UnknownStackError{System: st.System, Stack: st.Name})
		return
	}
	a.serveBody(w, r, func(bw *bodyWriter) error {
		bw.jw.beginObject()
		viewClientStack(&bw.jw, st)
		bw.jw.endObject()
		return bw.finish()
	})
}

// rights are the caller's rights on the stacks of every system, decided
// in one batch: per system, per stack, DISPLAY and CONTROL with their
// resources.
type stackRights struct {
	name             string
	display, control bool
	dres, cres       string
}

type systemRights struct {
	name   string
	def    bool
	err    error
	stacks []stackRights
}

func (a *api) rights(ctx context.Context, p authz.Principal) ([]systemRights, error) {
	ss := a.fleet.Systems(ctx)
	var res []string
	for _, s := range ss {
		for i := range s.Stacks {
			res = append(res, s.Stacks[i].Resource(a.authz, authz.Display), s.Stacks[i].Resource(a.authz, authz.Control))
		}
	}
	ds, err := a.authorizeBatch(ctx, p, res)
	if err != nil {
		return nil, err
	}
	out := make([]systemRights, len(ss))
	k := 0
	for i, s := range ss {
		out[i] = systemRights{name: s.Name, def: s.Default, err: s.Err}
		if s.Reachable {
			out[i].err = nil
		}
		for _, st := range s.Stacks {
			out[i].stacks = append(out[i].stacks, stackRights{name: st.Name, display: ds[k].Allowed,
				control: ds[k+1].Allowed, dres: res[k], cres: res[k+1]})
			k += 2
		}
		slices.SortStableFunc(out[i].stacks, func(x, y stackRights) int { return strings.Compare(x.name, y.name) })
	}
	return out, nil
}

// notRoutedProblem: a request the NSS server does not route to its
// clients (NMsec_GET_STACKINFO, NMsec_GET_IKENSINFO), asked for a stack
// behind it.
func notRoutedProblem() problem {
	return problem{Type: probNMIRejected, Title: "Not routed by the NSS server", Status: http.StatusBadGateway,
		Detail: errNotRouted.Error()}
}
