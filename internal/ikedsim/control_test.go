package ikedsim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

type ctlClient struct {
	*rawClient
	t *testing.T
}

func tunnel(name, id string) nmi.Tunnel {
	var t nmi.Tunnel
	_ = t.Name.Set(name)
	_ = t.TunnelID.Set(id)
	return t
}

// control sends a control request and returns "name/id:status" per record.
func (c ctlClient) control(typ nmi.MsgType, stack string, ts ...nmi.Tunnel) []string {
	c.t.Helper()
	h, recs := c.do(&nmi.Request{Type: typ, Target: stack, Tunnels: ts})
	if h.Rc != 0 {
		c.t.Fatalf("%v: rc %v rsn %v", typ, h.Rc, h.Rsn)
	}
	var out []string
	for _, r := range decode[nmi.TunnelRecord](c.t, recs) {
		out = append(out, r.Tunnel.Name.String()+"/"+r.Tunnel.TunnelID.String()+":"+r.Tunnel.Status.String())
	}
	return out
}

// states lists "id.generation=state" of the dynamic tunnels (IKE view).
func (c ctlClient) dynStates(stack string) string {
	c.t.Helper()
	_, recs := c.do(&nmi.Request{Type: nmi.GetIPTunDynIKE, Target: stack})
	var out []string
	for _, r := range decode[nmi.DynIKERecord](c.t, recs) {
		out = append(out, fmt.Sprintf("%s.%d=%s", r.Tunnel.ID, r.Dyn.Generation, r.Tunnel.State))
	}
	return strings.Join(out, " ")
}

func (c ctlClient) ikeStates(stack string) string {
	c.t.Helper()
	_, recs := c.do(&nmi.Request{Type: nmi.GetIKETun, Target: stack})
	var out []string
	for _, r := range decode[nmi.IKETunnelRecord](c.t, recs) {
		out = append(out, fmt.Sprintf("%s.%d=%s", r.Tunnel.ID, r.Tunnel.Generation, r.Tunnel.State))
	}
	return strings.Join(out, " ")
}

func same(t *testing.T, got any, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func startControl(t *testing.T, cfg Config) (ctlClient, *fakeClock, *Server) {
	clk := newFakeClock()
	cfg.Now = clk.Now
	srv, path := startServer(t, cfg)
	return ctlClient{dial(t, path), t}, clk, srv
}

func TestDynamicActivation(t *testing.T) {
	c, clk, _ := startControl(t, Config{})
	// KER-BRANCH4 has no IKE tunnel: activation starts K5 and Y7.
	same(t, c.control(nmi.ActDynTun, "TCPIP", tunnel("BRANCH4-VPN", "")), []string{"BRANCH4-VPN/Y7:stateUpdated"})
	same(t, c.control(nmi.ActDynTun, "TCPIP", tunnel("BRANCH4-VPN", "")), []string{"BRANCH4-VPN/Y7:stateAlreadySet"})
	if !strings.HasSuffix(c.dynStates("TCPIP"), "Y7.1=pending") || !strings.HasSuffix(c.ikeStates("TCPIP"), "K5.1=pending") {
		t.Fatalf("after activation: %s | %s", c.dynStates("TCPIP"), c.ikeStates("TCPIP"))
	}
	clk.Advance(time.Second)
	if !strings.HasSuffix(c.ikeStates("TCPIP"), "K5.1=negotiating") || !strings.HasSuffix(c.dynStates("TCPIP"), "Y7.1=pending") {
		t.Fatalf("after 1s: %s | %s", c.dynStates("TCPIP"), c.ikeStates("TCPIP"))
	}
	clk.Advance(time.Second)
	if !strings.HasSuffix(c.ikeStates("TCPIP"), "K5.1=active") || !strings.HasSuffix(c.dynStates("TCPIP"), "Y7.1=incomplete") {
		t.Fatalf("after 2s: %s | %s", c.dynStates("TCPIP"), c.ikeStates("TCPIP"))
	}
	clk.Advance(time.Second)
	if !strings.HasSuffix(c.dynStates("TCPIP"), "Y7.1=active") {
		t.Fatalf("after 3s: %s", c.dynStates("TCPIP"))
	}
	// Its dynamic filters follow the BRANCH4-VPN anchor.
	tid := nmi.InFilter{HasTunnelID: true}
	_ = tid.TunnelID.Set("Y7")
	_, recs := c.do(&nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP", Filters: []nmi.InFilter{tid}})
	if fl := decode[nmi.FilterRecord](t, recs); len(fl) != 2 || fl[0].Filter.Name.String() != "BRANCH4-VPN" || fl[0].Filter.Type != nmi.FilterDynamic {
		t.Errorf("dynamic filters of Y7: %d", len(fl))
	}
	// Counters: one more local success in both phases; traffic flows.
	_, recs = c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"})
	sum := decode[nmi.SummaryRecord](t, recs)[0].Statistics
	if sum.P1.LclActSuccess != 42 || sum.P2.LclActSuccess != 389 {
		t.Errorf("summary %+v", sum)
	}
	// The other answers of activation.
	same(t, c.control(nmi.ActDynTun, "TCPIP", tunnel("LEGACY-VPN", ""), tunnel("ORPHAN-VPN", ""), tunnel("NOOFFER-VPN", ""),
		tunnel("NOSUCH-VPN", ""), tunnel("", "Y1")), []string{"LEGACY-VPN/:noKeyExchangeRule", "ORPHAN-VPN/:noFilter",
		"NOOFFER-VPN/:noDataOffer", "NOSUCH-VPN/:notFound", "/Y1:notFound"})
	// Under the default filters there is no dynamic anchor: NOFILTER.
	same(t, c.control(nmi.ActDynTun, "TCPIPB", tunnel("TEST-VPN", "")), []string{"TEST-VPN/:noFilter"})
}

func TestDeactivateAndRefresh(t *testing.T) {
	c, clk, _ := startControl(t, Config{})
	// Deactivation removes the SAs and their dynamic filters; again: NOTFOUND.
	same(t, c.control(nmi.DeactDynTun, "TCPIP", tunnel("", "Y2")), []string{"/Y2:stateUpdated"})
	same(t, c.control(nmi.DeactDynTun, "TCPIP", tunnel("", "Y2")), []string{"/Y2:notFound"})
	if strings.Contains(c.dynStates("TCPIP"), "Y2.") {
		t.Error("Y2 still shown")
	}
	tid := nmi.InFilter{HasTunnelID: true}
	_ = tid.TunnelID.Set("Y2")
	if _, recs := c.do(&nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP", Filters: []nmi.InFilter{tid}}); len(recs) != 0 {
		t.Errorf("%d dynamic filters of Y2 left", len(recs))
	}
	// An expired tunnel is already inactive.
	same(t, c.control(nmi.DeactDynTun, "TCPIP", tunnel("", "Y6")), []string{"/Y6:stateAlreadySet"})
	// Activation by rule reuses the active IKE tunnel K1: pending, negotiating, active.
	same(t, c.control(nmi.ActDynTun, "TCPIP", tunnel("BRANCH1-DB-VPN", "")), []string{"BRANCH1-DB-VPN/Y7:stateUpdated"})
	clk.Advance(2 * time.Second)
	if !strings.Contains(c.dynStates("TCPIP"), "Y7.1=active") || strings.Contains(c.ikeStates("TCPIP"), "K5") {
		t.Fatalf("%s | %s", c.dynStates("TCPIP"), c.ikeStates("TCPIP"))
	}
	// Refresh: a new generation, the old one expires; not active: NOTFOUND.
	same(t, c.control(nmi.RefreshDynTun, "TCPIP", tunnel("", "Y1"), tunnel("", "Y6"), tunnel("", "Y99")),
		[]string{"/Y1:stateUpdated", "/Y6:notFound", "/Y99:notFound"})
	if got := c.dynStates("TCPIP"); !strings.HasPrefix(got, "Y1.3=active Y1.2=expired ") {
		t.Errorf("after refresh: %s", got)
	}
	// IKE tunnels: refresh, deactivate (expired counts as inactive), refresh again.
	same(t, c.control(nmi.RefreshIKETun, "TCPIP", tunnel("", "K2")), []string{"/K2:stateUpdated"})
	same(t, c.control(nmi.DeactIKETun, "TCPIP", tunnel("", "K2")), []string{"/K2:stateUpdated"})
	same(t, c.control(nmi.DeactIKETun, "TCPIP", tunnel("", "K2")), []string{"/K2:stateAlreadySet"})
	same(t, c.control(nmi.RefreshIKETun, "TCPIP", tunnel("", "K2")), []string{"/K2:notFound"})
	same(t, c.control(nmi.DeactIKETun, "TCPIP", tunnel("", "K77")), []string{"/K77:notFound"})
	if got := c.ikeStates("TCPIP"); !strings.Contains(got, "K2.2=expired K2.1=expired") {
		t.Errorf("K2: %s", got)
	}
	// By key exchange rule name, and without records: every eligible tunnel.
	same(t, c.control(nmi.RefreshIKETun, "TCPIP", tunnel("KER-PARTNER6", "")), []string{"KER-PARTNER6/K3:stateUpdated"})
	same(t, c.control(nmi.DeactIKETun, "TCPIP"), []string{"KER-BRANCH1/K1:stateUpdated", "KER-PARTNER6/K3:stateUpdated",
		"KER-BRANCH3/K4:stateUpdated"})
	same(t, c.control(nmi.DeactDynTun, "TCPIP"), []string{"BRANCH1-VPN/Y1:stateUpdated", "BRANCH2-VPN/Y3:stateUpdated",
		"PARTNER6-VPN/Y4:stateUpdated", "BRANCH3-VPN/Y5:stateUpdated", "BRANCH1-DB-VPN/Y7:stateUpdated"})
}

func TestManualTunnels(t *testing.T) {
	c, clk, _ := startControl(t, Config{})
	same(t, c.control(nmi.ActManTun, "TCPIP", tunnel("MANUAL-LEGACY", ""), tunnel("MANUAL-DR-VPN", ""), tunnel("", "M2")),
		[]string{"MANUAL-LEGACY/M2:stateUpdated", "MANUAL-DR-VPN/M1:stateAlreadySet", "/M2:notFound"})
	clk.Advance(10 * time.Second)
	_, recs := c.do(&nmi.Request{Type: nmi.GetIPTunManual, Target: "TCPIP"})
	man := decode[nmi.ManualTunnelRecord](t, recs)
	if man[1].Tunnel.State != nmi.IPTunActive || man[1].Manual.OutPackets != 50 || man[1].Manual.ActivateTime == 0 {
		t.Errorf("M2 %+v", man[1])
	}
	same(t, c.control(nmi.DeactManTun, "TCPIP", tunnel("", "M2")), []string{"MANUAL-LEGACY/M2:stateUpdated"})
	same(t, c.control(nmi.DeactManTun, "TCPIP", tunnel("", "M2")), []string{"MANUAL-LEGACY/M2:stateAlreadySet"})
	same(t, c.control(nmi.ActManTun, "TCPIP"), []string{"MANUAL-LEGACY/M2:stateUpdated", "MANUAL-DR6-VPN/M6-DR:stateUpdated"})
}

func TestLoadPolicySwitchesFilterSet(t *testing.T) {
	c, clk, srv := startControl(t, Config{})
	filterSet := func() nmi.FilterSet {
		_, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo})
		return decode[nmi.StackRecord](t, recs)[0].Stack.FilterSet
	}
	y1Bytes := func() uint64 {
		_, recs := c.do(&nmi.Request{Type: nmi.GetIPTunDynStack, Target: "TCPIP"})
		return decode[nmi.DynStackRecord](t, recs)[0].Stack.OutBytes
	}
	load := func(fs nmi.FilterSet) {
		t.Helper()
		h, recs := c.do(&nmi.Request{Type: nmi.LoadPolicy, Target: "TCPIP", Policy: &nmi.PolicySource{Source: fs}})
		if p := decode[nmi.PolicySourceRecord](t, recs); h.Rc != 0 || len(p) != 1 || p[0].PolicySource.Source != fs {
			t.Fatalf("LOAD_POLICY answer rc %v %+v", h.Rc, p)
		}
	}
	load(nmi.FilterSetDefault)
	if filterSet() != nmi.FilterSetPolicy {
		t.Error("the switch completed at once; it should complete afterwards")
	}
	clk.Advance(time.Second)
	if filterSet() != nmi.FilterSetDefault {
		t.Fatal("the switch did not complete")
	}
	// Tunnels remain but carry no traffic; the current set is the default one.
	b0 := y1Bytes()
	clk.Advance(time.Minute)
	if y1Bytes() != b0 {
		t.Error("counters moved under default filters")
	}
	_, cur := c.do(&nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP"})
	_, def := c.do(&nmi.Request{Type: nmi.GetIPFltDefault, Target: "TCPIP"})
	if len(cur) != len(def) {
		t.Errorf("current %d, default %d", len(cur), len(def))
	}
	// The choice survives a stack restart.
	srv.Model().RestartStack("TCPIP")
	if filterSet() != nmi.FilterSetDefault || c.dynStates("TCPIP") != "" {
		t.Errorf("after restart: set %v, tunnels %q", filterSet(), c.dynStates("TCPIP"))
	}
	load(nmi.FilterSetPolicy)
	clk.Advance(time.Second)
	if filterSet() != nmi.FilterSetPolicy {
		t.Error("back to policy failed")
	}
	// A bad policy source is EINVAL/10.
	msg := rawRequest(t, nmi.LoadPolicy, "TCPIP", 99, [][]byte{{0xD5, 0xD4, 0xE2, 0xD9, 0, 0, 0, 28, 0, 1, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 24, 0, 0, 0, 4, 2, 0, 0, 0}})
	c.expectStatus(msg, nmi.EINVAL, nmi.RsnBadControlRecord)
}

func TestControlAuthorization(t *testing.T) {
	pol, err := policy.Parse([]byte(`
system: SYS1
profiles:
  - name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY
    uacc: READ
  - name: EZB.NETMGMT.SYS1.*.IPSEC.CONTROL
    uacc: NONE
`))
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := startControl(t, Config{Policy: func() *policy.Policy { return pol }})
	if h, _ := c.do(&nmi.Request{Type: nmi.DeactDynTun, Target: "TCPIP", Tunnels: []nmi.Tunnel{tunnel("", "Y1")}}); h.Rc != nmi.EACCES {
		t.Errorf("control: rc %v, want EACCES", h.Rc)
	}
	if h, _ := c.do(&nmi.Request{Type: nmi.LoadPolicy, Target: "TCPIP", Policy: &nmi.PolicySource{}}); h.Rc != nmi.EACCES {
		t.Errorf("LOAD_POLICY: rc %v, want EACCES", h.Rc)
	}
	if h, _ := c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}); h.Rc != 0 {
		t.Errorf("display: rc %v", h.Rc)
	}
	if h, _ := c.do(&nmi.Request{Type: nmi.ActManTun, Target: "NOSTACK", Tunnels: []nmi.Tunnel{tunnel("X", "")}}); h.Rc != nmi.ENXIO {
		t.Errorf("unknown stack: rc %v", h.Rc)
	}
}
