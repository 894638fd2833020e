package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/fleet"
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
	// Fleet is the systems exported. Without it, NMI (the gateway's
	// pool) is one IKED named System (default SYS1).
	Fleet  *fleet.Fleet
	NMI    NMI
	System string

	// ScrapeTimeout bounds one NMI round of each system (default 8s,
	// under Prometheus's default scrape timeout of 10s): the systems are
	// asked concurrently, each under this deadline.
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

// Exporter is a prometheus.Collector that asks every system on every
// scrape. Concurrent scrapes share one NMI round.
type Exporter struct {
	cfg   ExporterConfig
	fleet *fleet.Fleet
	allow map[string]bool
	now   func() time.Time
	d     exporterDescs

	mu sync.Mutex // guards last and known
	// last is the newest completed round.
	last *snapshot
	// known are the tunnels that had series, for KeepDown.
	known map[tunnelKey]*knownTunnel
	// counted are the filter counts read, by system and stack.
	counted map[stackKey]filterCount

	group  singleflight.Group
	onJoin func() // test hook: called once a scrape has joined a round
}

var _ prometheus.Collector = (*Exporter)(nil)

// NewExporter returns the IPsec exporter; register it with the registry.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	f := cfg.Fleet
	if f == nil {
		if cfg.NMI == nil {
			return nil, errors.New("metrics: ExporterConfig.Fleet or NMI is required")
		}
		name := cfg.System
		if name == "" {
			name = "SYS1"
		}
		var err error
		if f, err = fleet.New([]fleet.Endpoint{{Name: name, Kind: fleet.IKED, NMI: cfg.NMI, PolicySystem: true}}, "", fleet.Options{}); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
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
	e := &Exporter{cfg: cfg, fleet: f, allow: map[string]bool{}, now: cfg.Now, d: newExporterDescs(), known: map[tunnelKey]*knownTunnel{},
		counted: map[stackKey]filterCount{}}
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

// round asks every system for everything the exporter shows: the
// systems concurrently, each within the scrape timeout. Any failure other
// than a return code for one stack marks the system down for this round;
// the other systems are exported as they answered.
func (e *Exporter) round() *snapshot {
	start := e.now()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ScrapeTimeout)
	defer cancel()
	eps := e.fleet.Endpoints()
	per := make([][]*systemData, len(eps))
	fleet.Parallel(ctx, len(eps), len(eps), func(ctx context.Context, i int) {
		per[i] = e.endpointRound(ctx, eps[i])
	})
	s := &snapshot{start: start, limit: e.cfg.Tunnels.MaxSeries}
	var fams []*family
	seen := map[string]bool{}
	for _, systems := range per {
		for _, sys := range systems {
			if ep, ok := e.fleet.Endpoint(sys.name); sys.kind == fleet.NSS && ok && ep.Kind == fleet.IKED {
				continue // the configured IKED wins
			}
			if seen[sys.name] {
				continue // a system seen through two NSS servers: the first
			}
			seen[sys.name] = true
			s.systems = append(s.systems, sys)
			if sys.up {
				s.stacks = append(s.stacks, sys.stacks...)
				fams = append(fams, sys.families...)
			}
			sys.stacks, sys.families = nil, nil
		}
	}
	s.tunnels, s.dropped = e.selectTunnels(s.stacks, fams, start)
	return s
}

// endpointRound asks one endpoint: an IKED is one system, an NSS server
// the systems of its clients (the endpoint's own name when it knows none).
func (e *Exporter) endpointRound(ctx context.Context, ep fleet.Endpoint) []*systemData {
	t0 := e.now()
	if ep.Kind == fleet.IKED {
		sys := &systemData{name: ep.Name, kind: ep.Kind}
		stacks, err := fetchStacks(ctx, ep.NMI)
		for _, st := range stacks {
			if err != nil {
				break
			}
			st.system = ep.Name
			if st.ref, err = e.fleet.Lookup(ctx, ep.Name, st.name); err == nil {
				err = e.fetchStack(ctx, sys, st)
			}
		}
		sys.up = err == nil
		sys.duration = e.now().Sub(t0)
		return []*systemData{sys}
	}
	clients, err := e.fleet.Clients(ctx, ep.Name)
	if len(clients) == 0 {
		return []*systemData{{name: ep.Name, kind: ep.Kind, up: err == nil, duration: e.now().Sub(t0)}}
	}
	var out []*systemData
	idx := map[string]*systemData{}
	for _, c := range clients {
		sys := idx[c.System]
		if sys == nil {
			sys = &systemData{name: c.System, kind: ep.Kind, up: err == nil}
			idx[c.System] = sys
			out = append(out, sys)
		}
		if !sys.up {
			continue
		}
		// The NSS server does not route NMsec_GET_STACKINFO: the filter
		// set is not known, and the filter count is read again by the
		// interval only.
		st := newStackData(c.Name, nmi.FilterSet(0))
		st.system, st.ref, st.setUnknown = c.System, c, true
		if !c.Connected {
			sys.stacks = append(sys.stacks, st) // known, not answering
			continue
		}
		if ferr := e.fetchStack(ctx, sys, st); ferr != nil {
			sys.up = false
		}
	}
	for _, sys := range out {
		sys.duration = e.now().Sub(t0)
	}
	return out
}

// fetchStack adds st and its tunnels to sys.
func (e *Exporter) fetchStack(ctx context.Context, sys *systemData, st *stackData) error {
	fams, err := fetchStack(ctx, &st.ref, st, e.filterCount)
	if err != nil {
		return err
	}
	sys.stacks = append(sys.stacks, st)
	sys.families = append(sys.families, fams...)
	return nil
}

// filterCount is a stack's filter count as last read.
type filterCount struct {
	set nmi.FilterSet
	n   int
	at  time.Time
}

// filterCount returns the filter count of st to reuse, or false when it
// must be read: none was read, the filter set changed, or the count is
// older than FilterInterval (behind an NSS server, where the filter set
// is not known, only the interval counts). read records a count just
// read. The rounds of several systems call it concurrently.
func (e *Exporter) filterCount(st *stackData, read bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if read {
		e.counted[st.key()] = filterCount{set: st.filterSet, n: st.filters, at: now}
		return true
	}
	c, ok := e.counted[st.key()]
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
