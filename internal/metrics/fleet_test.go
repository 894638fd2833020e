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
