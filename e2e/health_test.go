package e2e

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// apiTraffic is what the API answers of a stack's dynamic and manual
// tunnels: per tunnel ID the bytes carried (in and out, summed over its
// generations), whether its newest generation is active, and when the
// answers came (halfway through the requests).
type apiTraffic struct {
	at     time.Time
	bytes  map[string]float64
	active map[string]bool
	items  []item // the dynamic tunnels, every generation
	ike    []item
}

func readTraffic(g *gateway, stackPath string) apiTraffic {
	before := time.Now()
	dyn := g.list(stackPath + "/tunnels/dynamic?pageSize=500")
	man := g.list(stackPath + "/tunnels/manual?pageSize=500")
	ike := g.list(stackPath + "/ike/tunnels?pageSize=500")
	r := apiTraffic{at: before.Add(time.Since(before) / 2), bytes: map[string]float64{}, active: map[string]bool{}, items: dyn, ike: ike}
	newest := map[string]float64{}
	for _, t := range append(slices.Clone(dyn), man...) {
		id := str(t, "tunnelId")
		tr, _ := t["traffic"].(item)
		if sv, ok := t["stackView"].(item); ok {
			tr, _ = sv["traffic"].(item)
		}
		for _, k := range []string{"inboundBytes", "outboundBytes"} {
			n, _ := tr[k].(float64)
			r.bytes[id] += n
		}
		gen, _ := t["generation"].(float64)
		if had, ok := newest[id]; !ok || gen >= had {
			newest[id] = gen
			r.active[id] = str(t, "state") == "active"
		}
	}
	return r
}

// expiringOf is what the expiring tile should show: the active newest
// generations in the last tenth of their lifetime.
func expiringOf(items []item, now time.Time) []string {
	newest := map[string]item{}
	for _, t := range items {
		id := str(t, "tunnelId")
		if had, ok := newest[id]; !ok || had["generation"].(float64) < t["generation"].(float64) {
			newest[id] = t
		}
	}
	var ids []string
	for id, t := range newest {
		exp, err := time.Parse(time.RFC3339, str(t, "expireTime"))
		life, _ := t["lifetimeSeconds"].(float64)
		if err == nil && str(t, "state") == "active" && life > 0 && exp.Sub(now) <= time.Duration(life/10*float64(time.Second)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// summaryCounts are the summary's gauges and activation counters.
func summaryCounts(g *gateway, stackPath string) (gauges map[string]string, act, fail float64) {
	s := g.object(stackPath+"/summary", http.StatusOK)
	gauges = map[string]string{}
	for _, kind := range []string{"ikeTunnels", "dynamicTunnels"} {
		c := s[kind].(item)
		gauges[kind] = str(c, "active") + "/" + str(c, "inProgress") + "/" + str(c, "expired")
		for _, k := range []string{"localActivationSuccesses", "remoteActivationSuccesses"} {
			n, _ := c[k].(float64)
			act += n
		}
		for _, k := range []string{"localActivationFailures", "remoteActivationFailures"} {
			n, _ := c[k].(float64)
			fail += n
		}
	}
	return gauges, act, fail
}

// tileData is the JavaScript for a tile's data attribute.
func tileData(tile, attr string) string {
	return fmt.Sprintf(`(document.querySelector('#tiles [data-tile=%s]') || {dataset: {}}).dataset.%s`, tile, attr)
}

// TestDashboardHealthAndCharts checks the health tiles against the API's
// answers, the throughput chart's points against successive readings of
// the API, an action's result beside its button, and the page with
// axe-core.
func TestDashboardHealthAndCharts(t *testing.T) {
	g := startGateway(t)
	b := startBrowser(t)
	const tcpip, tcpipb = "/v1/stacks/TCPIP", "/v1/stacks/TCPIPB"
	before := readTraffic(g, tcpip)

	// Readings every second; a tunnel that carried nothing for 3 s is idle.
	b.do("open the dashboard", chromedp.Navigate(g.base+"/?poll=1&idle=3s#stack=TCPIP"))
	b.waitFor("the tiles", `document.querySelectorAll("#tiles [data-tile]").length === 7`)

	// Tunnels by state: the summary's gauges; the manual tunnels' list.
	gauges, _, fail := summaryCounts(g, tcpip)
	for _, kind := range []string{"ike", "dynamic"} {
		want := gauges[map[string]string{"ike": "ikeTunnels", "dynamic": "dynamicTunnels"}[kind]]
		b.waitFor(kind+" tunnels by state "+want, fmt.Sprintf(`[%s, %s, %s].join("/") === %s`,
			tileData(kind, "active"), tileData(kind, "inProgress"), tileData(kind, "expired"), js(want)))
	}
	manActive := 0
	for _, m := range g.list(tcpip + "/tunnels/manual?pageSize=500") {
		if str(m, "state") == "active" {
			manActive++
		}
	}
	b.waitFor("the manual tunnels", fmt.Sprintf(`%s === "%d"`, tileData("manual", "active"), manActive))
	// Activation failures: all of them, none new at the first look.
	b.waitFor("the activation failures", fmt.Sprintf(`%s === "%d" && %s === "0"`, tileData("failures", "total"), int(fail), tileData("failures", "new")))
	// The filter set in effect.
	for _, s := range g.list("/v1/stacks") {
		if str(s, "name") == "TCPIP" {
			b.waitFor("the filter set", fmt.Sprintf(`%s === %s`, tileData("filterSet", "value"), js(str(s, "filterSet"))))
		}
	}
	// Tunnels in their refresh margin: the demo's partner tunnel runs
	// without refresh near its expiry.
	wantExp := append(expiringOf(before.ike, time.Now()), expiringOf(before.items, time.Now())...)
	if len(wantExp) == 0 {
		t.Fatal("no tunnel of the demo data set is in its refresh margin")
	}
	b.waitFor("the expiring tunnels "+strings.Join(wantExp, " "), fmt.Sprintf(`%s === %s`, tileData("expiring", "ids"), js(strings.Join(wantExp, " "))))

	// Active and carrying nothing: on TCPIP every active tunnel carries
	// traffic. The tile counts once its readings span 3 s.
	b.waitFor("the idle tile on TCPIP", tileData("idle", "value")+` === "0"`)

	// The throughput chart of Y1: its points against the API's readings
	// before and after it.
	eval[chromedp.Void](b, `(() => { const s = document.getElementById("chart-tunnel"); s.value = "Y1"; s.dispatchEvent(new Event("change")); })()`)
	b.waitFor("4 points of Y1's throughput", `document.querySelectorAll("#chart-throughput-data[data-tunnel=Y1] tbody tr").length >= 4`)
	type point struct{ T, Bytes, Bps float64 }
	pts := eval[[]point](b, `[...document.querySelectorAll("#chart-throughput-data tbody tr")].map((r) => ({
		T: Number(r.dataset.t), Bytes: Number(r.dataset.bytes), Bps: Number(r.dataset.bps) }))`)
	after := readTraffic(g, tcpip)
	apiRate := (after.bytes["Y1"] - before.bytes["Y1"]) / after.at.Sub(before.at).Seconds()
	if apiRate <= 0 {
		t.Fatalf("Y1 carried nothing between the API's readings: %v -> %v", before.bytes["Y1"], after.bytes["Y1"])
	}
	for i, p := range pts {
		if p.Bytes < before.bytes["Y1"] || p.Bytes > after.bytes["Y1"] {
			t.Errorf("point %d: counter %v outside the API's readings before (%v) and after (%v)", i, p.Bytes, before.bytes["Y1"], after.bytes["Y1"])
		}
		if i > 0 {
			q := pts[i-1]
			if want := (p.Bytes - q.Bytes) / ((p.T - q.T) / 1000); math.Abs(p.Bps-want) > 1e-6*want {
				t.Errorf("point %d: %v bytes/s, its counters give %v", i, p.Bps, want)
			}
		}
		// Generous: the page times its readings in the browser.
		if math.Abs(p.Bps-apiRate) > 0.25*apiRate {
			t.Errorf("point %d: %v bytes/s, the API's readings give %v", i, p.Bps, apiRate)
		}
	}

	// The top tunnels by bytes are the API's, in its order.
	var ids []string
	for id := range after.bytes {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y string) int {
		if c := -cmpFloat(after.bytes[x], after.bytes[y]); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	top := eval[[]string](b, rowsOf("#chart-top", "data-tunnel-id"))
	if len(top) != 5 || !slices.Equal(top, ids[:5]) {
		t.Errorf("top tunnels by bytes %v, the API's %v", top, ids[:min(5, len(ids))])
	}

	// A tile links to its list, filtered: the expiring dynamic tunnels.
	b.click("follow the expiring tile's link", `#tiles [data-tile=expiring] a[data-list=dynamic]`)
	var dynExp []string
	for _, id := range wantExp {
		if strings.HasPrefix(id, "Y") {
			dynExp = append(dynExp, id)
		}
	}
	b.waitFor("the dynamic tunnels filtered to "+strings.Join(dynExp, " "), fmt.Sprintf(`
		JSON.stringify([...new Set(%s)]) === %s && location.hash.includes("dynamic.tunnelId=") &&
		document.activeElement === document.getElementById("dynamic-title")`,
		rowsOf("#list-dynamic", "data-tunnel-id"), js(js(dynExp))))

	// TCPIPB runs on its default filters: its active tunnel carries
	// nothing, as two readings of the API 3 s apart show.
	b.click("show TCPIPB", `#stacks tr[data-stack="TCPIPB"] button`)
	b0 := readTraffic(g, tcpipb)
	time.Sleep(3 * time.Second)
	b1 := readTraffic(g, tcpipb)
	var idle []string
	for id, on := range b1.active {
		if on && b0.active[id] && b1.bytes[id] == b0.bytes[id] {
			idle = append(idle, id)
		}
	}
	slices.Sort(idle)
	if len(idle) == 0 {
		t.Fatal("TCPIPB has no idle tunnel")
	}
	b.waitFor("the idle tunnels of TCPIPB "+strings.Join(idle, " "), fmt.Sprintf(`%s === %s`, tileData("idle", "ids"), js(strings.Join(idle, " "))))
	b.waitFor("the filter set of TCPIPB", tileData("filterSet", "value")+` === "default"`)

	// The activations chart counts an activation made through the API.
	b.click("show TCPIP", `#stacks tr[data-stack="TCPIP"] button`)
	b.waitFor("the activations chart", `document.querySelectorAll("#chart-activations-data tbody tr").length >= 2`)
	_, act0, _ := summaryCounts(g, tcpip)
	g.postObject(tcpip+"/tunnels/dynamic:activate?wait=10s", `{"names":["BRANCH4-VPN"]}`, http.StatusOK, "Authorization", "Bearer "+g.operator)
	_, act1, _ := summaryCounts(g, tcpip)
	if act1 <= act0 {
		t.Fatalf("activations %v -> %v after activating BRANCH4-VPN", act0, act1)
	}
	b.waitFor("the activation in the chart", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll("#chart-activations-data tbody tr")];
		const last = rows[rows.length - 1];
		return last && Number(last.dataset.actTotal) === %v; })()`, act1))
	// Each point is the growth between two readings: they add up to the
	// growth from the first reading to the last, which took in the API's
	// activation.
	sums := eval[[]float64](b, `(() => { const rows = [...document.querySelectorAll("#chart-activations-data tbody tr")];
		const first = rows[0].dataset, last = rows[rows.length - 1].dataset;
		return [rows.reduce((n, r) => n + Number(r.dataset.act), 0), Number(last.actTotal) - (Number(first.actTotal) - Number(first.act)),
			Number(first.actTotal) - Number(first.act)]; })()`)
	if sums[0] != sums[1] || sums[2] > act0 {
		t.Errorf("the chart's points add up to %v activations, its totals grew by %v from %v (the API had %v before)", sums[0], sums[1], sums[2], act0)
	}

	// The operator refreshes K1: the result shows beside the button, and
	// stays there when the list is read again. Refresh is offered on
	// active tunnels only.
	b.do("forget the token", chromedp.Click(chromedp.ID("token-forget")))
	b.do("enter the operator's token", chromedp.SendKeys(chromedp.ID("token"), g.operator),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
	b.waitFor("control buttons", `document.querySelector("#list-ike button[data-action=refresh]") !== null`)
	ike := g.list(tcpip + "/ike/tunnels?pageSize=500")
	for _, list := range []struct {
		sel   string
		items []item
	}{{"#list-ike", ike}, {"#list-dynamic", g.list(tcpip + "/tunnels/dynamic?pageSize=500")}} {
		newest := map[string]item{}
		for _, it := range list.items {
			if had, ok := newest[str(it, "tunnelId")]; !ok || had["generation"].(float64) < it["generation"].(float64) {
				newest[str(it, "tunnelId")] = it
			}
		}
		var want, have []string
		for id, it := range newest {
			if str(it, "state") == "active" {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		have = eval[[]string](b, `[...new Set([...document.querySelectorAll(`+js(list.sel+" tbody tr[data-tunnel-id]")+`)].filter(
			(r) => r.querySelector("button[data-action=refresh]")).map((r) => r.dataset.tunnelId))].sort()`)
		if !slices.Equal(have, want) {
			t.Errorf("%s: Refresh offered on %v, the active tunnels are %v", list.sel, have, want)
		}
	}
	b.click("refresh K1", `#list-ike tr[data-tunnel-id=K1] button[data-action=refresh]`)
	b.waitFor("the confirmation", `document.getElementById("confirm").open`)
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("the result beside K1's Refresh button", `(() => {
		const r = document.querySelector("#list-ike .inline-result[data-result-for='refresh:ike:K1']");
		const prev = r && r.previousElementSibling;
		return r && r.dataset.status === "stateUpdated" && prev && prev.dataset.action === "refresh" &&
			prev.closest("tr").dataset.tunnelId === "K1"; })()`)

	// No serious or critical violation in the page as it stands, tiles
	// and charts included.
	b.checkAxe()
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(p, "\n"))
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
