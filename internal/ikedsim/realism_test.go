package ikedsim

import (
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// TestExtendedStateFollowsNegotiation activates a rule and watches its
// dynamic tunnel's extended state move with the negotiation, then expire
// with a refresh.
func TestExtendedStateFollowsNegotiation(t *testing.T) {
	m, clk := demoModel(t)
	// Y5 waits for IKE tunnel K4, which is pending: no exchange yet.
	dyn, _ := m.DynTunnels("TCPIP")
	if y := findDyn(dyn, "Y5", 1); y == nil || y.State != TunPending || y.ExtState != ExtNone {
		t.Fatalf("pending Y5: %+v", y)
	}
	// The data set's tunnels carry the state that goes with theirs.
	for _, c := range []struct {
		id   string
		gen  uint32
		want uint8
	}{{"Y1", 2, ExtDone}, {"Y1", 1, ExtDeleted}, {"Y3", 1, ExtDone}, {"Y6", 1, ExtDeleted}} {
		if y := findDyn(dyn, c.id, c.gen); y == nil || y.ExtState != c.want {
			t.Errorf("%s gen %d: extended state %+v, want %d", c.id, c.gen, y, c.want)
		}
	}
	// Activating BRANCH4-VPN starts an IKE tunnel and then the dynamic
	// tunnel: pending, negotiating, active, each step a second.
	out, _ := m.Control("TCPIP", nmi.ActDynTun, []ControlRecord{{Name: "BRANCH4-VPN"}})
	if len(out) != 1 || out[0].Status != StatusStateUpdated {
		t.Fatalf("activate BRANCH4-VPN: %+v", out)
	}
	seen := map[uint8]IPTunState{}
	for range 12 {
		clk.Advance(500 * time.Millisecond)
		dyn, _ = m.DynTunnels("TCPIP")
		for _, y := range dyn {
			if y.LocalDynVpnRule != "BRANCH4-VPN" {
				continue
			}
			if want := extState(y.State, y.LocallyInitiated); y.ExtState != want {
				t.Fatalf("%s %v: extended state %d, want %d", y.ID, y.State, y.ExtState, want)
			}
			seen[y.ExtState] = y.State
		}
	}
	if seen[ExtNone] != TunPending || seen[ExtSentFirst] != TunNegotiating || seen[ExtDone] != TunActive {
		t.Errorf("BRANCH4-VPN's tunnel went through %v, want pending, a negotiation, then done", seen)
	}
}

// TestRefreshKeepsTheOldGenerationsCounters checks what a refresh does to
// the two generations: the old one expires now (its expiry time is not in
// the future) and keeps its counters, the new one counts from zero, and
// the stack's activation counters count the refresh.
func TestRefreshKeepsTheOldGenerationsCounters(t *testing.T) {
	m, clk := demoModel(t)
	sum0, _ := m.Summary("TCPIP")
	// Y1 generation 2 is refreshed 54 minutes after it started, 4 minutes
	// after the model starts.
	clk.Advance(4*time.Minute + time.Second)
	now := clk.Now()
	dyn, _ := m.DynTunnels("TCPIP")
	old, cur := findDyn(dyn, "Y1", 2), findDyn(dyn, "Y1", 3)
	if old == nil || cur == nil {
		t.Fatal("no refresh of Y1")
	}
	if old.State != TunExpired || old.Expires.After(now) {
		t.Errorf("old generation: %v, expires %v (now %v)", old.State, old.Expires, now)
	}
	if cur.Traffic.OutPackets == 0 || cur.Traffic.OutPackets > 120*2 {
		t.Errorf("new generation counts from its start: %d packets out after 1 s", cur.Traffic.OutPackets)
	}
	if old.Traffic.OutPackets < 120*54*60 {
		t.Errorf("old generation lost its counters: %d packets out", old.Traffic.OutPackets)
	}
	clk.Advance(time.Minute)
	dyn, _ = m.DynTunnels("TCPIP")
	if again := findDyn(dyn, "Y1", 2); again.Traffic != old.Traffic {
		t.Errorf("the expired generation's counters moved: %+v -> %+v", old.Traffic, again.Traffic)
	}
	sum1, _ := m.Summary("TCPIP")
	if d := sum1.P2.LclActSuccess - sum0.P2.LclActSuccess; d != 1 {
		t.Errorf("phase 2 local activations grew by %d over one refresh, want 1", d)
	}

	// A refresh asked for: the IKE tunnel K2 (a responder).
	ike0, _ := m.IKETunnels("TCPIP", false)
	var before uint64
	for _, k := range ike0 {
		if k.ID == "K2" {
			before = k.Bytes
			break
		}
	}
	if before == 0 {
		t.Fatal("K2 carries nothing")
	}
	m.mu.Lock()
	s := m.stack("TCPIP")
	m.refreshIKE(s, s.newestIKE("K2"), m.at)
	m.mu.Unlock()
	clk.Advance(10 * time.Second)
	ike1, _ := m.IKETunnels("TCPIP", false)
	var k2 []IKEView
	for _, k := range ike1 {
		if k.ID == "K2" {
			k2 = append(k2, k)
		}
	}
	if len(k2) != 2 || k2[0].Generation != 2 || k2[1].State != IKEExpired || k2[1].Expires.After(clk.Now()) {
		t.Fatalf("K2 after a refresh: %+v", k2)
	}
	if k2[1].Bytes < before {
		t.Errorf("the replaced generation shows %d bytes, had %d", k2[1].Bytes, before)
	}
	if k2[0].Bytes >= before {
		t.Errorf("the new generation shows %d bytes after 10 s, the old one %d", k2[0].Bytes, k2[1].Bytes)
	}
	sum2, _ := m.Summary("TCPIP")
	if d := sum2.P1.RmtActSuccess - sum1.P1.RmtActSuccess; d != 1 {
		t.Errorf("phase 1 remote activations grew by %d over one refresh of a responder, want 1", d)
	}
}

// TestExpiredGenerationsAreNotInTheFuture checks the demo and generated
// data sets: no expired SA shows an expiry time after now.
func TestExpiredGenerationsAreNotInTheFuture(t *testing.T) {
	clk := newFakeClock()
	gen, err := Generate(GenSpec{Stacks: 2, Filters: 200, Tunnels: 400, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for name, ds := range map[string]*DataSet{"demo": Demo(), "generated": gen} {
		m, err := NewModel(ds, clk.Now, Timing{})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range m.Stacks() {
			dyn, _ := m.DynTunnels(st.Name)
			for _, d := range dyn {
				if d.State == TunExpired && d.Expires.After(clk.Now()) {
					t.Errorf("%s %s: expired %s gen %d expires %v", name, st.Name, d.ID, d.Generation, d.Expires)
				}
			}
			ike, _ := m.IKETunnels(st.Name, false)
			for _, k := range ike {
				if k.State == IKEExpired && k.Expires.After(clk.Now()) {
					t.Errorf("%s %s: expired %s gen %d expires %v", name, st.Name, k.ID, k.Generation, k.Expires)
				}
			}
		}
	}
}

// TestDemoHasNoShadowedRuleWithTraffic checks that no filter of the demo's
// current sets that shows matches is wholly covered by an earlier one,
// which would have taken all of its packets.
func TestDemoHasNoShadowedRuleWithTraffic(t *testing.T) {
	m, clk := demoModel(t)
	clk.Advance(time.Minute)
	for _, st := range m.Stacks() {
		for _, src := range []FilterSource{SourceCurrent, SourceDefault, SourcePolicy} {
			l, _ := m.Filters(st.Name, src)
			var seen []Filter
			_ = l.Each(func(f *Filter) error {
				if f.MatchCount > 0 {
					for _, e := range seen {
						if covers(&e, f) {
							t.Errorf("%s set %d: %s/%d (%d matches) is shadowed by %s/%d before it",
								st.Name, src, f.Name, f.NameExt, f.MatchCount, e.Name, e.NameExt)
						}
					}
				}
				if f.State == fltActive {
					seen = append(seen, *f)
				}
				return nil
			})
		}
	}
	// The check finds a shadowed rule when there is one.
	wide := Filter{State: fltActive, Direction: dirOutbound, Scope: scopeLocal, ICMPType: 255, ICMPCode: 255,
		Src: spec("192.0.2.0/24")}
	narrow := wide
	narrow.Protocol, narrow.Src, narrow.DstPorts = 6, spec("192.0.2.20"), ports("1521")
	if !covers(&wide, &narrow) || covers(&narrow, &wide) {
		t.Error("covers does not tell a wider rule from a narrower one")
	}
}

// covers tells whether every packet filter b matches also matches a.
func covers(a, b *Filter) bool {
	if a.Direction != b.Direction || a.IPv6 != b.IPv6 || a.Scope != b.Scope && a.Scope != scopeBoth {
		return false
	}
	if a.Protocol != 0 && a.Protocol != b.Protocol || a.SecClass != 0 && a.SecClass != b.SecClass {
		return false
	}
	if a.TCPQualifier != 0 && a.TCPQualifier != b.TCPQualifier || a.OSPFType != 0 && a.OSPFType != b.OSPFType {
		return false
	}
	if a.ICMPType != 255 && a.ICMPType != b.ICMPType || a.ICMPCode != 255 && a.ICMPCode != b.ICMPCode {
		return false
	}
	return addrCovers(a.Src, b.Src) && addrCovers(a.Dst, b.Dst) && portsCover(a.SrcPorts, b.SrcPorts) &&
		portsCover(a.DstPorts, b.DstPorts)
}

func addrCovers(a, b AddrSpec) bool {
	alo, ahi, ok := a.bounds()
	if !ok {
		return true
	}
	blo, bhi, ok := b.bounds()
	return ok && alo.Compare(blo) <= 0 && bhi.Compare(ahi) <= 0
}

func portsCover(a, b PortRange) bool {
	if a.Low == 0 && a.High == 0 {
		return true
	}
	if b.Low == 0 && b.High == 0 {
		return false
	}
	return a.Low <= b.Low && b.High <= a.High
}
