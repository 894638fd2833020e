package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	spec "github.com/nmigw/nmigw/api"
	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Control actions (shared/DESIGN.md §3): each POST becomes one NMI control
// request on the stack. The caller needs CONTROL; the request is audited
// (controlaudit.go) before anything is sent to the NMI and again before it
// is answered. The request is read in controlbody.go, ?wait in wait.go.

// controlOp is one REST control operation.
type controlOp struct {
	operation string // operationId in api/openapi.yaml
	path      string // route below the stack's
	msg       nmi.MsgType
	kind      ipsec.Kind
	goal      goal
	byName    bool                                 // targets are rule names (dynamic activation), not tunnel IDs
	targets   func(*http.Request) (targets, error) // reads the targets of a tunnel action
	filters   bool                                 // a filter set action (NMsec_LOAD_POLICY) of set
	set       nmi.FilterSet
}

// controlOps are every control operation: the routes (mountStack) and the
// requests that the OpenAPI validation audits when it refuses them.
var controlOps = []*controlOp{
	{"refreshIkeTunnel", "/ike/tunnels/{tunnelId}:refresh", nmi.RefreshIKETun, ipsec.KindIKE, goalRefreshed, false, pathTarget, false, 0},
	{"deactivateIkeTunnel", "/ike/tunnels/{tunnelId}:deactivate", nmi.DeactIKETun, ipsec.KindIKE, goalInactive, false, pathTarget, false, 0},
	{"refreshIkeTunnels", "/ike/tunnels:refresh", nmi.RefreshIKETun, ipsec.KindIKE, goalRefreshed, false, bulkTargets, false, 0},
	{"deactivateIkeTunnels", "/ike/tunnels:deactivate", nmi.DeactIKETun, ipsec.KindIKE, goalInactive, false, bulkTargets, false, 0},
	{"refreshDynamicTunnel", "/tunnels/dynamic/{tunnelId}:refresh", nmi.RefreshDynTun, ipsec.KindDynamic, goalRefreshed, false, pathTarget, false, 0},
	{"deactivateDynamicTunnel", "/tunnels/dynamic/{tunnelId}:deactivate", nmi.DeactDynTun, ipsec.KindDynamic, goalInactive, false, pathTarget, false, 0},
	{"refreshDynamicTunnels", "/tunnels/dynamic:refresh", nmi.RefreshDynTun, ipsec.KindDynamic, goalRefreshed, false, bulkTargets, false, 0},
	{"deactivateDynamicTunnels", "/tunnels/dynamic:deactivate", nmi.DeactDynTun, ipsec.KindDynamic, goalInactive, false, bulkTargets, false, 0},
	{"activateDynamicTunnels", "/tunnels/dynamic:activate", nmi.ActDynTun, ipsec.KindDynamic, goalActive, true, nameTargets, false, 0},
	{"activateManualTunnel", "/tunnels/manual/{tunnelId}:activate", nmi.ActManTun, ipsec.KindManual, goalActive, false, pathTarget, false, 0},
	{"deactivateManualTunnel", "/tunnels/manual/{tunnelId}:deactivate", nmi.DeactManTun, ipsec.KindManual, goalInactive, false, pathTarget, false, 0},
	{"activateManualTunnels", "/tunnels/manual:activate", nmi.ActManTun, ipsec.KindManual, goalActive, false, bulkTargets, false, 0},
	{"deactivateManualTunnels", "/tunnels/manual:deactivate", nmi.DeactManTun, ipsec.KindManual, goalInactive, false, bulkTargets, false, 0},
	{operation: "loadDefaultFilters", path: "/filters:loadDefault", msg: nmi.LoadPolicy, filters: true, set: nmi.FilterSetDefault},
	{operation: "loadPolicyFilters", path: "/filters:loadPolicy", msg: nmi.LoadPolicy, filters: true, set: nmi.FilterSetPolicy},
}

// controlOpByID are the control operations by operationId: a stack of
// the default system's and a stack of a system's (api.SystemPaths).
var controlOpByID = func() map[string]*controlOp {
	m := make(map[string]*controlOp, 2*len(controlOps))
	for _, op := range controlOps {
		m[op.operation] = op
		m[op.operation+spec.SystemOperationSuffix] = op
	}
	return m
}()

// controlPlan is one control request: the stack, the targets, and what
// came of it. The audit records are derived from it (controlCall.record).
type controlPlan struct {
	op      *controlOp
	stack   string
	wait    time.Duration // -1: no ?wait
	targets targets
	set     nmi.FilterSet // filter set actions: the set asked for

	// Prepared before the action.
	local  map[int]bool             // targets answered notFound without the NMI
	before map[string]*ipsec.Family // the generations before a refresh, for ?wait

	// The outcome.
	sent    bool        // the NMI request went out: the action may have started
	answer  *nmi.Header // the NMI's answer
	results []controlResult
	got     nmi.FilterSet // filter set actions: the set the NMI reports
	reached *bool         // ?wait: the goal state was seen
}

// controlResult is the NMI's status for one object of a tunnel action.
type controlResult struct {
	name, tunnelID string
	status         nmi.TunStatus
}

// started reports whether the action was started or was not needed: the
// results ?wait follows.
func (r *controlResult) started() bool {
	return r.status == nmi.TunStatusStateUpdated || r.status == nmi.TunStatusStateAlreadySet
}

// key is what ?wait looks for: the tunnel ID, or the rule name.
func (r *controlResult) key(byName bool) string {
	if byName {
		return r.name
	}
	return r.tunnelID
}

// control serves a control operation.
func (a *api) control(op *controlOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.audited(w, r, op, func(c *controlCall) []byte {
			ctx, p := r.Context(), c.plan
			if err := readControl(r, p); err != nil {
				c.refuse(err, audit.OutcomeInvalid)
				return nil
			}
			if err := a.prepare(ctx, p); err != nil {
				c.refuse(fmt.Errorf("before the action, %w", err), audit.OutcomeFailed)
				return nil
			}
			if !c.begin() {
				return nil
			}
			// The action's context ends with the scope, not with the
			// client: what was started is also recorded.
			actx, cancel := detach(ctx)
			p.sent = true
			err := a.act(actx, p)
			cancel()
			if err != nil {
				c.exchangeFailed(err)
				return nil
			}
			// Behind an NSS server the filter set in effect cannot be
			// read (NMsec_GET_STACKINFO is not routed to its clients):
			// a filter set action answers at once, without "reached".
			if p.wait >= 0 && !(p.op.filters && stackBehindNSS(ctx)) {
				ok := a.waitFor(w, r, p.wait, func(ctx context.Context) (bool, error) { return a.reached(ctx, p) })
				p.reached = &ok
			}
			return answer(p)
		})
	}
}

// stackBehindNSS reports whether the request's stack is an NSS client.
func stackBehindNSS(ctx context.Context) bool {
	st := stackFrom(ctx)
	return st != nil && st.Kind == fleet.NSS
}

// readControl reads ?wait and the targets into p.
func readControl(r *http.Request, p *controlPlan) error {
	if p.op.filters {
		p.set = p.op.set
	}
	wait, err := parseWait(r)
	if err != nil {
		return err
	}
	p.wait = wait
	if p.op.filters {
		return nil
	}
	p.targets, err = p.op.targets(r)
	return err
}

// prepare reads what the action needs from the NMI before it is sent:
// the names of manual tunnels to activate, the generations a refresh
// with ?wait must see replaced.
func (a *api) prepare(ctx context.Context, p *controlPlan) error {
	if p.op.msg == nmi.ActManTun && !p.targets.all {
		// Manual tunnels are activated by IpManVpnAction name.
		if err := a.manualNames(ctx, p); err != nil {
			return fmt.Errorf("looking up manual tunnel names: %w", err)
		}
	}
	if p.wait >= 0 && p.op.goal == goalRefreshed && !p.op.filters {
		var err error
		if p.before, err = a.observe(ctx, p.stack, p.op.kind, false, p.targets.keys()); err != nil {
			return fmt.Errorf("reading the generations: %w", err)
		}
	}
	return nil
}

// detach is the context of an action that was audited as requested: the
// request scope's deadline, but it does not end when the client goes away.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(context.WithoutCancel(ctx))
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

// act sends the control request.
func (a *api) act(ctx context.Context, p *controlPlan) error {
	if p.op.filters {
		return a.loadFilterSet(ctx, p)
	}
	return a.exchangeTunnels(ctx, p)
}

// reached reports whether ?wait sees the goal of the action.
func (a *api) reached(ctx context.Context, p *controlPlan) (bool, error) {
	if p.op.filters {
		return a.filterSetIs(ctx, p.stack, p.got)
	}
	return a.tunnelsReached(ctx, p)
}

// answer is the body of the 200 answer.
func answer(p *controlPlan) []byte {
	var jw jsonw
	jw.beginObject()
	if p.op.filters {
		jw.str("stack", p.stack)
		jw.str("filterSet", p.got.String())
	} else {
		jw.array("results")
		for _, res := range p.results {
			jw.elem()
			jw.beginObject()
			jw.optStr("name", res.name)
			jw.optStr("tunnelId", res.tunnelID)
			jw.str("status", res.status.String())
			jw.endObject()
		}
		jw.endArray()
	}
	if p.reached != nil {
		jw.boolean("reached", *p.reached)
	}
	jw.endObject()
	return jw.b
}

// exchangeTunnels sends the control request for the targets not answered
// locally and merges the answers in request order.
func (a *api) exchangeTunnels(ctx context.Context, p *controlPlan) error {
	tg, op := p.targets, p.op
	req := &nmi.Request{Type: op.msg, Target: p.stack}
	for i, t := range tg.list {
		if p.local[i] {
			continue
		}
		var nt nmi.Tunnel
		_ = nt.Name.Set(t.name) // checked by controlText or taken from the NMI
		if op.msg != nmi.ActManTun {
			_ = nt.TunnelID.Set(t.tunnelID) // manual activation goes by name (A.5)
		}
		req.Tunnels = append(req.Tunnels, nt)
	}
	var answered []controlResult
	// A request without records acts on every eligible object: send one
	// only when that was asked for.
	if tg.all || len(req.Tunnels) > 0 {
		var rec nmi.TunnelRecord
		h, err := a.nmi.Do(ctx, req, func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			answered = append(answered, controlResult{name: rec.Tunnel.Name.String(),
				tunnelID: rec.Tunnel.TunnelID.String(), status: rec.Tunnel.Status})
			return nil
		})
		if err != nil {
			return err
		}
		p.answer = &h
		if !tg.all && len(answered) != len(req.Tunnels) {
			return &badAnswerError{Msg: op.msg.String() + " answered " + strconv.Itoa(len(answered)) +
				" records for " + strconv.Itoa(len(req.Tunnels)) + " requested"}
		}
	}
	if tg.all {
		p.results = answered
		return nil
	}
	k := 0
	for i, t := range tg.list {
		if p.local[i] {
			p.results = append(p.results, controlResult{tunnelID: t.tunnelID, status: nmi.TunStatusNotFound})
			continue
		}
		res := answered[k]
		k++
		// The NMI may leave out what it was not asked by.
		if res.tunnelID == "" && op.msg != nmi.ActDynTun {
			res.tunnelID = t.tunnelID
		}
		if res.name == "" {
			res.name = t.name
		}
		p.results = append(p.results, res)
	}
	return nil
}

// loadFilterSet sends NMsec_LOAD_POLICY for the plan's filter set.
func (a *api) loadFilterSet(ctx context.Context, p *controlPlan) error {
	got, n := p.set, 0
	var rec nmi.PolicySourceRecord
	h, err := a.nmi.Do(ctx, &nmi.Request{Type: nmi.LoadPolicy, Target: p.stack, Policy: &nmi.PolicySource{Source: p.set}},
		func(raw nmi.Record) error {
			n++
			if err := rec.Decode(raw); err != nil {
				return err
			}
			got = rec.PolicySource.Source
			return nil
		})
	if err == nil && n != 1 {
		err = &badAnswerError{Msg: "NMsec_LOAD_POLICY answered " + strconv.Itoa(n) + " records, not one"}
	}
	if err != nil {
		return err
	}
	p.answer, p.got = &h, got
	return nil
}

// manualNames fills in the IpManVpnAction name of each target from
// NMsec_GET_IPTUNMANUAL; targets the NMI does not show are reported
// notFound without being sent.
func (a *api) manualNames(ctx context.Context, p *controlPlan) error {
	list := p.targets.list
	names := map[string]string{}
	var rec nmi.ManualTunnelRecord
	err := a.do(ctx, &nmi.Request{Type: nmi.GetIPTunManual, Target: p.stack, Filters: keyFilters(p.targets.keys(), false)},
		func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			names[rec.Tunnel.ID.String()] = rec.Tunnel.VPNAction.String()
			return nil
		})
	if err != nil {
		return err
	}
	p.local = map[int]bool{}
	for i := range list {
		n, ok := names[list[i].tunnelID]
		if !ok || n == "" {
			p.local[i] = true
			continue
		}
		list[i].name = n
	}
	return nil
}

// keyFilters selects objects by tunnel ID (or, with byName, by name); no
// filters (everything) when there are too many to send.
func keyFilters(keys []string, byName bool) []nmi.InFilter {
	if len(keys) == 0 || len(keys) > maxFilterRecords {
		return nil
	}
	fs := make([]nmi.InFilter, 0, len(keys))
	for _, k := range keys {
		var f nmi.InFilter
		if byName {
			if f.Name.Set(k) != nil {
				continue
			}
			f.HasName = true
		} else {
			if f.TunnelID.Set(k) != nil {
				continue
			}
			f.HasTunnelID = true
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil
	}
	return fs
}
