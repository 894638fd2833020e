package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/ipsec"
)

// The display routes against the simulator: what the API lists is the
// data set IKED holds, in the API's order and with its names, and IKED's
// selections (by tunnel ID, by rule name, the phase 2 tunnels of an IKE
// tunnel) come through.
func TestDisplayAgainstSimulator(t *testing.T) {
	sim := newSim(t)
	sim.setStep(0) // the data set as it is
	s := newServer(t, sim)

	v, _ := s.getJSON("/v1/stacks", http.StatusOK)
	var names []string
	for _, st := range sim.ds.Stacks {
		names = append(names, st.Name)
	}
	slices.Sort(names)
	if got := field(items(t, v), "name"); !slices.Equal(got, names) {
		t.Errorf("stacks %v, data set %v", got, names)
	}

	for _, st := range sim.ds.Stacks {
		base := "/v1/stacks/" + st.Name
		one, _ := s.getJSON(base, http.StatusOK)
		if one["filterSet"] != st.FilterSet.String() {
			t.Errorf("%s: filter set %v, data set %v", st.Name, one["filterSet"], st.FilterSet)
		}

		// IKE tunnels: by tunnel number, newest generation first.
		v, _ := s.getJSON(base+"/ike/tunnels?pageSize=1000", http.StatusOK)
		it := items(t, v)
		var want []string
		byID := map[string][]ikedsim.IKETunnel{}
		for _, k := range st.IKETunnels {
			want = append(want, k.ID+"/"+strconv.Itoa(int(k.Generation))+"/"+ipsec.IKEStateName(k.State))
			byID[k.ID] = append(byID[k.ID], k)
		}
		got := make([]string, len(it))
		for i, k := range it {
			got[i] = str(k["tunnelId"]) + "/" + strconv.Itoa(int(k["generation"].(float64))) + "/" + str(k["state"])
		}
		sorted := slices.Clone(got)
		slices.SortFunc(sorted, func(a, b string) int { return compareTunnelLines(a, b) })
		if !slices.Equal(got, sorted) {
			t.Errorf("%s: IKE tunnels not by number, newest first: %v", st.Name, got)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: IKE tunnels %v, data set %v", st.Name, got, want)
		}
		for id, gens := range byID {
			k, _ := s.getJSON(base+"/ike/tunnels/"+id, http.StatusOK)
			newest := slices.MaxFunc(gens, func(a, b ikedsim.IKETunnel) int { return int(a.Generation) - int(b.Generation) })
			if k["generation"] != float64(newest.Generation) || len(k["generations"].([]any)) != len(gens) ||
				k["keyExchangeRule"] != newest.KeyExchangeRule {
				t.Errorf("%s %s: generation %v of %d, data set %d of %d", st.Name, id, k["generation"],
					len(k["generations"].([]any)), newest.Generation, len(gens))
			}
			// Its phase 2 tunnels are those of the IKE tunnel.
			for _, d := range anySlice(k["dynamicTunnels"]) {
				if d.(map[string]any)["ikeTunnelId"] != id {
					t.Errorf("%s %s: cascaded %v", st.Name, id, d)
				}
			}
		}

		// Dynamic tunnels by rule name: IKED applies the criterion.
		rules := map[string]int{}
		for _, d := range st.DynTunnels {
			rules[d.LocalDynVpnRule]++
		}
		for rule, n := range rules {
			v, _ := s.getJSON(base+"/tunnels/dynamic?name="+rule, http.StatusOK)
			it := items(t, v)
			if len(it) != n {
				t.Errorf("%s: %d dynamic tunnels of %s, data set %d", st.Name, len(it), rule, n)
			}
			for _, d := range it {
				if d["localDynVpnRule"] != rule {
					t.Errorf("%s: name=%s listed %v", st.Name, rule, d["localDynVpnRule"])
				}
			}
		}

		// Manual tunnels, with the API's state names.
		v, _ = s.getJSON(base+"/tunnels/manual", http.StatusOK)
		var mgot, mwant []string
		for _, m := range items(t, v) {
			mgot = append(mgot, str(m["tunnelId"])+"/"+str(m["vpnAction"])+"/"+str(m["state"]))
		}
		for _, m := range st.ManualTunnels {
			mwant = append(mwant, m.ID+"/"+m.VpnAction+"/"+ipsec.IPStateName(m.State))
		}
		slices.Sort(mgot)
		slices.Sort(mwant)
		if !slices.Equal(mgot, mwant) {
			t.Errorf("%s: manual tunnels %v, data set %v", st.Name, mgot, mwant)
		}
	}
	s.getJSON("/v1/stacks/TCPIP/ike/tunnels/K99", http.StatusNotFound)
}

// compareTunnelLines orders "K<n>/<generation>/state" by tunnel number,
// then newest generation first.
func compareTunnelLines(a, b string) int {
	num := func(s string) (int, int) {
		var id, gen int
		i := 1
		for ; i < len(s) && s[i] != '/'; i++ {
			id = id*10 + int(s[i]-'0')
		}
		for i++; i < len(s) && s[i] != '/'; i++ {
			gen = gen*10 + int(s[i]-'0')
		}
		return id, gen
	}
	ai, ag := num(a)
	bi, bg := num(b)
	if ai != bi {
		return ai - bi
	}
	return bg - ag
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
