package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// A scrape of the IPsec exporter shows only the stacks its scraper may
// display: the data IKED hands the gateway is guarded by RACF per stack
// (…IPSEC.DISPLAY), so the exporter filters each round by the scraper's
// rights before it is exported.

// StackFilter decides, for the stacks of a round, which ones a scraper may
// see (one answer per stack, in order). An error shows none.
type StackFilter func(stacks []string) ([]bool, error)

// View returns the exporter as a scraper that allow decides for sees it:
// the round's series of the stacks allow grants (stack and per-tunnel
// series), and the round's own (nmigw_ipsec_up, duration, age, series
// cap). Register it with a registry made for that scrape.
func (e *Exporter) View(allow StackFilter) prometheus.Collector {
	return &view{e: e, allow: allow}
}

type view struct {
	e     *Exporter
	allow StackFilter
}

func (v *view) Describe(ch chan<- *prometheus.Desc) { v.e.Describe(ch) }

func (v *view) Collect(ch chan<- prometheus.Metric) {
	s := v.e.snapshot()
	v.e.d.collect(ch, s.only(v.allow), v.e.now())
}

// only returns s with the stacks allow grants (and their tunnels); s
// itself is shared by the scrapes of a round and stays as it is.
func (s *snapshot) only(allow StackFilter) *snapshot {
	out := *s
	out.stacks, out.tunnels = nil, nil
	if !s.up || len(s.stacks) == 0 {
		return &out
	}
	names := make([]string, len(s.stacks))
	for i, st := range s.stacks {
		names[i] = st.name
	}
	ok, err := allow(names)
	if err != nil || len(ok) != len(names) {
		return &out // fail closed: no stack is shown
	}
	granted := map[string]bool{}
	for i, st := range s.stacks {
		if ok[i] {
			out.stacks = append(out.stacks, st)
			granted[st.name] = true
		}
	}
	for _, f := range s.tunnels {
		if granted[f.stack] {
			out.tunnels = append(out.tunnels, f)
		}
	}
	return &out
}
