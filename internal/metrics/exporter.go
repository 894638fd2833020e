package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// NMI runs one exchange; *nmi.Pool satisfies it.
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Exporter defaults.
const (
	DefaultScrapeTimeout   = 8 * time.Second
	DefaultMaxTunnelSeries = 1000
	DefaultKeepDown        = time.Hour
	DefaultFilterInterval  = 15 * time.Minute
)

// ExporterConfig configures the IPsec exporter.
type ExporterConfig struct {
	NMI NMI // required; the gateway's pool

	// ScrapeTimeout bounds one NMI round (default 8s, under Prometheus's
	// default scrape timeout of 10s).
	ScrapeTimeout time.Duration
	// MaxAge lets scrapes reuse a round younger than this. 0: only
	// scrapes that arrive while a round runs share it.
	MaxAge time.Duration

	Tunnels TunnelSelection

	// FilterInterval is how long a stack's filter count is reused (default
	// 15m): counting means reading every rule of the filter set in effect
	// (about 37 MB for 100,000 rules), so it is read again only when the
	// stack's filter set changes, when the last read failed, or after
	// this interval.
	FilterInterval time.Duration

	Now func() time.Time // nil: time.Now
}

// TunnelSelection chooses the tunnels that get series of their own. With
// neither Allow nor TopN there are none: per-tunnel series are opt-in.
type TunnelSelection struct {
	// Allow lists tunnel IDs (Y12, K3, M1) and names (LocalDynVpnRule of
	// dynamic tunnels, KeyExchangeRule of IKE tunnels, VpnAction of manual
	// tunnels), compared without regard to case, in every stack.
	Allow []string
	// TopN adds the N tunnels that carried the most bytes, over all
	// stacks.
	TopN int
	// MaxSeries is the hard cap on per-tunnel series (default 1000).
	// Allow-listed tunnels come first, then the top N by bytes; a tunnel
	// whose series do not all fit is left out and counted in
	// nmigw_ipsec_tunnel_series_dropped.
	MaxSeries int
	// KeepDown is how long a tunnel that had series and is no longer
	// listed by IKED (deactivated, deleted) keeps its state series, all 0
	// (default 1h).
	KeepDown time.Duration
}

// Exporter is a prometheus.Collector that asks IKED on every scrape.
// Concurrent scrapes share one NMI round.
type Exporter struct {
	cfg   ExporterConfig
	allow map[string]bool
	now   func() time.Time
	d     exporterDescs

	mu sync.Mutex // guards last and known
	// last is the newest completed round.
	last *snapshot
	// known are the tunnels that had series, for KeepDown.
	known map[tunnelKey]*knownTunnel
	// counted are the filter counts read, by stack.
	counted map[string]filterCount

	group  singleflight.Group
	onJoin func() // test hook: called once a scrape has joined a round
}

var _ prometheus.Collector = (*Exporter)(nil)

// NewExporter returns the IPsec exporter; register it with the registry.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	if cfg.NMI == nil {
		return nil, errors.New("metrics: ExporterConfig.NMI is required")
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = DefaultScrapeTimeout
	}
	if cfg.Tunnels.MaxSeries <= 0 {
		cfg.Tunnels.MaxSeries = DefaultMaxTunnelSeries
	}
	if cfg.Tunnels.KeepDown <= 0 {
		cfg.Tunnels.KeepDown = DefaultKeepDown
	}
	if cfg.FilterInterval <= 0 {
		cfg.FilterInterval = DefaultFilterInterval
	}
	if cfg.Tunnels.TopN < 0 {
		return nil, errors.New("metrics: TunnelSelection.TopN is negative")
	}
	e := &Exporter{cfg: cfg, allow: map[string]bool{}, now: cfg.Now, d: newExporterDescs(), known: map[tunnelKey]*knownTunnel{},
		counted: map[string]filterCount{}}
	if e.now == nil {
		e.now = time.Now
	}
	for _, a := range cfg.Tunnels.Allow {
		if a != "" {
			e.allow[upper(a)] = true
		}
	}
	return e, nil
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) { e.d.describe(ch) }

// Collect implements prometheus.Collector: it takes the newest round (or
// runs or joins one) and exports it.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.d.collect(ch, e.snapshot(), e.now())
}

// snapshot returns a round young enough, or the result of the round
// running now, or of a new one.
func (e *Exporter) snapshot() *snapshot {
	if e.cfg.MaxAge > 0 {
		e.mu.Lock()
		s := e.last
		e.mu.Unlock()
		if s != nil && e.now().Sub(s.start) < e.cfg.MaxAge {
			return s
		}
	}
	ch := e.group.DoChan("round", func() (any, error) {
		s := e.round()
		e.mu.Lock()
		e.last = s
		e.mu.Unlock()
		return s, nil
	})
	if e.onJoin != nil {
		e.onJoin()
	}
	return (<-ch).Val.(*snapshot)
}

// round asks IKED for everything the exporter shows, within the scrape
// timeout. Any failure other than a return code for one stack marks IKED
// down for this round.
func (e *Exporter) round() *snapshot {
	start := e.now()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ScrapeTimeout)
	defer cancel()
	s := &snapshot{start: start, limit: e.cfg.Tunnels.MaxSeries}
	stacks, err := fetchStacks(ctx, e.cfg.NMI)
	if err == nil {
		for _, st := range stacks {
			var fams []*family
			fams, err = fetchStack(ctx, e.cfg.NMI, st, e.filterCount)
			if err != nil {
				break
			}
			s.stacks = append(s.stacks, st)
			s.families = append(s.families, fams...)
		}
	}
	s.duration = e.now().Sub(start)
	if err != nil {
		return &snapshot{start: start, duration: s.duration}
	}
	s.up = true
	s.tunnels, s.dropped = e.selectTunnels(s.stacks, s.families, start)
	s.families = nil // selected; the rest is not kept
	return s
}

// filterCount is a stack's filter count as last read.
type filterCount struct {
	set nmi.FilterSet
	n   int
	at  time.Time
}

// filterCount returns the filter count of st to reuse, or false when it
// must be read: none was read, the filter set changed, or the count is
// older than FilterInterval. read records a count just read. Only the
// round's goroutine calls them.
func (e *Exporter) filterCount(st *stackData, read bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if read {
		e.counted[st.name] = filterCount{set: st.filterSet, n: st.filters, at: now}
		return true
	}
	c, ok := e.counted[st.name]
	if !ok || c.set != st.filterSet || now.Sub(c.at) >= e.cfg.FilterInterval {
		return false
	}
	st.filters = c.n
	return true
}

// stackDown reports whether err is an answer about one stack (a return
// code), after which the round goes on with the next stack.
func stackDown(err error) bool {
	var se *nmi.StatusError
	return errors.As(err, &se) && !se.Term
}
