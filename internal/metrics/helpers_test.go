package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposition is one scrape, parsed by Prometheus's own text parser.
type exposition map[string]*dto.MetricFamily

// scrape serves reg with promhttp.HandlerFor on a real HTTP server, reads
// /metrics once, parses it with expfmt and lints the registry.
func scrape(t *testing.T, reg *prometheus.Registry) exposition {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	lint(t, reg)
	return exposition(mfs)
}

// lint fails on any problem promlint finds.
func lint(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// labelsOf renders a metric's labels as `a="x",b="y"` (sorted by name).
func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// series returns the metric's series as labels -> value (for histograms,
// the sample count).
func (e exposition) series(name string) map[string]float64 {
	out := map[string]float64{}
	if mf := e[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			out[labelsOf(m)] = valueOf(m)
		}
	}
	return out
}

// value returns the value of the series with exactly these labels
// (k1, v1, k2, v2, ...) and whether it exists.
func (e exposition) value(name string, kv ...string) (float64, bool) {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+`="`+kv[i+1]+`"`)
	}
	sort.Strings(parts)
	v, ok := e.series(name)[strings.Join(parts, ",")]
	return v, ok
}

// mustValue is value, failing when the series is absent.
func (e exposition) mustValue(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	v, ok := e.value(name, kv...)
	if !ok {
		t.Fatalf("no series %s%v", name, kv)
	}
	return v
}

// count returns how many series the metric has whose labels include kv.
func (e exposition) count(name string, kv ...string) int {
	n := 0
	if mf := e[name]; mf != nil {
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(kv); i += 2 {
				if label(m, kv[i]) != kv[i+1] {
					continue next
				}
			}
			n++
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sim is an in-process simulator on a real AF_UNIX socket.
type sim struct {
	srv  *ikedsim.Server
	path string
	done chan error
	once sync.Once
}

// startSim serves cfg on path (a fresh socket in t.TempDir() when empty).
func startSim(t *testing.T, path string, cfg ikedsim.Config) *sim {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "nmi.sock")
	}
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	s := &sim{srv: srv, path: path, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ln) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the simulator down (TERM to every client) and waits for Serve.
func (s *sim) stop(t *testing.T) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		<-s.done
	})
}

// clock is a settable clock shared by the simulator and the exporter.
type clock = ikedsim.Clock

// gateway is what cmd/gateway wires: a registry, the NMI observer, a pool
// reporting to it, the pool collector.
type gateway struct {
	reg  *prometheus.Registry
	obs  *NMIObserver
	pool *nmi.Pool
}

func newGateway(t *testing.T, path string) *gateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	obs, err := NewNMIObserver(reg)
	if err != nil {
		t.Fatal(err)
	}
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, Observer: obs.System("SYS1"), BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	t.Cleanup(func() { pool.Close() })
	if err := reg.Register(NewPoolCollector(pool, "SYS1")); err != nil {
		t.Fatal(err)
	}
	return &gateway{reg: reg, obs: obs, pool: pool}
}

// exchanges is the number of NMI exchanges the observer counted, read
// without scraping the exporter.
func (g *gateway) exchanges(t *testing.T) float64 {
	t.Helper()
	r := prometheus.NewRegistry()
	r.MustRegister(g.obs.exchanges)
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			n += valueOf(m)
		}
	}
	return n
}
