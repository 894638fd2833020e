package main

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// ikeKeys are the IKE tunnel records of a data set's stack as the API
// keys its items: tunnel ID and generation.
func ikeKeys(st *ikedsim.Stack) []string {
	var out []string
	for _, k := range st.IKETunnels {
		out = append(out, k.ID+"/"+strconv.Itoa(int(k.Generation)))
	}
	sort.Strings(out)
	return out
}

// The sysplex through the API: /v1/systems names every system with its
// kind and stacks; every display resource of a stack answers under
// /v1/systems/{system}/stacks/TCPIP with that system's data (one stack
// name on five systems, never confused); controls act on the system they
// name and no other; the fleet lists carry every system's items, filter
// by system, stack and the per-stack filters, and page in a stable order;
// a client that disconnects answers 404 and is listed not connected; a
// system that goes down makes the fleet lists partial, never failed.
func TestWholeProgramSysplexAPI(t *testing.T) {
	p := startSysplex(t)
	g := p.g
	auth := []string{"Authorization", "Bearer " + p.token}
	systems := []string{"SYSA", "SYSB", "SYSC", "SYSD", "SYSE"}

	// GET /v1/systems: the configured order, the NSS server's clients'
	// systems in the order it reports them.
	v := g.object("/v1/systems", http.StatusOK, auth...)
	var got []string
	for _, it := range v["items"].([]any) {
		s := it.(item)
		kind := "iked"
		if s["name"] != "SYSA" && s["name"] != "SYSB" {
			kind = "nss"
		}
		if s["kind"] != kind || s["reachable"] != true || s["default"] != (s["name"] == "SYSA") {
			t.Errorf("system %v: want kind %s, reachable, default only for SYSA", s, kind)
		}
		got = append(got, str(s, "name"))
	}
	if !slices.Equal(got, systems) {
		t.Fatalf("/v1/systems: %v, want %v", got, systems)
	}

	// Every display resource of each system's TCPIP, with its own data.
	for _, sys := range systems {
		base := "/v1/systems/" + sys + "/stacks/TCPIP"
		for _, path := range displayPaths("TCPIP")[1:] {
			path = base + strings.TrimPrefix(path, "/v1/stacks/TCPIP")
			if resp, body := g.get(path, auth...); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
			}
		}
		items := g.object(base+"/ike/tunnels", http.StatusOK, auth...)["items"].([]any)
		var keys []string
		for _, it := range items {
			keys = append(keys, str(it.(item), "tunnelId")+"/"+str(it.(item), "generation"))
		}
		sort.Strings(keys)
		if want := ikeKeys(p.data[sys]); !slices.Equal(keys, want) {
			t.Errorf("%s: IKE tunnels %v, want its data set's %v", sys, keys, want)
		}
	}
	if resp, body := g.get("/v1/systems/SYSZ/stacks/TCPIP/summary", auth...); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(string(body), "SYSZ") {
		t.Errorf("unknown system: %d %s", resp.StatusCode, body)
	}

	// Controls act on the system named: a dynamic tunnel of SYSC (behind
	// the NSS server), then one of SYSB (over ssh://), is deactivated
	// there, and the tunnels of that ID on the other systems stay.
	dynStatus := func(sys, y string) int {
		resp, _ := g.get("/v1/systems/"+sys+"/stacks/TCPIP/tunnels/dynamic/"+y, auth...)
		return resp.StatusCode
	}
	for _, target := range []string{"SYSC", "SYSB"} {
		y := activeAlone(t, p.data[target])
		res := g.postObject("/v1/systems/"+target+"/stacks/TCPIP/tunnels/dynamic/"+y+":deactivate", "", http.StatusOK, auth...)
		if r := results(t, res); !slices.Equal(r, []string{"/" + y + "/stateUpdated"}) {
			t.Errorf("deactivate %s on %s: %v", y, target, r)
		}
		if st := dynStatus(target, y); st != http.StatusNotFound {
			t.Errorf("%s on %s after its deactivation: %d, want 404", y, target, st)
		}
		others := 0
		for _, sys := range systems {
			if sys == target || sys == "SYSB" && target == "SYSC" || !slices.ContainsFunc(p.data[sys].DynTunnels,
				func(d ikedsim.DynTunnel) bool { return d.ID == y }) {
				continue
			}
			others++
			if st := dynStatus(sys, y); st != http.StatusOK {
				t.Errorf("%s on %s after deactivating it on %s: %d, want 200", y, sys, target, st)
			}
		}
		if others == 0 {
			t.Errorf("no other system has a dynamic tunnel %s: the test shows nothing", y)
		}
	}
	// The rest of the controls, once per kind of endpoint.
	for _, sys := range []string{"SYSA", "SYSB", "SYSE"} {
		base := "/v1/systems/" + sys + "/stacks/TCPIP"
		k := p.data[sys].IKETunnels[0].ID
		for _, c := range []struct{ path, body string }{
			{base + "/ike/tunnels/" + k + ":refresh", ""},
			{base + "/ike/tunnels:deactivate", `{"tunnelIds": ["` + k + `"]}`},
			{base + "/filters:loadDefault", ""},
			{base + "/filters:loadPolicy", ""},
		} {
			if resp, body := g.post(c.path, c.body, auth...); resp.StatusCode != http.StatusOK {
				t.Errorf("POST %s: %d %s", c.path, resp.StatusCode, body)
			}
		}
	}
	// Controls need CONTROL on the system's resource: the anonymous caller
	// may display, not control.
	if resp, _ := g.post("/v1/systems/SYSD/stacks/TCPIP/filters:loadDefault", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous control on SYSD: %d, want 403", resp.StatusCode)
	}

	// Fleet lists: the items of every stack's own list, each with its
	// system and stack, in (system, stack) order, whole or in pages.
	perStack := map[string][]item{} // "system/stack" -> its own list
	var want []string
	for _, sys := range systems {
		stacks := []string{"TCPIP"}
		if sys == "SYSA" {
			stacks = append(stacks, "TCPIPB")
		}
		for _, st := range stacks {
			items := g.object("/v1/systems/"+sys+"/stacks/"+st+"/ike/tunnels", http.StatusOK, auth...)["items"].([]any)
			for _, it := range items {
				x := it.(item)
				x["system"], x["stack"] = sys, st
				perStack[sys+"/"+st] = append(perStack[sys+"/"+st], x)
				want = append(want, str(x, "system")+"/"+str(x, "stack")+"/"+str(x, "tunnelId")+"/"+str(x, "generation"))
			}
		}
	}
	sort.Strings(want)
	full := fleetItems(t, g, "/v1/ike/tunnels", auth)
	keys := fleetKeys(full)
	if !slices.IsSortedFunc(full, func(a, b item) int {
		return strings.Compare(str(a, "system")+"/"+str(a, "stack"), str(b, "system")+"/"+str(b, "stack"))
	}) {
		t.Error("the fleet list is not in (system, stack) order")
	}
	sorted := slices.Clone(keys)
	sort.Strings(sorted)
	if !slices.Equal(sorted, want) {
		t.Errorf("fleet IKE tunnels: %d items, the stacks' own lists have %d", len(keys), len(want))
	}
	for _, pageSize := range []string{"1", "7", "50"} {
		if paged := fleetKeys(fleetPages(t, g, "/v1/ike/tunnels?pageSize="+pageSize, auth)); !slices.Equal(paged, keys) {
			t.Errorf("pageSize=%s: %d items, not the whole list's %d in its order", pageSize, len(paged), len(keys))
		}
	}
	for _, sys := range []string{"SYSB", "SYSD"} {
		only := fleetKeys(fleetItems(t, g, "/v1/ike/tunnels?system="+sys, auth))
		if len(only) != len(perStack[sys+"/TCPIP"]) || len(only) == 0 {
			t.Errorf("?system=%s: %d items, its TCPIP lists %d", sys, len(only), len(perStack[sys+"/TCPIP"]))
		}
		for _, k := range only {
			if !strings.HasPrefix(k, sys+"/TCPIP/") {
				t.Errorf("?system=%s gave %s", sys, k)
			}
		}
	}
	if n := len(fleetItems(t, g, "/v1/ike/tunnels?stack=TCPIPB", auth)); n != len(perStack["SYSA/TCPIPB"]) || n == 0 {
		t.Errorf("?stack=TCPIPB: %d items, SYSA's TCPIPB lists %d", n, len(perStack["SYSA/TCPIPB"]))
	}
	// A per-stack filter over the fleet: one tunnel ID, counted in the
	// data sets of the systems that were not changed above.
	yf := p.data["SYSE"].DynTunnels[0].ID
	wantY := map[string]int{}
	for _, sys := range []string{"SYSD", "SYSE"} {
		for _, d := range p.data[sys].DynTunnels {
			if d.ID == yf {
				wantY[sys]++
			}
		}
	}
	gotY := map[string]int{}
	for _, it := range fleetItems(t, g, "/v1/tunnels/dynamic?tunnelId="+yf+"&system=SYSD&system=SYSE", auth) {
		if it["tunnelId"] != yf {
			t.Errorf("?tunnelId=%s gave %v", yf, it["tunnelId"])
		}
		gotY[str(it, "system")]++
	}
	if !maps.Equal(gotY, wantY) {
		t.Errorf("?tunnelId=%s on SYSD and SYSE: %v, the data sets have %v", yf, gotY, wantY)
	}

	// SYSD's client disconnects: its resources are 404, its system lists
	// it not connected, the fleet list names it unreachable.
	if err := p.nss.SetClientConnected("SYSD_TCPIP", false); err != nil {
		t.Fatal(err)
	}
	if resp, body := g.get("/v1/systems/SYSD/stacks/TCPIP/summary", auth...); resp.StatusCode != http.StatusNotFound {
		t.Errorf("disconnected client: %d %s, want 404", resp.StatusCode, body)
	}
	waitUntil(t, g, "SYSD's TCPIP listed not connected", func() bool {
		st := g.object("/v1/systems/SYSD", http.StatusOK, auth...)["stacks"].([]any)
		return len(st) == 1 && st[0].(item)["connected"] == false
	})
	l := g.object("/v1/tunnels/manual", http.StatusOK, auth...)
	if un := l["unreachable"].([]any); len(un) != 1 || un[0].(item)["system"] != "SYSD" {
		t.Errorf("manual tunnels with SYSD_TCPIP disconnected: unreachable %v", un)
	}

	// SYSB's sshd dies: the fleet list is partial, 200, SYSB unreachable.
	p.sshd.Kill()
	l = g.object("/v1/ike/tunnels?system=SYSA&system=SYSB", http.StatusOK, auth...)
	un := l["unreachable"].([]any)
	if len(un) != 1 || un[0].(item)["system"] != "SYSB" {
		t.Errorf("SYSB down: unreachable %v", un)
	}
	if n := len(l["items"].([]any)); n != len(p.data["SYSA"].IKETunnels)+len(ikedsim.Demo().Stacks[1].IKETunnels) {
		t.Errorf("SYSB down: %d items of SYSA", n)
	}
	if resp, _ := g.get("/v1/systems/SYSB/stacks/TCPIP/summary", auth...); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("SYSB down: a stack resource answers %d, want 503", resp.StatusCode)
	}
	if resp, _ := g.get("/v1/stacks/TCPIP/summary", auth...); resp.StatusCode != http.StatusOK {
		t.Errorf("SYSB down: the default system's summary answers %d", resp.StatusCode)
	}
}

// activeAlone is the first active dynamic tunnel of st that is the only
// security association of its ID.
func activeAlone(t *testing.T, st *ikedsim.Stack) string {
	t.Helper()
	n := map[string]int{}
	for _, d := range st.DynTunnels {
		n[d.ID]++
	}
	for _, d := range st.DynTunnels {
		if d.State == nmi.IPTunActive && n[d.ID] == 1 {
			return d.ID
		}
	}
	t.Fatalf("stack %s has no active dynamic tunnel alone of its ID", st.Name)
	return ""
}

// fleetItems is one fleet list answer's items (which must be complete:
// no next page, nothing unreachable).
func fleetItems(t *testing.T, g *gateway, path string, auth []string) []item {
	t.Helper()
	v := g.object(path, http.StatusOK, auth...)
	if un, _ := v["unreachable"].([]any); len(un) > 0 {
		t.Errorf("%s: unreachable %v", path, un)
	}
	if _, ok := v["nextPageToken"]; ok {
		t.Errorf("%s: a next page without pageSize", path)
	}
	var out []item
	for _, it := range v["items"].([]any) {
		out = append(out, it.(item))
	}
	return out
}

// fleetPages follows every page of path.
func fleetPages(t *testing.T, g *gateway, path string, auth []string) []item {
	t.Helper()
	var all []item
	next := path
	for range 10000 {
		v := g.object(next, http.StatusOK, auth...)
		for _, it := range v["items"].([]any) {
			all = append(all, it.(item))
		}
		tok, ok := v["nextPageToken"].(string)
		if !ok {
			return all
		}
		next = withQuery(path, "pageToken="+url.QueryEscape(tok))
	}
	t.Fatalf("%s: pagination does not end", path)
	return nil
}

func fleetKeys(items []item) []string {
	var out []string
	for _, it := range items {
		out = append(out, str(it, "system")+"/"+str(it, "stack")+"/"+str(it, "tunnelId")+"/"+str(it, "generation"))
	}
	return out
}
