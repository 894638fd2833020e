package metrics

import (
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStatser is what PoolCollector reads; *nmi.Pool satisfies it.
type PoolStatser interface {
	Stats() nmi.PoolStats
}

// PoolCollector exports an nmi.Pool's Stats on every scrape.
type PoolCollector struct {
	pool PoolStatser

	maxSize, open, inUse, idle, backoff *prometheus.Desc
	waits, waitSeconds, exhausted       *prometheus.Desc
	opened, closed, dialFailures, terms *prometheus.Desc
	down, probes, abandoned             *prometheus.Desc
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns a collector over p.Stats(), the pool of the
// endpoint of system: every series carries the label system, so that the
// collectors of several systems' pools register side by side.
func NewPoolCollector(p PoolStatser, system string) *PoolCollector {
	sys := prometheus.Labels{"system": system}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("nmigw_nmi_pool_"+name, help, labels, sys)
	}
	return &PoolCollector{
		pool:         p,
		maxSize:      d("max_connections", "Connections the pool may open at most."),
		open:         d("open_connections", "Connections open now: in use and idle."),
		inUse:        d("in_use_connections", "Connections lent out to an exchange now."),
		idle:         d("idle_connections", "Connections open and waiting for work."),
		backoff:      d("dial_backoff_seconds", "Time left before the pool probes IKED again while it is down; 0 when it is up."),
		down:         d("endpoint_down", "1 while IKED is down for the pool (a dial failed, the prober runs), else 0."),
		probes:       d("probes_total", "Probes of IKED while down: a dial, NMsec_INIT and one request."),
		abandoned:    d("abandoned_exchanges_total", "Exchanges abandoned unanswered after the exchange timeout; their connections are closed."),
		waits:        d("waits_total", "Acquires that had to wait for a free connection."),
		waitSeconds:  d("wait_duration_seconds_total", "Time spent waiting for a free connection."),
		exhausted:    d("exhausted_total", "Acquires that gave up because no connection became free in time."),
		opened:       d("connections_opened_total", "Connections dialed and initialized (NMsec_INIT received)."),
		closed:       d("connections_closed_total", "Connections closed, for any reason."),
		dialFailures: d("connections_failed_total", "Dials that failed: socket absent, refused, TERM instead of INIT, no INIT in time."),
		terms:        prometheus.NewDesc("nmigw_nmi_terms_total", "NMsec_TERM messages received, by the return and reason code they carried (the cause).", []string{"rc", "rsn"}, sys),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxSize, c.open, c.inUse, c.idle, c.backoff, c.waits, c.waitSeconds,
		c.exhausted, c.opened, c.closed, c.dialFailures, c.terms, c.down, c.probes, c.abandoned} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	gauge(c.maxSize, float64(s.MaxSize))
	gauge(c.open, float64(s.Open))
	gauge(c.inUse, float64(s.InUse))
	gauge(c.idle, float64(s.Idle))
	gauge(c.backoff, s.Backoff.Seconds())
	counter(c.waits, float64(s.Waits))
	counter(c.waitSeconds, s.WaitDuration.Seconds())
	counter(c.exhausted, float64(s.Exhausted))
	counter(c.opened, float64(s.Opened))
	counter(c.closed, float64(s.Closed))
	counter(c.dialFailures, float64(s.DialFailures))
	down := 0.0
	if s.Down {
		down = 1
	}
	gauge(c.down, down)
	counter(c.probes, float64(s.Probes))
	counter(c.abandoned, float64(s.Abandoned))
	// Causes this build does not name are summed under "unknown".
	terms := map[[2]string]uint64{}
	for k, v := range s.Terms {
		terms[[2]string{codeLabel(k.Rc.String()), codeLabel(k.Rsn.String())}] += v
	}
	for k, v := range terms {
		counter(c.terms, float64(v), k[0], k[1])
	}
}
