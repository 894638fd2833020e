package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/ikedsim"
	dto "github.com/prometheus/client_model/go"
)

// dynamicCount is the sum over states of nmigw_ipsec_dynamic_tunnels of
// one system's stack, and whether any series of it is there.
func dynamicCount(mfs map[string]*dto.MetricFamily, system, stack string) (float64, bool) {
	n, found := 0.0, false
	for _, m := range mfs["nmigw_ipsec_dynamic_tunnels"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["system"] == system && l["stack"] == stack {
			n += m.GetGauge().GetValue()
			found = true
		}
	}
	return n, found
}

// seriesOf lists "metric{system/stack}" of every IPsec series of system
// that names a stack.
func seriesOf(mfs map[string]*dto.MetricFamily, system string) []string {
	var out []string
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "nmigw_ipsec_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["system"] == system && l["stack"] != "" {
				out = append(out, name+"{"+l["system"]+"/"+l["stack"]+"}")
			}
		}
	}
	sort.Strings(out)
	return out
}

// The gateway with systems: two IKEDs (in-process simulators on real
// AF_UNIX sockets), each with a stack named TCPIP holding different
// tunnels. /metrics, parsed with Prometheus's parser, carries each
// system's data under its name, each pool's series under its system, and
// the IPsec series a scraper may display per system and stack; with one
// IKED stopped its nmigw_ipsec_up is 0 and its stacks' series are gone
// while the other's stay; /v1/stacks/... is the default system's
// throughout, and /readyz follows the default system.
func TestWholeProgramTwoSystems(t *testing.T) {
	dsA := ikedsim.Demo()
	dsB, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 20, Tunnels: 30, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	stA, stB := dsA.Stacks[0], dsB.Stacks[0]
	if stA.Name != stB.Name || len(stA.DynTunnels) == len(stB.DynTunnels) {
		t.Fatalf("the test wants one stack name with different tunnels: %s (%d), %s (%d)",
			stA.Name, len(stA.DynTunnels), stB.Name, len(stB.DynTunnels))
	}
	sockA, _ := simServer(t, dsA)
	sockB, stopB := simServerConfig(t, ikedsim.Config{Data: dsB, Now: ikedsim.NewClock(dsB.Epoch).Now})

	dir := t.TempDir()
	const all, bOnly = "token-every-system-5c1e", "token-sysb-only-77a0"
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("system: SYSA\nanonymous: ANONYM\nprofiles:\n"+
		"  - {name: EZB.NETMGMT.SYSA.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: ALLSYS, level: READ}, {id: ANONYM, level: READ}]}\n"+
		"  - {name: EZB.NETMGMT.SYSB.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: ALLSYS, level: READ}, {id: BONLY, level: READ}]}\n"+
		"identities:\n  tokens:\n"+
		"    - {sha256: \""+sha256Hex(all)+"\", user: ALLSYS}\n"+
		"    - {sha256: \""+sha256Hex(bOnly)+"\", user: BONLY}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	captureB := filepath.Join(dir, "sysb.capture")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`pool-size: 3
systems:
  - {name: SYSB, nmi: "unix://%s", pool: 2, capture: %s}
  - {name: sysa, nmi: "unix://%s", default: true}
`, sockB, captureB, sockA)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startRun(t, "--config", cfg, "--policy", pol, "--exporter-top-n", "1000", "--exporter-timeout", "2s")
	for _, want := range []string{"NMI endpoint SYSB: unix://" + sockB, "NMI endpoint SYSA: unix://" + sockA} {
		if !strings.Contains(g.out.String(), want) {
			t.Errorf("the start lines lack %q:\n%s", want, g.out.String())
		}
	}
	authAll := []string{"Authorization", "Bearer " + all}

	mfs := g.metricsOf(authAll...)
	for sys, st := range map[string]*ikedsim.Stack{"SYSA": stA, "SYSB": stB} {
		if v, ok := sample(mfs, "nmigw_ipsec_up", "system", sys); !ok || v != 1 {
			t.Errorf("nmigw_ipsec_up{system=%s} = %v (present %v)", sys, v, ok)
		}
		if n, _ := dynamicCount(mfs, sys, st.Name); n != float64(len(st.DynTunnels)) {
			t.Errorf("%s/%s: %v dynamic tunnels exported, the data set has %d", sys, st.Name, n, len(st.DynTunnels))
		}
	}
	if n := mfs["nmigw_ipsec_tunnel_state"].GetMetric(); len(n) == 0 {
		t.Error("no per-tunnel series with --exporter-top-n")
	}
	for sys, size := range map[string]float64{"SYSA": 3, "SYSB": 2} {
		if v, ok := sample(mfs, "nmigw_nmi_pool_max_connections", "system", sys); !ok || v != size {
			t.Errorf("nmigw_nmi_pool_max_connections{system=%s} = %v (present %v), want %v", sys, v, ok, size)
		}
	}

	// SYSB's capture holds SYSB's exchanges and names its endpoint.
	f, err := os.Open(captureB)
	if err != nil {
		t.Fatal(err)
	}
	hdr, events, err := capture.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, ev := range events {
		if ev.Kind == capture.Send {
			sent++
		}
	}
	if hdr.Endpoint != "unix://"+sockB || sent == 0 {
		t.Errorf("SYSB's capture: endpoint %q, %d messages sent", hdr.Endpoint, sent)
	}

	// A scraper that may display SYSB only sees SYSB's stacks.
	mfsB := g.metricsOf("Authorization", "Bearer "+bOnly)
	if got := seriesOf(mfsB, "SYSA"); len(got) != 0 {
		t.Errorf("the SYSB-only scraper got %d SYSA series, e.g. %s", len(got), got[0])
	}
	if n, ok := dynamicCount(mfsB, "SYSB", stB.Name); !ok || n != float64(len(stB.DynTunnels)) {
		t.Errorf("the SYSB-only scraper: SYSB dynamic tunnels %v (present %v)", n, ok)
	}

	// /v1/stacks is the default system's (SYSA, the demo data set), here
	// for the anonymous caller, who may display SYSA's stacks.
	checkDefaultSystem := func() {
		t.Helper()
		var names []string
		for _, it := range g.list("/v1/stacks") {
			names = append(names, str(it, "name"))
		}
		var want []string
		for _, st := range dsA.Stacks {
			want = append(want, st.Name)
		}
		sort.Strings(want)
		if !slices.Equal(names, want) {
			t.Errorf("/v1/stacks: %v, want the default system's %v", names, want)
		}
		got := ids(g.list("/v1/stacks/" + stA.Name + "/tunnels/dynamic"))
		var wantIDs []string
		for _, d := range stA.DynTunnels {
			wantIDs = append(wantIDs, d.ID)
		}
		sort.Strings(got)
		wantIDs = uniq(wantIDs)
		sort.Strings(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("/v1/stacks/%s/tunnels/dynamic: %v, want SYSA's %v", stA.Name, got, wantIDs)
		}
	}
	checkDefaultSystem()

	// SYSB's IKED stops: its system is down, the other's series stay.
	stopB()
	mfs = g.metricsOf(authAll...)
	if v, ok := sample(mfs, "nmigw_ipsec_up", "system", "SYSB"); !ok || v != 0 {
		t.Errorf("SYSB stopped: nmigw_ipsec_up{system=SYSB} = %v (present %v), want 0", v, ok)
	}
	if got := seriesOf(mfs, "SYSB"); len(got) != 0 {
		t.Errorf("SYSB stopped: %d series of its stacks, e.g. %s", len(got), got[0])
	}
	if v, _ := sample(mfs, "nmigw_ipsec_up", "system", "SYSA"); v != 1 {
		t.Errorf("SYSB stopped: nmigw_ipsec_up{system=SYSA} = %v", v)
	}
	if n, _ := dynamicCount(mfs, "SYSA", stA.Name); n != float64(len(stA.DynTunnels)) {
		t.Errorf("SYSB stopped: SYSA/%s has %v dynamic tunnels exported, want %d", stA.Name, n, len(stA.DynTunnels))
	}
	// The NMI client series carry the system: SYSB's failures are its own
	// (counted by the scrape before: a scrape gathers the NMI client
	// series before its exporter round).
	failed := map[string]float64{}
	for _, m := range g.metricsOf()["nmigw_nmi_exchanges_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["outcome"] != "ok" {
			failed[l["system"]] += m.GetCounter().GetValue()
		}
	}
	if failed["SYSB"] == 0 || failed["SYSA"] != 0 {
		t.Errorf("NMI exchanges failed per system: %v, want SYSB's only", failed)
	}
	checkDefaultSystem()
	if resp, body := g.get("/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with the default system up: %s %s", resp.Status, body)
	}
}
