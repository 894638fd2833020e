package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Control actions (shared/DESIGN.md §3): each POST becomes one NMI control
// request on the stack. The caller needs CONTROL; the request is audited
// before anything is sent to the NMI and again before it is answered.

// probAuditUnavailable: the audit log could not be written, so the action
// was refused (or, if it had started, its answer withheld).
const probAuditUnavailable = "urn:nmigw:problem:audit-unavailable"

// Limits of control requests.
const (
	// maxWait caps ?wait.
	maxWait = 60 * time.Second
	// maxControlTargets caps the lists of a bulk request.
	maxControlTargets = 1000
	// Polling interval of ?wait: it starts short and grows to the cap.
	pollFirst = 100 * time.Millisecond
	pollMax   = time.Second
)

// goal is the state ?wait waits for.
type goal uint8

const (
	goalActive    goal = iota // a generation is active
	goalRefreshed             // a generation newer than before the request is active
	goalInactive              // no generation is pending, negotiating or active
)

// controlOp is one REST control operation.
type controlOp struct {
	operation string // operationId in api/openapi.yaml
	msg       nmi.MsgType
	kind      ipsec.Kind
	goal      goal
	byName    bool // targets are rule names (dynamic activation), not tunnel IDs
}

var (
	opRefreshIKE     = controlOp{"refreshIkeTunnel", nmi.RefreshIKETun, ipsec.KindIKE, goalRefreshed, false}
	opDeactivateIKE  = controlOp{"deactivateIkeTunnel", nmi.DeactIKETun, ipsec.KindIKE, goalInactive, false}
	opRefreshIKEs    = controlOp{"refreshIkeTunnels", nmi.RefreshIKETun, ipsec.KindIKE, goalRefreshed, false}
	opDeactivateIKEs = controlOp{"deactivateIkeTunnels", nmi.DeactIKETun, ipsec.KindIKE, goalInactive, false}
	opRefreshDyn     = controlOp{"refreshDynamicTunnel", nmi.RefreshDynTun, ipsec.KindDynamic, goalRefreshed, false}
	opDeactivateDyn  = controlOp{"deactivateDynamicTunnel", nmi.DeactDynTun, ipsec.KindDynamic, goalInactive, false}
	opRefreshDyns    = controlOp{"refreshDynamicTunnels", nmi.RefreshDynTun, ipsec.KindDynamic, goalRefreshed, false}
	opDeactivateDyns = controlOp{"deactivateDynamicTunnels", nmi.DeactDynTun, ipsec.KindDynamic, goalInactive, false}
	opActivateDyns   = controlOp{"activateDynamicTunnels", nmi.ActDynTun, ipsec.KindDynamic, goalActive, true}
	opActivateMan    = controlOp{"activateManualTunnel", nmi.ActManTun, ipsec.KindManual, goalActive, false}
	opDeactivateMan  = controlOp{"deactivateManualTunnel", nmi.DeactManTun, ipsec.KindManual, goalInactive, false}
	opActivateMans   = controlOp{"activateManualTunnels", nmi.ActManTun, ipsec.KindManual, goalActive, false}
	opDeactivateMans = controlOp{"deactivateManualTunnels", nmi.DeactManTun, ipsec.KindManual, goalInactive, false}
	opLoadDefault    = controlOp{operation: "loadDefaultFilters", msg: nmi.LoadPolicy}
	opLoadPolicy     = controlOp{operation: "loadPolicyFilters", msg: nmi.LoadPolicy}
)

// controlOps are the control operations by operationId: the requests that
// the OpenAPI validation audits when it refuses them.
var controlOps = func() map[string]*controlOp {
	m := map[string]*controlOp{}
	for _, op := range []*controlOp{
		&opRefreshIKE, &opDeactivateIKE, &opRefreshIKEs, &opDeactivateIKEs,
		&opRefreshDyn, &opDeactivateDyn, &opRefreshDyns, &opDeactivateDyns, &opActivateDyns,
		&opActivateMan, &opDeactivateMan, &opActivateMans, &opDeactivateMans,
		&opLoadDefault, &opLoadPolicy,
	} {
		m[op.operation] = op
	}
	return m
}()

// controlCall is one control request on its way: the audit record grows
// as it goes.
type controlCall struct {
	a   *api
	w   http.ResponseWriter
	r   *http.Request
	rec audit.Record
	// sent: the NMI request went out, so the action may have started.
	sent bool
}

// beginControl checks that the request can be audited and that the caller
// has CONTROL on the stack. A refusal is audited and answered here (nil).
func (a *api) beginControl(w http.ResponseWriter, r *http.Request, op *controlOp) *controlCall {
	c, denied := a.newControlCall(w, r, op)
	if c == nil {
		return nil
	}
	if denied != nil {
		c.refuse(denied, refusalOutcome(denied))
		return nil
	}
	return c
}

// refuseInvalidControl audits and answers a control request that the
// OpenAPI validation refused before its handler; err is the refusal (400
// naming the parameter, or 413). Authentication runs before the
// validation (routes), so the record names the caller; the SAF decision
// is recorded but not enforced, so that the answer stays the
// validation's, whoever asks. Its audit record is written as the
// handler's are: if it cannot be, the answer is 503, as for any control
// request.
func (a *api) refuseInvalidControl(w http.ResponseWriter, r *http.Request, op *controlOp, err error) {
	if c, _ := a.newControlCall(w, r, op); c != nil {
		c.refuse(err, audit.OutcomeInvalid)
	}
}

// newControlCall starts the audit record of a control request: who asks,
// what, and the SAF decision on CONTROL; denied is the error that refuses
// the request when the decision does. Without an audit log control is off:
// it answers 503 and returns nil.
func (a *api) newControlCall(w http.ResponseWriter, r *http.Request, op *controlOp) (c *controlCall, denied error) {
	if a.audit == nil {
		a.writeProblem(w, r, problem{Type: probAuditUnavailable, Title: "Audit log unavailable",
			Status: http.StatusServiceUnavailable, Detail: "control actions are off: the gateway has no audit log",
			RetryAfter: retryAfterSeconds})
		return nil, nil
	}
	stack := chi.URLParam(r, "stack")
	c = &controlCall{a: a, w: w, r: r, rec: audit.Record{
		RequestID: requestID(r.Context()), Method: r.Method, Path: r.URL.Path, RemoteAddr: r.RemoteAddr,
		Operation: op.operation, Stack: stack, NMIRequest: op.msg.String(), Groups: []string{},
	}}
	if a.authMethod != nil {
		c.rec.Authentication = a.authMethod(r.Context())
	}
	p, err := a.principal(r)
	if err != nil {
		return c, err
	}
	c.rec.User = p.User
	if p.Groups != nil {
		c.rec.Groups = p.Groups
	}
	d, err := a.authorize(r.Context(), p, stack, authz.Control)
	c.rec.Resource, c.rec.Allowed, c.rec.Profile, c.rec.Reason = d.Resource, d.Allowed, d.Profile, d.Reason
	return c, err
}

// write appends the record at stage to the audit log.
func (c *controlCall) write(stage string) error {
	c.rec.Time, c.rec.Stage = time.Now(), stage
	err := c.a.audit.Write(&c.rec)
	if err != nil {
		c.a.log.LogAttrs(c.r.Context(), slog.LevelError, "audit log write failed", attrRequestID(c.r),
			slog.String("stage", stage), slog.String("operation", c.rec.Operation), slog.String("user", c.rec.User),
			slog.String("stack", c.rec.Stack), slog.Bool("actionSent", c.sent), attrError(err))
	}
	return err
}

// auditFailed answers 503 for an audit record that could not be written.
func (c *controlCall) auditFailed(err error) {
	detail := "the action was refused: the audit log cannot be written"
	if c.sent {
		detail = "the action was sent to the IKE daemon, but its outcome could not be written to the audit log"
	}
	c.a.writeProblem(c.w, c.r, problem{Type: probAuditUnavailable, Title: "Audit log unavailable",
		Status: http.StatusServiceUnavailable, Detail: detail, RetryAfter: retryAfterSeconds, Internal: err})
}

// begin records the intent; nothing may be sent to the NMI unless it
// succeeds.
func (c *controlCall) begin() bool {
	if err := c.write(audit.StageRequested); err != nil {
		c.auditFailed(err)
		return false
	}
	return true
}

// refuse audits a request that ends in err, with outcome, and answers it.
func (c *controlCall) refuse(err error, outcome string) {
	p := classify(err)
	c.rec.Outcome, c.rec.HTTPStatus, c.rec.Error = outcome, p.Status, err.Error()
	if p.NMI != nil && !p.NMI.Term && !p.NMI.Refused {
		c.setCodes(p.NMI.Rc, p.NMI.Rsn)
	}
	if werr := c.write(audit.StageCompleted); werr != nil {
		c.auditFailed(werr)
		return
	}
	c.a.writeProblem(c.w, c.r, p)
}

func (c *controlCall) setCodes(rc nmi.ReturnCode, rsn nmi.ReasonCode) {
	rc32, rsn32 := int32(rc), int32(rsn)
	c.rec.NMIReturnCode, c.rec.NMIReasonCode = &rc32, &rsn32
	c.rec.NMIReturnName, c.rec.NMIReasonName = rc.String(), rsn.String()
}

// exchangeFailed audits and answers an NMI exchange that did not succeed.
func (c *controlCall) exchangeFailed(err error) {
	outcome := audit.OutcomeFailed
	var se *nmi.StatusError
	if errors.As(err, &se) && !se.Term && !se.Refused {
		outcome = audit.OutcomeRejected
	}
	c.refuse(err, outcome)
}

// finish audits the outcome and answers 200 with body.
func (c *controlCall) finish(body []byte) {
	c.rec.Outcome, c.rec.HTTPStatus = audit.OutcomeStarted, http.StatusOK
	if err := c.write(audit.StageCompleted); err != nil {
		c.auditFailed(err)
		return
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// detach is the context of an action that was audited as requested: the
// request scope's deadline, but it does not end when the client goes away,
// so that what was started is also recorded.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(context.WithoutCancel(ctx))
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

// parseWait reads ?wait: absent (-1), or a duration from 0 to maxWait.
func parseWait(r *http.Request) (time.Duration, error) {
	s, ok := r.URL.Query()["wait"]
	if !ok {
		return -1, nil
	}
	d, err := time.ParseDuration(s[0])
	if err != nil || d < 0 || d > maxWait {
		return 0, &paramError{Name: "wait", Reason: "not a duration from 0s to 60s, such as 10s"}
	}
	return d, nil
}

// controlText checks one name or tunnel ID for a 48-byte EBCDIC field.
func controlText(name, s string) (nmi.Text48, error) {
	var t nmi.Text48
	if s == "" || strings.TrimSpace(s) != s {
		return t, &paramError{Name: name, Reason: "empty or with leading or trailing blanks"}
	}
	if err := t.Set(s); err != nil {
		return t, &paramError{Name: name, Reason: "longer than 48 characters or not representable in EBCDIC (IBM-1047)"}
	}
	return t, nil
}

// controlBody is the body of a bulk control request.
type controlBody struct {
	TunnelIDs []string `json:"tunnelIds"`
	Names     []string `json:"names"`
	All       *bool    `json:"all"`
}

// targets is what a control request names: every eligible object (all),
// or a list of names or tunnel IDs.
type targets struct {
	all  bool
	list []audit.Target
}

// readBody decodes a control body strictly.
func readBody(r *http.Request) (*controlBody, error) {
	var b controlBody
	if err := decodeStrict(r, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// textList checks a list of names or tunnel IDs from the body field.
func textList(field string, vals []string, byName bool) ([]audit.Target, error) {
	if len(vals) == 0 {
		return nil, &paramError{Name: "body/" + field, Reason: "empty: name at least one"}
	}
	if len(vals) > maxControlTargets {
		return nil, &paramError{Name: "body/" + field, Reason: "more than " + strconv.Itoa(maxControlTargets) + " items"}
	}
	seen := make(map[string]bool, len(vals))
	out := make([]audit.Target, len(vals))
	for i, v := range vals {
		name := "body/" + field + "/" + strconv.Itoa(i)
		if _, err := controlText(name, v); err != nil {
			return nil, err
		}
		if seen[v] {
			return nil, &paramError{Name: name, Reason: "repeats an earlier item"}
		}
		seen[v] = true
		if byName {
			out[i].Name = v
		} else {
			out[i].TunnelID = v
		}
	}
	return out, nil
}

// bulkTargets reads {"tunnelIds": [...]} or {"all": true}.
func bulkTargets(r *http.Request) (targets, error) {
	b, err := readBody(r)
	if err != nil {
		return targets{}, err
	}
	switch {
	case b.Names != nil:
		return targets{}, &paramError{Name: "body/names", Reason: "not taken here: name tunnels by tunnelIds"}
	case b.All != nil && b.TunnelIDs != nil:
		return targets{}, &paramError{Name: "body", Reason: "give tunnelIds or all, not both"}
	case b.All != nil:
		if !*b.All {
			return targets{}, &paramError{Name: "body/all", Reason: "must be true (or give tunnelIds instead)"}
		}
		return targets{all: true}, nil
	case b.TunnelIDs == nil:
		return targets{}, &paramError{Name: "body", Reason: "give tunnelIds or all"}
	}
	l, err := textList("tunnelIds", b.TunnelIDs, false)
	return targets{list: l}, err
}

// nameTargets reads {"names": [...]}.
func nameTargets(r *http.Request) (targets, error) {
	b, err := readBody(r)
	if err != nil {
		return targets{}, err
	}
	if b.TunnelIDs != nil || b.All != nil {
		return targets{}, &paramError{Name: "body", Reason: "give names (LocalDynVpnRule names) only"}
	}
	if b.Names == nil {
		return targets{}, &paramError{Name: "body/names", Reason: "required"}
	}
	l, err := textList("names", b.Names, true)
	return targets{list: l}, err
}

// pathTarget is the {tunnelId} of a single-tunnel action.
func pathTarget(r *http.Request) (targets, error) {
	id := chi.URLParam(r, "tunnelId")
	if _, err := controlText("tunnelId", id); err != nil {
		return targets{}, err
	}
	return targets{list: []audit.Target{{TunnelID: id}}}, nil
}

// controlResult is one line of a control answer.
type controlResult struct {
	audit.Result
	key string // what ?wait looks for: tunnel ID, or rule name
}

// tunnelAction serves a tunnel control operation whose targets come from
// parse.
func (a *api) tunnelAction(op controlOp, parse func(*http.Request) (targets, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := a.beginControl(w, r, &op)
		if c == nil {
			return
		}
		wait, err := parseWait(r)
		var tg targets
		if err == nil {
			tg, err = parse(r)
		}
		if err != nil {
			c.refuse(err, audit.OutcomeInvalid)
			return
		}
		c.rec.All, c.rec.Targets = tg.all, tg.list
		// Manual tunnels are activated by IpManVpnAction name: look the
		// names of the tunnel IDs up first.
		var local map[int]bool // targets answered without the NMI
		if op.msg == nmi.ActManTun && !tg.all {
			if local, err = a.manualNames(r.Context(), c.rec.Stack, tg.list); err != nil {
				c.refuse(fmt.Errorf("before the action, looking up manual tunnel names: %w", err), audit.OutcomeFailed)
				return
			}
		}
		var before map[string]*ipsec.Family
		if wait >= 0 && op.goal == goalRefreshed {
			// The generations before the refresh, to see a newer one.
			if before, err = a.observe(r.Context(), c.rec.Stack, op.kind, false, keysOf(tg)); err != nil {
				c.refuse(fmt.Errorf("before the action, reading the generations: %w", err), audit.OutcomeFailed)
				return
			}
		}
		if !c.begin() {
			return
		}
		results, err := c.exchangeTunnels(&op, tg, local)
		if err != nil {
			c.exchangeFailed(err)
			return
		}
		var reached *bool
		if wait >= 0 {
			ok := a.waitFor(w, r, wait, func(ctx context.Context) (bool, error) {
				return a.tunnelsReached(ctx, c.rec.Stack, &op, results, before)
			})
			reached = &ok
		}
		c.rec.Reached = reached
		var jw jsonw
		jw.beginObject()
		jw.array("results")
		for _, res := range results {
			jw.elem()
			jw.beginObject()
			jw.optStr("name", res.Name)
			jw.optStr("tunnelId", res.TunnelID)
			jw.str("status", res.Status)
			jw.endObject()
		}
		jw.endArray()
		if reached != nil {
			jw.boolean("reached", *reached)
		}
		jw.endObject()
		c.finish(jw.b)
	}
}

func keysOf(tg targets) []string {
	if tg.all {
		return nil
	}
	keys := make([]string, 0, len(tg.list))
	for _, t := range tg.list {
		keys = append(keys, t.TunnelID)
	}
	return keys
}

// exchangeTunnels sends the control request for the targets not answered
// locally and merges the answers in request order.
func (c *controlCall) exchangeTunnels(op *controlOp, tg targets, local map[int]bool) ([]controlResult, error) {
	req := &nmi.Request{Type: op.msg, Target: c.rec.Stack}
	for i, t := range tg.list {
		if local[i] {
			continue
		}
		var nt nmi.Tunnel
		_ = nt.Name.Set(t.Name) // checked by controlText or taken from the NMI
		_ = nt.TunnelID.Set(t.TunnelID)
		if op.msg == nmi.ActManTun {
			nt.TunnelID = nmi.Text48{} // activation goes by name (A.5)
		}
		req.Tunnels = append(req.Tunnels, nt)
	}
	var answered []controlResult
	// A request without records acts on every eligible object: send one
	// only when that was asked for.
	if tg.all || len(req.Tunnels) > 0 {
		ctx, cancel := detach(c.r.Context())
		defer cancel()
		c.sent = true
		var rec nmi.TunnelRecord
		h, err := c.a.nmi.Do(ctx, req, func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			answered = append(answered, controlResult{Result: audit.Result{
				Name: rec.Tunnel.Name.String(), TunnelID: rec.Tunnel.TunnelID.String(), Status: rec.Tunnel.Status.String(),
			}})
			return nil
		})
		if err != nil {
			return nil, err
		}
		c.setCodes(h.Rc, h.Rsn)
		if !tg.all && len(answered) != len(req.Tunnels) {
			return nil, &badAnswerError{Msg: op.msg.String() + " answered " + strconv.Itoa(len(answered)) +
				" records for " + strconv.Itoa(len(req.Tunnels)) + " requested"}
		}
	}
	var out []controlResult
	if tg.all {
		out = answered
	} else {
		k := 0
		for i, t := range tg.list {
			if local[i] {
				out = append(out, controlResult{Result: audit.Result{TunnelID: t.TunnelID,
					Status: nmi.TunStatusNotFound.String()}})
				continue
			}
			res := answered[k]
			k++
			// The NMI may leave out what it was not asked by.
			if res.TunnelID == "" && op.msg != nmi.ActDynTun {
				res.TunnelID = t.TunnelID
			}
			if res.Name == "" {
				res.Name = t.Name
			}
			out = append(out, res)
		}
	}
	for i := range out {
		out[i].key = out[i].TunnelID
		if op.byName {
			out[i].key = out[i].Name
		}
		c.rec.Results = append(c.rec.Results, out[i].Result)
	}
	return out, nil
}

// manualNames fills in the IpManVpnAction name of each target from
// NMsec_GET_IPTUNMANUAL; targets the NMI does not show are reported
// notFound without being sent.
func (a *api) manualNames(ctx context.Context, stack string, list []audit.Target) (map[int]bool, error) {
	names := map[string]string{}
	var rec nmi.ManualTunnelRecord
	_, err := a.nmi.Do(ctx, &nmi.Request{Type: nmi.GetIPTunManual, Target: stack, Filters: idFilters(keysOf(targets{list: list}))},
		func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			names[rec.Tunnel.ID.String()] = rec.Tunnel.VPNAction.String()
			return nil
		})
	if err != nil {
		return nil, err
	}
	local := map[int]bool{}
	for i := range list {
		n, ok := names[list[i].TunnelID]
		if !ok || n == "" {
			local[i] = true
			continue
		}
		list[i].Name = n
	}
	return local, nil
}

// idFilters selects objects by tunnel ID (or, with the name criterion, by
// name); no filters (everything) when there are too many to send.
func idFilters(keys []string) []nmi.InFilter {
	return keyFilters(keys, false)
}

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

// observe reads the tunnels of kind on stack, folded by tunnel ID (or
// rule name), limited to keys when given.
func (a *api) observe(ctx context.Context, stack string, kind ipsec.Kind, byName bool, keys []string) (map[string]*ipsec.Family, error) {
	out := map[string]*ipsec.Family{}
	err := ipsec.Walk(ctx, a.nmi, stack, kind, keyFilters(keys, byName), func(t *ipsec.Tunnel) error {
		k := t.ID
		if byName {
			k = t.Name
		}
		ipsec.Fold(out, k, t)
		return nil
	})
	return out, err
}

// succeeded reports whether a status means the action was started or was
// not needed: the results ?wait follows.
func succeeded(status string) bool {
	return status == nmi.TunStatusStateUpdated.String() || status == nmi.TunStatusStateAlreadySet.String()
}

// tunnelsReached reports whether every started target is in op's goal
// state.
func (a *api) tunnelsReached(ctx context.Context, stack string, op *controlOp, results []controlResult,
	before map[string]*ipsec.Family) (bool, error) {
	var keys []string
	for _, res := range results {
		if succeeded(res.Status) {
			keys = append(keys, res.key)
		}
	}
	if len(keys) == 0 {
		return true, nil
	}
	now, err := a.observe(ctx, stack, op.kind, op.byName, keys)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		var o, was ipsec.Family
		if f := now[k]; f != nil {
			o = *f
		}
		if f := before[k]; f != nil {
			was = *f
		}
		var ok bool
		switch op.goal {
		case goalActive:
			ok = o.Active
		case goalRefreshed:
			ok = o.Active && o.ActiveGen > was.Newest
		case goalInactive:
			ok = !o.Live
		}
		if k == "" || !ok {
			return false, nil
		}
	}
	return true, nil
}

// waitFor polls check until it reports true, wait has passed or the
// client has gone. It moves the write deadline past the wait.
func (a *api) waitFor(w http.ResponseWriter, r *http.Request, wait time.Duration, check func(context.Context) (bool, error)) bool {
	deadline := time.Now().Add(wait)
	_ = http.NewResponseController(w).SetWriteDeadline(deadline.Add(a.timeout + streamWriteIdle))
	ctx := r.Context()
	interval := pollFirst
	for {
		ok, err := check(ctx)
		if ok {
			return true
		}
		if err != nil && ctx.Err() == nil {
			a.log.LogAttrs(ctx, slog.LevelDebug, "wait: display request failed", attrRequestID(r), attrError(err))
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return false
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		interval = min(interval*3/2, pollMax)
	}
}

// loadFilters serves :loadDefault and :loadPolicy (NMsec_LOAD_POLICY).
func (a *api) loadFilters(op controlOp, set nmi.FilterSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := a.beginControl(w, r, &op)
		if c == nil {
			return
		}
		c.rec.FilterSet = set.String()
		wait, err := parseWait(r)
		if err != nil {
			c.refuse(err, audit.OutcomeInvalid)
			return
		}
		if !c.begin() {
			return
		}
		ctx, cancel := detach(r.Context())
		defer cancel()
		c.sent = true
		got, n := set, 0
		var rec nmi.PolicySourceRecord
		h, err := a.nmi.Do(ctx, &nmi.Request{Type: nmi.LoadPolicy, Target: c.rec.Stack, Policy: &nmi.PolicySource{Source: set}},
			func(raw nmi.Record) error {
				n++
				if err := rec.Decode(raw); err != nil {
					return err
				}
				got = rec.PolicySource.Source
				return nil
			})
		cancel()
		if err == nil && n != 1 {
			err = &badAnswerError{Msg: "NMsec_LOAD_POLICY answered " + strconv.Itoa(n) + " records, not one"}
		}
		if err != nil {
			c.exchangeFailed(err)
			return
		}
		c.setCodes(h.Rc, h.Rsn)
		var jw jsonw
		jw.beginObject()
		jw.str("stack", c.rec.Stack)
		jw.str("filterSet", got.String())
		if wait >= 0 {
			ok := a.waitFor(w, r, wait, func(ctx context.Context) (bool, error) {
				return a.filterSetIs(ctx, c.rec.Stack, got)
			})
			c.rec.Reached = &ok
			jw.boolean("reached", ok)
		}
		jw.endObject()
		c.finish(jw.b)
	}
}

// filterSetIs reports whether NMsec_GET_STACKINFO shows set in effect on
// stack.
func (a *api) filterSetIs(ctx context.Context, stack string, set nmi.FilterSet) (bool, error) {
	found := false
	var rec nmi.StackRecord
	_, err := a.nmi.Do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(raw nmi.Record) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		if rec.Stack.Name.Equal(stack) && rec.Stack.FilterSet == set {
			found = true
		}
		return nil
	})
	return found, err
}
