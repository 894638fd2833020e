package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/policy"
)

// undecidedAuthorizer cannot decide: every call fails with err. Short
// batches answers a batch without an error but with a decision short.
type undecidedAuthorizer struct {
	err   error
	short bool
}

func (u undecidedAuthorizer) Authorize(context.Context, authz.Principal, string) (authz.Decision, error) {
	if u.short {
		return authz.Decision{Allowed: true}, nil
	}
	return authz.Decision{}, u.err
}

func (u undecidedAuthorizer) AuthorizeBatch(_ context.Context, _ authz.Principal, res []string) ([]authz.Decision, error) {
	if u.short {
		return make([]authz.Decision, len(res)-1), nil
	}
	return nil, u.err
}

func (undecidedAuthorizer) Resource(system, stack string, k authz.Kind) string {
	return authz.Resource("SYS1", stack, k)
}

// An authorizer that cannot decide fails closed: 503 with Retry-After and
// the authorization-unavailable problem on a display route, a control
// route, whoami and the stack list, never a grant and never a 403; its
// error stays in the log. A refused control request is audited as
// undecided.
func TestAuthorizerCannotDecide(t *testing.T) {
	secret := errors.New("saf endpoint https://zss.internal:7557 unreachable")
	for _, c := range []struct {
		name string
		az   undecidedAuthorizer
	}{
		{"error", undecidedAuthorizer{err: secret}},
		// A deadline is still the authorizer's failure (503), not the
		// NMI's timeout (504).
		{"deadline", undecidedAuthorizer{err: fmt.Errorf("%w: %w", secret, context.DeadlineExceeded)}},
		{"short batch", undecidedAuthorizer{short: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newAuthzFixtureWith(t, func(*policy.Store) authz.Authorizer { return c.az })
			for _, r := range []struct {
				method, path string
				resource     string // in the problem; "" for a batch
				batch        bool
			}{
				{http.MethodGet, "/v1/stacks/TCPIP/summary", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", false},
				{http.MethodPost, "/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", false},
				{http.MethodGet, "/v1/whoami", "", true},
				{http.MethodGet, "/v1/stacks", "", true},
			} {
				if c.az.short != r.batch {
					continue // a single decision of the short authorizer grants
				}
				before := f.nmiCalls()
				var resp *http.Response
				var b []byte
				if r.method == http.MethodGet {
					resp, b = f.s.get(r.path, roleOperator.header()...)
				} else {
					resp, b = f.s.post(r.path, "", roleOperator.header()...)
				}
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
					resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("%s %s: %d, Retry-After %q, %s: %s", r.method, r.path, resp.StatusCode,
						resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), b)
				}
				p := decodeObject(t, b)
				_, hasProfile := p["profile"]
				if p["type"] != "urn:nmigw:problem:authorization-unavailable" || p["status"] != 503.0 ||
					str(p["resource"]) != r.resource || hasProfile || p["requestId"] != resp.Header.Get("X-Request-ID") {
					t.Errorf("%s %s: %v", r.method, r.path, p)
				}
				if strings.Contains(string(b), "zss.internal") {
					t.Errorf("%s %s: the answer holds the authorizer's error: %s", r.method, r.path, b)
				}
				if !r.batch && f.nmiCalls() != before {
					t.Errorf("%s %s: %d NMI requests before the refusal", r.method, r.path, f.nmiCalls()-before)
				}
			}
			if c.az.short {
				return
			}
			if !strings.Contains(f.logs.String(), "zss.internal") {
				t.Errorf("the authorizer's error is not in the log:\n%s", f.logs.String())
			}
			recs := f.sink.records()
			if len(recs) != 1 {
				t.Fatalf("audit records %+v", recs)
			}
			rec := recs[0]
			if rec.Stage != audit.StageCompleted || rec.Outcome != audit.OutcomeUndecided || rec.Allowed ||
				rec.HTTPStatus != http.StatusServiceUnavailable || rec.User != "OPER1" ||
				rec.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || rec.Profile != "" ||
				!strings.HasPrefix(rec.Reason, "not decided") || !strings.Contains(rec.Error, "unreachable") {
				t.Errorf("audit record %+v", rec)
			}
		})
	}
}

// watchingAuthorizer passes every call on to next and records it: how
// many single and batch calls, the resources of the batches, and any call
// made while an NMI exchange was in progress.
type watchingAuthorizer struct {
	next authz.Authorizer
	busy *atomic.Int32 // the fixture's NMI exchanges in progress; set after it is made

	mu                sync.Mutex
	singles, batches  int
	batchRes          [][]string
	duringNMIExchange int
}

func (w *watchingAuthorizer) note(batch []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy != nil && w.busy.Load() != 0 {
		w.duringNMIExchange++
	}
	if batch == nil {
		w.singles++
		return
	}
	w.batches++
	w.batchRes = append(w.batchRes, batch)
}

func (w *watchingAuthorizer) Authorize(ctx context.Context, p authz.Principal, res string) (authz.Decision, error) {
	w.note(nil)
	return w.next.Authorize(ctx, p, res)
}

func (w *watchingAuthorizer) AuthorizeBatch(ctx context.Context, p authz.Principal, res []string) ([]authz.Decision, error) {
	w.note(append([]string{}, res...))
	return w.next.AuthorizeBatch(ctx, p, res)
}

func (w *watchingAuthorizer) Resource(system, stack string, k authz.Kind) string {
	return w.next.Resource(system, stack, k)
}

func (w *watchingAuthorizer) reset() (singles, batches int, batchRes [][]string, during int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	singles, batches, batchRes, during = w.singles, w.batches, w.batchRes, w.duringNMIExchange
	w.singles, w.batches, w.batchRes, w.duringNMIExchange = 0, 0, nil, 0
	return
}

func newWatchedFixture(t *testing.T) (*authzFixture, *watchingAuthorizer) {
	w := &watchingAuthorizer{}
	f := newAuthzFixtureWith(t, func(s *policy.Store) authz.Authorizer { w.next = s; return w })
	w.mu.Lock()
	w.busy = &f.nmiBusy
	w.mu.Unlock()
	return f, w
}

// whoami decides every stack's DISPLAY and CONTROL in one batch call, and
// the stack list its DISPLAYs in one; neither asks while an NMI exchange
// is in progress (a pooled connection held).
func TestStackRightsDecideInOneBatch(t *testing.T) {
	f, w := newWatchedFixture(t)
	f.s.getJSON("/v1/whoami", http.StatusOK, roleOperator.header()...)
	singles, batches, res, during := w.reset()
	want := []string{
		"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL",
		"EZB.NETMGMT.SYS1.TCPIP2.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.CONTROL",
	}
	if singles != 0 || batches != 1 || strings.Join(res[0], " ") != strings.Join(want, " ") || during != 0 {
		t.Errorf("whoami: %d single calls, %d batches %v, %d during an NMI exchange", singles, batches, res, during)
	}

	l, _ := f.s.getJSON("/v1/stacks", http.StatusOK, roleOperator.header()...)
	singles, batches, res, during = w.reset()
	if singles != 0 || batches != 1 || len(res[0]) != 2 || during != 0 {
		t.Errorf("GET /v1/stacks: %d single calls, %d batches %v, %d during an NMI exchange", singles, batches, res, during)
	}
	if names := field(items(t, l), "name"); len(names) != 1 || names[0] != "TCPIP" {
		t.Errorf("GET /v1/stacks lists %v", names)
	}
}

// The route x role table and whoami, through an Authorizer that only
// passes calls on: the tables take any implementation of the interface.
func TestAuthzTablesThroughInterface(t *testing.T) {
	var ws []*watchingAuthorizer
	wrap := func(s *policy.Store) authz.Authorizer {
		w := &watchingAuthorizer{next: s}
		ws = append(ws, w)
		return w
	}
	authzTable(t, wrap, true)
	whoAmITable(t, wrap)
	if len(ws) != 2 {
		t.Fatalf("%d authorizers made", len(ws))
	}
	// The routes ask one by one, whoami and the stack list in batches.
	if singles, batches, _, _ := ws[0].reset(); singles == 0 || batches == 0 {
		t.Errorf("the route table made %d single and %d batch calls", singles, batches)
	}
	if singles, batches, _, _ := ws[1].reset(); singles != 0 || batches == 0 {
		t.Errorf("the whoami table made %d single and %d batch calls", singles, batches)
	}
}

// There is no implicit "allow all": a handler without an Authorizer is
// refused, and authz.AllowAll is how to serve without authorization.
func TestHandlerRequiresAuthorizer(t *testing.T) {
	_, err := httpapi.NewHandler(httpapi.Deps{NMI: newDisplaySim(t, 0)})
	if err == nil || !strings.Contains(err.Error(), "Deps.Authorizer is required") {
		t.Errorf("NewHandler without an Authorizer: %v", err)
	}
	// With AllowAll and no authentication the caller is nobody, may do
	// everything, and whoami names no resources.
	s := newServer(t, newDisplaySim(t, 0), func(d *httpapi.Deps) { d.Authorizer = authz.AllowAll })
	v, _ := s.getJSON("/v1/whoami", http.StatusOK)
	for _, x := range v["stacks"].([]any) {
		st := x.(map[string]any)
		_, hasD := st["displayResource"]
		_, hasC := st["controlResource"]
		if st["display"] != true || st["control"] != true || hasD || hasC {
			t.Errorf("whoami with AllowAll: %v", st)
		}
	}
	if v["user"] != "" || len(v["stacks"].([]any)) != 2 {
		t.Errorf("whoami with AllowAll: %v", v)
	}
}
