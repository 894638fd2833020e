package metrics

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
)

// fleetGateway wires what cmd/gateway wires for several systems: a pool
// and a pool collector per endpoint, one fleet.
func fleetGateway(t *testing.T, paths map[string]string, order ...string) (*prometheus.Registry, *fleet.Fleet) {
	t.Helper()
	reg := prometheus.NewRegistry()
	var eps []fleet.Endpoint
	for _, name := range order {
		pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(paths[name]), Addr: paths[name],
			BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
		t.Cleanup(func() { pool.Close() })
		if err := reg.Register(NewPoolCollector(pool, name)); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, fleet.Endpoint{Name: name, Kind: fleet.IKED, NMI: pool, SAFSystem: name})
	}
	f, err := fleet.New(eps, "", fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg, f
}

// Two IKEDs, each with a stack named TCPIP and different tunnels: each
// system's series carry its name and its own data; with one IKED
// stopped, its nmigw_ipsec_up is 0 and its stacks' series are absent,
// while the other's are exported as before.
func TestExporterTwoSystemsOneDown(t *testing.T) {
	dsA := ikedsim.Demo()
	dsB, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 30, Tunnels: 40, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if dsA.Stacks[0].Name != dsB.Stacks[0].Name {
		t.Fatalf("the test wants one stack name on both systems: %s, %s", dsA.Stacks[0].Name, dsB.Stacks[0].Name)
	}
	clkA, clkB := frozen(dsA), frozen(dsB)
	a := startSim(t, "", ikedsim.Config{Data: dsA, Now: clkA.Now})
	b := startSim(t, "", ikedsim.Config{Data: dsB, Now: clkB.Now})
	reg, f := fleetGateway(t, map[string]string{"SYSA": a.path, "SYSB": b.path}, "SYSA", "SYSB")
	e, err := NewExporter(ExporterConfig{Fleet: f, ScrapeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(e)

	x := scrape(t, reg)
	for _, sys := range []string{"SYSA", "SYSB"} {
		if v := x.mustValue(t, "nmigw_ipsec_up", "system", sys); v != 1 {
			t.Errorf("nmigw_ipsec_up{system=%s} = %v", sys, v)
		}
		if v := x.mustValue(t, "nmigw_nmi_pool_max_connections", "system", sys); v < 1 {
			t.Errorf("pool of %s: max %v", sys, v)
		}
	}
	for _, st := range dsA.Stacks {
		checkStackOn(t, x, "SYSA", st, currentFilters(t, a, st.Name))
	}
	for _, st := range dsB.Stacks {
		checkStackOn(t, x, "SYSB", st, currentFilters(t, b, st.Name))
	}

	b.stop(t)
	x = scrape(t, reg)
	if v := x.mustValue(t, "nmigw_ipsec_up", "system", "SYSB"); v != 0 {
		t.Errorf("nmigw_ipsec_up{system=SYSB} = %v with its IKED stopped", v)
	}
	if v := x.mustValue(t, "nmigw_ipsec_up", "system", "SYSA"); v != 1 {
		t.Errorf("nmigw_ipsec_up{system=SYSA} = %v: one system down failed the other", v)
	}
	for name, mf := range x {
		for _, m := range mf.GetMetric() {
			if label(m, "system") == "SYSB" && label(m, "stack") != "" {
				t.Errorf("%s{%s} exported with SYSB down", name, labelsOf(m))
			}
		}
	}
	for _, st := range dsA.Stacks {
		checkStackOn(t, x, "SYSA", st, currentFilters(t, a, st.Name))
	}
}

// A system that hangs does not hold the others' series beyond the
// scrape timeout: the hung one is down, the other up, and the round
// ends by the timeout.
func TestExporterHungSystem(t *testing.T) {
	ds := ikedsim.Demo()
	clk := frozen(ds)
	a := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	faults := ikedsim.NewFaults()
	faults.Set(ikedsim.AnyRequest, ikedsim.Fault{NoReply: true})
	hung := startSim(t, "", ikedsim.Config{Data: ikedsim.Demo(), Now: clk.Now, Faults: faults})
	reg, f := fleetGateway(t, map[string]string{"SYSA": a.path, "SYSH": hung.path}, "SYSH", "SYSA")
	const timeout = 500 * time.Millisecond
	e, err := NewExporter(ExporterConfig{Fleet: f, ScrapeTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(e)
	start := time.Now()
	x := scrape(t, reg)
	if took := time.Since(start); took > 20*timeout {
		t.Errorf("the scrape took %s with a scrape timeout of %s", took, timeout)
	}
	if v := x.mustValue(t, "nmigw_ipsec_up", "system", "SYSH"); v != 0 {
		t.Errorf("hung system up = %v", v)
	}
	if v := x.mustValue(t, "nmigw_ipsec_up", "system", "SYSA"); v != 1 {
		t.Errorf("SYSA up = %v beside a hung system", v)
	}
	checkStackOn(t, x, "SYSA", ds.Stacks[0], currentFilters(t, a, ds.Stacks[0].Name))
}

// The view decides per (system, stack): a scraper granted TCPIP on SYSB
// only sees no series of SYSA's TCPIP.
func TestExporterViewPerSystem(t *testing.T) {
	ds := ikedsim.Demo()
	clk := frozen(ds)
	a := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	b := startSim(t, filepath.Join(t.TempDir(), "b.sock"), ikedsim.Config{Data: ikedsim.Demo(), Now: clk.Now})
	reg, f := fleetGateway(t, map[string]string{"SYSA": a.path, "SYSB": b.path}, "SYSA", "SYSB")
	e, err := NewExporter(ExporterConfig{Fleet: f, Tunnels: TunnelSelection{TopN: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var asked []fleet.Stack
	view := e.View(func(stacks []fleet.Stack) ([]bool, error) {
		asked = stacks
		ok := make([]bool, len(stacks))
		for i, st := range stacks {
			ok[i] = st.System == "SYSB" && st.Name == "TCPIP"
		}
		return ok, nil
	})
	reg.MustRegister(view)
	x := scrape(t, reg)
	if len(asked) != 2*len(ds.Stacks) {
		t.Errorf("the filter was asked about %d stacks, want %d", len(asked), 2*len(ds.Stacks))
	}
	n := 0
	for name, mf := range x {
		for _, m := range mf.GetMetric() {
			if label(m, "stack") == "" {
				continue
			}
			n++
			if label(m, "system") != "SYSB" || label(m, "stack") != "TCPIP" {
				t.Errorf("%s{%s} shown to a scraper granted SYSB/TCPIP only", name, labelsOf(m))
			}
		}
	}
	if n == 0 || x.count("nmigw_ipsec_tunnel_state", "system", "SYSB") == 0 {
		t.Errorf("SYSB/TCPIP: %d series, %d tunnel series", n, x.count("nmigw_ipsec_tunnel_state", "system", "SYSB"))
	}
}

// sumOf is the sum of the series of name with the labels kv.
func (e exposition) sumOf(name string, kv ...string) (float64, int) {
	sum, n := 0.0, 0
	if mf := e[name]; mf != nil {
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(kv); i += 2 {
				if label(m, kv[i]) != kv[i+1] {
					continue next
				}
			}
			sum += valueOf(m)
			n++
		}
	}
	return sum, n
}

// Behind an NSS server (the simulator's example NSS data set, served as
// NSS1): each client system gets its series under its own name; a client
// not enabled for remote management answers EOPNOTSUPP (stack_up 0); the
// filter set is not exported (the NSS server does not route
// NMsec_GET_STACKINFO) while the filter count is; a client that
// disconnects leaves its system up and its stack down; with the NSS
// server stopped every system behind it is down.
func TestExporterNSS(t *testing.T) {
	d, err := ikedsim.LoadNSSDataSet("../ikedsim/testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, "", ikedsim.Config{NSS: d, System: "NSS1"})
	reg := prometheus.NewRegistry()
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(s.path), Addr: s.path, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	t.Cleanup(func() { pool.Close() })
	f, err := fleet.New([]fleet.Endpoint{{Name: "NSS1", Kind: fleet.NSS, NMI: pool}}, "", fleet.Options{ClientTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExporter(ExporterConfig{Fleet: f})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(e)

	x := scrape(t, reg)
	for _, sys := range []string{"SYSA", "SYSB"} {
		if v := x.mustValue(t, "nmigw_ipsec_up", "system", sys); v != 1 {
			t.Errorf("nmigw_ipsec_up{system=%s} = %v", sys, v)
		}
	}
	if _, n := x.sumOf("nmigw_ipsec_up", "system", "NSS1"); n != 0 {
		t.Error("the NSS server's own system is exported although it has clients")
	}
	for _, c := range []struct {
		sys, stack string
		up         float64
	}{{"SYSA", "TCPIP", 1}, {"SYSA", "TCPIPB", 0}, {"SYSB", "TCPIP", 1}} {
		if v := x.mustValue(t, "nmigw_ipsec_stack_up", "system", c.sys, "stack", c.stack); v != c.up {
			t.Errorf("stack_up{%s/%s} = %v, want %v", c.sys, c.stack, v, c.up)
		}
	}
	for _, c := range []struct{ sys, metric string }{
		{"SYSA", "nmigw_ipsec_ike_tunnels"}, {"SYSA", "nmigw_ipsec_dynamic_tunnels"}, {"SYSA", "nmigw_ipsec_manual_tunnels"},
		{"SYSB", "nmigw_ipsec_ike_tunnels"}, {"SYSB", "nmigw_ipsec_dynamic_tunnels"},
	} {
		var st *ikedsim.Stack
		for _, ds := range d.Systems {
			if ds.System == c.sys {
				st = ds.Stacks[0]
			}
		}
		want := map[string]int{"nmigw_ipsec_ike_tunnels": len(st.IKETunnels), "nmigw_ipsec_dynamic_tunnels": len(st.DynTunnels),
			"nmigw_ipsec_manual_tunnels": len(st.ManualTunnels)}[c.metric]
		if got, _ := x.sumOf(c.metric, "system", c.sys, "stack", "TCPIP"); got != float64(want) {
			t.Errorf("%s{%s/TCPIP}: %v, the data set has %d", c.metric, c.sys, got, want)
		}
	}
	if _, n := x.sumOf("nmigw_ipsec_filter_set"); n != 0 {
		t.Errorf("%d filter set series behind an NSS server, which does not route NMsec_GET_STACKINFO", n)
	}
	l, _ := s.srv.NSSModel("SYSA").Filters("TCPIP", ikedsim.SourceCurrent)
	if v := x.mustValue(t, "nmigw_ipsec_filters", "system", "SYSA", "stack", "TCPIP"); v != float64(l.Len()) || v == 0 {
		t.Errorf("filters of SYSA/TCPIP: %v, want %d", v, l.Len())
	}

	if err := s.srv.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	x = scrape(t, reg)
	if v := x.mustValue(t, "nmigw_ipsec_stack_up", "system", "SYSB", "stack", "TCPIP"); v != 0 {
		t.Errorf("SYSBTCP disconnected: stack_up{SYSB/TCPIP} = %v", v)
	}
	if v := x.mustValue(t, "nmigw_ipsec_up", "system", "SYSB"); v != 1 {
		t.Errorf("SYSBTCP disconnected: up{SYSB} = %v (the NSS server answered)", v)
	}
	if _, n := x.sumOf("nmigw_ipsec_ike_tunnels", "system", "SYSB"); n != 0 {
		t.Errorf("SYSBTCP disconnected: %d IKE tunnel series of SYSB", n)
	}

	s.stop(t)
	x = scrape(t, reg)
	for _, sys := range []string{"SYSA", "SYSB"} {
		if v := x.mustValue(t, "nmigw_ipsec_up", "system", sys); v != 0 {
			t.Errorf("NSS server stopped: up{%s} = %v", sys, v)
		}
	}
	if _, n := x.sumOf("nmigw_ipsec_stack_up"); n != 0 {
		t.Errorf("NSS server stopped: %d stack series", n)
	}
}
