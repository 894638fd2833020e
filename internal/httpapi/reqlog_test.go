package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// accessLine returns the access log line of the request with ID id.
func (s *server) accessLine(id string) map[string]any {
	s.t.Helper()
	for _, v := range s.logLines() {
		if v["msg"] == "http" && v["clientRequestId"] == id {
			return v
		}
	}
	s.t.Fatalf("no access log line of request %s in:\n%s", id, s.logs.String())
	return nil
}

func TestAccessLog(t *testing.T) {
	const token = "tok-3c1f9a0b7e2d-never-logged"
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim, func(d *httpapi.Deps) {
		d.Authenticate = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "Bearer "+token {
					r = r.WithContext(authz.WithPrincipal(r.Context(), authz.Principal{User: "OPER1"}))
				}
				next.ServeHTTP(w, r)
			})
		}
	})
	auth := []string{"Authorization", "Bearer " + token}
	resp, _ := s.get("/v1/stacks/TCPIP/summary", append(auth, "X-Request-ID", "log-ok")...)
	if resp.Header.Get("X-Request-ID") == "log-ok" {
		t.Errorf("the caller's X-Request-ID became the request's ID")
	}
	// IKED refuses the next summary request.
	sim.faults.Set(nmi.GetSummary, ikedsim.Fault{Rc: nmi.EINVAL, Rsn: nmi.RsnBadFilter, Times: 1})
	s.get("/v1/stacks/TCPIP/summary", append(auth, "X-Request-ID", "log-bad")...)
	s.get("/healthz", "X-Request-ID", "log-health")

	nmiOf := func(v map[string]any) map[string]any { m, _ := v["nmi"].(map[string]any); return m }
	ok := s.accessLine("log-ok")
	if ok["level"] != "INFO" || ok["route"] != "/v1/stacks/{stack}/summary" || ok["status"] != float64(200) ||
		ok["principal"] != "OPER1" || ok["method"] != "GET" || ok["path"] != "/v1/stacks/TCPIP/summary" {
		t.Errorf("access log line %v", ok)
	}
	if d, isNum := ok["durationMs"].(float64); !isNum || d <= 0 {
		t.Errorf("durationMs %v", ok["durationMs"])
	}
	if n := nmiOf(ok); n["exchanges"] != float64(1) || n["type"] != nmi.GetSummary.String() || n["rc"] != nmi.RcOK.String() {
		t.Errorf("NMI of a good request: %v", n)
	}
	bad := s.accessLine("log-bad")
	if n := nmiOf(bad); bad["status"] != float64(http.StatusBadGateway) ||
		n["rc"] != nmi.EINVAL.String() || n["rsn"] != nmi.RsnBadFilter.String() {
		t.Errorf("access log line of a rejected request: %v", bad)
	}
	health := s.accessLine("log-health")
	if _, has := health["nmi"]; has || health["route"] != "/healthz" || health["level"] != "DEBUG" {
		t.Errorf("access log line of /healthz: %v", health)
	}
	if _, has := health["principal"]; has {
		t.Errorf("principal on an unauthenticated route: %v", health)
	}
	if strings.Contains(s.logs.String(), token) {
		t.Errorf("the bearer token is in the log:\n%s", s.logs.String())
	}
}

// switchNMI answers NMsec_GET_STACKINFO with no record, or with err when
// set, and counts the exchanges.
type switchNMI struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (n *switchNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	return nmi.Header{Version: 1, Type: req.Type}, n.err
}

func (n *switchNMI) set(err error) (calls int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.err = err
	return n.calls
}

func TestReadiness(t *testing.T) {
	n := &switchNMI{}
	var (
		mu   sync.Mutex
		last time.Time
	)
	setLast := func(t time.Time) { mu.Lock(); last = t; mu.Unlock() }
	s := newServer(t, n, func(d *httpapi.Deps) {
		d.ReadyWindow = time.Minute
		d.NMILastSuccess = func() time.Time { mu.Lock(); defer mu.Unlock(); return last }
	})
	down := &nmi.OpError{Op: "dial", Addr: "/var/sock/ipsecmgmt", Err: nmi.ErrUnavailable}

	// Nothing ever succeeded and IKED is down: 503 with the cause.
	n.set(down)
	p, resp := s.getJSON("/readyz", http.StatusServiceUnavailable)
	detail, _ := p["detail"].(string)
	if !strings.HasPrefix(detail, "not ready: NMI not reachable;") || !strings.Contains(detail, "no NMI exchange has succeeded") ||
		strings.Contains(detail, down.Addr) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("not ready: %v", p)
	}
	// An exchange that works now makes it ready.
	n.set(nil)
	s.getJSON("/readyz", http.StatusOK)

	// A success within the window is enough: no exchange is made.
	setLast(time.Now())
	calls := n.set(down)
	s.getJSON("/readyz", http.StatusOK)
	if got := n.set(down); got != calls {
		t.Errorf("%d exchanges for a recent success", got-calls)
	}

	// An older success: an exchange decides, and the detail tells when the
	// last success was.
	setLast(time.Now().Add(-2 * time.Minute))
	p, _ = s.getJSON("/readyz", http.StatusServiceUnavailable)
	if detail, _ := p["detail"].(string); !strings.Contains(detail, "last successful NMI exchange") {
		t.Errorf("not ready after an old success: %v", p)
	}
	// IKED refusing the gateway (EACCES) is not ready either: 503, not 403.
	n.set(&nmi.StatusError{Type: nmi.GetStackInfo, Rc: nmi.EACCES})
	p, _ = s.getJSON("/readyz", http.StatusServiceUnavailable)
	if p["nmiReturnCodeName"] != nmi.EACCES.String() {
		t.Errorf("not ready with EACCES: %v", p)
	}
}
