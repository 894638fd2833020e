package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/web"
)

// chromiumPath is the browser the dashboard test drives (Debian's
// chromium package; scripts/ci-setup installs it).
const chromiumPath = "/usr/bin/chromium"

// browser is headless Chromium on a fresh profile, with the page's
// console errors, uncaught exceptions and failed loads collected.
type browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

func startBrowser(t testing.TB) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard test drives headless Chromium at %s, which is missing (%v): "+
			"install it with `apt-get install -y chromium` (scripts/ci-setup does so)", chromiumPath, err)
	}
	b := &browser{t: t}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.note))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b.ctx = ctx
	// The first run starts the browser, which lives as long as the context
	// of that run: no timeout on it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// note keeps what the page reports as an error.
func (b *browser) note(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log (" + string(e.Entry.Source) + "): " + e.Entry.Text + " " + e.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, msg)
	b.mu.Unlock()
}

// takeProblems answers the errors reported since the last call.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.pageText())
	}
}

// pageText is the start of the page's text, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// eval evaluates a JavaScript expression into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 40*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, b.pageText())
	}
}

// click clicks the element sel selects, in one evaluation in the page,
// once it is there and enabled. For elements of what the page redraws
// (lists, tiles, the stacks table): chromedp.Click finds the node, then
// clicks it in later steps, and fails when a redraw replaced it meanwhile.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.waitFor(what, fmt.Sprintf(`(() => { const e = document.querySelector(%s);
		if (!e || e.disabled) { return false; } e.click(); return true; })()`, js(sel)))
}

// checkAxe runs axe-core (vendored for the tests only) on the page as it
// stands: no serious or critical violation.
func (b *browser) checkAxe() {
	b.t.Helper()
	axe, err := os.ReadFile("../web/vendor/axe-core/axe.min.js")
	if err != nil {
		b.t.Fatal(err)
	}
	eval[chromedp.Void](b, string(axe)+";undefined")
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
		r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) =>
			v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	for _, v := range found {
		b.t.Errorf("axe-core: %s", v)
	}
}

// js is v as a JavaScript literal.
func js(v any) string {
	out, _ := json.Marshal(v) // strings and slices of them always marshal
	return string(out)
}

// rowsOf is the JavaScript for the data attribute attr of the rows of a
// dashboard table, in order.
func rowsOf(table, attr string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].map((r) => r.getAttribute(%s))`,
		js(table+" tbody tr["+attr+"]"), js(attr))
}

// TestDashboardInBrowser drives the dashboard at / in headless Chromium
// against the gateway with the demo data set, and checks /docs renders.
func TestDashboardInBrowser(t *testing.T) {
	began := time.Now()
	g := startGateway(t)
	m := operatorRe.FindStringSubmatch(g.out.String())
	if m == nil || g.viewer == "" {
		t.Fatalf("no demo tokens in:\n%s", g.out.String())
	}
	operatorToken := m[1]
	b := startBrowser(t)
	// Polls every 2 s, with or without the event stream (the stream alone
	// is checked by checkLiveUpdates).
	b.do("open the dashboard", chromedp.Navigate(g.base+"/?poll=2"))

	// The stacks of the API, with the filter set in effect.
	var wantStacks [][2]string
	for _, s := range g.list("/v1/stacks") {
		wantStacks = append(wantStacks, [2]string{str(s, "name"), str(s, "filterSet")})
	}
	if len(wantStacks) < 2 {
		t.Fatalf("demo data set has %d stacks", len(wantStacks))
	}
	b.waitFor("the stacks table", fmt.Sprintf(`document.querySelectorAll("#stacks tbody tr[data-stack]").length === %d`, len(wantStacks)))
	haveStacks := eval[[][2]string](b, `[...document.querySelectorAll("#stacks tbody tr[data-stack]")].map(
		(r) => [r.dataset.stack, r.querySelector("[data-col=filterSet]").textContent])`)
	if !slices.Equal(haveStacks, wantStacks) {
		t.Errorf("stacks table %v, API %v", haveStacks, wantStacks)
	}

	// Each stack's IKE tunnels table has the API's rows, in its order.
	ikeStack := ""
	for _, s := range wantStacks {
		name := s[0]
		var want []string
		for _, it := range g.list("/v1/stacks/" + url.PathEscape(name) + "/ike/tunnels") {
			want = append(want, str(it, "tunnelId")+"/"+str(it, "generation"))
		}
		if ikeStack == "" && len(want) > 0 {
			ikeStack = name
		}
		b.click("show stack "+name, `#stacks tr[data-stack=`+js(name)+`] button`)
		b.waitFor("the IKE tunnels of "+name, fmt.Sprintf(`document.querySelector(%s) !== null &&
			document.querySelectorAll("#list-ike tbody tr[data-tunnel-id]").length === %d`,
			js(`#stack section[data-stack=`+js(name)+`] #list-ike`), len(want)))
		have := eval[[]string](b, `[...document.querySelectorAll("#list-ike tbody tr[data-tunnel-id]")].map(
			(r) => r.dataset.tunnelId + "/" + r.dataset.generation)`)
		if !slices.Equal(have, want) {
			t.Errorf("IKE tunnels of %s: table %v, API %v", name, have, want)
		}
	}
	if ikeStack == "" {
		t.Fatal("no stack of the demo data set has IKE tunnels")
	}
	stackPath := "/v1/stacks/" + url.PathEscape(ikeStack)
	b.click("show stack "+ikeStack, `#stacks tr[data-stack=`+js(ikeStack)+`] button`)
	b.waitFor("the dynamic tunnels of "+ikeStack, `document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]").length > 0`)
	if n := eval[int](b, `document.querySelectorAll("[data-action]").length`); n != 0 {
		t.Errorf("anonymous caller: %d control buttons", n)
	}

	// Filter rules page by pageSize and nextPageToken, as the API does.
	first := g.object(stackPath+"/filters?pageSize=10", 200)
	tok, _ := first["nextPageToken"].(string)
	if tok == "" {
		t.Fatal("no second page of filter rules with pageSize=10")
	}
	second := g.object(stackPath+"/filters?pageSize=10&pageToken="+url.QueryEscape(tok), 200)
	names := func(v item) []string {
		var out []string
		for _, x := range v["items"].([]any) {
			out = append(out, str(x.(item), "name"))
		}
		return out
	}
	eval[chromedp.Void](b, `(() => { const s = document.getElementById("pagesize-filters");
		s.value = "10"; s.dispatchEvent(new Event("change")); })()`)
	b.waitFor("the first page of 10 filter rules", fmt.Sprintf(`JSON.stringify(%s) === %s`,
		rowsOf("#list-filters", "data-name"), js(js(names(first)))))
	b.do("next page of filter rules", chromedp.Click(chromedp.CSS(`#section-filters button[data-page=next]`)))
	b.waitFor("the second page of filter rules", fmt.Sprintf(`JSON.stringify(%s) === %s`,
		rowsOf("#list-filters", "data-name"), js(js(names(second)))))

	checkPhase2(t, g, b, stackPath)
	checkDynamicViewsAndFilters(t, g, b, stackPath)
	checkInterfaces(t, g, b, stackPath)

	// A viewer's token: identity from the API, no control buttons.
	setToken := func(token string) {
		t.Helper()
		who := g.object("/v1/whoami", 200, "Authorization", "Bearer "+token)
		b.do("forget the token", chromedp.Click(chromedp.ID("token-forget")))
		b.do("enter a token", chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
		b.waitFor("the identity "+str(who, "user"), fmt.Sprintf(`document.getElementById("identity").dataset.user === %s &&
			document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]").length > 0`, js(str(who, "user"))))
	}
	setToken(g.viewer)
	if n := eval[int](b, `document.querySelectorAll("[data-action]").length`); n != 0 {
		t.Errorf("viewer: %d control buttons", n)
	}
	// Local storage keeps what was seen of each stack, never the token.
	if s := eval[string](b, `sessionStorage.getItem("nmigw.token") + "|" + Object.entries(localStorage).filter(
		([k, v]) => !k.startsWith("nmigw.seen.") || v.includes(sessionStorage.getItem("nmigw.token"))).length`); s != g.viewer+"|0" {
		t.Errorf("token storage: %q, want the token in session storage only", s)
	}
	checkPacketTest(t, g, b, stackPath)

	// An unknown token: the API's 401 problem is shown, and nothing of the
	// last caller's view stays. The browser logs each 401 as a failed load.
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(p, "\n"))
	}
	resp, body := g.get("/v1/stacks", "Authorization", "Bearer not-a-token")
	var denied item
	if err := json.Unmarshal(body, &denied); err != nil || resp.StatusCode != 401 || str(denied, "detail") == "" {
		t.Fatalf("GET /v1/stacks with an unknown token: %d %s", resp.StatusCode, body)
	}
	b.do("enter an unknown token", chromedp.Click(chromedp.ID("token-forget")),
		chromedp.SendKeys(chromedp.ID("token"), "not-a-token"),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
	b.waitFor("the 401 problem", fmt.Sprintf(`(() => { const e = document.getElementById("error");
		return !e.hidden && e.textContent.includes("401 " + %s) && e.textContent.includes(%s); })()`,
		js(str(denied, "title")), js(str(denied, "detail"))))
	if n := eval[int](b, `document.querySelectorAll("#stacks tbody tr[data-stack], #stack section").length`); n != 0 {
		t.Errorf("after a 401, %d stack rows and sections still shown", n)
	}
	only401 := func() {
		t.Helper()
		for _, p := range b.takeProblems() {
			if !strings.Contains(p, "status of 401") {
				t.Errorf("the browser reported: %s", p)
			}
		}
	}
	only401()

	// The operator deactivates an active dynamic tunnel. Rounds that were
	// running with the unknown token until the operator's was shown may
	// have had more 401s.
	setToken(operatorToken)
	only401()
	checkConfirmation(t, g, b, ikeStack)
	b.waitFor("control buttons", `document.querySelector("#list-dynamic button[data-action=deactivate]") !== null`)
	target, row, activeRows := activeDynamic(t, g, b, stackPath)
	b.click("deactivate "+target, row+` button[data-action=deactivate]`)
	b.waitFor("the confirmation of the deactivation", `document.getElementById("confirm").open`)
	b.do("confirm the deactivation", chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("the answer's status for "+target, fmt.Sprintf(`document.querySelector(%s) !== null`,
		js(`#results tr[data-tunnel-id=`+js(target)+`][data-status=stateUpdated]`)))
	b.waitFor("tunnel "+target+" no longer active in the table", activeRows+` === 0`)
	for _, it := range g.list(stackPath + "/tunnels/dynamic") {
		if str(it, "tunnelId") == target && str(it, "state") == "active" {
			t.Errorf("the API still shows tunnel %s generation %s active", target, str(it, "generation"))
		}
	}

	// Auto-refresh sends If-None-Match; a 304 keeps the view (the same
	// nodes stay in the page). While the stream is up, rounds follow one
	// another every 2 s: two more, not only the one the stream's opening
	// set off.
	eval[chromedp.Void](b, `document.querySelector("#stacks tbody tr").dataset.mark = "kept"`)
	before := eval[[]string](b, `[document.body.dataset.polls, document.body.dataset.notModified]`)
	b.waitFor("two more automatic refreshes, answered 304", fmt.Sprintf(`document.getElementById("live").dataset.live === "live" &&
		Number(document.body.dataset.polls) >= Number(%s) + 2 &&
		Number(document.body.dataset.notModified) > Number(%s)`, js(before[0]), js(before[1])))
	if s := eval[string](b, `document.querySelector("#stacks tbody tr").dataset.mark || ""`); s != "kept" {
		t.Error("a refresh answered 304 replaced the stacks table")
	}

	// A narrow window scrolls tables, not the page.
	b.do("narrow window", chromedp.EmulateViewport(360, 740))
	if w := eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at 360 px the page is %d px wide", w[0])
	}
	b.do("wide window", chromedp.EmulateViewport(1280, 1000))

	checkLiveUpdates(t, g, b, ikeStack, operatorToken)
	checkLiveErrors(t, b)

	// /docs renders the reference: Redoc puts the document's title in the DOM.
	_, spec := g.get("/openapi.yaml")
	tm := regexp.MustCompile(`(?m)^  title: (.+)$`).FindSubmatch(spec)
	if tm == nil {
		t.Fatal("no info.title in /openapi.yaml")
	}
	title := strings.TrimSpace(string(tm[1]))
	b.do("open /docs", chromedp.Navigate(g.base+"/docs"))
	b.waitFor("the reference's title", fmt.Sprintf(`document.body.innerText.includes(%s)`, js(title)))

	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("browser test took %s", time.Since(began).Round(time.Millisecond))
}

// shownPhase2 is the JavaScript for the IKE tunnels table as pairs of an
// IKE tunnel ("K1/3") and the phase 2 tunnels shown under it, each as
// phase2Of makes them.
const shownPhase2 = `JSON.stringify([...document.querySelectorAll("#list-ike > tbody > tr[data-tunnel-id]")].map((r) => {
	const n = r.nextElementSibling;
	const rows = n && n.classList.contains("phase2") ? [...n.querySelectorAll("tbody tr[data-phase2-id]")] : [];
	return [r.dataset.tunnelId + "/" + r.dataset.generation, rows.map((p) => [p.dataset.phase2Id, p.dataset.generation,
		...["state", "localClientId", "remoteClientId"].map((c) => p.querySelector("[data-col=" + c + "]").textContent),
		...["protocol", "sourcePort", "destinationPort"].map((c) => p.querySelector("[data-col=" + c + "]").dataset.value)])];
}))`

// phase2Of is what the dashboard should show of the API's IKE tunnels
// read with cascade=true: per IKE tunnel its dynamicTunnels (ID,
// generation, state, client IDs, protocol and ports), in the API's order.
func phase2Of(items []item) (out [][]any, with, without int) {
	for _, it := range items {
		rows := [][]string{}
		ds, _ := it["dynamicTunnels"].([]any)
		for _, x := range ds {
			d := x.(item)
			iv, _ := d["ikeView"].(item)
			client := func(k string) string {
				return cmp.Or(str(iv, k), "—") // the dashboard's mark of an absent value
			}
			rows = append(rows, []string{str(d, "tunnelId"), str(d, "generation"), str(d, "state"),
				client("localClientId"), client("remoteClientId"),
				str(d, "protocol"), str(d, "sourcePort"), str(d, "destinationPort")})
		}
		if len(rows) > 0 {
			with++
		} else {
			without++
		}
		out = append(out, []any{str(it, "tunnelId") + "/" + str(it, "generation"), rows})
	}
	return out, with, without
}

// checkPhase2 turns on the IKE tunnels' phase 2 tunnels: under each IKE
// tunnel the dashboard shows the dynamicTunnels the API answers with
// cascade=true, none under those without, and the hash keeps the choice.
func checkPhase2(t *testing.T, g *gateway, b *browser, stackPath string) {
	t.Helper()
	// The dashboard asks for pages of 50 IKE tunnels.
	want, with, without := phase2Of(g.list(stackPath + "/ike/tunnels?cascade=true&pageSize=50"))
	if with == 0 || without == 0 {
		t.Fatalf("the demo stack has %d IKE tunnels with phase 2 tunnels and %d without; want some of each", with, without)
	}
	b.do("show phase 2 tunnels", chromedp.Click(chromedp.ID("ike-cascade")))
	b.waitFor("the phase 2 tunnels of the API", shownPhase2+" === "+js(js(want)))
	if h := eval[string](b, `location.hash`); !strings.Contains(h, "ike.cascade=true") {
		t.Errorf("the hash %q does not keep the phase 2 tunnels shown", h)
	}
	b.do("hide phase 2 tunnels", chromedp.Click(chromedp.ID("ike-cascade")))
	b.waitFor("no phase 2 tunnels", `document.querySelector("#list-ike tr.phase2") === null &&
		!location.hash.includes("ike.cascade") && document.querySelectorAll("#list-ike tbody tr[data-tunnel-id]").length > 0`)
}

// checkDynamicViewsAndFilters checks the IKE view of dynamic tunnels and
// the list filters: the rows are those the API answers for the same
// query, the hash keeps them over a reload, and a bad value shows the
// API's 400 problem.
func checkDynamicViewsAndFilters(t *testing.T, g *gateway, b *browser, stackPath string) {
	t.Helper()
	dynPath := stackPath + "/tunnels/dynamic"
	// The dashboard asks for pages of 50 dynamic tunnels.
	ikeRows := func(query string) (rows [][]string, ids []string) {
		v := g.object(dynPath+"?view=ike&pageSize=50"+query, 200)
		for _, x := range v["items"].([]any) {
			it := x.(item)
			iv, ok := it["ikeView"].(item)
			if !ok {
				t.Fatalf("view=ike: tunnel %s without ikeView", str(it, "tunnelId"))
			}
			text := func(k string) string {
				switch v := iv[k].(type) {
				case bool:
					return map[bool]string{true: "yes", false: "no"}[v]
				case nil:
					return "—" // the dashboard's mark of an absent value
				}
				return str(iv, k)
			}
			rows = append(rows, []string{str(it, "tunnelId"), str(it, "generation"), text("locallyInitiated"),
				text("extendedState"), text("localClientIdType"), text("localClientId"),
				text("remoteClientIdType"), text("remoteClientId"), text("retransmits")})
			if !slices.Contains(ids, str(it, "tunnelId")) {
				ids = append(ids, str(it, "tunnelId"))
			}
		}
		if len(rows) == 0 {
			t.Fatalf("no dynamic tunnels in the IKE view%s", query)
		}
		return rows, ids
	}
	const shownIKERows = `JSON.stringify([...document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]")].map((r) =>
		[r.dataset.tunnelId, r.dataset.generation, ...["locallyInitiated", "extendedState", "localClientIdType",
			"localClientId", "remoteClientIdType", "remoteClientId", "retransmits"].map(
			(c) => r.querySelector("[data-col=" + c + "]")?.textContent.replaceAll(",", ""))]))`
	all, ids := ikeRows("")
	eval[chromedp.Void](b, `(() => { const s = document.getElementById("dynamic-view");
		s.value = "ike"; s.dispatchEvent(new Event("change")); })()`)
	b.waitFor("the IKE view of the dynamic tunnels", shownIKERows+" === "+js(js(all)))

	// Two tunnel IDs, as the API's repeated tunnelId parameter.
	if len(ids) < 3 {
		t.Fatalf("the IKE view has %d tunnels, too few to filter", len(ids))
	}
	pick := []string{ids[0], ids[2]}
	want, _ := ikeRows("&tunnelId=" + url.QueryEscape(pick[0]) + "&tunnelId=" + url.QueryEscape(pick[1]))
	if len(want) >= len(all) {
		t.Fatalf("tunnelId=%v does not narrow the list: %d of %d rows", pick, len(want), len(all))
	}
	b.do("filter dynamic tunnels by ID", chromedp.SendKeys(chromedp.ID("filter-dynamic-tunnelId"), strings.Join(pick, " ")),
		chromedp.Click(chromedp.CSS(`#filters-dynamic button[data-filter=apply]`)))
	b.waitFor("the dynamic tunnels "+strings.Join(pick, ", "), shownIKERows+" === "+js(js(want)))

	// The hash keeps the view and the filter over a reload.
	hash := eval[string](b, `location.hash`)
	if !strings.Contains(hash, "dynamic.view=ike") || !strings.Contains(hash, "dynamic.tunnelId=") {
		t.Errorf("the hash %q does not hold the view and the filter", hash)
	}
	b.do("reload the dashboard", chromedp.Reload())
	b.waitFor("the filtered IKE view after a reload", shownIKERows+" === "+js(js(want)))
	if s := eval[[]string](b, `[document.getElementById("filter-dynamic-tunnelId").value, document.getElementById("dynamic-view").value]`); !slices.Equal(s, []string{strings.Join(pick, " "), "ike"}) {
		t.Errorf("after a reload the filter and view are %q", s)
	}
	b.do("clear the filter of dynamic tunnels", chromedp.Click(chromedp.CSS(`#filters-dynamic button[data-filter=clear]`)))
	b.waitFor("every dynamic tunnel again", shownIKERows+" === "+js(js(all)))
	eval[chromedp.Void](b, `(() => { const s = document.getElementById("dynamic-view");
		s.value = "stack"; s.dispatchEvent(new Event("change")); })()`)
	b.waitFor("the stack view again", `!location.hash.includes("dynamic.") &&
		document.querySelector("#list-dynamic tbody tr[data-tunnel-id] [data-col=retransmits]") === null`)

	// A value the API refuses: its 400 problem in the section.
	const bad = "192.0.2.300"
	resp, body := g.get(stackPath + "/tunnels/manual?localAddress=" + url.QueryEscape(bad) + "&pageSize=50")
	var p item
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 400 || str(p, "detail") == "" {
		t.Fatalf("manual tunnels with localAddress=%s: %d %s", bad, resp.StatusCode, body)
	}
	b.do("filter manual tunnels by a bad address", chromedp.SendKeys(chromedp.ID("filter-manual-localAddress"), bad),
		chromedp.Click(chromedp.CSS(`#filters-manual button[data-filter=apply]`)))
	problem := `document.querySelector("#section-manual .problem")`
	b.waitFor("the 400 problem", fmt.Sprintf(`!%s.hidden && %s.textContent.includes("400 " + %s) && %s.textContent.includes(%s)`,
		problem, problem, js(str(p, "title")), problem, js(str(p, "detail"))))
	b.do("clear the filter of manual tunnels", chromedp.Click(chromedp.CSS(`#filters-manual button[data-filter=clear]`)))
	b.waitFor("the manual tunnels without a problem", problem+`.hidden && document.querySelectorAll("#list-manual tbody tr[data-tunnel-id]").length > 0`)
	for _, msg := range b.takeProblems() {
		if !strings.Contains(msg, "status of 400") {
			t.Errorf("the browser reported: %s", msg)
		}
	}
}

// activeDynamic answers the first dynamic tunnel the API lists active,
// once the dashboard shows it active: its ID, the CSS selector of its rows
// and the JavaScript that counts those of them shown active.
func activeDynamic(t *testing.T, g *gateway, b *browser, stackPath string) (id, row, activeRows string) {
	t.Helper()
	for _, it := range g.list(stackPath + "/tunnels/dynamic") {
		if str(it, "state") == "active" {
			id = str(it, "tunnelId")
			break
		}
	}
	if id == "" {
		t.Fatal("no active dynamic tunnel in the demo data set")
	}
	row = `#list-dynamic tbody tr[data-tunnel-id=` + js(id) + `]`
	activeRows = fmt.Sprintf(`[...document.querySelectorAll(%s)].filter((r) => r.querySelector("[data-col=state]").textContent === "active").length`, js(row))
	b.waitFor("tunnel "+id+" active in the table", activeRows+` > 0`)
	return id, row, activeRows
}

// postsSent is how many POST requests the gateway has answered.
func postsSent(g *gateway) float64 {
	var n float64
	for _, m := range g.metricsOf()["nmigw_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" && l.GetValue() == "POST" {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// checkConfirmation checks that control actions ask first: Escape and
// Cancel send nothing (one of them a bulk action, whose dialog names the
// tunnels shown), OK sends the action once, with ?wait when chosen.
func checkConfirmation(t *testing.T, g *gateway, b *browser, stack string) {
	t.Helper()
	manualPath := "/v1/stacks/" + url.PathEscape(stack) + "/tunnels/manual"
	target := ""
	var all []string
	for _, it := range g.list(manualPath) {
		all = append(all, str(it, "tunnelId"))
		if target == "" && str(it, "state") == "inactive" {
			target = str(it, "tunnelId")
		}
	}
	if target == "" {
		t.Fatal("no inactive manual tunnel in the demo data set")
	}
	stateOf := func() string {
		return str(g.object(manualPath+"/"+url.PathEscape(target), 200), "state")
	}
	button := `#list-manual tbody tr[data-tunnel-id=` + js(target) + `] button[data-action=activate]`
	const dialogOpen = `document.getElementById("confirm").open`
	open := func() {
		t.Helper()
		b.waitFor("the activate button of "+target, fmt.Sprintf(`document.querySelector(%s) !== null && !%s`, js(button), dialogOpen))
		b.click("activate "+target, button)
		b.waitFor("the confirmation dialog, focus on Cancel", dialogOpen+` && document.activeElement.id === "confirm-cancel"`)
	}
	posts := postsSent(g)

	open()
	shown := eval[[]string](b, `["action", "stack"].map((f) => document.querySelector("#confirm [data-field=" + f + "]").textContent).concat(
		[...document.querySelectorAll("#confirm [data-target]")].map((e) => e.dataset.target))`)
	if !slices.Equal(shown, []string{"Activate manual tunnel", stack, target}) {
		t.Errorf("the dialog names %q, want the action, stack %s and tunnel %s", shown, stack, target)
	}
	b.do("press Escape", chromedp.KeyEvent(kb.Escape))
	b.waitFor("the dialog closed by Escape", "!"+dialogOpen)
	open()
	b.do("cancel", chromedp.Click(chromedp.ID("confirm-cancel")))
	b.waitFor("the dialog closed by Cancel", "!"+dialogOpen)
	// The bulk form names every tunnel the list shows.
	b.click("deactivate all manual tunnels shown", `#section-manual button[data-action=bulk-deactivate]`)
	b.waitFor("the bulk confirmation dialog", dialogOpen)
	if s := eval[[]string](b, `[...document.querySelectorAll("#confirm [data-target]")].map((e) => e.dataset.target)`); !slices.Equal(s, all) {
		t.Errorf("the bulk dialog names %q, the API lists %q", s, all)
	}
	b.do("cancel the bulk action", chromedp.Click(chromedp.ID("confirm-cancel")))
	b.waitFor("the bulk dialog closed by Cancel", "!"+dialogOpen)
	if s := stateOf(); s != "inactive" {
		t.Errorf("after Escape and Cancels, manual tunnel %s is %s", target, s)
	}

	open()
	eval[chromedp.Void](b, `document.getElementById("confirm-wait").value = "10s"`)
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("the answer with reached", fmt.Sprintf(`document.querySelector(%s) !== null && document.querySelector("#results [data-reached]") !== null`,
		js(`#results tr[data-tunnel-id=`+js(target)+`][data-status=stateUpdated]`)))
	if r := eval[string](b, `document.querySelector("#results [data-reached]").dataset.reached`); r != "true" {
		t.Errorf("activation of %s with wait=10s: reached %s", target, r)
	}
	if s := stateOf(); s != "active" {
		t.Errorf("after OK, manual tunnel %s is %s", target, s)
	}
	// Only the confirmed action was sent (the counter is updated once the
	// answer is written, so wait for it).
	n := postsSent(g)
	for deadline := time.Now().Add(10 * time.Second); n < posts+1 && time.Now().Before(deadline); n = postsSent(g) {
		time.Sleep(20 * time.Millisecond)
	}
	if n != posts+1 {
		t.Errorf("%v POST requests for one confirmed action after an Escape and two Cancels", n-posts)
	}
}

// sseParse is the reference the dashboard's parser of event streams
// (web/dashboard/sse.js) is checked against: the standard's algorithm over
// the whole text at once. Each record is ["event", type, data, id],
// ["comment", text] or ["retry", milliseconds].
func sseParse(s string) (records [][]any, lastID string) {
	s = strings.TrimPrefix(s, "\uFEFF")
	var data strings.Builder
	typ, hasData := "", false
	for {
		end := strings.IndexAny(s, "\r\n")
		if end < 0 {
			break // not a line: the stream ended within it
		}
		line := s[:end]
		if s[end] == '\r' && end+1 < len(s) && s[end+1] == '\n' {
			end++
		}
		s = s[end+1:]
		if line == "" {
			if hasData {
				records = append(records, []any{"event", cmp.Or(typ, "message"), strings.TrimSuffix(data.String(), "\n"), lastID})
			}
			data.Reset()
			typ, hasData = "", false
			continue
		}
		if text, ok := strings.CutPrefix(line, ":"); ok {
			records = append(records, []any{"comment", strings.TrimPrefix(text, " ")})
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			data.WriteString(value + "\n")
			hasData = true
		case "id":
			if !strings.Contains(value, "\x00") {
				lastID = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				ms, _ := strconv.ParseFloat(value, 64) // as JavaScript's Number does
				records = append(records, []any{"retry", ms})
			}
		}
	}
	return records, lastID
}

// TestSSEReference checks the reference parser on the standard's examples.
func TestSSEReference(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   [][]any
		lastID string
	}{
		{"data: YHOO\ndata: +2\ndata: 10\n\n", [][]any{{"event", "message", "YHOO\n+2\n10", ""}}, ""},
		{": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[][]any{{"comment", "test stream"}, {"event", "message", "first event", "1"}, {"event", "message", "second event", ""}}, ""},
		{"data\n\ndata\ndata\n\ndata:", [][]any{{"event", "message", "", ""}, {"event", "message", "\n", ""}}, ""},
		{"\uFEFFevent: a\r\nid: 7\rretry: 10\r\nretry: x\ndata: 1\r\r", [][]any{{"retry", 10.0}, {"event", "a", "1", "7"}}, "7"},
	} {
		got, id := sseParse(c.in)
		if !reflect.DeepEqual(got, c.want) || id != c.lastID {
			t.Errorf("%q: %v, last ID %q; want %v, %q", c.in, got, id, c.want, c.lastID)
		}
	}
}

// sseHarness feeds web/dashboard/sse.js the text once per split, each a
// list of chunk lengths used in turn (empty: the whole text at once), and
// answers per split the records and the last event ID.
const sseHarness = `(async (text, splits) => {
	const { createParser } = await import("/dashboard/sse.js");
	return splits.map((lens) => {
		const p = createParser();
		const records = [];
		const take = (rs) => {
			for (const r of rs) {
				if ("comment" in r) records.push(["comment", r.comment]);
				else if ("retry" in r) records.push(["retry", r.retry]);
				else records.push(["event", r.type, r.data, r.id]);
			}
		};
		for (let at = 0, i = 0; at < text.length; i++) {
			const n = lens.length ? lens[i % lens.length] : text.length;
			take(p.push(text.slice(at, at + n)));
			at += n;
		}
		return { records, lastId: p.lastEventId };
	});
})`

// FuzzDashboardSSEParser checks the dashboard's parser of event streams,
// in headless Chromium, against the reference sseParse: the same records
// and last event ID whether the text comes whole, one character at a time
// or in the chunks cuts gives (each byte a chunk length, 0 to 7, so that
// chunks also end between the CR and LF of a line end).
func FuzzDashboardSSEParser(f *testing.F) {
	for _, s := range []string{
		"event: tunnel.changed\nid: 17\ndata: {\"kind\":\"dynamic\"}\n\n: ping\n\n",
		"id: 42\n\n: events of TCPIP\n\nevent: reset\nid: 43\ndata: {}\n\n",
		"\uFEFFdata: a\r\ndata: b\r\n\r\nevent: x\rdata\r\r:c\r",
		"data:no space\ndata:  two\nfield without colon\nunknown: 1\n\nretry: 250\nretry: 2x\n",
		"id: a\x00b\ndata: keeps the id before\n\nid\ndata: clears it\n\ndata: dropped at the end",
		"data: é ✓ 😀\n\nevent\ndata: : not a comment\n\n",
	} {
		f.Add(s, []byte{1, 2, 3, 0, 7, 5})
		f.Add(s, []byte{4})
	}
	srv := httptest.NewServer(http.FileServerFS(web.Dashboard))
	f.Cleanup(srv.Close)
	b := startBrowser(f)
	b.do("open a page of the dashboard's origin", chromedp.Navigate(srv.URL+"/dashboard/"))
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		// The page receives the text as JSON does (invalid UTF-8 replaced).
		raw, _ := json.Marshal(text)
		_ = json.Unmarshal(raw, &text)
		lens := []int{}
		for _, c := range cuts {
			lens = append(lens, int(c%8))
		}
		if !slices.ContainsFunc(lens, func(n int) bool { return n > 0 }) {
			lens = []int{1}
		}
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct {
			Records [][]any `json:"records"`
			LastID  string  `json:"lastId"`
		}](sseHarness+"("+js(text)+","+js([][]int{{}, {1}, lens})+")", chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("run sse.js: %v", err)
		}
		want, lastID := sseParse(text)
		if want == nil {
			want = [][]any{}
		}
		for i, split := range []string{"whole", "one character at a time", fmt.Sprint("in chunks of ", lens)} {
			if !reflect.DeepEqual(got[i].Records, want) || got[i].LastID != lastID {
				t.Errorf("%q %s: %v, last ID %q; want %v, %q", text, split, got[i].Records, got[i].LastID, want, lastID)
			}
		}
	})
}

// checkLiveUpdates opens the dashboard with polling every 600 s and the
// event stream's polling of the NMI every second, the IKE tunnels showing
// their phase 2 tunnels: changes made through the API, not the dashboard,
// show without a poll, so they came from the event stream.
func checkLiveUpdates(t *testing.T, g *gateway, b *browser, stack, token string) {
	t.Helper()
	stackPath := "/v1/stacks/" + url.PathEscape(stack)
	b.do("open the dashboard without polling", chromedp.Navigate(g.base+"/?poll=600&interval=1s#stack="+
		url.QueryEscape(stack)+"&ike.cascade=true"))
	b.waitFor("the live indicator", `document.getElementById("live").dataset.live === "live" &&
		document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]").length > 0`)
	polls := eval[string](b, `document.body.dataset.polls`)

	// The operator deactivates an active dynamic tunnel through the API:
	// the dynamic tunnels and the IKE tunnel's phase 2 tunnels follow.
	target, _, activeRows := activeDynamic(t, g, b, stackPath)
	activePhase2 := fmt.Sprintf(`[...document.querySelectorAll(%s)].filter((r) => r.querySelector("[data-col=state]").textContent === "active").length`,
		js(`#list-ike tr[data-phase2-id=`+js(target)+`]`))
	b.waitFor("tunnel "+target+" active among the phase 2 tunnels", activePhase2+` > 0`)
	g.postObject(stackPath+"/tunnels/dynamic/"+url.PathEscape(target)+":deactivate", "", http.StatusOK,
		"Authorization", "Bearer "+token)
	b.waitFor("tunnel "+target+" no longer active in the table", activeRows+` === 0`)
	b.waitFor("tunnel "+target+" no longer active among the phase 2 tunnels", activePhase2+` === 0`)

	// The filter set changes through the API: the stacks table follows.
	set := ""
	for _, s := range g.list("/v1/stacks") {
		if str(s, "name") == stack {
			set = str(s, "filterSet")
		}
	}
	load := map[string]string{"default": "filters:loadPolicy"}[set]
	if load == "" {
		load = "filters:loadDefault"
	}
	v := g.postObject(stackPath+"/"+load, "", http.StatusOK, "Authorization", "Bearer "+token)
	if str(v, "filterSet") == set {
		t.Fatalf("%s left the filter set %s", load, set)
	}
	b.waitFor("the filter set "+str(v, "filterSet")+" in the stacks table", fmt.Sprintf(
		`document.querySelector(%s).textContent === %s && document.querySelector("[data-filter-set]").textContent === %[2]s`,
		js(`#stacks tr[data-stack=`+js(stack)+`] [data-col=filterSet]`), js(str(v, "filterSet"))))

	if s := eval[[]string](b, `[document.body.dataset.polls, document.getElementById("live").dataset.live]`); !slices.Equal(s, []string{polls, "live"}) {
		t.Errorf("polls and indicator %q after the changes, want %q (no poll, still live)", s, []string{polls, "live"})
	}
	if n := eval[string](b, `document.body.dataset.events`); n == "0" || n == "" {
		t.Errorf("%q events received", n)
	}
}

// checkLiveErrors opens the dashboard of a gateway whose simulator the
// test controls, with the event stream polling the NMI every second, and
// makes the NMI reject the poller's requests: the live indicator shows
// the problem of the stream's event: error, as read from the same stream
// here, until a change made through the API brings the next event.
func checkLiveErrors(t *testing.T, b *browser) {
	t.Helper()
	faults := ikedsim.NewFaults()
	path, _ := simServerConfig(t, ikedsim.Config{Data: ikedsim.Demo(), Faults: faults})
	g := startRun(t, "--nmi-socket", path)
	stack := str(g.list("/v1/stacks")[0], "name")
	stackPath := "/v1/stacks/" + url.PathEscape(stack)
	const problemShown = `(() => { const p = document.getElementById("live-problem");
		return [document.getElementById("live").dataset.live, p.hidden, p.textContent]; })()`
	b.do("open the dashboard without polling", chromedp.Navigate(g.base+"/?poll=600&interval=1s#stack="+url.QueryEscape(stack)))
	b.waitFor("the live indicator", `document.getElementById("live").dataset.live === "live" &&
		document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]").length > 0`)
	if s := eval[[]any](b, problemShown); !reflect.DeepEqual(s, []any{"live", true, ""}) {
		t.Errorf("before any failure the indicator and its problem are %q", s)
	}

	// The poll begins with NMsec_GET_STACKINFO; the page sends no request
	// meanwhile (it polls every 600 s and an error reads nothing again).
	faults.Set(nmi.GetStackInfo, ikedsim.Fault{Rc: nmi.EIO})
	p := streamError(t, g, stackPath+"/events?interval=1s")
	faults.Clear()
	want := fmt.Sprintf("Live, but the last poll of %s failed: %s %s (%s)", stack, str(p, "status"), str(p, "title"), str(p, "detail"))
	if str(p, "title") == "" || str(p, "detail") == "" {
		t.Fatalf("the event: error carries %v", p)
	}
	b.waitFor("the poll's problem", fmt.Sprintf(`JSON.stringify(%s) === %s`, problemShown, js(js([]any{"live", false, want}))))

	// A change made through the API: the event it brings clears the problem.
	target := ""
	for _, it := range g.list(stackPath + "/tunnels/dynamic") {
		if target == "" && str(it, "state") == "active" {
			target = str(it, "tunnelId")
		}
	}
	if target == "" {
		t.Fatal("no active dynamic tunnel in the demo data set")
	}
	g.postObject(stackPath+"/tunnels/dynamic/"+url.PathEscape(target)+":deactivate", "", http.StatusOK)
	b.waitFor("the problem cleared by the next event", fmt.Sprintf(`JSON.stringify(%s) === %s`, problemShown, js(js([]any{"live", true, ""}))))
}

// streamError reads the event stream at path until its first event:
// error and answers that event's problem.
func streamError(t *testing.T, g *gateway, path string) item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	var text []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		text = append(text, buf[:n]...)
		records, _ := sseParse(string(text))
		for _, r := range records {
			if r[0] == "event" && r[1] == "error" {
				var p item
				if err := json.Unmarshal([]byte(r[2].(string)), &p); err != nil {
					t.Fatalf("event: error with %q: %v", r[2], err)
				}
				return p
			}
		}
		if err != nil {
			t.Fatalf("GET %s: no event: error before %v; the stream said:\n%s", path, err, text)
		}
	}
}

// checkInterfaces checks the interfaces table against the API's first
// page of 50 (the dashboard's page size).
func checkInterfaces(t *testing.T, g *gateway, b *browser, stackPath string) {
	t.Helper()
	yes := map[bool]string{true: "yes", false: "no"}
	var want [][]string
	for _, x := range g.object(stackPath+"/interfaces?pageSize=50", http.StatusOK)["items"].([]any) {
		it := x.(item)
		want = append(want, []string{str(it, "name"), str(it, "address"), str(it, "securityClass"),
			yes[it["ipv6"] == true], yes[it["active"] == true], yes[it["dvipa"] == true]})
	}
	if len(want) == 0 {
		t.Fatal("the demo data set has no interfaces")
	}
	b.waitFor("the interfaces of the API", fmt.Sprintf(`JSON.stringify([...document.querySelectorAll(
		"#list-interfaces tbody tr[data-name]")].map((r) => [...r.cells].map((c) => c.textContent))) === %s`, js(js(want))))
}

// checkPacketTest fills the packet tester with an IPv6 echo request to
// the first of the stack's interfaces with an IPv6 address and checks
// that the dashboard shows what the API answers to the same body, sent
// from here as the viewer.
func checkPacketTest(t *testing.T, g *gateway, b *browser, stackPath string) {
	t.Helper()
	local := ""
	for _, x := range g.object(stackPath+"/interfaces?pageSize=1000", http.StatusOK)["items"].([]any) {
		if it := x.(item); it["ipv6"] == true && local == "" {
			local = str(it, "address")
		}
	}
	if local == "" {
		t.Fatal("no IPv6 interface in the demo data set")
	}
	fields := [][2]string{{"source", "2001:db8:77::1"}, {"destination", local}, {"protocol", "icmpv6"},
		{"icmpType", "128"}, {"icmpCode", "0"}}
	body := fmt.Sprintf(`{"direction": "inbound", "source": %q, "destination": %q, "protocol": "icmpv6", "icmpType": 128, "icmpCode": 0}`,
		fields[0][1], fields[1][1])
	shown := `(() => { const p = document.querySelector("#packet-result [data-matched]");
		return p ? [p.dataset.matched, p.dataset.action, p.dataset.position, p.dataset.rule] : null; })()`
	answer := func() []string {
		v := g.postObject(stackPath+"/filters:test", body, http.StatusOK, "Authorization", "Bearer "+g.viewer)
		r, _ := v["rule"].(item)
		rule := ""
		if r != nil {
			rule = strings.Join([]string{str(r, "name"), str(r, "nameExtension"), str(r, "direction")}, " ")
		}
		return []string{fmt.Sprint(v["matched"]), str(v, "action"), str(v, "position"), rule}
	}
	var actions []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		actions = append(actions, chromedp.SetValue(chromedp.ID("packet-"+f[0]), f[1]))
	}
	// Tunnels coming and going change the dynamic filters, and with them
	// a rule's position: compare with answers before and after that agree.
	for try := 0; ; try++ {
		before := answer()
		eval[chromedp.Void](b, `document.getElementById("packet-result").replaceChildren()`)
		b.do("test a packet", append(actions, chromedp.Click(chromedp.CSS(`#packet-form button[data-filter-test]`)))...)
		b.waitFor("the packet test's answer", shown+` !== null`)
		have := eval[[]string](b, shown)
		if after := answer(); !slices.Equal(before, after) {
			if try == 5 {
				t.Fatal("the filter set changed during every try")
			}
			continue
		}
		if !slices.Equal(have, before) {
			t.Errorf("the packet test shows %q, the API answers %q", have, before)
		}
		if before[0] != "true" || before[3] == "" {
			t.Errorf("the API answers %q: want a matching rule to compare", before)
		}
		if s := eval[string](b, `document.querySelector("#packet-rule tbody tr").dataset.name`); s != strings.Fields(before[3])[0] {
			t.Errorf("the rule's row is %q, want %q", s, strings.Fields(before[3])[0])
		}
		break
	}
}
