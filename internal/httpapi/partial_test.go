package httpapi_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestPartialSections: an IKED that sends only IBM's published prefix of a
// section gets a 200 answer with IBM's fields, the PROPOSED ones left out,
// "partial" naming the section, and the records counted; a section shorter
// than IBM's prefix is still a malformed answer (502). Every answer is
// checked against the API document.
func TestPartialSections(t *testing.T) {
	sim := newSim(t)
	var mu sync.Mutex
	counted := map[string]int{}
	s := newServer(t, sim, func(d *httpapi.Deps) {
		d.PartialRecords = func(system, section string, n int) {
			if system != "SYS1" {
				t.Errorf("partial records of system %q, not SYS1", system)
			}
			mu.Lock()
			counted[section] += n
			mu.Unlock()
		}
	})
	partial := func(v map[string]any) []string {
		var out []string
		for _, x := range v["partial"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}

	// Summary: NMsecStatistics cut to IBM's 52 bytes.
	full, _ := s.getJSON("/v1/stacks/TCPIP/summary", http.StatusOK)
	sim.faults.Set(nmi.GetSummary, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.StatisticsIBMSize), Times: 1})
	v, _ := s.getJSON("/v1/stacks/TCPIP/summary", http.StatusOK)
	if _, ok := v["dynamicTunnels"]; ok {
		t.Errorf("summary from IBM's prefix has dynamicTunnels: %v", v)
	}
	if got := partial(v); !slices.Equal(got, []string{"NMsecStatistics"}) {
		t.Errorf("partial %v", got)
	}
	if v["ikeTunnels"] == nil || len(v["ikeTunnels"].(map[string]any)) != len(full["ikeTunnels"].(map[string]any)) {
		t.Errorf("ikeTunnels %v, want all of %v", v["ikeTunnels"], full["ikeTunnels"])
	}
	if _, ok := full["partial"]; ok {
		t.Errorf("a full summary says partial: %v", full)
	}

	// Stacks: NMsecStack without NMsStackNATKeepAlive.
	sim.faults.Set(nmi.GetStackInfo, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.StackIBMSize), Times: 1})
	v, _ = s.getJSON("/v1/stacks", http.StatusOK)
	for _, st := range items(t, v) {
		if _, ok := st["natKeepAliveSeconds"]; ok || !slices.Equal(partial(st), []string{"NMsecStack"}) || st["name"] == "" {
			t.Errorf("stack %v", st)
		}
	}

	// Manual tunnels: NMsecIPTunnel cut after NMsIPTunState (not a multiple
	// of 4: the padding is not counted in the section length).
	fullList, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/manual", http.StatusOK)
	sim.faults.Set(nmi.GetIPTunManual, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.IPTunnelIBMSize), Times: 1})
	v, _ = s.getJSON("/v1/stacks/TCPIP/tunnels/manual", http.StatusOK)
	got, want := items(t, v), items(t, fullList)
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("%d manual tunnels, want %d (> 0)", len(got), len(want))
	}
	for i, tun := range got {
		for _, k := range []string{"security", "localSecurityEndpoint", "remoteSecurityEndpoint"} {
			if _, ok := tun[k]; ok {
				t.Errorf("tunnel %v from IBM's prefix has %s", tun["tunnelId"], k)
			}
		}
		for _, k := range []string{"tunnelId", "vpnAction", "type", "state", "traffic"} {
			if tun[k] == nil || k != "traffic" && tun[k] != want[i][k] {
				t.Errorf("tunnel %d: %s = %v, want %v", i, k, tun[k], want[i][k])
			}
		}
		if !slices.Equal(partial(tun), []string{"NMsecIPTunnel"}) {
			t.Errorf("tunnel %v: partial %v", tun["tunnelId"], tun["partial"])
		}
	}

	// Dynamic tunnels, both views.
	for _, view := range []string{"stack", "ike"} {
		typ := nmi.GetIPTunDynStack
		if view == "ike" {
			typ = nmi.GetIPTunDynIKE
		}
		sim.faults.Set(typ, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.IPTunnelIBMSize), Times: 1})
		v, _ = s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic?view="+view, http.StatusOK)
		dyn := items(t, v)
		if len(dyn) == 0 {
			t.Errorf("%s view: no dynamic tunnels to check", view)
		}
		for _, tun := range dyn {
			if _, ok := tun["security"]; ok || !slices.Equal(partial(tun), []string{"NMsecIPTunnel"}) {
				t.Errorf("%s view: tunnel %v", view, tun)
			}
		}
	}

	mu.Lock()
	if counted["NMsecStatistics"] != 1 || counted["NMsecStack"] == 0 || counted["NMsecIPTunnel"] < len(want) {
		t.Errorf("partial records counted %v", counted)
	}
	mu.Unlock()

	// One byte short of IBM's prefix: malformed, not partial.
	sim.faults.Set(nmi.GetSummary, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.StatisticsIBMSize-1), Times: 1})
	p, _ := s.getJSON("/v1/stacks/TCPIP/summary", http.StatusBadGateway)
	t.Logf("problem %v", p)
	sim.faults.Set(nmi.GetIPTunManual, ikedsim.Fault{Mutate: ikedsim.ShortenSection(0, nmi.IPTunnelIBMSize-1), Times: 1})
	s.getJSON("/v1/stacks/TCPIP/tunnels/manual", http.StatusBadGateway)
}
