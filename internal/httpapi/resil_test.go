package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// gateNMI holds every exchange until its gate opens.
type gateNMI struct {
	gate    chan struct{}
	mu      sync.Mutex
	waiting int
}

func (g *gateNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	g.mu.Lock()
	g.waiting++
	g.mu.Unlock()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nmi.Header{}, ctx.Err()
	}
	return nmi.Header{Type: req.Type}, nil
}

func (g *gateNMI) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// TestConcurrencyLimit: past the limit a request gets 503 with
// Retry-After and the overloaded problem; the health probe and the
// requests within the limit are served; the refusals are logged once,
// their access log lines at debug.
func TestConcurrencyLimit(t *testing.T) {
	g := &gateNMI{gate: make(chan struct{})}
	s := newServer(t, g, func(d *httpapi.Deps) { d.MaxConcurrent, d.QueueWait = 2, -1 })
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, body := s.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
				t.Errorf("within the limit: %d %s", resp.StatusCode, body)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.held() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the requests within the limit did not reach the NMI")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		resp, body := s.get("/v1/stacks/TCPIP/summary", "X-Request-ID", "over-"+string(rune('a'+i)))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
			!strings.Contains(string(body), "urn:nmigw:problem:overloaded") {
			t.Fatalf("past the limit: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if resp, _ := s.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz under overload: %d", resp.StatusCode)
	}
	close(g.gate)
	wg.Wait()
	if resp, body := s.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the load: %d %s", resp.StatusCode, body)
	}
	starts := 0
	for _, l := range s.logLines() {
		if l["msg"] == "gateway overloaded: refusing requests" {
			starts++
		}
		if l["msg"] == "http" && l["status"] == float64(503) && l["level"] != "DEBUG" {
			t.Errorf("a refusal's access log line above debug: %v", l)
		}
	}
	if starts != 1 {
		t.Errorf("the overload logged %d times, want once:\n%s", starts, s.logs.String())
	}
}

// TestOutageLoggedOnce: requests refused while the IKE daemon is down
// are logged as one outage (down, then back), not one line each, and
// their answers tell when to retry.
func TestOutageLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipsecmgmt")
	var logs bytes.Buffer
	var mu sync.Mutex
	log := newLogger(&mu, &logs)
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, Observer: httpapi.NewNMIOutageLog(log, path, nil),
		BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	defer pool.Close()
	s := newServer(t, pool, func(d *httpapi.Deps) { d.Logger = log })
	for range 20 {
		resp, body := s.get("/v1/stacks")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("while down: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pool.Close()
		srv.Shutdown(ctx)
		<-served
	}()
	deadline := time.Now().Add(10 * time.Second)
	for pool.Stats().Down {
		if time.Now().After(deadline) {
			t.Fatal("the pool did not come back")
		}
		time.Sleep(time.Millisecond)
	}
	if resp, body := s.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the outage: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if n := strings.Count(out, `"msg":"IKE daemon down"`); n != 1 {
		t.Errorf("down logged %d times:\n%s", n, out)
	}
	if n := strings.Count(out, `"msg":"IKE daemon back"`); n != 1 {
		t.Errorf("back logged %d times:\n%s", n, out)
	}
	// The first request found the endpoint down (one WARN); the 19
	// refused after it are counted, not logged one by one.
	if n := strings.Count(out, `"level":"WARN","msg":"request failed"`); n > 1 {
		t.Errorf("%d requests logged one by one while down:\n%s", n, out)
	}
}

// newLogger is a JSON logger at debug level writing to w under mu.
func newLogger(mu *sync.Mutex, w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{mu, w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// busyNMI answers ErrPoolExhausted while busy is set, else success.
type busyNMI struct{ busy atomic.Bool }

func (b *busyNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	if b.busy.Load() {
		return nmi.Header{}, nmi.ErrPoolExhausted
	}
	return nmi.Header{Type: req.Type}, nil
}

// TestBusyPoolLoggedOnce: requests refused because every NMI connection
// stayed busy are logged as one episode, their access log lines at debug,
// and still answered 503 with Retry-After.
func TestBusyPoolLoggedOnce(t *testing.T) {
	b := &busyNMI{}
	b.busy.Store(true)
	s := newServer(t, b)
	for range 10 {
		resp, body := s.get("/v1/stacks")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("busy: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	b.busy.Store(false)
	if resp, body := s.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
		t.Fatalf("free again: %d %s", resp.StatusCode, body)
	}
	starts := 0
	for _, l := range s.logLines() {
		switch {
		case l["msg"] == "every NMI connection busy: refusing requests":
			starts++
		case l["level"] == "WARN":
			t.Errorf("a refusal logged on its own: %v", l)
		case l["msg"] == "http" && l["status"] == float64(503) && l["level"] != "DEBUG":
			t.Errorf("a refusal's access log line above debug: %v", l)
		}
	}
	if starts != 1 {
		t.Errorf("the busy pool logged %d times, want once:\n%s", starts, s.logs.String())
	}
}
