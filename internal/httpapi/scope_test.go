package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/nmi"
)

// deadlines records the deadline of every exchange's context.
type deadlines struct {
	httpapi.NMI
	mu   sync.Mutex
	seen []time.Time
}

func (d *deadlines) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	d.mu.Lock()
	d.seen = append(d.seen, dl)
	d.mu.Unlock()
	return d.NMI.Do(ctx, req, fn)
}

func (d *deadlines) take() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.seen
	d.seen = nil
	return s
}

// One request, one scope: every NMI exchange of a request shares one
// deadline, RequestTimeout after the request began (plus ?wait for a
// control request that waits), however many exchanges it takes.
func TestRequestScope(t *testing.T) {
	const timeout = time.Hour // far beyond the test: only the deadlines count
	check := func(name string, d *deadlines, from, to time.Time, budget time.Duration, min int) {
		t.Helper()
		seen := d.take()
		if len(seen) < min {
			t.Fatalf("%s: %d exchanges, want at least %d", name, len(seen), min)
		}
		for _, dl := range seen {
			if dl != seen[0] {
				t.Errorf("%s: exchanges with deadlines %v: want one scope", name, seen)
				break
			}
		}
		if seen[0].Before(from.Add(budget)) || seen[0].After(to.Add(budget)) {
			t.Errorf("%s: deadline %v, want %v after the request (%v..%v)", name, seen[0], budget, from, to)
		}
	}

	d := &deadlines{NMI: newDisplaySim(t, 0)}
	s := newServer(t, d, func(dp *httpapi.Deps) { dp.RequestTimeout = timeout })
	from := time.Now()
	s.getJSON("/v1/stacks/TCPIP", http.StatusOK) // NMsec_GET_IKENSINFO, NMsec_GET_STACKINFO
	check("GET /v1/stacks/TCPIP", d, from, time.Now(), timeout, 2)
	from = time.Now()
	// whoami asks every system (here one: NMsec_GET_STACKINFO) under one
	// deadline a second before the request's, so that one that hangs
	// leaves the time to answer.
	s.getJSON("/v1/whoami", http.StatusOK)
	check("GET /v1/whoami", d, from, time.Now(), timeout-time.Second, 1)

	d = &deadlines{NMI: newSim(t)}
	s = ctlServer(t, nil, &memSink{}, func(dp *httpapi.Deps) { dp.NMI, dp.RequestTimeout = d, timeout })
	from = time.Now()
	// The manual tunnel's name, the action, then polling until active.
	s.postJSON("/v1/stacks/TCPIP/tunnels/manual/M2:activate?wait=30s", "", http.StatusOK)
	check("POST :activate?wait=30s", d, from, time.Now(), timeout+30*time.Second, 3)
}
