package metrics

import (
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/prometheus/client_golang/prometheus"
)

// A scrape of the IPsec exporter shows only the stacks its scraper may
// display: the data IKED (or the NSS server) hands the gateway is guarded
// by RACF per system and stack (…IPSEC.DISPLAY, fleet.Stack.Resource), so
// the exporter filters each round by the scraper's rights before it is
// exported.

// StackFilter decides, for the stacks of a round, which ones a scraper may
// see (one answer per stack, in order). An error shows none.
type StackFilter func(stacks []fleet.Stack) ([]bool, error)

// View returns the exporter as a scraper that allow decides for sees it:
// the round's series of the stacks allow grants (stack and per-tunnel
// series), and the round's own per system (nmigw_ipsec_up, duration, age,
// dropped) and the series cap. Register it with a registry made for that
// scrape.
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
	if len(s.stacks) == 0 {
		return &out
	}
	refs := make([]fleet.Stack, len(s.stacks))
	for i, st := range s.stacks {
		refs[i] = st.ref
	}
	ok, err := allow(refs)
	if err != nil || len(ok) != len(refs) {
		return &out // fail closed: no stack is shown
	}
	granted := map[stackKey]bool{}
	for i, st := range s.stacks {
		if ok[i] {
			out.stacks = append(out.stacks, st)
			granted[st.key()] = true
		}
	}
	for _, f := range s.tunnels {
		if granted[f.stackKey] {
			out.tunnels = append(out.tunnels, f)
		}
	}
	return &out
}
