package ikedsim

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock is the model's clock in tests.
type fakeClock = Clock

func newFakeClock() *fakeClock {
	return NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

func demoModel(t *testing.T) (*Model, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	m, err := NewModel(Demo(), clk.Now, Timing{})
	if err != nil {
		t.Fatal(err)
	}
	return m, clk
}

func findDyn(ts []DynTunnel, id string, gen uint32) *DynTunnel {
	for i := range ts {
		if ts[i].ID == id && ts[i].Generation == gen {
			return &ts[i]
		}
	}
	return nil
}

func TestDemoShape(t *testing.T) {
	m, _ := demoModel(t)
	st := m.Stacks()
	if len(st) != 2 || st[0].Name != "TCPIP" || st[1].Name != "TCPIPB" || m.System() != "SYS1" {
		t.Fatalf("stacks %+v", st)
	}
	if st[0].FilterSet != FilterSetPolicy || st[1].FilterSet != FilterSetDefault {
		t.Errorf("filter sets %d %d", st[0].FilterSet, st[1].FilterSet)
	}
	// Both filter sets hold IPv4 and IPv6 rules with match counts.
	for _, src := range []FilterSource{SourceDefault, SourcePolicy} {
		l, ok := m.Filters("TCPIP", src)
		if !ok {
			t.Fatal("no TCPIP")
		}
		var v4, v6, counted int
		_ = l.Each(func(f *Filter) error {
			if f.IPv6 {
				v6++
			} else {
				v4++
			}
			if f.MatchCount > 0 {
				counted++
			}
			return nil
		})
		if v4 == 0 || v6 == 0 || counted == 0 {
			t.Errorf("source %d: v4 %d v6 %d counted %d", src, v4, v6, counted)
		}
	}
	// IKE tunnels: families together, newest generation first, some with two.
	ike, _ := m.IKETunnels("TCPIP", false)
	gens := map[string]int{}
	for i, v := range ike {
		gens[v.ID]++
		if i > 0 && ike[i-1].ID == v.ID && ike[i-1].Generation < v.Generation {
			t.Errorf("family %s not newest first", v.ID)
		}
	}
	if gens["K1"] < 2 || gens["K3"] < 2 {
		t.Errorf("generations %v", gens)
	}
	// Dynamic tunnels in every interesting state.
	dyn, _ := m.DynTunnels("TCPIP")
	states := map[IPTunState]int{}
	for _, d := range dyn {
		states[d.State]++
	}
	if states[TunActive] == 0 || states[TunPending] == 0 || states[TunExpired] == 0 {
		t.Errorf("dynamic states %v", states)
	}
	man, _ := m.ManualTunnels("TCPIP")
	mstates := map[IPTunState]int{}
	for _, mt := range man {
		mstates[mt.State]++
	}
	if mstates[TunActive] == 0 || mstates[TunInactive] == 0 {
		t.Errorf("manual states %v", mstates)
	}
	if pt, _ := m.PortTranslations("TCPIP"); len(pt) == 0 {
		t.Error("no port translations")
	}
	rules, answers, _ := m.Rules("TCPIP")
	got := map[TunStatus][]string{}
	for i, a := range answers {
		got[a] = append(got[a], rules[i].Name)
	}
	for _, want := range []TunStatus{StatusStateUpdated, StatusNoKER, StatusNoFilter, StatusNoDataOffer} {
		if len(got[want]) == 0 {
			t.Errorf("no rule answers %d: %v", want, got)
		}
	}
	if _, ok := m.Summary("NOSUCH"); ok {
		t.Error("unknown stack answered")
	}
}

func TestDynamicFiltersStandBeforeTheirAnchors(t *testing.T) {
	m, _ := demoModel(t)
	l, _ := m.Filters("TCPIP", SourceCurrent)
	var seq []Filter
	_ = l.Each(func(f *Filter) error { seq = append(seq, *f); return nil })
	if len(seq) != l.Len() {
		t.Fatalf("Each gave %d, Len %d", len(seq), l.Len())
	}
	idx := -1
	for i, f := range seq {
		if f.Type == fltDynamic && f.TunnelID == "Y1" {
			idx = i
			break
		}
	}
	if idx < 0 || seq[idx].Name != "BRANCH1-VPN" || seq[idx].Action != actIPSec {
		t.Fatalf("dynamic filter of Y1 at %d: %+v", idx, seq[max(idx, 0)])
	}
	// The dynamic filters of the anchor come right before it.
	next := idx
	for next < len(seq) && seq[next].Type == fltDynamic {
		next++
	}
	if next == len(seq) || seq[next].Name != "BRANCH1-VPN" || seq[next].Type != fltDynamicAnchor {
		t.Fatalf("after the dynamic filters of BRANCH1-VPN: %+v", seq[min(next, len(seq)-1)])
	}
	// The policy set itself has no dynamic filters; the default set in effect on TCPIPB neither.
	pol, _ := m.Filters("TCPIP", SourcePolicy)
	if pol.Len() >= l.Len() {
		t.Errorf("policy %d, current %d", pol.Len(), l.Len())
	}
	cur, _ := m.Filters("TCPIPB", SourceCurrent)
	def, _ := m.Filters("TCPIPB", SourceDefault)
	if cur.Len() != def.Len() {
		t.Errorf("TCPIPB current %d, default %d", cur.Len(), def.Len())
	}
}

func TestCountersMoveOnlyUnderPolicyFilters(t *testing.T) {
	m, clk := demoModel(t)
	before, _ := m.DynTunnels("TCPIP")
	beforeB, _ := m.DynTunnels("TCPIPB")
	clk.Advance(time.Minute)
	after, _ := m.DynTunnels("TCPIP")
	afterB, _ := m.DynTunnels("TCPIPB")
	b, a := findDyn(before, "Y1", 2), findDyn(after, "Y1", 2)
	if got := a.Traffic.OutPackets - b.Traffic.OutPackets; got != 120*60 {
		t.Errorf("Y1 out packets grew by %d, want %d", got, 120*60)
	}
	if got := a.Traffic.InBytes - b.Traffic.InBytes; got != 150*60*800 {
		t.Errorf("Y1 in bytes grew by %d", got)
	}
	if !reflect.DeepEqual(beforeB[0].Traffic, afterB[0].Traffic) {
		t.Errorf("TCPIPB runs on default filters, counters moved: %+v -> %+v", beforeB[0].Traffic, afterB[0].Traffic)
	}
	// Expired and pending tunnels carry nothing.
	if x, y := findDyn(before, "Y6", 1), findDyn(after, "Y6", 1); x.Traffic != y.Traffic {
		t.Error("expired Y6 moved")
	}
	// Filter match counts grow for the set in effect only.
	count := func(stack string, src FilterSource) uint64 {
		l, _ := m.Filters(stack, src)
		var n uint64
		_ = l.Each(func(f *Filter) error { n += f.MatchCount; return nil })
		return n
	}
	p0, d0 := count("TCPIP", SourcePolicy), count("TCPIP", SourceDefault)
	clk.Advance(time.Minute)
	if p1, d1 := count("TCPIP", SourcePolicy), count("TCPIP", SourceDefault); p1 <= p0 || d1 != d0 {
		t.Errorf("policy %d -> %d, default %d -> %d", p0, p1, d0, d1)
	}
	// Switching to the default set stops the traffic.
	m.mu.Lock()
	m.stack("TCPIP").switchSet(FilterSetDefault, clk.Now())
	m.mu.Unlock()
	s1, _ := m.DynTunnels("TCPIP")
	clk.Advance(time.Hour)
	s2, _ := m.DynTunnels("TCPIP")
	for _, y := range s2 {
		if x := findDyn(s1, y.ID, y.Generation); x != nil && x.Traffic != y.Traffic {
			t.Errorf("%s gen %d moved under default filters", y.ID, y.Generation)
		}
	}
}

func TestRefreshMakesGenerations(t *testing.T) {
	m, clk := demoModel(t)
	// Y1 generation 2 was activated 50 minutes before start with a lifetime of 1h:
	// it is refreshed at 54 minutes, 4 minutes after start.
	clk.Advance(4*time.Minute + time.Second)
	dyn, _ := m.DynTunnels("TCPIP")
	if n := findDyn(dyn, "Y1", 3); n == nil || n.State != TunActive || n.Traffic.OutPackets == 0 {
		t.Fatalf("Y1 gen 3: %+v", n)
	}
	if o := findDyn(dyn, "Y1", 2); o == nil || o.State != TunExpired {
		t.Fatalf("Y1 gen 2: %+v", o)
	}
	if findDyn(dyn, "Y1", 1) != nil {
		t.Error("Y1 gen 1 kept beyond two generations")
	}
	// IKE K1 gen 3 (activated 1h48m before start, 8h) is refreshed at 7h12m.
	clk.Advance(6 * time.Hour)
	ike, _ := m.IKETunnels("TCPIP", true)
	if ike[0].ID != "K1" || ike[0].Generation != 4 || ike[0].State != IKEActive || ike[1].Generation != 3 || ike[1].State != IKEExpired {
		t.Fatalf("K1 family %+v / %+v", ike[0].IKETunnel, ike[1].IKETunnel)
	}
	if len(ike[0].Dyn) == 0 || ike[1].Dyn != nil || ike[0].P2Active == 0 {
		t.Errorf("cascade under the newest generation only: %d %d", len(ike[0].Dyn), len(ike[1].Dyn))
	}
	st, _ := m.Summary("TCPIP")
	if st.P1Active == 0 || st.P2Active == 0 || st.P1InProgress == 0 || st.P2Expired == 0 {
		t.Errorf("summary %+v", st)
	}
}

func TestExampleDataSet(t *testing.T) {
	ds, err := LoadDataSet("testdata/example-dataset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tcpip := ds.Stack("TCPIP")
	if tcpip == nil || ds.Stack("TCPIPB") == nil {
		t.Fatal("stacks missing")
	}
	if n := len(tcpip.PolicyFilters); n != 11 {
		t.Errorf("policy filters %d, want 11 (five rules in both directions and one inbound)", n)
	}
	f := tcpip.PolicyFilters[0]
	if f.Src.String() != "192.0.2.10-192.0.2.11" || f.DstPorts != (PortRange{53, 53}) || f.Protocol != 17 || f.MatchCount != 0x1000 {
		t.Errorf("PERMIT-DNS %+v", f)
	}
	if in := tcpip.PolicyFilters[1]; in.Direction != dirInbound || in.SrcPorts != (PortRange{53, 53}) || in.Dst != f.Src {
		t.Errorf("mirrored filter %+v", in)
	}
	clk := newFakeClock()
	m, err := NewModel(ds, clk.Now, Timing{Negotiating: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// K2 becomes active 3s after start; Y2, waiting for it, negotiates 2s more.
	clk.Advance(3 * time.Second)
	dyn, _ := m.DynTunnels("TCPIP")
	if y := findDyn(dyn, "Y2", 1); y.State != TunNegotiating {
		t.Fatalf("Y2 at 3s: state %d", y.State)
	}
	clk.Advance(2 * time.Second)
	dyn, _ = m.DynTunnels("TCPIP")
	if y := findDyn(dyn, "Y2", 1); y.State != TunActive || !y.Activated.Equal(clk.Now()) {
		t.Fatalf("Y2 at 5s: %+v", y)
	}
	_, answers, _ := m.Rules("TCPIP")
	want := []TunStatus{StatusStateUpdated, StatusStateUpdated, StatusNoKER, StatusNoFilter, StatusNoDataOffer}
	if !reflect.DeepEqual(answers, want) {
		t.Errorf("answers %v, want %v", answers, want)
	}
}

func TestDataSetErrorsNameTheLine(t *testing.T) {
	base, err := os.ReadFile("testdata/example-dataset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(s string) int {
		for i, l := range strings.Split(string(base), "\n") {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("%q not in example", s)
		return 0
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown key", "    natKeepAlive: 20", "    natKeepAlive: 20\n    natKeepAliv: 20", "line " + strconv.Itoa(lineOf("natKeepAlive: 20")+1)},
		{"bad address", "destination: 198.51.100.53", "destination: 198.51.100.530", "line " + strconv.Itoa(lineOf("destination: 198.51.100.53"))},
		{"bad enum", "        exchangeMode: main", "        exchangeMode: sideways", "line " + strconv.Itoa(lineOf("        exchangeMode: main"))},
		{"bad ports", `destinationPorts: "53"`, `destinationPorts: "53-1"`, "line " + strconv.Itoa(lineOf(`destinationPorts: "53"`))},
		{"duplicate generation", "        generation: 3\n", "        generation: 2\n", "line " + strconv.Itoa(lineOf("  - {id: Y1, generation: 2"))},
		{"family mix", `source: "2001:db8:1::/64"`, `source: "192.0.2.0/24"`, "line " + strconv.Itoa(lineOf("  - name: PARTNER6-VPN"))},
		{"bad tunnel id", "  - id: K2", "  - id: X2", "line " + strconv.Itoa(lineOf("  - id: K2"))},
		{"long name", "keyExchangeRule: KER-ORPHAN", "keyExchangeRule: " + strings.Repeat("K", 49), "line " + strconv.Itoa(lineOf("  - {name: ORPHAN-VPN"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(string(base), c.old, c.new, 1)
			if text == string(base) {
				t.Fatalf("%q not replaced", c.old)
			}
			p := filepath.Join(t.TempDir(), "ds.yaml")
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDataSet(p)
			if err == nil || !strings.Contains(err.Error(), c.want+":") || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := ParseDataSet(nil); err == nil {
		t.Error("empty data set accepted")
	}
	var ve *ValidationError
	_, err = ParseDataSet([]byte("stacks: [{name: A}, {name: A}]"))
	if !errors.As(err, &ve) || ve.Stack != "A" {
		t.Errorf("duplicate stacks: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	spec, err := ParseGenSpec("stacks=2,filters=3000,tunnels=400,seed=7")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(spec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data sets")
	}
	spec.Seed = 8
	if c, _ := Generate(spec); reflect.DeepEqual(a, c) {
		t.Fatal("another seed, same data set")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Stacks {
		if len(s.PolicyFilters) != 3000 || len(s.IKETunnels) != 400 || len(s.DynTunnels) != 400 {
			t.Errorf("%s: %d filters, %d IKE, %d dynamic", s.Name, len(s.PolicyFilters), len(s.IKETunnels), len(s.DynTunnels))
		}
	}
	m, err := NewModel(a, newFakeClock().Now, Timing{})
	if err != nil {
		t.Fatal(err)
	}
	_, answers, _ := m.Rules("TCPIPB")
	seen := map[TunStatus]bool{}
	for _, x := range answers {
		seen[x] = true
	}
	if len(seen) != 4 {
		t.Errorf("generated rules answer %v", seen)
	}
	for _, bad := range []string{"stacks=0", "filters=x", "tunnels=100001", "color=3", "stacks"} {
		if _, err := ParseGenSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// BenchmarkGenerate measures the largest size the contract asks for: two
// stacks of 100,000 filters and 10,000 tunnels each, and the model on top.
func BenchmarkGenerate(b *testing.B) {
	spec := GenSpec{Stacks: 2, Filters: 100_000, Tunnels: 10_000, Seed: 1}
	for b.Loop() {
		ds, err := Generate(spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewModel(ds, nil, Timing{}); err != nil {
			b.Fatal(err)
		}
	}
}
