package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

func TestStacks(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	v, _ := s.getJSON("/v1/stacks", http.StatusOK)
	it := items(t, v)
	if got := field(it, "name"); !slices.Equal(got, []string{"TCPIP", "TCPIP2"}) {
		t.Errorf("stack names %v", got)
	}
	if it[0]["filterSet"] != "policy" || it[1]["filterSet"] != "default" {
		t.Errorf("filter sets %v %v", it[0]["filterSet"], it[1]["filterSet"])
	}
	nss, ok := it[0]["nss"].(map[string]any)
	if !ok || nss["clientName"] != "SYS1_TCPIP" || nss["connected"] != true {
		t.Errorf("nss of TCPIP: %v", it[0]["nss"])
	}
	// TCPIP2 is not configured for NSS: its record (IKED sends one per
	// stack) has blank names, which are left out.
	nss2, ok := it[1]["nss"].(map[string]any)
	if _, named := nss2["clientName"]; !ok || named || nss2["stackName"] != "TCPIP2" || nss2["configured"] != false {
		t.Errorf("nss of TCPIP2: %v", it[1]["nss"])
	}

	st, _ := s.getJSON("/v1/stacks/TCPIP2", http.StatusOK)
	if st["name"] != "TCPIP2" || st["natKeepAliveSeconds"] != float64(0) {
		t.Errorf("stack TCPIP2: %v", st)
	}
	p, _ := s.getJSON("/v1/stacks/TCPIPX", http.StatusNotFound)
	if p["type"] != "urn:nmigw:problem:unknown-stack" {
		t.Errorf("unknown stack problem %v", p)
	}

	// A stack that came up between NMsec_GET_IKENSINFO and
	// NMsec_GET_STACKINFO has no NSS record: it is shown without one.
	sim.setDrop(func(req *nmi.Request, rec nmi.Record) bool {
		var n nmi.NSSRecord
		return req.Type == nmi.GetIKENSInfo && n.Decode(rec) == nil && n.NSS.StackName.String() == "TCPIP2"
	})
	v, _ = s.getJSON("/v1/stacks", http.StatusOK)
	if it := items(t, v); len(it) != 2 || it[0]["nss"] == nil {
		t.Errorf("stacks %v", it)
	} else if _, ok := it[1]["nss"]; ok {
		t.Errorf("TCPIP2 has no NSS record but shows %v", it[1]["nss"])
	}
}

func TestSummaryAndInterfaces(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	v, _ := s.getJSON("/v1/stacks/TCPIP/summary", http.StatusOK)
	ike := v["ikeTunnels"].(map[string]any)
	// 2^60 survives as a number (JSON numbers beyond 2^53 lose precision in float64 only).
	if v["stack"] != "TCPIP" || ike["active"] != float64(2) || ike["localActivationSuccesses"] != float64(1<<60) {
		t.Errorf("summary %v", v)
	}
	if dyn := v["dynamicTunnels"].(map[string]any); dyn["retransmits"] != float64(7) {
		t.Errorf("dynamic tunnel statistics %v", dyn)
	}
	v, _ = s.getJSON("/v1/stacks/TCPIP/interfaces", http.StatusOK)
	it := items(t, v)
	if got := field(it, "name"); !slices.Equal(got, []string{"OSA1", "OSA2"}) {
		t.Errorf("interfaces sorted by name: %v", got)
	}
	if it[1]["address"] != "2001:db8::10" || it[1]["ipv6"] != true {
		t.Errorf("IPv6 interface %v", it[1])
	}
}

func TestFilters(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	v, _ := s.getJSON("/v1/stacks/TCPIP/filters", http.StatusOK)
	it := items(t, v)
	// The stack's rule order is kept, not sorted; the dynamic filters of
	// the active dynamic tunnels (no anchor filter of theirs in the policy)
	// follow, outbound then inbound.
	if got := field(it, "name"); !slices.Equal(got, []string{"WEB", "WEB", "DENYALL", "RULE_Y3", "RULE_Y3", "RULE_Y1", "RULE_Y1"}) {
		t.Errorf("filter order %v", got)
	}
	f := it[0]
	if f["tunnelId"] != "Y1" || f["action"] != "ipsec" || f["matchCount"] != float64(1<<40) ||
		f["createTime"] != "2023-12-31T23:00:00Z" {
		t.Errorf("filter view %v", f)
	}
	if dst := f["destination"].(map[string]any); dst["format"] != "prefix" || dst["address"] != "10.1.0.0" || dst["prefixLength"] != float64(16) {
		t.Errorf("destination %v", dst)
	}
	if _, ok := f["icmpType"]; ok {
		t.Errorf("icmpType 255 (any) must be left out: %v", f["icmpType"])
	}
	if _, ok := it[2]["tunnelId"]; ok {
		t.Errorf("filter without tunnel shows tunnelId %v", it[2]["tunnelId"])
	}
	if src := it[2]["source"].(map[string]any); len(src) != 1 || src["format"] != "any" {
		t.Errorf("any source %v", src)
	}

	for set, typ := range map[string]nmi.MsgType{"current": nmi.GetIPFltCurr, "default": nmi.GetIPFltDefault, "policy": nmi.GetIPFltPolicy} {
		s.getJSON("/v1/stacks/TCPIP/filters?set="+set, http.StatusOK)
		if last := sim.lastRequest(t); last.Type != typ || last.Target != "TCPIP" {
			t.Errorf("set=%s sent %v to %q", set, last.Type, last.Target)
		}
	}

	one, _ := s.getJSON("/v1/stacks/TCPIP/filters/WEB?set=policy", http.StatusOK)
	ext := one["extensions"].([]any)
	if one["name"] != "WEB" || one["nameExtension"] != float64(1) || len(ext) != 2 {
		t.Errorf("filter WEB: %v", one)
	}
	last := sim.lastRequest(t)
	if last.Type != nmi.GetIPFltPolicy || len(last.Filters) != 1 || !last.Filters[0].HasName || last.Filters[0].Name.String() != "WEB" {
		t.Errorf("filters/WEB sent %+v", last)
	}
	p, _ := s.getJSON("/v1/stacks/TCPIP/filters/NOSUCH", http.StatusNotFound)
	if p["type"] != "urn:nmigw:problem:not-found" {
		t.Errorf("missing filter problem %v", p)
	}
}

func TestIKETunnels(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	v, _ := s.getJSON("/v1/stacks/TCPIP/ike/tunnels", http.StatusOK)
	it := items(t, v)
	// By tunnel number (K2 before K10), newest generation first.
	if got := field(it, "tunnelId"); !slices.Equal(got, []string{"K2", "K2", "K10"}) {
		t.Errorf("IKE tunnel order %v", got)
	}
	if got := field(it, "generation"); !slices.Equal(got, []string{"2", "1", "1"}) {
		t.Errorf("generations %v", got)
	}
	k := it[0]
	if k["keyExchangeRule"] != "KER_K2" || k["localId"] != "zos1.example.com" || k["remoteId"] != "198.51.100.7" ||
		k["initiatorCookie"] != "0123456789abcdef" || k["responderCookie"] != "00000000fedcba98" || k["ikeVersion"] != "1.0" {
		t.Errorf("IKE view %v", k)
	}
	if _, ok := k["dynamicTunnels"]; ok {
		t.Error("dynamicTunnels without cascade=true")
	}

	v, _ = s.getJSON("/v1/stacks/TCPIP/ike/tunnels?cascade=true", http.StatusOK)
	it = items(t, v)
	casc, ok := it[0]["dynamicTunnels"].([]any)
	if !ok || len(casc) != 1 {
		t.Fatalf("cascade on the newest K2: %v", it[0]["dynamicTunnels"])
	}
	y := casc[0].(map[string]any)
	if y["tunnelId"] != "Y1" || y["type"] != "ike" || y["ikeView"].(map[string]any)["remoteClientId"] != "peer.example.com" {
		t.Errorf("cascaded phase 2 tunnel %v", y)
	}
	if last := sim.lastRequest(t); last.Type != nmi.GetIKETunCascade {
		t.Errorf("cascade=true sent %v", last.Type)
	}

	one, _ := s.getJSON("/v1/stacks/TCPIP/ike/tunnels/K2", http.StatusOK)
	gens := one["generations"].([]any)
	if one["generation"] != float64(2) || len(gens) != 2 || gens[1].(map[string]any)["generation"] != float64(1) {
		t.Errorf("K2 with generations: %v", one)
	}
	if _, ok := one["dynamicTunnels"]; !ok {
		t.Error("K2 detail without its phase 2 tunnels")
	}
	s.getJSON("/v1/stacks/TCPIP/ike/tunnels/K99", http.StatusNotFound)
	p, _ := s.getJSON("/v1/stacks/TCPIP/ike/tunnels/Y1", http.StatusBadRequest)
	if p["invalidParams"].([]any)[0].(map[string]any)["name"] != "tunnelId" {
		t.Errorf("bad IKE tunnel ID problem %v", p)
	}
}

func TestDynamicTunnels(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	v, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic", http.StatusOK)
	it := items(t, v)
	if got := field(it, "tunnelId"); !slices.Equal(got, []string{"Y1", "Y1", "Y3"}) {
		t.Errorf("dynamic order %v", got)
	}
	y := it[0]
	if y["generation"] != float64(2) || y["localDynVpnRule"] != "RULE_Y1" || y["state"] != "active" || y["ikeTunnelId"] != "K2" {
		t.Errorf("dynamic view %v", y)
	}
	if sv := y["stackView"].(map[string]any); sv["traffic"].(map[string]any)["outboundBytes"] != float64(200) {
		t.Errorf("stack view %v", sv)
	}
	if dst := y["destination"].(map[string]any); dst["format"] != "range" || dst["endAddress"] != "10.1.0.9" {
		t.Errorf("range %v", dst)
	}
	v, _ = s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic?view=ike", http.StatusOK)
	if iv, ok := items(t, v)[0]["ikeView"].(map[string]any); !ok || iv["localClientId"] != "192.0.2.10" || iv["localClientIdType"] != "ipv4-addr" {
		t.Errorf("IKE view %v", items(t, v)[0])
	}
	one, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y1?view=ike", http.StatusOK)
	if one["generation"] != float64(2) || len(one["generations"].([]any)) != 2 {
		t.Errorf("Y1 detail %v", one)
	}
	if last := sim.lastRequest(t); last.Type != nmi.GetIPTunDynIKE {
		t.Errorf("view=ike sent %v", last.Type)
	}
}

func TestManualAndPortTranslations(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	v, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/manual", http.StatusOK)
	m := items(t, v)[0]
	if m["tunnelId"] != "M1" || m["state"] != "inactive" || m["type"] != "manual" {
		t.Errorf("manual %v", m)
	}
	if _, ok := m["activateTime"]; ok {
		t.Error("activateTime 0 (not active) must be left out")
	}
	one, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/manual/M1", http.StatusOK)
	if one["tunnelId"] != "M1" {
		t.Errorf("manual M1 %v", one)
	}
	s.getJSON("/v1/stacks/TCPIP/tunnels/manual/M2", http.StatusNotFound)
	v, _ = s.getJSON("/v1/stacks/TCPIP/port-translations", http.StatusOK)
	if p := items(t, v)[0]; p["translatedPort"] != float64(4097) || p["remoteOriginalAddress"] != "10.0.0.5" {
		t.Errorf("port translation %v", p)
	}
}

func TestWhoAmIWithoutAuthorization(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	v, _ := s.getJSON("/v1/whoami", http.StatusOK)
	stacks := v["stacks"].([]any)
	if v["authentication"] != "none" || len(stacks) != 2 || stacks[0].(map[string]any)["display"] != true {
		t.Errorf("whoami %v", v)
	}
}

func TestOperations(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	s.getJSON("/healthz", http.StatusOK)
	s.getJSON("/readyz", http.StatusOK)
	resp, body := s.get("/openapi.yaml")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "openapi: 3.0.3") {
		t.Errorf("/openapi.yaml: %d %.40s", resp.StatusCode, body)
	}
	resp, _ = s.get("/openapi.yaml", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("/openapi.yaml conditional: %d", resp.StatusCode)
	}
	resp, body = s.get("/docs")
	// Redoc 3's bundle is an ES module: a classic script tag leaves the page blank.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `import { init } from "./docs/redoc.standalone.js"`) ||
		!strings.Contains(string(body), `type="module"`) || !strings.Contains(string(body), `init("openapi.yaml"`) {
		t.Errorf("/docs: %d %s", resp.StatusCode, body)
	}
	resp, _ = s.get("/docs", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("/docs conditional: %d", resp.StatusCode)
	}
	// The renderer is embedded: no network needed.
	r, err := s.srv.Client().Get(s.srv.URL + "/docs/redoc.standalone.js")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK || r.ContentLength < 100000 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("redoc bundle: %d %d %s", r.StatusCode, r.ContentLength, r.Header.Get("Content-Type"))
	}
	r, err = s.srv.Client().Get(s.srv.URL + "/docs/secret")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown docs asset: %d", r.StatusCode)
	}
}
