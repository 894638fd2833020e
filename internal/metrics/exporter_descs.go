package metrics

import (
	"time"

	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
)

type exporterDescs struct {
	up, duration, age, limit, dropped         *prometheus.Desc
	stackUp, filterSet, filters               *prometheus.Desc
	ikeTunnels, dynTunnels, manTunnels        *prometheus.Desc
	sumTunnels, activations, retransmits      *prometheus.Desc
	tunState, tunExpiry, tunBytes, tunPackets *prometheus.Desc
}

func newExporterDescs() exporterDescs {
	// Every series about a system's data carries its name: the MVS
	// system name (system), then the stack's TCP/IP job name (stack).
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("nmigw_ipsec_"+name, help, append([]string{"system"}, labels...), nil)
	}
	tun := []string{"stack", "type", "tunnel_id", "name"}
	return exporterDescs{
		up:       d("up", "1 when the last NMI round reached the system (its IKED, or the NSS server it is a client of) and every answer was read; 0 otherwise (then no other nmigw_ipsec_ series of the system but these are exported)."),
		duration: d("scrape_duration_seconds", "Time the last NMI round of the system took."),
		age:      d("data_age_seconds", "Age of the data exported: time since its NMI round started (concurrent scrapes share one round)."),
		limit:    prometheus.NewDesc("nmigw_ipsec_tunnel_series_limit", "The cap on per-tunnel series, over every system.", nil, nil),
		dropped:  d("tunnel_series_dropped", "Tunnels of the system chosen for series of their own (allow-list, top N) that the cap left out."),

		stackUp:   d("stack_up", "1 when every request about the stack was answered; 0 when one was answered with a return code (no access, stack gone, NSS client not connected or not enabled for remote management).", "stack"),
		filterSet: d("filter_set", "1 for the filter set in effect on the stack (default: TCP/IP profile, policy: Policy Agent), 0 for the other.", "stack", "set"),
		filters:   d("filters", "IP filter rules in the filter set in effect, as last counted: counted again when the stack's filter set changes, else at most every exporter-filter-interval.", "stack"),

		ikeTunnels: d("ike_tunnels", "IKE (phase 1) security associations by state; every state is present, 0 when none.", "stack", "state"),
		dynTunnels: d("dynamic_tunnels", "Dynamic IPsec (phase 2) security associations by state; every state is present, 0 when none.", "stack", "state"),
		manTunnels: d("manual_tunnels", "Manual IPsec tunnels by state; every state is present, 0 when none.", "stack", "state"),

		sumTunnels:  d("summary_tunnels", "Tunnels as counted by NMsec_GET_SUMMARY, by phase (ike, ipsec) and state (active, in_progress, expired).", "stack", "phase", "state"),
		activations: d("activations_total", "Tunnel activations since IKED started (NMsec_GET_SUMMARY), by phase, initiator (local, remote) and result (success, failure).", "stack", "phase", "initiator", "result"),
		retransmits: d("retransmits_total", "Negotiation messages retransmitted since IKED started (NMsec_GET_SUMMARY), by phase.", "stack", "phase"),

		tunState:   d("tunnel_state", "1 for the tunnel's state, 0 for the others; all 0 for a tunnel IKED no longer lists. Opt-in per tunnel.", append(tun, "state")...),
		tunExpiry:  d("tunnel_expiry_remaining_seconds", "Time until the tunnel's active security association expires; absent while none is active or it has no lifetime. Opt-in per tunnel.", tun...),
		tunBytes:   d("tunnel_bytes_total", "Bytes through the IPsec tunnel, over its generations, by direction (in, out). Opt-in per tunnel.", append(tun, "direction")...),
		tunPackets: d("tunnel_packets_total", "Packets through the IPsec tunnel, over its generations, by direction (in, out). Opt-in per tunnel.", append(tun, "direction")...),
	}
}

func (d *exporterDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.up, d.duration, d.age, d.limit, d.dropped, d.stackUp, d.filterSet, d.filters,
		d.ikeTunnels, d.dynTunnels, d.manTunnels, d.sumTunnels, d.activations, d.retransmits,
		d.tunState, d.tunExpiry, d.tunBytes, d.tunPackets}
}

func (d *exporterDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range d.all() {
		ch <- x
	}
}

// collect exports snapshot s at time now.
func (d *exporterDescs) collect(ch chan<- prometheus.Metric, s *snapshot, now time.Time) {
	emit := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, t, v, lv...)
	}
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) { emit(desc, prometheus.GaugeValue, v, lv...) }
	gauge(d.limit, float64(s.limit))
	for _, sys := range s.systems {
		gauge(d.up, boolValue(sys.up), sys.name)
		gauge(d.duration, sys.duration.Seconds(), sys.name)
		gauge(d.age, max(now.Sub(s.start), 0).Seconds(), sys.name)
		if sys.up {
			gauge(d.dropped, float64(s.dropped[sys.name]), sys.name)
		}
	}
	for _, st := range s.stacks {
		sys, name := st.system, st.name
		gauge(d.stackUp, boolValue(st.ok), sys, name)
		if !st.ok {
			continue
		}
		if !st.setUnknown {
			for _, fs := range []nmi.FilterSet{nmi.FilterSetDefault, nmi.FilterSetPolicy} {
				gauge(d.filterSet, boolValue(st.filterSet == fs), sys, name, fs.String())
			}
		}
		gauge(d.filters, float64(st.filters), sys, name)
		for _, k := range ipsec.Kinds {
			byState(gauge, [...]*prometheus.Desc{d.ikeTunnels, d.dynTunnels, d.manTunnels}[k], st.key(), k.States(), st.states[k])
		}
		for _, p := range []struct {
			phase string
			b     *nmi.StatsBlock
		}{{"ike", &st.summary.P1}, {"ipsec", &st.summary.P2}} {
			gauge(d.sumTunnels, float64(p.b.Active), sys, name, p.phase, "active")
			gauge(d.sumTunnels, float64(p.b.InProgress), sys, name, p.phase, "in_progress")
			gauge(d.sumTunnels, float64(p.b.Expired), sys, name, p.phase, "expired")
			emit(d.activations, prometheus.CounterValue, float64(p.b.LclActSuccess), sys, name, p.phase, "local", "success")
			emit(d.activations, prometheus.CounterValue, float64(p.b.RmtActSuccess), sys, name, p.phase, "remote", "success")
			emit(d.activations, prometheus.CounterValue, float64(p.b.LclActFailure), sys, name, p.phase, "local", "failure")
			emit(d.activations, prometheus.CounterValue, float64(p.b.RmtActFailure), sys, name, p.phase, "remote", "failure")
			emit(d.retransmits, prometheus.CounterValue, float64(p.b.Retransmit), sys, name, p.phase)
		}
	}
	for _, f := range s.tunnels {
		lv := []string{f.system, f.stack, f.typ.String(), f.id, f.name}
		with := func(extra string) []string { return append(lv[:5:5], extra) }
		state := ""
		if !f.missing {
			state = f.state()
		}
		for _, name := range f.typ.States() {
			gauge(d.tunState, boolValue(state == name), with(name)...)
		}
		if state == stateUnknown {
			gauge(d.tunState, 1, with(stateUnknown)...)
		}
		if f.missing {
			continue
		}
		if f.fold.Active && f.fold.Expires != 0 {
			gauge(d.tunExpiry, max(nmi.UnixTime(f.fold.Expires).Sub(now), 0).Seconds(), lv...)
		}
		if f.typ.Traffic() {
			for i, dir := range []string{"in", "out"} {
				emit(d.tunBytes, prometheus.CounterValue, float64(f.fold.Bytes[i]), with(dir)...)
				emit(d.tunPackets, prometheus.CounterValue, float64(f.fold.Packets[i]), with(dir)...)
			}
		}
	}
}

// byState exports counts by state: every known state, and "unknown" when
// some state was not known.
func byState(gauge func(*prometheus.Desc, float64, ...string), desc *prometheus.Desc, st stackKey, names []string, c stateCounts) {
	for i, name := range names {
		gauge(desc, float64(c.n[i]), st.system, st.stack, name)
	}
	if c.unknown > 0 {
		gauge(desc, float64(c.unknown), st.system, st.stack, stateUnknown)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
