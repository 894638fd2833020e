package metrics

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// frozen returns a clock standing at the data set's epoch: the model does
// not move, so what IKED answers is the data set itself.
func frozen(ds *ikedsim.DataSet) *clock { return ikedsim.NewClock(ds.Epoch) }

func (g *gateway) exporter(t *testing.T, cfg ExporterConfig) *Exporter {
	t.Helper()
	cfg.NMI = g.pool
	e, err := NewExporter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.reg.Register(e); err != nil {
		t.Fatal(err)
	}
	return e
}

// want is what the exporter should show for one stack, computed from the
// data set.
type want struct {
	ike, dyn, man map[string]float64
	tunnels       map[string]string // "type/id" -> state of the tunnel
}

func expected(st *ikedsim.Stack) want {
	w := want{ike: map[string]float64{}, dyn: map[string]float64{}, man: map[string]float64{}, tunnels: map[string]string{}}
	for _, s := range ipsec.KindIKE.States() {
		w.ike[s] = 0
	}
	for _, s := range ipsec.KindDynamic.States() {
		w.dyn[s], w.man[s] = 0, 0
	}
	// A tunnel is active when one of its generations is, else it is in
	// the state of its newest generation.
	newest := map[string]uint32{}
	family := func(key, state string, gen uint32) {
		if w.tunnels[key] == "active" {
			return
		}
		if g, seen := newest[key]; state == "active" || !seen || gen >= g {
			w.tunnels[key], newest[key] = state, gen
		}
	}
	for _, t := range st.IKETunnels {
		w.ike[ipsec.IKEStateName(t.State)]++
		family("ike/"+t.ID, ipsec.IKEStateName(t.State), t.Generation)
	}
	for _, t := range st.DynTunnels {
		w.dyn[ipsec.IPStateName(t.State)]++
		family("dynamic/"+t.ID, ipsec.IPStateName(t.State), t.Generation)
	}
	for _, t := range st.ManualTunnels {
		w.man[ipsec.IPStateName(t.State)]++
		family("manual/"+t.ID, ipsec.IPStateName(t.State), 0)
	}
	return w
}

// checkStack compares the per-stack series with the data set.
func checkStack(t *testing.T, e exposition, st *ikedsim.Stack, filters int) {
	t.Helper()
	checkStackOn(t, e, "SYS1", st, filters)
}

// checkStackOn compares the per-stack series of st on system with the
// data set.
func checkStackOn(t *testing.T, e exposition, system string, st *ikedsim.Stack, filters int) {
	t.Helper()
	w := expected(st)
	for metric, byState := range map[string]map[string]float64{
		"nmigw_ipsec_ike_tunnels": w.ike, "nmigw_ipsec_dynamic_tunnels": w.dyn, "nmigw_ipsec_manual_tunnels": w.man,
	} {
		if n := e.count(metric, "system", system, "stack", st.Name); n != len(byState) {
			t.Errorf("%s{stack=%s}: %d series, want one per state (%d)", metric, st.Name, n, len(byState))
		}
		for state, n := range byState {
			if v := e.mustValue(t, metric, "system", system, "stack", st.Name, "state", state); v != n {
				t.Errorf("%s{stack=%s,state=%s} = %v, want %v", metric, st.Name, state, v, n)
			}
		}
	}
	for _, fs := range []nmi.FilterSet{nmi.FilterSetDefault, nmi.FilterSetPolicy} {
		if v := e.mustValue(t, "nmigw_ipsec_filter_set", "system", system, "stack", st.Name, "set", fs.String()); v != boolValue(st.FilterSet == fs) {
			t.Errorf("filter set %s of %s: %v", fs, st.Name, v)
		}
	}
	if v := e.mustValue(t, "nmigw_ipsec_filters", "system", system, "stack", st.Name); v != float64(filters) {
		t.Errorf("filters of %s: %v, want %d", st.Name, v, filters)
	}
	c := st.Counters
	for _, x := range []struct {
		phase, initiator, result string
		n                        uint64
	}{
		{"ike", "local", "success", c.P1.LclActSuccess}, {"ike", "remote", "failure", c.P1.RmtActFailure},
		{"ipsec", "local", "success", c.P2.LclActSuccess}, {"ipsec", "remote", "success", c.P2.RmtActSuccess},
	} {
		if v := e.mustValue(t, "nmigw_ipsec_activations_total", "system", system, "stack", st.Name, "phase", x.phase, "initiator", x.initiator, "result", x.result); v != float64(x.n) {
			t.Errorf("activations %s %s %s of %s: %v, want %d", x.phase, x.initiator, x.result, st.Name, v, x.n)
		}
	}
	if v := e.mustValue(t, "nmigw_ipsec_summary_tunnels", "system", system, "stack", st.Name, "phase", "ike", "state", "active"); v != w.ike["active"] {
		t.Errorf("summary active IKE tunnels of %s: %v, want %v", st.Name, v, w.ike["active"])
	}
}

// tunnelState returns the state series of one tunnel: state -> value.
func tunnelState(e exposition, stack, typ, id string) map[string]float64 {
	out := map[string]float64{}
	if mf := e["nmigw_ipsec_tunnel_state"]; mf != nil {
		for _, m := range mf.GetMetric() {
			if label(m, "stack") == stack && label(m, "type") == typ && label(m, "tunnel_id") == id {
				out[label(m, "state")] = valueOf(m)
			}
		}
	}
	return out
}

// currentFilters is the size of the stack's filter set in effect, as the
// simulator's model has it (dynamic filters included).
func currentFilters(t *testing.T, s *sim, stack string) int {
	l, ok := s.srv.Model().Filters(stack, ikedsim.SourceCurrent)
	if !ok {
		t.Fatalf("no stack %s", stack)
	}
	return l.Len()
}

// TestExporterDemo scrapes the exporter over a real simulator serving the
// demo data set.
func TestExporterDemo(t *testing.T) {
	ds := ikedsim.Demo()
	clk := frozen(ds)
	s := startSim(t, "", ikedsim.Config{Data: ikedsim.Demo(), Now: clk.Now})
	g := newGateway(t, s.path)
	g.exporter(t, ExporterConfig{Now: clk.Now, Tunnels: TunnelSelection{Allow: []string{"Y1", "ker-branch1", "MANUAL-LEGACY"}}})

	e := scrape(t, g.reg)
	if v := e.mustValue(t, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
		t.Fatalf("nmigw_ipsec_up = %v", v)
	}
	for _, st := range ds.Stacks {
		if v := e.mustValue(t, "nmigw_ipsec_stack_up", "system", "SYS1", "stack", st.Name); v != 1 {
			t.Errorf("stack %s up = %v", st.Name, v)
		}
		checkStack(t, e, st, currentFilters(t, s, st.Name))
	}

	// Allow-listed: Y1 of both stacks (by ID), K1 of TCPIP (by its
	// KeyExchangeRule), M2 (by its VpnAction).
	sel := map[string]bool{}
	for _, st := range ds.Stacks {
		w := expected(st)
		for key, state := range w.tunnels {
			typ, id, _ := cut(key)
			got := tunnelState(e, st.Name, typ, id)
			selected := id == "Y1" || st.Name == "TCPIP" && (id == "K1" || id == "M2")
			if !selected {
				if len(got) != 0 {
					t.Errorf("%s %s of %s has series without being selected", typ, id, st.Name)
				}
				continue
			}
			sel[st.Name+"/"+key] = true
			states := ipsec.KindDynamic.States()
			if typ == "ike" {
				states = ipsec.KindIKE.States()
			}
			if len(got) != len(states) {
				t.Errorf("%s %s of %s: %d state series, want %d", typ, id, st.Name, len(got), len(states))
			}
			for _, name := range states {
				if got[name] != boolValue(name == state) {
					t.Errorf("%s %s of %s: state %s = %v, data set says %s", typ, id, st.Name, name, got[name], state)
				}
			}
		}
	}
	if len(sel) != 4 {
		t.Errorf("selected tunnels: %v", sel)
	}
	// Y1 of TCPIP: two generations (expired, active); counters over both.
	in := e.mustValue(t, "nmigw_ipsec_tunnel_bytes_total", "system", "SYS1", "stack", "TCPIP", "type", "dynamic", "tunnel_id", "Y1", "name", "BRANCH1-VPN", "direction", "in")
	var sum uint64
	for _, y := range ds.Stacks[0].DynTunnels {
		if y.ID == "Y1" {
			sum += y.Traffic.InBytes
		}
	}
	if in != float64(sum) || sum == 0 {
		t.Errorf("Y1 bytes in: %v, data set %d", in, sum)
	}
	left := e.mustValue(t, "nmigw_ipsec_tunnel_expiry_remaining_seconds", "system", "SYS1", "stack", "TCPIP", "type", "dynamic", "tunnel_id", "Y1", "name", "BRANCH1-VPN")
	if left != 10*60 { // active 50 minutes of an hour
		t.Errorf("Y1 expires in %vs, want 600", left)
	}
	if _, ok := e.value("nmigw_ipsec_tunnel_expiry_remaining_seconds", "system", "SYS1", "stack", "TCPIP", "type", "manual", "tunnel_id", "M2", "name", "MANUAL-LEGACY"); ok {
		t.Error("an inactive manual tunnel has a time to expiry")
	}
	if v := e.mustValue(t, "nmigw_ipsec_tunnel_series_dropped", "system", "SYS1"); v != 0 {
		t.Errorf("dropped %v with room to spare", v)
	}
}

func cut(key string) (typ, id string, ok bool) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// TestExporterTunnelGoesDown lets a tunnel expire (the simulator's clock
// moves past its lifetime): its state series stay, active drops to 0.
// Then IKED restarts without the tunnel: its state series stay, all 0.
func TestExporterTunnelGoesDown(t *testing.T) {
	ds := ikedsim.Demo()
	y2 := &ds.Stacks[0].DynTunnels[2]
	if y2.ID != "Y2" || y2.State != ikedsim.TunActive {
		t.Fatalf("demo data set changed: %s %v", y2.ID, y2.State)
	}
	y2.AutoRefresh = false // expires instead of being refreshed
	clk := frozen(ds)
	s := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	g := newGateway(t, s.path)
	g.exporter(t, ExporterConfig{Now: clk.Now, Tunnels: TunnelSelection{Allow: []string{"BRANCH1-DB-VPN"}}})

	got := tunnelState(scrape(t, g.reg), "TCPIP", "dynamic", "Y2")
	if got["active"] != 1 {
		t.Fatalf("Y2 before expiry: %v", got)
	}
	clk.Advance(y2.Expires.Sub(ds.Epoch) + time.Minute)
	e := scrape(t, g.reg)
	got = tunnelState(e, "TCPIP", "dynamic", "Y2")
	if len(got) != len(ipsec.KindDynamic.States()) || got["active"] != 0 || got["expired"] != 1 {
		t.Errorf("Y2 after expiry: %v, want every state with expired 1", got)
	}
	if _, ok := e.value("nmigw_ipsec_tunnel_expiry_remaining_seconds", "system", "SYS1", "stack", "TCPIP", "type", "dynamic", "tunnel_id", "Y2", "name", "BRANCH1-DB-VPN"); ok {
		t.Error("an expired tunnel has a time to expiry")
	}

	// IKED comes back with a data set without Y2.
	s.stop(t)
	ds2 := ikedsim.Demo()
	st := ds2.Stacks[0]
	st.DynTunnels = append(st.DynTunnels[:2:2], st.DynTunnels[3:]...)
	for i := 0; i < len(st.PortTranslations); i++ {
		if st.PortTranslations[i].TunnelID == "Y2" {
			st.PortTranslations = append(st.PortTranslations[:i], st.PortTranslations[i+1:]...)
			i--
		}
	}
	startSim(t, s.path, ikedsim.Config{Data: ds2, Now: clk.Now})
	e = scrape(t, g.reg)
	if v := e.mustValue(t, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
		t.Fatalf("up after the restart: %v", v)
	}
	got = tunnelState(e, "TCPIP", "dynamic", "Y2")
	if len(got) != len(ipsec.KindDynamic.States()) {
		t.Fatalf("Y2 gone from IKED vanished from the metrics: %v", got)
	}
	for state, v := range got {
		if v != 0 {
			t.Errorf("Y2 gone from IKED: state %s = %v", state, v)
		}
	}
	if n := e.count("nmigw_ipsec_tunnel_bytes_total", "tunnel_id", "Y2"); n != 0 {
		t.Errorf("Y2 gone from IKED still has %d byte series", n)
	}

	// After KeepDown it is forgotten.
	clk.Advance(DefaultKeepDown + time.Minute)
	if got := tunnelState(scrape(t, g.reg), "TCPIP", "dynamic", "Y2"); len(got) != 0 {
		t.Errorf("Y2 kept after KeepDown: %v", got)
	}
}

// TestExporterIKEDDown: a scrape that cannot reach IKED answers up 0 and
// nothing about stacks or tunnels, not even what an earlier scrape saw.
func TestExporterIKEDDown(t *testing.T) {
	s := startSim(t, "", ikedsim.Config{})
	g := newGateway(t, s.path)
	g.exporter(t, ExporterConfig{Tunnels: TunnelSelection{TopN: 5}})
	e := scrape(t, g.reg)
	if e.mustValue(t, "nmigw_ipsec_up", "system", "SYS1") != 1 || e.count("nmigw_ipsec_tunnel_state") == 0 {
		t.Fatalf("up %v, %d tunnel series", e.series("nmigw_ipsec_up"), e.count("nmigw_ipsec_tunnel_state"))
	}
	s.stop(t)
	e = scrape(t, g.reg)
	if v := e.mustValue(t, "nmigw_ipsec_up", "system", "SYS1"); v != 0 {
		t.Errorf("nmigw_ipsec_up = %v with IKED stopped", v)
	}
	for name := range e {
		switch name {
		case "nmigw_ipsec_up", "nmigw_ipsec_scrape_duration_seconds", "nmigw_ipsec_data_age_seconds", "nmigw_ipsec_tunnel_series_limit":
		default:
			if len(name) > 12 && name[:12] == "nmigw_ipsec_" {
				t.Errorf("%s exported with IKED stopped: %v", name, e.series(name))
			}
		}
	}
}

// TestExporterSeriesCap: 10,000 tunnels of each kind; the top 5,000 by
// bytes and an allow-listed rule cannot exceed the cap.
func TestExporterSeriesCap(t *testing.T) {
	ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 200, Tunnels: 10000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk := frozen(ds)
	s := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	g := newGateway(t, s.path)
	const limit = 500
	g.exporter(t, ExporterConfig{Now: clk.Now, ScrapeTimeout: time.Minute,
		Tunnels: TunnelSelection{Allow: []string{"GEN-VPN-00001"}, TopN: 5000, MaxSeries: limit}})
	e := scrape(t, g.reg)
	if v := e.mustValue(t, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
		t.Fatalf("up = %v", v)
	}
	checkStack(t, e, ds.Stacks[0], currentFilters(t, s, ds.Stacks[0].Name))
	n := 0
	for name := range e {
		if len(name) > 19 && name[:19] == "nmigw_ipsec_tunnel_" && name != "nmigw_ipsec_tunnel_series_limit" && name != "nmigw_ipsec_tunnel_series_dropped" {
			n += len(e[name].GetMetric())
		}
	}
	if n == 0 || n > limit {
		t.Errorf("%d per-tunnel series, cap %d", n, limit)
	}
	if v := e.mustValue(t, "nmigw_ipsec_tunnel_series_limit"); v != limit {
		t.Errorf("limit %v", v)
	}
	if v := e.mustValue(t, "nmigw_ipsec_tunnel_series_dropped", "system", "SYS1"); v == 0 {
		t.Error("nothing dropped selecting 5,000 tunnels under a cap of 500 series")
	}
	// The allow-listed rule's tunnels come first.
	if e.count("nmigw_ipsec_tunnel_state", "name", "GEN-VPN-00001") == 0 {
		t.Error("the allow-listed rule's tunnels were crowded out")
	}
}

// gatedNMI holds the first exchange until open is closed.
type gatedNMI struct {
	NMI
	once    sync.Once
	reached chan struct{}
	open    chan struct{}
}

func (g *gatedNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	g.once.Do(func() {
		close(g.reached)
		<-g.open
	})
	return g.NMI.Do(ctx, req, fn)
}

// TestExporterConcurrentScrapes: scrapes that arrive while a round runs
// join it; IKED sees one round.
func TestExporterConcurrentScrapes(t *testing.T) {
	ds := ikedsim.Demo()
	clk := frozen(ds)
	s := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	g := newGateway(t, s.path)
	gate := &gatedNMI{NMI: g.pool, reached: make(chan struct{}), open: make(chan struct{})}
	e, err := NewExporter(ExporterConfig{NMI: gate, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	g.reg.MustRegister(e)
	const scrapes = 8
	var joined sync.WaitGroup
	joined.Add(scrapes)
	e.onJoin = joined.Done

	results := make(chan exposition, scrapes)
	for i := 0; i < scrapes; i++ {
		go func() {
			mfs, err := g.reg.Gather()
			if err != nil {
				t.Error(err)
			}
			ex := exposition{}
			for _, mf := range mfs {
				ex[mf.GetName()] = mf
			}
			results <- ex
		}()
	}
	<-gate.reached // the round is under way and held
	joined.Wait()  // every scrape has joined it
	close(gate.open)
	for i := 0; i < scrapes; i++ {
		ex := <-results
		if v := ex.mustValue(t, "nmigw_ipsec_up", "system", "SYS1"); v != 1 {
			t.Errorf("scrape %d: up %v", i, v)
		}
	}
	e.onJoin = nil
	perRound := 1 + 5*len(ds.Stacks) // stack list, then 5 requests per stack
	if n := g.exchanges(t); n != float64(perRound) {
		t.Errorf("%d concurrent scrapes made %v NMI exchanges, one round is %d", scrapes, n, perRound)
	}

	// A later scrape runs a new round, without counting the filters of
	// a filter set that has not changed.
	if _, err := g.reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n, want := g.exchanges(t), 2*perRound-len(ds.Stacks); n != float64(want) {
		t.Errorf("after a later scrape: %v exchanges, want %d", n, want)
	}
}

// TestExporterCountsFiltersWhenTheyMayHaveChanged: a steady scrape does
// not read the filter rules again (IKED counts no NMsec_GET_IPFLTCURR and
// far fewer bytes); a change of the filter set, or the filter interval,
// has them read again.
func TestExporterCountsFiltersWhenTheyMayHaveChanged(t *testing.T) {
	ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 5000, Tunnels: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk := frozen(ds)
	s := startSim(t, "", ikedsim.Config{Data: ds, Now: clk.Now})
	g := newGateway(t, s.path)
	g.exporter(t, ExporterConfig{Now: clk.Now, FilterInterval: time.Hour})
	stack := ds.Stacks[0].Name
	reads := func() uint64 { return s.srv.Requests(nmi.GetIPFltCurr) }

	bytes0 := s.srv.SentBytes()
	e := scrape(t, g.reg)
	first := s.srv.SentBytes() - bytes0
	if reads() != 1 {
		t.Fatalf("first scrape: %d filter reads, want 1", reads())
	}
	want := float64(currentFilters(t, s, stack))
	if v := e.mustValue(t, "nmigw_ipsec_filters", "system", "SYS1", "stack", stack); v != want {
		t.Errorf("filters %v, want %v", v, want)
	}
	clk.Advance(time.Minute)
	bytes0 = s.srv.SentBytes()
	e = scrape(t, g.reg)
	steady := s.srv.SentBytes() - bytes0
	if reads() != 1 {
		t.Errorf("steady scrape: %d filter reads, want still 1", reads())
	}
	if v := e.mustValue(t, "nmigw_ipsec_filters", "system", "SYS1", "stack", stack); v != want {
		t.Errorf("steady scrape: filters %v, want %v (the last count)", v, want)
	}
	if steady*10 > first {
		t.Errorf("steady scrape moved %d NMI bytes, the first %d: the filter rules were read again", steady, first)
	}

	// Another filter set comes into effect: counted again.
	set := nmi.FilterSetDefault
	if ds.Stacks[0].FilterSet == nmi.FilterSetDefault {
		set = nmi.FilterSetPolicy
	}
	if !s.srv.Model().LoadPolicy(stack, set) {
		t.Fatal("load policy")
	}
	clk.Advance(2 * time.Second)
	e = scrape(t, g.reg)
	if reads() != 2 {
		t.Errorf("after a filter set switch: %d filter reads, want 2", reads())
	}
	if v, w := e.mustValue(t, "nmigw_ipsec_filters", "system", "SYS1", "stack", stack), float64(currentFilters(t, s, stack)); v != w {
		t.Errorf("after the switch: filters %v, want %v", v, w)
	}
	clk.Advance(time.Hour)
	scrape(t, g.reg)
	if reads() != 3 {
		t.Errorf("after the filter interval: %d filter reads, want 3", reads())
	}
}
