package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// fleetFixture is a gateway reaching three endpoints over real AF_UNIX
// sockets: IKE daemons SYS1 (the display data set: stacks TCPIP, TCPIP2;
// the default system) and SYS2 (the demo data set: stacks TCPIP, TCPIPB),
// and NSS server NSS1 (the simulator's example: SYSA's TCPIP and TCPIPB,
// the latter not enabled for remote management; SYSB's TCPIP, client
// SYSBTCP; SYSC's TCPIP, never connected). Stack TCPIP exists on four
// systems, each with other data. The clocks stand still, so that two
// requests for the same thing get the same answer.
type fleetFixture struct {
	s                *server
	sys1, sys2       *simNMI
	nss              *simNMI
	sink             *memSink
	single1, single2 *server // gateways of SYS1 and SYS2 alone: the reference answers
}

func loadNSSExample(t *testing.T) *ikedsim.NSSDataSet {
	t.Helper()
	d, err := ikedsim.LoadNSSDataSet(filepath.Join("..", "ikedsim", "testdata", "example-nss.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newFleetFixture(t *testing.T, mod ...func(*httpapi.Deps)) *fleetFixture {
	t.Helper()
	f := &fleetFixture{sys1: newDisplaySim(t, 0), sys2: newSim(t), sink: &memSink{}}
	f.sys2.setStep(0)
	f.nss = newSimConfig(t, ikedsim.Config{NSS: loadNSSExample(t), System: "NSS1"}, time.Now())
	f.nss.setStep(0)
	fl, err := fleet.New([]fleet.Endpoint{
		{Name: "SYS1", Kind: fleet.IKED, NMI: f.sys1},
		{Name: "SYS2", Kind: fleet.IKED, NMI: f.sys2},
		{Name: "NSS1", Kind: fleet.NSS, NMI: f.nss},
	}, "SYS1", fleet.Options{ClientTTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.s = newServer(t, nil, append([]func(*httpapi.Deps){func(d *httpapi.Deps) {
		d.Fleet, d.Audit = fl, f.sink
	}}, mod...)...)
	f.single1 = newServer(t, f.sys1)
	f.single2 = newServer(t, f.sys2)
	return f
}

// clientNMI is an NSS client reached the way a single-system gateway
// would reach an IKE daemon: every request targets the client.
type clientNMI struct {
	nmi    httpapi.NMI
	client string
}

func (c clientNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	r := *req
	if r.Target != "" {
		r.Target = c.client
	}
	return c.nmi.Do(ctx, &r, fn)
}

func getBody(t *testing.T, s *server, path string, status int, hdr ...string) []byte {
	t.Helper()
	resp, b := s.get(path, hdr...)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %.400s", path, resp.StatusCode, status, b)
	}
	return b
}

func decodeList(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var v struct{ Items []map[string]any }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v.Items
}

// stackPaths are the GET resources of a stack, with the first item of
// each list by its ID, as the reference gateway names them.
func stackPaths(t *testing.T, ref *server, stackRoot string) []string {
	t.Helper()
	paths := []string{"/summary", "/interfaces", "/filters", "/filters?set=policy", "/filters?set=default",
		"/ike/tunnels", "/ike/tunnels?cascade=true", "/tunnels/dynamic", "/tunnels/dynamic?view=ike",
		"/tunnels/manual", "/port-translations"}
	for _, l := range []struct{ list, id string }{
		{"/filters?set=policy", "name"}, {"/ike/tunnels", "tunnelId"}, {"/tunnels/dynamic", "tunnelId"}, {"/tunnels/manual", "tunnelId"},
	} {
		items := decodeList(t, getBody(t, ref, stackRoot+l.list, http.StatusOK))
		if len(items) == 0 {
			continue
		}
		base, q, _ := strings.Cut(l.list, "?")
		p := base + "/" + url.PathEscape(str(items[0][l.id]))
		if q != "" {
			p += "?" + q
		}
		paths = append(paths, p)
	}
	return paths
}

// Every resource of a stack answers under /v1/systems/{system}/stacks/
// {stack} exactly what the system's own gateway answers under /v1/stacks,
// for a stack name that four systems have, and the four differ.
func TestSystemStackResourcesNeverConfused(t *testing.T) {
	f := newFleetFixture(t)
	refs := map[string]*server{
		"SYS1": f.single1,
		"SYS2": f.single2,
		"SYSA": newServer(t, clientNMI{f.nss, "SYSA_TCPIP"}),
		"SYSB": newServer(t, clientNMI{f.nss, "SYSBTCP"}),
	}
	ike := map[string]string{}
	for sys, ref := range refs {
		paths := stackPaths(t, ref, "/v1/stacks/TCPIP")
		if sys == "SYS1" || sys == "SYS2" {
			paths = append(paths, "") // NMsec_GET_STACKINFO: IKE daemons only
		}
		for _, p := range paths {
			want := getBody(t, ref, "/v1/stacks/TCPIP"+p, http.StatusOK)
			got := getBody(t, f.s, "/v1/systems/"+sys+"/stacks/TCPIP"+p, http.StatusOK)
			if string(got) != string(want) {
				t.Errorf("%s %s:\n got %.300s\nwant %.300s", sys, p, got, want)
			}
		}
		ike[sys] = string(getBody(t, f.s, "/v1/systems/"+sys+"/stacks/TCPIP/ike/tunnels", http.StatusOK))
		// filters:test reads too.
		for _, s := range []*server{ref, f.s} {
			path := "/v1/stacks/TCPIP/filters:test"
			if s == f.s {
				path = "/v1/systems/" + sys + "/stacks/TCPIP/filters:test"
			}
			if resp, b := s.post(path, packetBody); resp.StatusCode != http.StatusOK {
				t.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
			}
		}
	}
	for a := range ike {
		for b := range ike {
			if a < b && ike[a] == ike[b] {
				t.Errorf("the IKE tunnels of TCPIP on %s and %s are the same: %s", a, b, ike[a])
			}
		}
	}
	// The default system is the one /v1/stacks means.
	if got := string(getBody(t, f.s, "/v1/stacks/TCPIP/ike/tunnels", http.StatusOK)); got != ike["SYS1"] {
		t.Errorf("/v1/stacks/TCPIP is not SYS1's TCPIP: %s", got)
	}
}

// Every control action answers under /v1/systems/..., goes to that
// system's endpoint only, and its audit records name the system.
func TestSystemControlGoesToItsSystem(t *testing.T) {
	f := newFleetFixture(t)
	for _, sys := range []string{"SYS2", "SYSA"} {
		for _, rt := range routeTable {
			method, route, _ := strings.Cut(rt.route, " ")
			if method != http.MethodPost || rt.kind != ctl || !strings.HasPrefix(route, "/v1/systems/") {
				continue
			}
			path := strings.ReplaceAll(tablePath(strings.Replace(route, "{system}", sys, 1), "TCPIP", rt.id), "SYS1", sys)
			before1, before2, beforeN := len(f.sys1.controlCalls()), len(f.sys2.controlCalls()), len(f.nss.controlCalls())
			recs := len(f.sink.records())
			resp, b := f.s.post(path, rt.body)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("POST %s: %d %.300s", path, resp.StatusCode, b)
				continue
			}
			n1, n2, nN := len(f.sys1.controlCalls())-before1, len(f.sys2.controlCalls())-before2, len(f.nss.controlCalls())-beforeN
			wantN := map[string][3]int{"SYS2": {0, 1, 0}, "SYSA": {0, 0, 1}}[sys]
			if [3]int{n1, n2, nN} != wantN {
				t.Errorf("POST %s: control requests to SYS1, SYS2, NSS1: %d %d %d, want %v", path, n1, n2, nN, wantN)
			}
			if sys == "SYSA" {
				if c := f.nss.controlCalls(); c[len(c)-1].Target != "SYSA_TCPIP" {
					t.Errorf("POST %s: target %q, want the client SYSA_TCPIP", path, c[len(c)-1].Target)
				}
			}
			rs := f.sink.records()[recs:]
			if len(rs) != 2 || rs[0].System != sys || rs[1].System != sys || rs[1].Stack != "TCPIP" ||
				rs[1].Outcome != audit.OutcomeStarted {
				t.Errorf("POST %s: audit records %+v", path, rs)
			}
		}
	}
}

// An action on SYS2's TCPIP changes SYS2's TCPIP and nothing of the
// other systems' TCPIP.
func TestSystemControlChangesOnlyItsStack(t *testing.T) {
	f := newFleetFixture(t)
	before := map[string]string{}
	for _, sys := range []string{"SYS1", "SYS2", "SYSA", "SYSB"} {
		before[sys] = string(getBody(t, f.s, "/v1/systems/"+sys+"/stacks/TCPIP/tunnels/manual", http.StatusOK))
	}
	f.s.postJSON("/v1/systems/SYSA/stacks/TCPIP/tunnels/manual/M1:deactivate", "", http.StatusOK)
	for _, sys := range []string{"SYS1", "SYS2", "SYSA", "SYSB"} {
		after := string(getBody(t, f.s, "/v1/systems/"+sys+"/stacks/TCPIP/tunnels/manual", http.StatusOK))
		if changed := after != before[sys]; changed != (sys == "SYSA") {
			t.Errorf("%s's manual tunnels changed %v:\n%s\n%s", sys, changed, before[sys], after)
		}
	}
}

func TestListSystems(t *testing.T) {
	f := newFleetFixture(t)
	v, _ := f.s.getJSON("/v1/systems", http.StatusOK)
	type stk struct {
		Name      string
		Connected bool
	}
	type sys struct {
		Name, Kind         string
		Reachable, Default bool
		Stacks             []stk
	}
	b, _ := json.Marshal(v["items"])
	var got []sys
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []sys{
		{"SYS1", "iked", true, true, []stk{{"TCPIP", true}, {"TCPIP2", true}}},
		{"SYS2", "iked", true, false, []stk{{"TCPIP", true}, {"TCPIPB", true}}},
		{"SYSA", "nss", true, false, []stk{{"TCPIP", true}, {"TCPIPB", true}}},
		{"SYSB", "nss", true, false, []stk{{"TCPIP", true}}},
	}
	if !slices.EqualFunc(got, want, func(a, b sys) bool {
		return a.Name == b.Name && a.Kind == b.Kind && a.Reachable == b.Reachable && a.Default == b.Default && slices.Equal(a.Stacks, b.Stacks)
	}) {
		t.Errorf("systems %+v, want %+v", got, want)
	}
	one, _ := f.s.getJSON("/v1/systems/sysb", http.StatusOK)
	if one["name"] != "SYSB" || one["kind"] != "nss" {
		t.Errorf("/v1/systems/sysb: %v", one)
	}
	// An unknown system: 404 naming it, here and under its stacks.
	for _, p := range []string{"/v1/systems/SYSZ", "/v1/systems/SYSZ/stacks", "/v1/systems/SYSZ/stacks/TCPIP/ike/tunnels",
		"/v1/systems/SYSC/stacks/TCPIP"} {
		pr, _ := f.s.getJSON(p, http.StatusNotFound)
		sysName := strings.Split(p, "/")[3]
		if pr["type"] != "urn:nmigw:problem:unknown-system" || !strings.Contains(str(pr["detail"]), sysName) {
			t.Errorf("GET %s: %v", p, pr)
		}
	}
	resp, b := f.s.post("/v1/systems/SYSZ/stacks/TCPIP/tunnels/manual/M1:activate", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "SYSZ") {
		t.Errorf("POST on SYSZ: %d %s", resp.StatusCode, b)
	}
	if recs := f.sink.records(); len(recs) != 1 || recs[0].System != "SYSZ" || recs[0].HTTPStatus != http.StatusNotFound {
		t.Errorf("audit of the POST on SYSZ: %+v", recs)
	}
}

// A system's stacks: an IKE daemon's as /v1/stacks gives them; behind an
// NSS server, the clients' names and NSS blocks, without the members of
// NMsec_GET_STACKINFO.
func TestSystemStacks(t *testing.T) {
	f := newFleetFixture(t)
	if got, want := getBody(t, f.s, "/v1/systems/SYS2/stacks", http.StatusOK), getBody(t, f.single2, "/v1/stacks", http.StatusOK); string(got) != string(want) {
		t.Errorf("SYS2's stacks\n%s\nwant\n%s", got, want)
	}
	items := decodeList(t, getBody(t, f.s, "/v1/systems/SYSA/stacks", http.StatusOK))
	if len(items) != 2 || items[0]["name"] != "TCPIP" || items[1]["name"] != "TCPIPB" {
		t.Fatalf("SYSA's stacks %v", items)
	}
	nss, _ := items[0]["nss"].(map[string]any)
	if nss["clientName"] != "SYSA_TCPIP" || nss["userId"] != "NSSCLNT" || nss["serverSystemName"] != "NSS1" || nss["connected"] != true {
		t.Errorf("SYSA's TCPIP: %v", items[0])
	}
	if _, ok := items[0]["filterSet"]; ok {
		t.Errorf("SYSA's TCPIP has NMsec_GET_STACKINFO members: %v", items[0])
	}
	one, _ := f.s.getJSON("/v1/systems/SYSB/stacks/TCPIP", http.StatusOK)
	if n, _ := one["nss"].(map[string]any); n["clientName"] != "SYSBTCP" {
		t.Errorf("SYSB's TCPIP: %v", one)
	}
	// A client not enabled for remote management: the NSS server's
	// EOPNOTSUPP.
	resp, b := f.s.get("/v1/systems/SYSA/stacks/TCPIPB/ike/tunnels")
	if resp.StatusCode < 400 || !strings.Contains(string(b), "EOPNOTSUPP") {
		t.Errorf("SYSA's TCPIPB: %d %s", resp.StatusCode, b)
	}
}

// A client that disconnects: 404 for its resources, connected false in
// its system's list; back when it connects again.
func TestNSSClientDisconnects(t *testing.T) {
	f := newFleetFixture(t)
	getBody(t, f.s, "/v1/systems/SYSB/stacks/TCPIP/ike/tunnels", http.StatusOK)
	if err := f.nss.srv.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // past the fixture's client list TTL
	for _, p := range []string{"", "/ike/tunnels", "/tunnels/manual"} {
		pr, _ := f.s.getJSON("/v1/systems/SYSB/stacks/TCPIP"+p, http.StatusNotFound)
		if pr["type"] != "urn:nmigw:problem:unknown-stack" {
			t.Errorf("GET %s of a disconnected client: %v", p, pr)
		}
	}
	one, _ := f.s.getJSON("/v1/systems/SYSB", http.StatusOK)
	st, _ := one["stacks"].([]any)
	if len(st) != 1 || st[0].(map[string]any)["connected"] != false {
		t.Errorf("SYSB with its client disconnected: %v", one)
	}
	l, _ := f.s.getJSON("/v1/ike/tunnels?system=SYSB", http.StatusOK)
	if un, _ := l["unreachable"].([]any); len(un) != 1 || un[0].(map[string]any)["stack"] != "TCPIP" {
		t.Errorf("fleet list with SYSB's client disconnected: %v", l)
	}
	if err := f.nss.srv.SetClientConnected("SYSBTCP", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	getBody(t, f.s, "/v1/systems/SYSB/stacks/TCPIP/ike/tunnels", http.StatusOK)
}

// fleetItem is an item of a fleet list: where it comes from and its ID.
type fleetItem struct{ system, stack, id string }

func fleetItems(t *testing.T, b []byte, id string) ([]fleetItem, []map[string]any, string) {
	t.Helper()
	var v struct {
		Items         []map[string]any
		Unreachable   []map[string]any
		NextPageToken string
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var out []fleetItem
	for _, it := range v.Items {
		out = append(out, fleetItem{str(it["system"]), str(it["stack"]), str(it[id])})
	}
	return out, v.Unreachable, v.NextPageToken
}

// The fleet lists hold every stack's list, in the order system, stack,
// then the stack's own; they page and filter as a stack's lists do.
func TestFleetLists(t *testing.T) {
	f := newFleetFixture(t)
	stacks := []fleetItem{{"SYS1", "TCPIP", ""}, {"SYS1", "TCPIP2", ""}, {"SYS2", "TCPIP", ""}, {"SYS2", "TCPIPB", ""},
		{"SYSA", "TCPIP", ""}, {"SYSA", "TCPIPB", ""}, {"SYSB", "TCPIP", ""}}
	for _, l := range []struct{ fleet, stack, query string }{
		{"/v1/ike/tunnels", "/ike/tunnels", ""},
		{"/v1/ike/tunnels", "/ike/tunnels", "cascade=true"},
		{"/v1/tunnels/dynamic", "/tunnels/dynamic", ""},
		{"/v1/tunnels/dynamic", "/tunnels/dynamic", "view=ike"},
		{"/v1/tunnels/manual", "/tunnels/manual", ""},
	} {
		q := ""
		if l.query != "" {
			q = "?" + l.query
		}
		// What each stack's own list says, in the fleet's order.
		var want []fleetItem
		for _, st := range stacks {
			resp, b := f.s.get("/v1/systems/" + st.system + "/stacks/" + st.stack + l.stack + q)
			if resp.StatusCode != http.StatusOK {
				continue // SYSA's TCPIPB: not enabled for remote management
			}
			for _, it := range decodeList(t, b) {
				want = append(want, fleetItem{st.system, st.stack, str(it["tunnelId"])})
			}
		}
		got, un, next := fleetItems(t, getBody(t, f.s, l.fleet+q, http.StatusOK), "tunnelId")
		if !slices.Equal(got, want) || next != "" {
			t.Errorf("%s%s: %v, want %v", l.fleet, q, got, want)
		}
		if len(un) != 1 || un[0]["system"] != "SYSA" || un[0]["stack"] != "TCPIPB" ||
			!strings.Contains(string(mustJSON(t, un[0]["problem"])), "EOPNOTSUPP") {
			t.Errorf("%s%s: unreachable %v", l.fleet, q, un)
		}
		// Pages of 2 make the same list.
		var paged []fleetItem
		token := ""
		for i := 0; ; i++ {
			p := l.fleet + "?pageSize=2"
			if l.query != "" {
				p += "&" + l.query
			}
			if token != "" {
				p += "&pageToken=" + url.QueryEscape(token)
			}
			items, _, nt := fleetItems(t, getBody(t, f.s, p, http.StatusOK), "tunnelId")
			if len(items) > 2 || i > len(want) {
				t.Fatalf("%s: page %d of %d items", p, i, len(items))
			}
			paged = append(paged, items...)
			if nt == "" {
				break
			}
			token = nt
		}
		if !slices.Equal(paged, want) {
			t.Errorf("%s%s in pages: %v, want %v", l.fleet, q, paged, want)
		}
		// system and stack choose.
		sep := "?"
		if q != "" {
			sep = "&"
		}
		got, _, _ = fleetItems(t, getBody(t, f.s, l.fleet+q+sep+"system=sys2&system=SYSB&stack=TCPIP", http.StatusOK), "tunnelId")
		wantSel := slices.DeleteFunc(slices.Clone(want), func(it fleetItem) bool {
			return (it.system != "SYS2" && it.system != "SYSB") || it.stack != "TCPIP"
		})
		if !slices.Equal(got, wantSel) {
			t.Errorf("%s: SYS2 and SYSB's TCPIP: %v, want %v", l.fleet, got, wantSel)
		}
	}
	// A stack's filter applies on every stack.
	got, _, _ := fleetItems(t, getBody(t, f.s, "/v1/ike/tunnels?tunnelId=K1", http.StatusOK), "tunnelId")
	if len(got) < 2 || slices.ContainsFunc(got, func(it fleetItem) bool { return it.id != "K1" }) {
		t.Errorf("tunnelId=K1: %v", got)
	}
	// A token of another filter is refused, as on a stack's list.
	_, _, next := fleetItems(t, getBody(t, f.s, "/v1/ike/tunnels?pageSize=1", http.StatusOK), "tunnelId")
	if resp, b := f.s.get("/v1/ike/tunnels?pageSize=1&system=SYS2&pageToken=" + url.QueryEscape(next)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token of another list: %d %s", resp.StatusCode, b)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A system that hangs, and one that is down, make the fleet lists and
// /v1/systems partial, answered within the request's deadline.
func TestFleetListsWithHungAndDownSystems(t *testing.T) {
	const timeout = 3 * time.Second
	f := newFleetFixture(t, func(d *httpapi.Deps) { d.RequestTimeout = timeout })
	// SYS3: an IKE daemon nobody serves. The fixture's fleet is rebuilt
	// with it.
	dead := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(filepath.Join(t.TempDir(), "nobody.sock")), Addr: "nobody.sock"})
	t.Cleanup(func() { dead.Close() })
	fl, err := fleet.New([]fleet.Endpoint{
		{Name: "SYS1", Kind: fleet.IKED, NMI: f.sys1},
		{Name: "SYS2", Kind: fleet.IKED, NMI: f.sys2},
		{Name: "SYS3", Kind: fleet.IKED, NMI: dead},
	}, "SYS1", fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet, d.RequestTimeout = fl, timeout })
	f.sys2.faults.SetHang(true)
	t.Cleanup(func() { f.sys2.faults.SetHang(false) })

	start := time.Now()
	got, un, _ := fleetItems(t, getBody(t, s, "/v1/ike/tunnels", http.StatusOK), "tunnelId")
	took := time.Since(start)
	if took >= timeout {
		t.Errorf("answered after %v, beyond the request deadline %v", took, timeout)
	}
	t.Logf("fleet list with SYS2 hung and SYS3 down: answered in %v (request deadline %v)", took.Round(time.Millisecond), timeout)
	if len(got) == 0 || slices.ContainsFunc(got, func(it fleetItem) bool { return it.system != "SYS1" }) {
		t.Errorf("items %v, want SYS1's only", got)
	}
	var which []string
	for _, u := range un {
		which = append(which, str(u["system"])+"/"+str(u["stack"]))
		p, _ := u["problem"].(map[string]any)
		if p["status"] == nil || p["type"] == nil {
			t.Errorf("unreachable without a problem: %v", u)
		}
	}
	if !slices.Equal(which, []string{"SYS2/", "SYS3/"}) {
		t.Errorf("unreachable %v (%v), want SYS2 and SYS3", which, un)
	}

	start = time.Now()
	v, _ := s.getJSON("/v1/systems", http.StatusOK)
	if took := time.Since(start); took >= timeout {
		t.Errorf("/v1/systems answered after %v", took)
	}
	items, _ := v["items"].([]any)
	reach := map[string]any{}
	for _, it := range items {
		m := it.(map[string]any)
		reach[str(m["name"])] = m["reachable"]
		if m["reachable"] == false && m["problem"] == nil {
			t.Errorf("unreachable system without a problem: %v", m)
		}
	}
	if reach["SYS1"] != true || reach["SYS2"] != false || reach["SYS3"] != false {
		t.Errorf("systems %v", items)
	}
}

// A stack's event stream under /v1/systems follows that system's stack:
// its events name the system.
func TestEventStreamOfASystemsStack(t *testing.T) {
	f := newFleetFixture(t)
	resp, st, b := f.s.open("/v1/systems/SYS2/stacks/TCPIP/events?interval=1s")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream of SYS2's TCPIP: %d %s", resp.StatusCode, b)
	}
	defer st.Close()
	f.s.postJSON("/v1/systems/SYS2/stacks/TCPIP/tunnels/manual/M1:deactivate", "", http.StatusOK)
	f.sys2.setStep(time.Second)
	for {
		ev, err := st.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == "error" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			t.Fatal(err)
		}
		if d["system"] != "SYS2" || d["stack"] != "TCPIP" {
			t.Errorf("event %s %v", ev.Name, d)
		}
		if ev.Name == "tunnel.changed" && d["tunnelId"] == "M1" {
			return
		}
	}
}
