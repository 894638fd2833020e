package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var operatorRe = regexp.MustCompile(`(?m)^operator token: (\S+)$`)

// post sends a POST (body "" for none; headers as name, value pairs) and
// validates the answer against api/openapi.yaml.
func (g *gateway) post(path, body string, hdr ...string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, b, err := g.v.Do(g.client, req)
	if err != nil {
		g.t.Fatal(err)
	}
	return resp, b
}

func (g *gateway) postObject(path, body string, status int, hdr ...string) item {
	g.t.Helper()
	resp, b := g.post(path, body, hdr...)
	if resp.StatusCode != status {
		g.t.Fatalf("POST %s %s: %d, want %d: %s", path, body, resp.StatusCode, status, b)
	}
	var v item
	if err := json.Unmarshal(b, &v); err != nil {
		g.t.Fatalf("POST %s: %v", path, err)
	}
	return v
}

// results is a control answer's results as "name/tunnelId/status".
func results(t *testing.T, v item) []string {
	t.Helper()
	var out []string
	for _, x := range v["results"].([]any) {
		r := x.(item)
		out = append(out, str(r, "name")+"/"+str(r, "tunnelId")+"/"+str(r, "status"))
	}
	return out
}

// auditLines reads the audit log: every line is one JSON object.
func auditLines(t *testing.T, path string) []item {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []item
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v item
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	return out
}

// auditOf returns the records of one request ID, by stage.
func auditOf(t *testing.T, path, id string) map[string]item {
	t.Helper()
	out := map[string]item{}
	for _, v := range auditLines(t, path) {
		if v["clientRequestId"] == id {
			if _, dup := out[str(v, "stage")]; dup {
				t.Errorf("request %s: two %s records", id, str(v, "stage"))
			}
			out[str(v, "stage")] = v
		}
	}
	return out
}

// checkAudit asserts the completed record of request id has want (and,
// when started, a requested record written before it).
func checkAudit(t *testing.T, path, id string, want item) item {
	t.Helper()
	recs := auditOf(t, path, id)
	c, ok := recs["completed"]
	if !ok {
		t.Fatalf("request %s: no completed audit record in %v", id, recs)
	}
	for k, w := range want {
		got, _ := json.Marshal(c[k])
		exp, _ := json.Marshal(w)
		if !bytes.Equal(got, exp) {
			t.Errorf("request %s: audit %s = %s, want %s", id, k, got, exp)
		}
	}
	if c["outcome"] == "started" {
		r, ok := recs["requested"]
		if !ok || str(r, "time") > str(c, "time") {
			t.Errorf("request %s: requested record %v missing or after the outcome", id, r)
		}
	}
	return c
}

// dynTraffic returns the inbound byte counter of the newest generation of
// a dynamic tunnel.
func dynTraffic(g *gateway, id string) float64 {
	g.t.Helper()
	v := g.object("/v1/stacks/TCPIP/tunnels/dynamic/"+id, http.StatusOK)
	return v["stackView"].(item)["traffic"].(item)["inboundBytes"].(float64)
}

func TestWholeProgramControl(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	g := startGateway(t, "--audit-log", logPath)
	m := operatorRe.FindStringSubmatch(g.out.String())
	if m == nil || g.viewer == "" {
		t.Fatalf("no demo tokens in:\n%s", g.out.String())
	}
	op := []string{"Authorization", "Bearer " + m[1]}
	as := func(id string) []string { return append(slices.Clone(op), "X-Request-ID", id) }
	const stack = "/v1/stacks/TCPIP"
	operator := item{"user": "OPERATOR", "groups": []string{"OPERS"}, "authentication": "token",
		"allowed": true, "resource": "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", "profile": "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL",
		"stack": "TCPIP"}
	with := func(base item, kv ...any) item {
		out := item{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}

	// Activate a rule and wait until its tunnel is active. The demo's other
	// rules show the statuses the policy dictates.
	v := g.postObject(stack+"/tunnels/dynamic:activate?wait=20s",
		`{"names": ["BRANCH4-VPN", "LEGACY-VPN", "ORPHAN-VPN", "NOOFFER-VPN", "NO-SUCH-RULE"]}`, http.StatusOK, as("ctl-activate")...)
	res := results(t, v)
	if len(res) != 5 || !strings.HasPrefix(res[0], "BRANCH4-VPN/Y") || !strings.HasSuffix(res[0], "/stateUpdated") ||
		!slices.Equal(res[1:], []string{"LEGACY-VPN//noKeyExchangeRule", "ORPHAN-VPN//noFilter",
			"NOOFFER-VPN//noDataOffer", "NO-SUCH-RULE//notFound"}) {
		t.Fatalf("activation results %v", res)
	}
	if v["reached"] != true {
		t.Fatalf("BRANCH4-VPN did not come up in 20s: %v", v)
	}
	y := strings.Split(res[0], "/")[1]
	dyn := g.object(stack+"/tunnels/dynamic/"+y, http.StatusOK)
	if dyn["state"] != "active" || dyn["localDynVpnRule"] != "BRANCH4-VPN" || dyn["generation"] != float64(1) {
		t.Errorf("activated tunnel %v", dyn)
	}
	checkAudit(t, logPath, "ctl-activate", with(operator, "operation", "activateDynamicTunnels",
		"nmiRequest", "NMsec_ACT_DYNTUN", "outcome", "started", "nmiReturnCode", 0, "nmiReasonCode", 0, "reached", true,
		"httpStatus", 200, "targets", []item{{"name": "BRANCH4-VPN"}, {"name": "LEGACY-VPN"}, {"name": "ORPHAN-VPN"},
			{"name": "NOOFFER-VPN"}, {"name": "NO-SUCH-RULE"}},
		"results", []item{{"name": "BRANCH4-VPN", "tunnelId": y, "status": "stateUpdated"},
			{"name": "LEGACY-VPN", "status": "noKeyExchangeRule"}, {"name": "ORPHAN-VPN", "status": "noFilter"},
			{"name": "NOOFFER-VPN", "status": "noDataOffer"}, {"name": "NO-SUCH-RULE", "status": "notFound"}}))

	// Refresh it: the generation grows.
	v = g.postObject(stack+"/tunnels/dynamic/"+y+":refresh?wait=20s", "", http.StatusOK, as("ctl-refresh")...)
	if got := results(t, v); !slices.Equal(got, []string{"/" + y + "/stateUpdated"}) || v["reached"] != true {
		t.Fatalf("refresh: %v", v)
	}
	dyn = g.object(stack+"/tunnels/dynamic/"+y, http.StatusOK)
	if dyn["generation"] != float64(2) || dyn["state"] != "active" {
		t.Errorf("after refresh: generation %v state %v", dyn["generation"], dyn["state"])
	}
	checkAudit(t, logPath, "ctl-refresh", with(operator, "operation", "refreshDynamicTunnel",
		"nmiRequest", "NMsec_REFRESH_DYNTUN", "outcome", "started", "targets", []item{{"tunnelId": y}},
		"results", []item{{"tunnelId": y, "status": "stateUpdated"}}, "reached", true))

	// Deactivate it: gone. Again: notFound, still 200.
	v = g.postObject(stack+"/tunnels/dynamic/"+y+":deactivate?wait=10s", "", http.StatusOK, as("ctl-deact")...)
	if got := results(t, v); !slices.Equal(got, []string{"/" + y + "/stateUpdated"}) || v["reached"] != true {
		t.Fatalf("deactivate: %v", v)
	}
	g.object(stack+"/tunnels/dynamic/"+y, http.StatusNotFound)
	v = g.postObject(stack+"/tunnels/dynamic/"+y+":deactivate", "", http.StatusOK, as("ctl-deact-again")...)
	if got := results(t, v); !slices.Equal(got, []string{"/" + y + "/notFound"}) {
		t.Errorf("repeated deactivate: %v", got)
	}
	checkAudit(t, logPath, "ctl-deact-again", with(operator, "operation", "deactivateDynamicTunnel",
		"outcome", "started", "results", []item{{"tunnelId": y, "status": "notFound"}}))

	// IKE tunnels: deactivation expires the tunnel; the repeat finds it
	// already inactive.
	v = g.postObject(stack+"/ike/tunnels:deactivate?wait=10s", `{"tunnelIds": ["K2"]}`, http.StatusOK, as("ctl-ike")...)
	if got := results(t, v); !slices.Equal(got, []string{"/K2/stateUpdated"}) || v["reached"] != true {
		t.Errorf("IKE deactivate: %v", v)
	}
	v = g.postObject(stack+"/ike/tunnels/K2:deactivate", "", http.StatusOK, as("ctl-ike-again")...)
	if got := results(t, v); !slices.Equal(got, []string{"/K2/stateAlreadySet"}) {
		t.Errorf("repeated IKE deactivate: %v", got)
	}
	checkAudit(t, logPath, "ctl-ike-again", with(operator, "nmiRequest", "NMsec_DEACT_IKETUN",
		"results", []item{{"tunnelId": "K2", "status": "stateAlreadySet"}}))
	// Refresh of an active IKE tunnel: a newer generation.
	before := g.object(stack+"/ike/tunnels/K1", http.StatusOK)["generation"].(float64)
	v = g.postObject(stack+"/ike/tunnels/K1:refresh?wait=10s", "", http.StatusOK, as("ctl-ike-refresh")...)
	if v["reached"] != true || g.object(stack+"/ike/tunnels/K1", http.StatusOK)["generation"].(float64) <= before {
		t.Errorf("IKE refresh: %v", v)
	}

	// Manual tunnels, by tunnel ID.
	v = g.postObject(stack+"/tunnels/manual/M2:activate?wait=10s", "", http.StatusOK, as("ctl-man")...)
	if got := results(t, v); !slices.Equal(got, []string{"MANUAL-LEGACY/M2/stateUpdated"}) || v["reached"] != true {
		t.Errorf("manual activate: %v", v)
	}
	if st := g.object(stack+"/tunnels/manual/M2", http.StatusOK)["state"]; st != "active" {
		t.Errorf("M2 is %v", st)
	}
	v = g.postObject(stack+"/tunnels/manual/M2:deactivate?wait=10s", "", http.StatusOK, as("ctl-man-off")...)
	if got := results(t, v); !slices.Equal(got, []string{"MANUAL-LEGACY/M2/stateUpdated"}) || v["reached"] != true {
		t.Errorf("manual deactivate: %v", v)
	}

	// Default filters: the stack's filter set flips and traffic stops.
	v = g.postObject(stack+"/filters:loadDefault?wait=10s", "", http.StatusOK, as("ctl-default")...)
	if v["filterSet"] != "default" || v["reached"] != true {
		t.Fatalf("loadDefault: %v", v)
	}
	if fs := g.object(stack, http.StatusOK)["filterSet"]; fs != "default" {
		t.Errorf("stack filterSet %v after loadDefault", fs)
	}
	checkAudit(t, logPath, "ctl-default", with(operator, "operation", "loadDefaultFilters",
		"nmiRequest", "NMsec_LOAD_POLICY", "filterSet", "default", "outcome", "started", "reached", true))
	c1 := dynTraffic(g, "Y1")
	time.Sleep(700 * time.Millisecond) // Y1 carries 150 packets/s while traffic flows
	if c2 := dynTraffic(g, "Y1"); c2 != c1 {
		t.Errorf("Y1 counters moved under the default filters: %v -> %v", c1, c2)
	}
	// A tunnel cannot be activated without its dynamic filter.
	v = g.postObject(stack+"/tunnels/dynamic:activate", `{"names": ["BRANCH4-VPN"]}`, http.StatusOK, op...)
	if got := results(t, v); !slices.Equal(got, []string{"BRANCH4-VPN//noFilter"}) {
		t.Errorf("activation under default filters: %v", got)
	}

	// Back to the policy: counters move again.
	v = g.postObject(stack+"/filters:loadPolicy?wait=10s", "", http.StatusOK, as("ctl-policy")...)
	if v["filterSet"] != "policy" || v["reached"] != true {
		t.Fatalf("loadPolicy: %v", v)
	}
	if fs := g.object(stack, http.StatusOK)["filterSet"]; fs != "policy" {
		t.Errorf("stack filterSet %v after loadPolicy", fs)
	}
	c1 = dynTraffic(g, "Y1")
	time.Sleep(700 * time.Millisecond)
	if c2 := dynTraffic(g, "Y1"); c2 <= c1 {
		t.Errorf("Y1 counters stand still under the policy filters: %v -> %v", c1, c2)
	}

	// The viewer may display but not control: 403, audited as denied, and
	// nothing changes.
	p := g.postObject(stack+"/filters:loadDefault", "", http.StatusForbidden,
		"Authorization", "Bearer "+g.viewer, "X-Request-ID", "ctl-denied")
	if p["resource"] != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || p["profile"] != "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL" {
		t.Errorf("403 %v", p)
	}
	d := checkAudit(t, logPath, "ctl-denied", item{"user": "VIEWER", "groups": []string{"VIEWERS"}, "allowed": false,
		"resource": "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", "profile": "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL",
		"outcome": "denied", "httpStatus": 403, "operation": "loadDefaultFilters", "nmiRequest": "NMsec_LOAD_POLICY"})
	if str(d, "reason") == "" {
		t.Errorf("denied record without a reason: %v", d)
	}
	if recs := auditOf(t, logPath, "ctl-denied"); len(recs) != 1 {
		t.Errorf("a denied request has one record, got %v", recs)
	}
	if fs := g.object(stack, http.StatusOK)["filterSet"]; fs != "policy" {
		t.Errorf("a denied request changed the filter set to %v", fs)
	}
	// Anonymous callers may display only, too.
	g.postObject(stack+"/ike/tunnels/K1:refresh", "", http.StatusForbidden)

	// Bad input: 400 naming the field, never a 500; nothing is sent.
	for _, c := range []struct{ path, body string }{
		{stack + "/ike/tunnels:refresh", ""},
		{stack + "/tunnels/dynamic:activate", `{"names": ["` + strings.Repeat("N", 49) + `"]}`},
		{stack + "/tunnels/dynamic:activate", `{"names": ["RÈGLE€"]}`},
		{stack + "/tunnels/manual:deactivate", `{"tunnelIds": ["M1"], "all": true}`},
	} {
		if resp, b := g.post(c.path, c.body, op...); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d %s", c.path, c.body, resp.StatusCode, b)
		}
	}
	// Every line of the audit log is one JSON object (auditLines checks).
	if n := len(auditLines(t, logPath)); n < 20 {
		t.Errorf("%d audit lines", n)
	}
}

func TestWholeProgramFilterTest(t *testing.T) {
	g := startGateway(t, "--audit-log", filepath.Join(t.TempDir(), "audit.log"))
	v := g.postObject("/v1/stacks/TCPIP/filters:test",
		`{"direction": "inbound", "localAddress": "2001:db8:1::10", "remoteAddress": "2001:db8:77::1", "protocol": "icmpv6", "icmpType": 128, "icmpCode": 0}`,
		http.StatusOK)
	rule, _ := v["rule"].(item)
	if v["matched"] != true || v["action"] != "permit" || rule["name"] != "PERMIT-ICMPV6-ECHO" {
		t.Errorf("IPv6 echo request: %v", v)
	}
	// The position is the rule's place in GET .../filters, counted from 1.
	// Tunnels coming and going add and remove dynamic filters, so the
	// answer is compared with lists read before and after it that agree.
	for try := 0; ; try++ {
		before := g.filterNames("/v1/stacks/TCPIP/filters?pageSize=10000")
		v = g.postObject("/v1/stacks/TCPIP/filters:test",
			`{"direction": "inbound", "localAddress": "2001:db8:1::10", "remoteAddress": "2001:db8:77::1", "protocol": "icmpv6", "icmpType": 128, "icmpCode": 0}`,
			http.StatusOK)
		if after := g.filterNames("/v1/stacks/TCPIP/filters?pageSize=10000"); !slices.Equal(before, after) {
			if try == 10 {
				t.Fatal("the filter set changed during every try")
			}
			continue
		}
		rule, _ := v["rule"].(item)
		id := fmt.Sprint(rule["name"], ".", rule["nameExtension"], " ", rule["direction"])
		want := slices.Index(before, id) + 1
		if want < 2 || v["position"] != float64(want) {
			t.Errorf("position %v; the list has %s at %d (want a rule that is not first)", v["position"], id, want)
		}
		break
	}
	v = g.postObject("/v1/stacks/TCPIP/filters:test",
		`{"direction": "inbound", "localAddress": "2001:db8:1::10", "remoteAddress": "2001:db8:77::1", "protocol": "icmpv6", "icmpType": 129, "icmpCode": 0}`,
		http.StatusOK)
	if rule, _ := v["rule"].(item); v["action"] != "deny" || rule["name"] == "PERMIT-ICMPV6-ECHO" {
		t.Errorf("IPv6 echo reply: %v", v)
	}
}

// filterNames lists a filter list's rules as "name.extension direction"
// (the two rules of a pair share name and extension), in order; the list
// must fit one page.
func (g *gateway) filterNames(path string) []string {
	g.t.Helper()
	l := g.object(path, http.StatusOK)
	if l["nextPageToken"] != nil {
		g.t.Fatalf("%s does not fit one page", path)
	}
	items, _ := l["items"].([]any)
	var names []string
	for _, it := range items {
		r, _ := it.(item)
		names = append(names, fmt.Sprint(r["name"], ".", r["nameExtension"], " ", r["direction"]))
	}
	return names
}

func TestAuditLogOnStandardOutput(t *testing.T) {
	g := startGateway(t) // --audit-log defaults to -
	m := operatorRe.FindStringSubmatch(g.out.String())
	if m == nil {
		t.Fatalf("no operator token in:\n%s", g.out.String())
	}
	g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusOK,
		"Authorization", "Bearer "+m[1], "X-Request-ID", "std-audit-1")
	var stages []string
	for _, line := range strings.Split(g.out.String(), "\n") {
		var v item
		if json.Unmarshal([]byte(line), &v) == nil && v["clientRequestId"] == "std-audit-1" && v["operation"] == "loadPolicyFilters" {
			stages = append(stages, str(v, "stage"))
		}
	}
	if !slices.Equal(stages, []string{"requested", "completed"}) {
		t.Errorf("audit records on standard output: %v\n%s", stages, g.out.String())
	}
}

func TestAuditLogThatCannotBeOpened(t *testing.T) {
	var out syncBuffer
	err := run(t.Context(), []string{"gateway", "-sim", "--listen", "127.0.0.1:0",
		"--audit-log", filepath.Join(t.TempDir(), "missing", "audit.log")},
		func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "audit-log") {
		t.Errorf("run: %v, want an error naming audit-log", err)
	}
}
