package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// fleetGateway is the gateway's handler over several systems, each
// simulator on a real AF_UNIX socket of its own: SYS1 (an IKE daemon with
// the demo data set, the default system), SYS2 (an IKE daemon with
// example-dataset.yaml), SYSD (an IKE daemon whose socket nobody serves)
// and an NSS server NSSSYS with the clients of example-nss.yaml (systems
// SYSA and SYSB; SYSA's TCPIPB is not enabled for remote management).
// The stack TCPIP runs on SYS1, SYS2, SYSA and SYSB, with other data on
// each.
func fleetGateway(t *testing.T) (*gateway, *ikedsim.Server, *syncBuffer) {
	t.Helper()
	ds2, err := ikedsim.LoadDataSet("../internal/ikedsim/testdata/example-dataset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nssData, err := ikedsim.LoadNSSDataSet("../internal/ikedsim/testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nss, err := ikedsim.NewServer(ikedsim.Config{System: "NSSSYS", NSS: nssData})
	if err != nil {
		t.Fatal(err)
	}
	sys1, _ := simServerConfig(t, ikedsim.Config{System: "SYS1"})
	sys2, _ := simServerConfig(t, ikedsim.Config{System: "SYS2", Data: ds2})
	nssPath, _ := serveSim(t, nss)
	gone := filepath.Join(t.TempDir(), "ipsecmgmt") // nothing listens here

	var eps []fleet.Endpoint
	for _, e := range []struct {
		name string
		kind fleet.Kind
		path string
	}{{"SYS1", fleet.IKED, sys1}, {"SYS2", fleet.IKED, sys2}, {"SYSD", fleet.IKED, gone}, {"NSSSYS", fleet.NSS, nssPath}} {
		pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(e.path), Addr: e.path, Size: 2})
		t.Cleanup(func() { pool.Close() })
		eps = append(eps, fleet.Endpoint{Name: e.name, Kind: e.kind, NMI: pool, Addr: e.path})
	}
	f, err := fleet.New(eps, "SYS1", fleet.Options{ClientTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	auditLog := &syncBuffer{}
	h, err := httpapi.NewHandler(httpapi.Deps{Fleet: f, Authorizer: authz.AllowAll, RequestTimeout: 15 * time.Second,
		Audit: audit.New(auditLog), Events: httpapi.EventOptions{Done: done}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// First (cleanups run last first): the event streams end, so that
	// Close does not wait for them.
	t.Cleanup(func() { close(done) })
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{t: t, base: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, v: v}, nss, auditLog
}

// fleetCounts is what the overview should show of system s (an item of
// GET /v1/systems), from the API: per kind the tunnels by state summed
// over its connected stacks (the summary's gauges for IKE and dynamic
// tunnels, the manual tunnels' list), and the stacks that did not answer.
func fleetCounts(g *gateway, s item) (counts string, failed []string) {
	g.t.Helper()
	var ike, dyn [3]float64
	var man [2]float64
	answered := 0
	for _, x := range s["stacks"].([]any) {
		st := x.(item)
		if st["connected"] != true {
			continue
		}
		base := "/v1/systems/" + url.PathEscape(str(s, "name")) + "/stacks/" + url.PathEscape(str(st, "name"))
		resp, body := g.get(base + "/summary")
		if resp.StatusCode != http.StatusOK {
			failed = append(failed, str(st, "name"))
			continue
		}
		sum := g.decode("summary", resp, body, http.StatusOK)
		for i, k := range []string{"active", "inProgress", "expired"} {
			ike[i] += num(sum["ikeTunnels"], k)
			dyn[i] += num(sum["dynamicTunnels"], k)
		}
		for _, m := range g.list(base + "/tunnels/manual?pageSize=500") {
			if str(m, "state") == "active" {
				man[0]++
			} else if str(m, "state") == "inactive" || str(m, "state") == "expired" {
				man[1]++
			}
		}
		answered++
	}
	if answered == 0 {
		return "", failed
	}
	return fmt.Sprintf("ike %v/%v/%v dynamic %v/%v/%v manual %v/%v", ike[0], ike[1], ike[2], dyn[0], dyn[1], dyn[2], man[0], man[1]), failed
}

func num(v any, k string) float64 {
	m, _ := v.(map[string]any)
	n, _ := m[k].(float64)
	return n
}

// shownCounts is the JavaScript for what the overview's row of system
// shows, as fleetCounts makes it.
func shownCounts(system string) string {
	return fmt.Sprintf(`(() => {
		const r = document.querySelector("#fleet-table tr[data-system=" + %s + "]");
		if (!r) { return "no row"; }
		const c = (k) => r.querySelector("[data-count=" + k + "]").dataset;
		const ike = c("ike"), dyn = c("dynamic"), man = c("manual");
		if (ike.active === undefined) { return ""; }
		return "ike " + [ike.active, ike.inProgress, ike.expired].join("/") + " dynamic " +
			[dyn.active, dyn.inProgress, dyn.expired].join("/") + " manual " + [man.active, man.inactive].join("/");
	})()`, js(js(system)))
}

// eventually retries check (reading the API and the page again) until it
// reports nothing, for a generous while: the page reads at its own pace.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if last = check(); last == "" {
			return
		}
	}
	t.Fatalf("%s: %s", what, last)
}

// TestDashboardFleet drives the dashboard over several systems: the
// selector, each system's stacks (a stack name on two systems shows
// each one's own data), the choice kept in the URL across a reload, the
// overview's counts against the API, an unreachable system, an NSS
// client that disconnects, keyboard use and axe-core.
func TestDashboardFleet(t *testing.T) {
	g, nss, auditLog := fleetGateway(t)
	b := startBrowser(t)
	b.do("open the dashboard", chromedp.Navigate(g.base+"/?poll=2"))

	// The selector lists the API's systems, in its order, the default
	// chosen.
	systems := g.object("/v1/systems", http.StatusOK)["items"].([]any)
	var names []string
	byName := map[string]item{}
	for _, x := range systems {
		s := x.(item)
		names = append(names, str(s, "name"))
		byName[str(s, "name")] = s
	}
	if want := []string{"SYS1", "SYS2", "SYSD", "SYSA", "SYSB"}; !slices.Equal(names, want) {
		t.Fatalf("GET /v1/systems lists %v, want %v", names, want)
	}
	if byName["SYSD"]["reachable"] != false || byName["SYSD"]["problem"] == nil {
		t.Fatalf("SYSD: %v, want unreachable with a problem", byName["SYSD"])
	}
	b.waitFor("the selector", fmt.Sprintf(`!document.getElementById("system-choice").hidden &&
		JSON.stringify([...document.querySelectorAll("#system option")].map((o) => o.value)) === %s &&
		document.getElementById("system").value === "SYS1"`, js(js(names))))

	// showStack waits for stack of system: its stacks table as the API
	// lists them, then its IKE tunnels as the API lists them.
	showStack := func(system, stack string) []string {
		t.Helper()
		sysPath := "/v1/systems/" + system
		var stacks []string
		for _, s := range g.list(sysPath + "/stacks") {
			stacks = append(stacks, str(s, "name"))
		}
		b.waitFor("the stacks of "+system, fmt.Sprintf(`document.getElementById("system").value === %s &&
			JSON.stringify(%s) === %s`, js(system), rowsOf("#stacks", "data-stack"), js(js(stacks))))
		b.click("show stack "+stack+" of "+system, `#stacks tr[data-stack=`+js(stack)+`] button`)
		var want []string
		for _, it := range g.list(sysPath + "/stacks/" + stack + "/ike/tunnels") {
			want = append(want, str(it, "tunnelId")+"/"+str(it, "generation"))
		}
		b.waitFor("the IKE tunnels of "+system+"/"+stack, fmt.Sprintf(`document.querySelector(%s) !== null &&
			JSON.stringify([...document.querySelectorAll("#list-ike tbody tr[data-tunnel-id]")].map(
				(r) => r.dataset.tunnelId + "/" + r.dataset.generation)) === %s`,
			js(`#stack section[data-system=`+js(system)+`][data-stack=`+js(stack)+`] #list-ike`), js(js(want))))
		return want
	}
	chooseSystem := func(system string) {
		t.Helper()
		eval[chromedp.Void](b, fmt.Sprintf(`(() => { const s = document.getElementById("system");
			s.value = %s; s.dispatchEvent(new Event("change")); })()`, js(system)))
	}

	// The stack TCPIP of three systems: each shows its own tunnels.
	tcpip1 := showStack("SYS1", "TCPIP")
	chooseSystem("SYS2")
	tcpip2 := showStack("SYS2", "TCPIP")
	chooseSystem("SYSA")
	tcpipA := showStack("SYSA", "TCPIP")
	if slices.Equal(tcpip1, tcpip2) || slices.Equal(tcpip2, tcpipA) || slices.Equal(tcpip1, tcpipA) {
		t.Fatalf("TCPIP has the same IKE tunnels on two systems (%v, %v, %v): the test shows nothing", tcpip1, tcpip2, tcpipA)
	}
	if h := eval[string](b, `location.hash`); !strings.Contains(h, "system=SYSA") || !strings.Contains(h, "stack=TCPIP") {
		t.Errorf("hash %q does not keep the system and stack", h)
	}

	// The overview: every system, with its kind and whether it answers.
	b.waitFor("the overview", fmt.Sprintf(`!document.getElementById("fleet-section").hidden &&
		JSON.stringify(%s) === %s`, rowsOf("#fleet-table", "data-system"), js(js(names))))
	for _, name := range names {
		s := byName[name]
		b.waitFor("the kind and reachability of "+name, fmt.Sprintf(`(() => {
			const r = document.querySelector("#fleet-table tr[data-system=" + %s + "]");
			return r.dataset.kind === %s && r.dataset.reachable === %s; })()`, js(js(name)), js(str(s, "kind")), js(fmt.Sprint(s["reachable"]))))
	}
	// The unreachable system shows its problem's title and detail.
	p := byName["SYSD"]["problem"].(map[string]any)
	b.waitFor("SYSD's problem", fmt.Sprintf(`(() => {
		const c = document.querySelector("#fleet-table tr[data-system=SYSD] [data-col=reachable]").textContent;
		return c.includes(%s) && c.includes(%s); })()`, js(str(p, "title")), js(str(p, "detail"))))
	// The counts, summed over each reachable system's stacks.
	for _, name := range names {
		if byName[name]["reachable"] != true {
			continue
		}
		eventually(t, "the counts of "+name, func() string {
			want, failed := fleetCounts(g, byName[name])
			have := eval[string](b, shownCounts(name))
			shownFailed := eval[[]string](b, `[...document.querySelectorAll(`+js(`#fleet-table tr[data-system=`+js(name)+`] [data-stack]:not([data-problem=""])`)+`)].map((s) => s.dataset.stack)`)
			if have != want || !slices.Equal(shownFailed, failed) {
				return fmt.Sprintf("page %q, stacks that failed %v; API %q, %v", have, shownFailed, want, failed)
			}
			return ""
		})
	}
	// The counts of SYSA lack TCPIPB, which the NSS server does not manage
	// remotely: the row says it.
	if s := eval[string](b, `document.querySelector("#fleet-table tr[data-system=SYSA]").dataset.partial`); s != "true" {
		t.Errorf("SYSA's row: partial %q, want true", s)
	}

	// Choosing a system in the overview, by keyboard, selects it.
	// (Focused in the page: the overview may be drawn again meanwhile, and
	// keeps the focus on the same system when it is.)
	b.waitFor("SYSB focused in the overview", `(() => { const e = document.querySelector("#fleet-table tr[data-system=SYSB] button");
		if (e) { e.focus(); } return e !== null && document.activeElement === e; })()`)
	b.do("press Enter", chromedp.KeyEvent("\r"))
	// The focus moves to the selector, which now names SYSB.
	b.waitFor("the focus on the selector", `document.activeElement === document.getElementById("system")`)
	tcpipB := showStack("SYSB", "TCPIP")
	if slices.Equal(tcpipB, tcpipA) {
		t.Errorf("SYSB's TCPIP shows SYSA's IKE tunnels %v", tcpipA)
	}
	b.waitFor("SYSB marked in the overview", `document.querySelector("#fleet-table tr[data-system=SYSB] button").getAttribute("aria-pressed") === "true"`)

	// A reload keeps the choice: the URL holds it.
	b.do("reload", chromedp.Reload())
	b.waitFor("SYSB's TCPIP after the reload", fmt.Sprintf(`document.getElementById("system").value === "SYSB" &&
		document.querySelector("#stack section[data-system=SYSB][data-stack=TCPIP]") !== null &&
		JSON.stringify([...document.querySelectorAll("#list-ike tbody tr[data-tunnel-id]")].map(
			(r) => r.dataset.tunnelId + "/" + r.dataset.generation)) === %s`, js(js(tcpipB))))

	// A control action goes to the stack of the system shown: K8 of
	// SYSB's TCPIP is deactivated there, and the audit log names SYSB.
	b.click("deactivate K8", `#list-ike tr[data-tunnel-id=K8] button[data-action=deactivate]`)
	b.waitFor("the confirmation naming SYSB", `document.getElementById("confirm").open &&
		document.querySelector("#confirm [data-field=system]").textContent === "SYSB" &&
		document.querySelector("#confirm [data-field=stack]").textContent === "TCPIP"`)
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("K8 deactivated", `document.querySelector("#results tr[data-tunnel-id=K8][data-status=stateUpdated]") !== null`)
	for _, it := range g.list("/v1/systems/SYSB/stacks/TCPIP/ike/tunnels") {
		if str(it, "tunnelId") == "K8" && str(it, "state") == "active" {
			t.Errorf("SYSB's K8 is still active: %v", it)
		}
	}
	if a := auditLog.String(); !strings.Contains(a, `"system":"SYSB"`) || !strings.Contains(a, `"tunnelId":"K8"`) {
		t.Errorf("the audit log does not name SYSB's K8:\n%s", a)
	}

	// axe-core, with the overview, the selector and a stack of an NSS
	// client shown.
	b.checkAxe()
	// The only failed loads are those of the stack the NSS server does not
	// manage remotely.
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, "/v1/systems/SYSA/stacks/TCPIPB/") {
			t.Errorf("the browser reported: %s", p)
		}
	}

	// Choosing the unreachable system shows why its stacks cannot be
	// listed, with the rest of the page as it was.
	resp, body := g.get("/v1/systems/SYSD/stacks")
	down := g.decode("GET /v1/systems/SYSD/stacks", resp, body, resp.StatusCode)
	if resp.StatusCode < 500 {
		t.Fatalf("GET /v1/systems/SYSD/stacks: %d %s", resp.StatusCode, body)
	}
	chooseSystem("SYSD")
	b.waitFor("SYSD's problem shown", fmt.Sprintf(`(() => { const e = document.getElementById("error");
		return !e.hidden && e.textContent.includes("Loading the stacks of SYSD: %d " + %s) &&
			document.querySelectorAll("#stacks tbody tr[data-stack], #stack section").length === 0 &&
			document.querySelectorAll("#fleet-table tr[data-system]").length === %d; })()`,
		resp.StatusCode, js(str(down, "title")), len(names)))

	chooseSystem("SYS1")
	b.waitFor("SYSD's problem gone", `document.getElementById("error").hidden`)
	showStack("SYS1", "TCPIP")

	// SYSB's client disconnects while the page shows its stack, reading
	// everything every 10 minutes only: the stack's event stream says
	// stack.disconnected, and the overview shows it so.
	b.do("open SYSB's TCPIP without polling", chromedp.Navigate(g.base+"/?poll=600&interval=1s#system=SYSB&stack=TCPIP"))
	b.waitFor("SYSB's TCPIP followed live", `document.getElementById("live").dataset.live === "live" &&
		document.querySelector("#stack section[data-system=SYSB][data-stack=TCPIP]") !== null &&
		document.querySelector("#fleet-table tr[data-system=SYSB] [data-stack=TCPIP][data-connected=true]") !== null`)
	if err := nss.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SYSB's client disconnected in the API", func() string {
		for _, x := range g.object("/v1/systems/SYSB", http.StatusOK)["stacks"].([]any) {
			if st := x.(item); str(st, "name") == "TCPIP" && st["connected"] == false {
				return ""
			}
		}
		return "GET /v1/systems/SYSB still has TCPIP connected"
	})
	b.waitFor("SYSB's TCPIP disconnected in the overview", `(() => {
		const s = document.querySelector("#fleet-table tr[data-system=SYSB] [data-stack=TCPIP]");
		return s && s.dataset.connected === "false" && s.textContent.includes("disconnected"); })()`)
	for _, p := range b.takeProblems() {
		// The stack of the client gone answers 404; SYSD's stacks failed to
		// load.
		if !strings.Contains(p, "/v1/systems/SYSA/stacks/TCPIPB/") && !strings.Contains(p, "/v1/systems/SYSB/stacks/TCPIP/") &&
			!strings.Contains(p, "/v1/systems/SYSD/stacks") {
			t.Errorf("the browser reported: %s", p)
		}
	}
}
