package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/nmigw/nmigw/internal/ipsec"
)

// knownTunnel is a tunnel that had series of its own.
type knownTunnel struct {
	name    string
	allowed bool
	seen    time.Time // last round that listed it
}

func compareKeys(a, b tunnelKey) int {
	return cmp.Or(cmp.Compare(a.system, b.system), cmp.Compare(a.stack, b.stack), cmp.Compare(a.typ, b.typ), cmp.Compare(a.id, b.id))
}

// selectTunnels picks the tunnels that get series this round, in order
// of priority: allow-listed tunnels that IKED lists, allow-listed tunnels
// it no longer lists, the top N by bytes, then other tunnels that had
// series and are gone. Gone tunnels are kept for KeepDown; those of a
// stack that did not answer this round are left out. Whatever does not
// fit in MaxSeries is dropped and counted.
func (e *Exporter) selectTunnels(stacks []*stackData, fams []*family, now time.Time) (out []*family, dropped map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	present := make(map[tunnelKey]bool, len(fams))
	var allowed, others []*family
	for _, f := range fams {
		present[f.tunnelKey] = true
		if e.allowed(f) {
			allowed = append(allowed, f)
		} else if e.cfg.Tunnels.TopN > 0 {
			others = append(others, f)
		}
	}
	answered := map[stackKey]bool{}
	for _, st := range stacks {
		answered[st.key()] = st.ok
	}
	var goneAllowed, goneOthers []*family
	for k, kt := range e.known {
		if now.Sub(kt.seen) > e.cfg.Tunnels.KeepDown {
			delete(e.known, k)
			continue
		}
		switch {
		case present[k] || !answered[k.stackKey]:
		case kt.allowed:
			goneAllowed = append(goneAllowed, &family{tunnelKey: k, name: kt.name, missing: true})
		default:
			goneOthers = append(goneOthers, &family{tunnelKey: k, name: kt.name, missing: true})
		}
	}
	byKey := func(a, b *family) int { return compareKeys(a.tunnelKey, b.tunnelKey) }
	slices.SortFunc(allowed, byKey)
	slices.SortFunc(goneAllowed, byKey)
	slices.SortFunc(goneOthers, byKey)
	slices.SortFunc(others, func(a, b *family) int {
		return cmp.Or(cmp.Compare(b.fold.Total, a.fold.Total), byKey(a, b))
	})
	top := others[:min(len(others), e.cfg.Tunnels.TopN)]

	budget := e.cfg.Tunnels.MaxSeries
	dropped = map[string]int{}
	for _, group := range [][]*family{allowed, goneAllowed, top, goneOthers} {
		for _, f := range group {
			n := f.series()
			if n > budget {
				dropped[f.system]++
				continue
			}
			budget -= n
			out = append(out, f)
			if !f.missing {
				e.known[f.tunnelKey] = &knownTunnel{name: f.name, allowed: e.allowed(f), seen: now}
			}
		}
	}
	e.forgetOldest()
	return out, dropped
}

// allowed reports whether the allow-list names the tunnel's ID or name.
func (e *Exporter) allowed(f *family) bool {
	return len(e.allow) > 0 && (e.allow[upper(f.id)] || e.allow[upper(f.name)])
}

// forgetOldest bounds the remembered tunnels: no more than could have
// series at once (each has at least four), the least recently seen go.
func (e *Exporter) forgetOldest() {
	limit := e.cfg.Tunnels.MaxSeries / len(ipsec.KindIKE.States())
	if len(e.known) <= limit {
		return
	}
	keys := make([]tunnelKey, 0, len(e.known))
	for k := range e.known {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b tunnelKey) int {
		return cmp.Or(e.known[a].seen.Compare(e.known[b].seen), compareKeys(a, b))
	})
	for _, k := range keys[:len(keys)-limit] {
		delete(e.known, k)
	}
}
