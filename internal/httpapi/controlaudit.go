package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// The audit lifecycle of a control request (shared/DESIGN.md §3): the
// request is audited before anything is sent to the NMI and again before
// it is answered; a request that cannot be audited is refused.

// probAuditUnavailable: the audit log could not be written, so the action
// was refused (or, if it had started, its answer withheld).
const probAuditUnavailable = "urn:nmigw:problem:audit-unavailable"

// controlCall is one control request under audit: the caller and the SAF
// decision (who, the part every record of the request shares), the plan,
// and the outcome once there is one.
type controlCall struct {
	a    *api
	w    http.ResponseWriter
	r    *http.Request
	who  audit.Record
	plan *controlPlan

	// The outcome: an audit.Outcome* constant, the HTTP status and the
	// error, if any.
	outcome string
	status  int
	err     error
}

// audited runs act under the audit lifecycle of a control request: the
// caller's CONTROL is checked (a denial is audited and answered 403), act
// prepares, begins (the intent is written before anything is sent to the
// NMI) and acts, and the outcome is written before the answer. act
// answers refusals through c (refuse, exchangeFailed) and returns the
// body of a 200 answer, or nil when it has answered.
func (a *api) audited(w http.ResponseWriter, r *http.Request, op *controlOp, act func(c *controlCall) []byte) {
	c, denied := a.newControlCall(w, r, op)
	if c == nil {
		return
	}
	if denied != nil {
		c.refuse(denied, refusalOutcome(denied))
		return
	}
	body := act(c)
	if body == nil {
		return
	}
	c.outcome, c.status = audit.OutcomeStarted, http.StatusOK
	if err := c.write(audit.StageCompleted); err != nil {
		c.auditFailed(err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
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

// newControlCall starts a control request: who asks, what, and the SAF
// decision on CONTROL; denied is the error that refuses the request when
// the decision does. Without an audit log control is off: it answers 503
// and returns nil.
func (a *api) newControlCall(w http.ResponseWriter, r *http.Request, op *controlOp) (c *controlCall, denied error) {
	if a.audit == nil {
		a.writeProblem(w, r, problem{Type: probAuditUnavailable, Title: "Audit log unavailable",
			Status: http.StatusServiceUnavailable, Detail: "control actions are off: the gateway has no audit log",
			RetryAfter: retryAfterSeconds})
		return nil, nil
	}
	stack := pathParam(r, "stack")
	// The request's stack; one the validation refused has not been looked
	// up yet.
	system := strings.ToUpper(a.systemParam(r))
	var lookupErr error
	if st := stackFrom(r.Context()); st != nil {
		system = st.System
	} else if st, err := a.lookupStack(r); err == nil {
		system = st.System
		r = r.WithContext(withStack(r.Context(), &st))
	} else {
		lookupErr = err
	}
	c = &controlCall{a: a, w: w, r: r, plan: &controlPlan{op: op, stack: stack, wait: -1}, who: audit.Record{
		RequestID: requestID(r.Context()), ClientRequestID: clientRequestID(r.Context()), Method: r.Method, Path: r.URL.Path, RemoteAddr: r.RemoteAddr,
		Operation: op.operation, System: system, Stack: stack, NMIRequest: op.msg.String(), Groups: []string{},
	}}
	if a.authMethod != nil {
		c.who.Authentication = a.authMethod(r.Context())
	}
	p, err := a.principal(r)
	if err != nil {
		return c, err
	}
	c.who.User = p.User
	if p.Groups != nil {
		c.who.Groups = p.Groups
	}
	if lookupErr != nil {
		// No such stack: no resource to decide on.
		c.who.Reason = "not decided: " + lookupErr.Error()
		return c, lookupErr
	}
	d, err := a.authorize(r.Context(), p, stack, authz.Control)
	c.who.Resource, c.who.Allowed, c.who.Profile, c.who.Reason = d.Resource, d.Allowed, d.Profile, d.Reason
	return c, err
}

// record derives the audit record at stage from the caller, the plan and
// the outcome.
func (c *controlCall) record(stage string) *audit.Record {
	rec := c.who
	rec.Time, rec.Stage = time.Now(), stage
	p := c.plan
	rec.All = p.targets.all
	for _, t := range p.targets.list {
		rec.Targets = append(rec.Targets, audit.Target{Name: t.name, TunnelID: t.tunnelID})
	}
	if p.op.filters {
		rec.FilterSet = p.set.String()
	}
	if stage != audit.StageCompleted {
		return &rec
	}
	rec.Outcome, rec.HTTPStatus = c.outcome, c.status
	var se *nmi.StatusError
	switch {
	case c.err != nil && errors.As(c.err, &se) && !se.Term && !se.Refused:
		rec.NMIReturnCode, rec.NMIReturnName, rec.NMIReasonCode, rec.NMIReasonName = codes(se.Rc, se.Rsn)
	case p.answer != nil:
		rec.NMIReturnCode, rec.NMIReturnName, rec.NMIReasonCode, rec.NMIReasonName = codes(p.answer.Rc, p.answer.Rsn)
	}
	if c.err != nil {
		rec.Error = c.err.Error()
	}
	for _, res := range p.results {
		rec.Results = append(rec.Results, audit.Result{Name: res.name, TunnelID: res.tunnelID, Status: res.status.String()})
	}
	rec.Reached = p.reached
	return &rec
}

func codes(rc nmi.ReturnCode, rsn nmi.ReasonCode) (*int32, string, *int32, string) {
	rc32, rsn32 := int32(rc), int32(rsn)
	return &rc32, rc.String(), &rsn32, rsn.String()
}

// write appends the record at stage to the audit log.
func (c *controlCall) write(stage string) error {
	err := c.a.audit.Write(c.record(stage))
	if err != nil {
		c.a.log.LogAttrs(c.r.Context(), slog.LevelError, "audit log write failed", attrRequestID(c.r),
			slog.String("stage", stage), slog.String("operation", c.who.Operation), slog.String("user", c.who.User),
			slog.String("system", c.who.System), slog.String("stack", c.who.Stack), slog.Bool("actionSent", c.plan.sent), attrError(err))
	}
	return err
}

// auditFailed answers 503 for an audit record that could not be written.
func (c *controlCall) auditFailed(err error) {
	detail := "the action was refused: the audit log cannot be written"
	if c.plan.sent {
		detail = "the action was sent to the IKE daemon, but its outcome could not be written to the audit log"
	}
	c.a.writeProblem(c.w, c.r, problem{Type: probAuditUnavailable, Title: "Audit log unavailable",
		Status: http.StatusServiceUnavailable, Detail: detail, RetryAfter: retryAfterSeconds, Internal: err})
}

// begin records the intent; nothing may be sent to the NMI unless it
// succeeds (when it fails, begin has answered).
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
	c.outcome, c.status, c.err = outcome, p.Status, err
	if werr := c.write(audit.StageCompleted); werr != nil {
		c.auditFailed(werr)
		return
	}
	c.a.writeProblem(c.w, c.r, p)
}

// exchangeFailed audits and answers an NMI exchange that did not succeed:
// rejected when the NMI answered a return code, else failed.
func (c *controlCall) exchangeFailed(err error) {
	outcome := audit.OutcomeFailed
	var se *nmi.StatusError
	if errors.As(err, &se) && !se.Term && !se.Refused {
		outcome = audit.OutcomeRejected
	}
	c.refuse(err, outcome)
}
