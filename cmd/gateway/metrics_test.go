package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsOf reads /metrics, lints it as testutil.GatherAndLint does (zero
// problems) and parses it with Prometheus's text parser.
// hdr are headers as name, value pairs (credentials).
func (g *gateway) metricsOf(hdr ...string) map[string]*dto.MetricFamily {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+"/metrics", nil)
	if err != nil {
		g.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, p := range problems {
		g.t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	return mfs
}

// labelKey is a series' labels as "name=value,..." sorted.
func labelKey(m *dto.Metric) string {
	var kv []string
	for _, l := range m.GetLabel() {
		kv = append(kv, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// sample returns the value of the series of name with exactly the labels
// kv (name, value, ...), and whether it exists.
func sample(mfs map[string]*dto.MetricFamily, name string, kv ...string) (float64, bool) {
	var want []string
	for i := 0; i+1 < len(kv); i += 2 {
		want = append(want, kv[i]+"="+kv[i+1])
	}
	sort.Strings(want)
	for _, m := range mfs[name].GetMetric() {
		if labelKey(m) == strings.Join(want, ",") {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			}
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// counterDeltas is, for every series of the counter name, how much it grew
// from before to after (series that did not grow are left out).
func counterDeltas(before, after map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range after[name].GetMetric() {
		k := labelKey(m)
		var b float64
		for _, bm := range before[name].GetMetric() {
			if labelKey(bm) == k {
				b = bm.GetCounter().GetValue()
			}
		}
		if d := m.GetCounter().GetValue() - b; d != 0 {
			out[k] = d
		}
	}
	return out
}

func TestMetricsCountRequests(t *testing.T) {
	g := startGateway(t, "--exporter=false") // scrapes add no NMI exchange
	m := operatorRe.FindStringSubmatch(g.out.String())
	if m == nil {
		t.Fatalf("no operator token in:\n%s", g.out.String())
	}
	before := g.metricsOf()
	for range 3 {
		g.object("/v1/stacks", http.StatusOK)
	}
	g.object("/v1/stacks/TCPIP/summary", http.StatusOK)
	g.object("/v1/stacks/TCPIP/summary", http.StatusOK)
	g.object("/v1/stacks/NOSUCH/summary", http.StatusNotFound)
	if resp, err := g.client.Get(g.base + "/v1/no/such/path"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unmatched path: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	v := g.postObject("/v1/stacks/TCPIP/tunnels/manual/M2:activate", "", http.StatusOK, "Authorization", "Bearer "+m[1])
	if got := results(t, v); len(got) != 1 || !strings.HasSuffix(got[0], "/M2/stateUpdated") {
		t.Fatalf("activation of M2: %v", got)
	}
	after := g.metricsOf()

	key := func(route, method, code string) string {
		return "code=" + code + ",method=" + method + ",route=" + route
	}
	wantHTTP := map[string]float64{
		key("/metrics", "GET", "200"):                                               1, // the first scrape
		key("/v1/stacks", "GET", "200"):                                             3,
		key("/v1/stacks/{stack}/summary", "GET", "200"):                             2,
		key("/v1/stacks/{stack}/summary", "GET", "404"):                             1,
		key("/*", "GET", "404"):                                                     1,
		key("/v1/stacks/{stack}/tunnels/manual/{tunnelId}:activate", "POST", "200"): 1,
	}
	if got := counterDeltas(before, after, "nmigw_http_requests_total"); !maps.Equal(got, wantHTTP) {
		t.Errorf("HTTP requests counted %v, want %v", got, wantHTTP)
	}

	// Every request but the unmatched one and the scrape asks the NMI:
	// listing stacks one NMsec_GET_STACKINFO and one NMsec_GET_IKENSINFO,
	// a summary one NMsec_GET_SUMMARY (ENXIO for NOSUCH), the activation
	// one NMsec_GET_IPTUNMANUAL for the tunnel's name and NMsec_ACT_MANTUN.
	nmiKey := func(t nmi.MsgType, outcome string) string {
		return "outcome=" + outcome + ",system=SYS1,type=" + t.String()
	}
	wantNMI := map[string]float64{
		nmiKey(nmi.GetStackInfo, "ok"):   3,
		nmiKey(nmi.GetIKENSInfo, "ok"):   3,
		nmiKey(nmi.GetSummary, "ok"):     2,
		nmiKey(nmi.GetSummary, "status"): 1,
		nmiKey(nmi.GetIPTunManual, "ok"): 1,
		nmiKey(nmi.ActManTun, "ok"):      1,
	}
	if got := counterDeltas(before, after, "nmigw_nmi_exchanges_total"); !maps.Equal(got, wantNMI) {
		t.Errorf("NMI exchanges counted %v, want %v", got, wantNMI)
	}
	wantCodes := map[string]float64{"rc=" + nmi.ENXIO.String() + ",rsn=" + nmi.RsnNone.String() + ",system=SYS1,type=" + nmi.GetSummary.String(): 1}
	if got := counterDeltas(before, after, "nmigw_nmi_status_codes_total"); !maps.Equal(got, wantCodes) {
		t.Errorf("NMI codes counted %v, want %v", got, wantCodes)
	}

	for _, name := range []string{"nmigw_http_requests_total", "nmigw_http_request_duration_seconds", "nmigw_http_response_size_bytes"} {
		for _, s := range after[name].GetMetric() {
			if k := labelKey(s); strings.Contains(k, "TCPIP") || strings.Contains(k, "NOSUCH") || strings.Contains(k, "/v1/no") {
				t.Errorf("%s: raw path as route label: %s", name, k)
			}
		}
	}
	if _, ok := sample(after, "nmigw_ipsec_up", "system", "SYS1"); ok {
		t.Error("--exporter=false still exports nmigw_ipsec_up")
	}
	if v, ok := sample(after, "nmigw_nmi_pool_max_connections", "system", "SYS1"); !ok || v != 4 {
		t.Errorf("nmigw_nmi_pool_max_connections %v (present %v), want the default pool size 4", v, ok)
	}
	if v, ok := sample(after, "nmigw_nmi_pool_connections_opened_total", "system", "SYS1"); !ok || v < 1 {
		t.Errorf("nmigw_nmi_pool_connections_opened_total %v", v)
	}
	var inits uint64
	for _, s := range after["nmigw_nmi_init_wait_seconds"].GetMetric() {
		inits += s.GetHistogram().GetSampleCount()
	}
	if opened, _ := sample(after, "nmigw_nmi_pool_connections_opened_total", "system", "SYS1"); float64(inits) != opened {
		t.Errorf("%d INIT waits observed for %v connections opened", inits, opened)
	}
	if len(after["nmigw_build_info"].GetMetric()) != 1 {
		t.Error("no nmigw_build_info")
	}
}

// stateCounts counts the states of a data set's security associations of
// kind k by their API names (the metrics' label values).
func stateCounts[T any](k ipsec.Kind, items []T, state func(T) uint8) map[string]float64 {
	out := map[string]float64{}
	for _, it := range items {
		out[k.StateName(state(it))]++
	}
	return out
}

// singleDynTunnel is a dynamic tunnel of the stack that is active, the only
// generation of its ID and the only tunnel of its rule.
func singleDynTunnel(t *testing.T, st *ikedsim.Stack) ikedsim.DynTunnel {
	t.Helper()
	ids, rules := map[string]int{}, map[string]int{}
	for _, y := range st.DynTunnels {
		ids[y.ID]++
		rules[y.LocalDynVpnRule]++
	}
	for _, y := range st.DynTunnels {
		if y.State == nmi.IPTunActive && ids[y.ID] == 1 && rules[y.LocalDynVpnRule] == 1 {
			return y
		}
	}
	t.Fatalf("stack %s has no active dynamic tunnel alone of its ID and rule", st.Name)
	return ikedsim.DynTunnel{}
}

func TestMetricsExporterDemo(t *testing.T) {
	demo := ikedsim.Demo()
	st0 := demo.Stacks[0]
	y := singleDynTunnel(t, st0)
	g := startGateway(t, "--exporter-tunnels", y.LocalDynVpnRule)
	op := operatorRe.FindStringSubmatch(g.out.String())
	if op == nil {
		t.Fatalf("no operator token in:\n%s", g.out.String())
	}

	// Without credentials a scrape gets no IPsec series; the viewer, who
	// may display every stack of the demo, gets them all.
	for name := range g.metricsOf() {
		if strings.HasPrefix(name, "nmigw_ipsec_") {
			t.Errorf("a scrape without credentials got %s", name)
		}
	}
	// The demo's clock is real time: its SAs change on their own after
	// minutes at the earliest, so the scrape sees the data set as it is.
	mfs := g.metricsOf("Authorization", "Bearer "+g.viewer)
	if v, _ := sample(mfs, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
		t.Fatalf("nmigw_ipsec_up = %v", v)
	}
	ikeStates := ipsec.KindIKE.States()
	ipStates := ipsec.KindDynamic.States()
	for _, st := range demo.Stacks {
		for _, c := range []struct {
			metric string
			states []string
			want   map[string]float64
		}{
			{"nmigw_ipsec_ike_tunnels", ikeStates, stateCounts(ipsec.KindIKE, st.IKETunnels, func(k ikedsim.IKETunnel) uint8 { return uint8(k.State) })},
			{"nmigw_ipsec_dynamic_tunnels", ipStates, stateCounts(ipsec.KindDynamic, st.DynTunnels, func(y ikedsim.DynTunnel) uint8 { return uint8(y.State) })},
			{"nmigw_ipsec_manual_tunnels", ipStates, stateCounts(ipsec.KindManual, st.ManualTunnels, func(m ikedsim.ManualTunnel) uint8 { return uint8(m.State) })},
		} {
			n := 0
			for _, s := range mfs[c.metric].GetMetric() {
				if strings.Contains(labelKey(s), "stack="+st.Name+",") {
					n++
				}
			}
			if n != len(c.states) {
				t.Errorf("%s{stack=%s}: %d series, want one per state %v", c.metric, st.Name, n, c.states)
			}
			for _, state := range c.states {
				v, ok := sample(mfs, c.metric, "system", "SYS1", "stack", st.Name, "state", state)
				if !ok || v != c.want[state] {
					t.Errorf("%s{stack=%s,state=%s} = %v (present %v); the data set has %v", c.metric, st.Name, state, v, ok, c.want[state])
				}
			}
		}
	}

	// The allow-listed tunnel has state series; deactivated through the
	// API, active drops to 0 and the series stay.
	tunnelState := func(mfs map[string]*dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, state := range ipStates {
			if v, ok := sample(mfs, "nmigw_ipsec_tunnel_state", "system", "SYS1", "stack", st0.Name, "type", "dynamic",
				"tunnel_id", y.ID, "name", y.LocalDynVpnRule, "state", state); ok {
				out[state] = v
			}
		}
		return out
	}
	if got := tunnelState(mfs); len(got) != len(ipStates) || got["active"] != 1 {
		t.Fatalf("%s before deactivation: %v", y.ID, got)
	}
	activeBefore, _ := sample(mfs, "nmigw_ipsec_dynamic_tunnels", "system", "SYS1", "stack", st0.Name, "state", "active")
	v := g.postObject("/v1/stacks/"+st0.Name+"/tunnels/dynamic/"+y.ID+":deactivate?wait=10s", "", http.StatusOK,
		"Authorization", "Bearer "+op[1])
	if got := results(t, v); !slices.Equal(got, []string{"/" + y.ID + "/stateUpdated"}) || v["reached"] != true {
		t.Fatalf("deactivation of %s: %v", y.ID, v)
	}
	mfs = g.metricsOf("Authorization", "Bearer "+g.viewer)
	if got := tunnelState(mfs); len(got) != len(ipStates) || got["active"] != 0 {
		t.Errorf("%s after deactivation: %v; want every state series present, active 0", y.ID, got)
	}
	if v, _ := sample(mfs, "nmigw_ipsec_dynamic_tunnels", "system", "SYS1", "stack", st0.Name, "state", "active"); v != activeBefore-1 {
		t.Errorf("active dynamic tunnels of %s: %v after deactivating one of %v", st0.Name, v, activeBefore)
	}
}

// simServer serves ds on a socket of its own, like an IKED the gateway
// does not own; stop ends it.
func simServer(t *testing.T, ds *ikedsim.DataSet) (path string, stop func()) {
	t.Helper()
	return simServerConfig(t, ikedsim.Config{Data: ds})
}

// simServerConfig is simServer with the simulator's whole configuration
// (faults, ...).
func simServerConfig(t *testing.T, cfg ikedsim.Config) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		<-done
	}
	t.Cleanup(stop)
	return path, stop
}

func TestMetricsIKEDStopped(t *testing.T) {
	demo := ikedsim.Demo()
	y := singleDynTunnel(t, demo.Stacks[0])
	path, stop := simServer(t, demo)
	g := startRun(t, "--nmi-socket", path, "--exporter-tunnels", y.ID)

	mfs := g.metricsOf()
	if v, _ := sample(mfs, "nmigw_ipsec_up", "system", "SYS1"); v != 1 || len(mfs["nmigw_ipsec_tunnel_state"].GetMetric()) == 0 {
		t.Fatalf("with IKED up: nmigw_ipsec_up %v, %d tunnel state series", v, len(mfs["nmigw_ipsec_tunnel_state"].GetMetric()))
	}

	stop()
	mfs = g.metricsOf()
	if v, ok := sample(mfs, "nmigw_ipsec_up", "system", "SYS1"); !ok || v != 0 {
		t.Errorf("IKED stopped: nmigw_ipsec_up %v (present %v), want 0", v, ok)
	}
	for name := range mfs {
		switch name {
		case "nmigw_ipsec_up", "nmigw_ipsec_scrape_duration_seconds", "nmigw_ipsec_data_age_seconds", "nmigw_ipsec_tunnel_series_limit":
		default:
			if strings.HasPrefix(name, "nmigw_ipsec_") {
				t.Errorf("IKED stopped: %s still exported", name)
			}
		}
	}
}

func TestMetricsSeriesCap(t *testing.T) {
	ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 200, Tunnels: 10000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := simServer(t, ds)
	const limit = 1000
	g := startRun(t, "--nmi-socket", path, "--exporter-top-n", "10000", "--exporter-max-series", "1000")
	mfs := g.metricsOf()
	if v, _ := sample(mfs, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
		t.Fatalf("nmigw_ipsec_up = %v", v)
	}
	n := 0
	for _, name := range []string{"nmigw_ipsec_tunnel_state", "nmigw_ipsec_tunnel_expiry_remaining_seconds",
		"nmigw_ipsec_tunnel_bytes_total", "nmigw_ipsec_tunnel_packets_total"} {
		n += len(mfs[name].GetMetric())
	}
	if n == 0 || n > limit {
		t.Errorf("%d per-tunnel series under a cap of %d", n, limit)
	}
	if v, _ := sample(mfs, "nmigw_ipsec_tunnel_series_limit"); v != limit {
		t.Errorf("nmigw_ipsec_tunnel_series_limit = %v", v)
	}
	if v, _ := sample(mfs, "nmigw_ipsec_tunnel_series_dropped", "system", "SYS1"); v == 0 {
		t.Error("10,000 tunnels chosen, none dropped under the cap")
	}
}
