package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/ikedsim"
)

// syncBuffer is a bytes.Buffer safe for run's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gateway is run() on 127.0.0.1:0 with -sim, as a process would be.
type gateway struct {
	t        *testing.T
	base     string
	out      *syncBuffer
	client   *http.Client
	v        *contract.Validator
	viewer   string
	operator string
}

var (
	listenRe = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)
	viewerRe = regexp.MustCompile(`(?m)^viewer token: (\S+)$`)
)

func startGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	return startRun(t, append([]string{"-sim"}, args...)...)
}

// startRun is run() on 127.0.0.1:0 with args (no -sim unless given).
// Without -sim and --policy it adds --insecure-no-auth, as tests of the
// NMI path alone need no policy.
func startRun(t *testing.T, args ...string) *gateway {
	t.Helper()
	if !slices.Contains(args, "-sim") && !slices.Contains(args, "--policy") && !slices.Contains(args, "--insecure-no-auth") {
		args = append([]string{"--insecure-no-auth"}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	env := map[string]string{"NMIGW_LOG_LEVEL": "warn"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"gateway", "--listen", "127.0.0.1:0"}, args...),
			func(k string) string { return env[k] }, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := listenRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line:\n%s", out.String())
		}
	}
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, base: base, out: out, client: &http.Client{Timeout: 30 * time.Second}, v: v}
	if m := viewerRe.FindStringSubmatch(out.String()); m != nil {
		g.viewer = m[1]
	}
	if m := operatorRe.FindStringSubmatch(out.String()); m != nil {
		g.operator = m[1]
	}
	return g
}

// get sends a GET (headers as name, value pairs) and validates the answer
// against api/openapi.yaml.
func (g *gateway) get(path string, hdr ...string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, body, err := g.v.Do(g.client, req)
	if err != nil {
		g.t.Fatal(err)
	}
	return resp, body
}

type item = map[string]any

func (g *gateway) object(path string, status int, hdr ...string) item {
	g.t.Helper()
	resp, body := g.get(path, hdr...)
	if resp.StatusCode != status {
		g.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, status, body)
	}
	var v item
	if err := json.Unmarshal(body, &v); err != nil {
		g.t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// list follows every page of path (which has a query string).
func (g *gateway) list(path string) []item {
	g.t.Helper()
	var all []item
	next := path
	for range 1000 {
		v := g.object(next, http.StatusOK)
		for _, x := range v["items"].([]any) {
			all = append(all, x.(item))
		}
		tok, ok := v["nextPageToken"].(string)
		if !ok {
			return all
		}
		next = withQuery(path, "pageToken="+url.QueryEscape(tok))
	}
	g.t.Fatalf("%s: pagination does not end", path)
	return nil
}

func str(it item, k string) string {
	switch v := it[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// keys is the identity of each item: tunnel ID or name, and generation.
func keys(items []item) []string {
	var out []string
	for _, it := range items {
		k := str(it, "tunnelId")
		if k == "" {
			k = str(it, "name")
		}
		out = append(out, k+"/"+str(it, "generation")+str(it, "nameExtension"))
	}
	return out
}

func TestWholeProgram(t *testing.T) {
	g := startGateway(t)
	demo := ikedsim.Demo()

	// Stacks: the demo's, sorted by name.
	stacks := g.list("/v1/stacks")
	var want []string
	for _, s := range demo.Stacks {
		want = append(want, s.Name)
	}
	slices.Sort(want)
	if got := keys(stacks); len(got) != len(want) {
		t.Fatalf("stacks %v, want %v", got, want)
	}
	for i, s := range stacks {
		if s["name"] != want[i] {
			t.Errorf("stack %d is %v, want %s", i, s["name"], want[i])
		}
	}

	for _, ds := range demo.Stacks {
		p := "/v1/stacks/" + ds.Name
		st := g.object(p, http.StatusOK)
		if want := map[ikedsim.FilterSet]string{ikedsim.FilterSetDefault: "default", ikedsim.FilterSetPolicy: "policy"}[ds.FilterSet]; st["filterSet"] != want {
			t.Errorf("%s filter set %v", ds.Name, st["filterSet"])
		}
		g.object(p+"/summary", http.StatusOK)
		if n := len(g.list(p + "/interfaces")); n != len(ds.Interfaces) {
			t.Errorf("%s: %d interfaces, data set has %d", ds.Name, n, len(ds.Interfaces))
		}
		if n := len(g.list(p + "/tunnels/manual")); n != len(ds.ManualTunnels) {
			t.Errorf("%s: %d manual tunnels, data set has %d", ds.Name, n, len(ds.ManualTunnels))
		}
		if n := len(g.list(p + "/port-translations")); n != len(ds.PortTranslations) {
			t.Errorf("%s: %d port translations, data set has %d", ds.Name, n, len(ds.PortTranslations))
		}
		if n := len(g.list(p + "/filters?set=default")); n != len(ds.DefaultFilters) {
			t.Errorf("%s: %d default filters, data set has %d", ds.Name, n, len(ds.DefaultFilters))
		}
		if n := len(g.list(p + "/filters?set=policy")); n < len(ds.PolicyFilters) {
			t.Errorf("%s: %d policy filters, data set has %d static ones", ds.Name, n, len(ds.PolicyFilters))
		}
		var ikeIDs, dynIDs []string
		for _, k := range ds.IKETunnels {
			ikeIDs = append(ikeIDs, k.ID)
		}
		for _, d := range ds.DynTunnels {
			dynIDs = append(dynIDs, d.ID)
		}
		if got, want := ids(g.list(p+"/ike/tunnels")), uniq(ikeIDs); !slices.Equal(got, want) {
			t.Errorf("%s: IKE tunnels %v, data set has %v", ds.Name, got, want)
		}
		if got, want := ids(g.list(p+"/tunnels/dynamic")), uniq(dynIDs); !slices.Equal(got, want) {
			t.Errorf("%s: dynamic tunnels %v, data set has %v", ds.Name, got, want)
		}
		checkResources(t, g, p)
	}
	g.object("/v1/stacks/NOSUCH/summary", http.StatusNotFound)
	g.object("/v1/stacks/NOSUCH", http.StatusNotFound)
	g.object("/healthz", http.StatusOK)
	g.object("/readyz", http.StatusOK)
	if resp, _ := g.get("/openapi.yaml"); resp.StatusCode != http.StatusOK {
		t.Errorf("/openapi.yaml: %d", resp.StatusCode)
	}
	if resp, _ := g.get("/docs"); resp.StatusCode != http.StatusOK {
		t.Errorf("/docs: %d", resp.StatusCode)
	}

	// Metrics: HTTP requests by route pattern, NMI exchanges, the pool, on
	// the same listener, and the IPsec exporter for a scraper with
	// credentials (the viewer's token), not without.
	scrape := func(hdr ...string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, g.base+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	code, body := scrape("Authorization", "Bearer "+g.viewer)
	for _, want := range []string{`nmigw_http_requests_total{code="200",method="GET",route="/v1/stacks/{stack}/ike/tunnels"}`,
		"nmigw_nmi_exchanges_total", "nmigw_nmi_pool_", "nmigw_ipsec_", "nmigw_build_info"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	if code, body := scrape(); code != http.StatusOK || strings.Contains(body, "nmigw_ipsec_") || !strings.Contains(body, "nmigw_build_info") {
		t.Errorf("/metrics without credentials: %d, IPsec series %v", code, strings.Contains(body, "nmigw_ipsec_"))
	}
	if code, _ := scrape("Authorization", "Bearer not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with an unknown token: %d, want 401", code)
	}

	// The demo policy: anonymous callers display, tokens name their user.
	who := g.object("/v1/whoami", http.StatusOK)
	if who["authentication"] != "anonymous" || who["user"] != "ANONYM" {
		t.Errorf("anonymous whoami %v", who)
	}
	if g.viewer == "" {
		t.Fatalf("no viewer token printed:\n%s", g.out.String())
	}
	who = g.object("/v1/whoami", http.StatusOK, "Authorization", "Bearer "+g.viewer)
	if who["authentication"] != "token" || who["user"] != "VIEWER" {
		t.Errorf("viewer whoami %v", who)
	}
	g.object("/v1/whoami", http.StatusUnauthorized, "Authorization", "Bearer wrong")
}

// checkResources drives every list of one stack: full list, pages of 2
// against it, the by-ID resources, and filters checked against the full
// list filtered here.
func checkResources(t *testing.T, g *gateway, p string) {
	lists := []string{
		p + "/filters?set=current",
		p + "/ike/tunnels?cascade=false",
		p + "/ike/tunnels?cascade=true",
		p + "/tunnels/dynamic?view=stack",
		p + "/tunnels/dynamic?view=ike",
		p + "/tunnels/manual",
		p + "/port-translations",
		p + "/interfaces",
	}
	for _, l := range lists {
		full := g.list(l)
		paged := g.list(withQuery(l, "pageSize=2"))
		if !slices.Equal(keys(full), keys(paged)) {
			t.Errorf("%s: pages of 2 give %v, the whole list %v", l, keys(paged), keys(full))
		}
	}

	ike := g.list(p + "/ike/tunnels?cascade=true")
	for _, k := range ike {
		id := str(k, "tunnelId")
		one := g.object(p+"/ike/tunnels/"+id, http.StatusOK)
		var gens []string
		for _, x := range ike {
			if str(x, "tunnelId") == id {
				gens = append(gens, str(x, "generation"))
			}
		}
		var got []string
		for _, x := range one["generations"].([]any) {
			got = append(got, str(x.(item), "generation"))
		}
		if !slices.Equal(got, gens) || str(one, "generation") != gens[0] {
			t.Errorf("%s: generations %v, list has %v", id, got, gens)
		}
	}
	dyn := g.list(p + "/tunnels/dynamic?view=stack")
	for _, d := range dyn {
		g.object(p+"/tunnels/dynamic/"+str(d, "tunnelId")+"?view=ike", http.StatusOK)
	}
	for _, m := range g.list(p + "/tunnels/manual") {
		g.object(p+"/tunnels/manual/"+url.PathEscape(str(m, "tunnelId")), http.StatusOK)
	}
	filters := g.list(p + "/filters?set=current")
	if len(filters) > 0 {
		name := str(filters[len(filters)-1], "name")
		one := g.object(p+"/filters/"+url.PathEscape(name), http.StatusOK)
		if one["name"] != name {
			t.Errorf("filter %s: %v", name, one["name"])
		}
		byName := g.list(p + "/filters?name=" + url.QueryEscape(name))
		want := 0
		for _, f := range filters {
			if f["name"] == name {
				want++
			}
		}
		if len(byName) != want || len(one["extensions"].([]any)) != want {
			t.Errorf("filters named %s: %d, %d extensions, want %d", name, len(byName), len(one["extensions"].([]any)), want)
		}
	}

	// Server-side filters against the full list filtered here.
	checkFilter(t, g, p+"/tunnels/dynamic?view=stack", dyn, "tunnelId=Y1&tunnelId=Y3", func(it item) bool {
		return it["tunnelId"] == "Y1" || it["tunnelId"] == "Y3"
	})
	checkFilter(t, g, p+"/ike/tunnels?cascade=false", g.list(p+"/ike/tunnels?cascade=false"),
		"remoteAddress="+url.QueryEscape("198.51.100.0/24"), func(it item) bool {
			return inPrefix(str(it, "remoteEndpoint"), "198.51.100.0/24")
		})
	checkFilter(t, g, p+"/ike/tunnels?cascade=false", g.list(p+"/ike/tunnels?cascade=false"),
		"remoteAddress="+url.QueryEscape("2001:db8::/32")+"&remoteAddress=203.0.113.5", func(it item) bool {
			return inPrefix(str(it, "remoteEndpoint"), "2001:db8::/32") || str(it, "remoteEndpoint") == "203.0.113.5"
		})
	checkFilter(t, g, p+"/tunnels/manual", g.list(p+"/tunnels/manual"), "remoteAddress=198.51.100.200", func(it item) bool {
		return it["remoteSecurityEndpoint"] == "198.51.100.200"
	})
}

// ids is the sorted set of the items' tunnel IDs.
func ids(items []item) []string {
	var out []string
	for _, it := range items {
		out = append(out, str(it, "tunnelId"))
	}
	return uniq(out)
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// withQuery adds query parameters to path.
func withQuery(path, q string) string {
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

func inPrefix(a, prefix string) bool {
	ad, err := netip.ParseAddr(a)
	return err == nil && netip.MustParsePrefix(prefix).Contains(ad)
}

// checkFilter compares the gateway's answer to query with full filtered by
// keep (by identity: tunnel IDs and generations).
func checkFilter(t *testing.T, g *gateway, path string, full []item, query string, keep func(item) bool) {
	t.Helper()
	var want []item
	for _, it := range full {
		if keep(it) {
			want = append(want, it)
		}
	}
	got := g.list(withQuery(path, query))
	if !slices.Equal(keys(got), keys(want)) {
		t.Errorf("%s&%s: %v, want %v", path, query, keys(got), keys(want))
	}
}

// Every URL the gateway prints at start answers, validated against the
// API document.
func TestPrintedURLsAnswer(t *testing.T) {
	g := startGateway(t)
	urls := regexp.MustCompile(`(?m)^  [a-zA-Z ]+: +(http://\S+)$`).FindAllStringSubmatch(g.out.String(), -1)
	if len(urls) < 5 {
		t.Fatalf("%d URLs printed, want dashboard, stacks, document, reference, metrics:\n%s", len(urls), g.out.String())
	}
	for _, u := range urls {
		path, ok := strings.CutPrefix(u[1], g.base)
		if !ok {
			t.Errorf("printed URL %s is not on %s", u[1], g.base)
			continue
		}
		if path == "/metrics" { // outside the API document
			resp, err := g.client.Get(u[1])
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %s", u[1], resp.Status)
			}
			continue
		}
		if resp, _ := g.get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", u[1], resp.Status)
		}
	}
}
