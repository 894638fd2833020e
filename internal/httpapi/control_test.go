package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/nmi"
)

// post sends a POST with a JSON body ("" for none) and optional headers,
// checks the answer against the API document and returns it.
func (s *server) post(path, body string, hdr ...string) (*http.Response, []byte) {
	s.t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(http.MethodPost, s.srv.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequest(http.MethodPost, s.srv.URL+path, nil)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, b, err := validator(s.t).Do(s.srv.Client(), req)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

// postJSON is post expecting status, decoding the body.
func (s *server) postJSON(path, body string, status int, hdr ...string) map[string]any {
	s.t.Helper()
	resp, b := s.post(path, body, hdr...)
	if resp.StatusCode != status {
		s.t.Fatalf("POST %s %s: status %d, want %d: %s", path, body, resp.StatusCode, status, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		s.t.Fatalf("POST %s: %v: %s", path, err, b)
	}
	return v
}

// results flattens a control answer to "name/tunnelId/status" lines.
func results(t *testing.T, v map[string]any) []string {
	t.Helper()
	raw, ok := v["results"].([]any)
	if !ok {
		t.Fatalf("no results in %v", v)
	}
	var out []string
	for _, x := range raw {
		m := x.(map[string]any)
		n, _ := m["name"].(string)
		id, _ := m["tunnelId"].(string)
		out = append(out, n+"/"+id+"/"+m["status"].(string))
	}
	return out
}

func ctlServer(t *testing.T, f *simNMI, sink *memSink, mod ...func(*httpapi.Deps)) *server {
	t.Helper()
	var n httpapi.NMI
	if f != nil {
		n = f
	}
	return newServer(t, n, append([]func(*httpapi.Deps){func(d *httpapi.Deps) {
		if sink != nil {
			d.Audit = sink
		}
	}}, mod...)...)
}

// withAuthz turns SAF checks on: "Authorization: Bearer <user>" names the
// caller. ADMIN1 (group NETADM) has CONTROL; OPER1 may only display.
func withAuthz(t *testing.T) func(*httpapi.Deps) {
	a, err := authz.New(authz.Config{System: "SYS1",
		Profiles: []authz.Profile{
			{Name: "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL", UACC: authz.AccessNone,
				Access: []authz.Entry{{ID: "NETADM", Level: authz.AccessRead}}},
			{Name: "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", UACC: authz.AccessRead},
		},
		Groups: map[string][]string{"ADMIN1": {"NETADM"}, "OPER1": {"OPSGRP"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(d *httpapi.Deps) {
		d.Authorizer = a
		d.AuthMethod = func(context.Context) string { return "token" }
		d.Authenticate = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
					// Groups resolved when the principal is made, as authn does.
					p := authz.Principal{User: u}
					p.Groups = a.Groups(p)
					r = r.WithContext(authz.WithPrincipal(r.Context(), p))
				}
				next.ServeHTTP(w, r)
			})
		}
	}
}

// completed returns the completed audit records.
func completed(t *testing.T, sink *memSink) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, r := range sink.records() {
		if r.Stage == audit.StageCompleted {
			out = append(out, r)
		}
	}
	return out
}

// The behaviour tests run against the demo data set's stack TCPIP: IKE
// tunnels K1 (KER-BRANCH1) and K2 (KER-BRANCH2) active, K4 pending;
// dynamic tunnels Y1 (BRANCH1-VPN) and Y2 active; manual tunnels M1
// active, M2 (MANUAL-LEGACY) inactive; rule BRANCH4-VPN without a tunnel.

func TestRefreshIKETunnelWaits(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink, withAuthz(t))
	v := s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K2:refresh?wait=10s", "", http.StatusOK,
		"Authorization", "Bearer ADMIN1", "X-Request-ID", "req-refresh-1")
	if got := results(t, v); !slices.Equal(got, []string{"/K2/stateUpdated"}) {
		t.Errorf("results %v", got)
	}
	if v["reached"] != true {
		t.Errorf("reached %v: IKED activates generation 2 at once", v["reached"])
	}
	calls := f.controlCalls()
	if len(calls) != 1 || calls[0].Type != nmi.RefreshIKETun || len(calls[0].Tunnels) != 1 ||
		!calls[0].Tunnels[0].TunnelID.Equal("K2") || calls[0].Target != "TCPIP" {
		t.Fatalf("control requests %+v", calls)
	}
	ike, _ := s.getJSON("/v1/stacks/TCPIP/ike/tunnels/K2", http.StatusOK, "Authorization", "Bearer ADMIN1")
	if ike["generation"] != float64(2) || ike["state"] != "active" {
		t.Errorf("K2 after the refresh: generation %v %v", ike["generation"], ike["state"])
	}
	recs := sink.records()
	if len(recs) != 2 || recs[0].Stage != audit.StageRequested || recs[1].Stage != audit.StageCompleted {
		t.Fatalf("audit records %+v", recs)
	}
	for _, r := range recs {
		// The caller's X-Request-ID is kept apart; the record's ID is the
		// gateway's own.
		if r.ClientRequestID != "req-refresh-1" || len(r.RequestID) != 32 || r.RequestID != recs[0].RequestID || r.User != "ADMIN1" || !slices.Equal(r.Groups, []string{"NETADM"}) ||
			r.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || !r.Allowed ||
			r.Profile != "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL" || r.Operation != "refreshIkeTunnel" ||
			r.NMIRequest != "NMsec_REFRESH_IKETUN" || r.Stack != "TCPIP" || r.Authentication != "token" ||
			!slices.Equal(r.Targets, []audit.Target{{TunnelID: "K2"}}) {
			t.Errorf("%s record %+v", r.Stage, r)
		}
	}
	c := recs[1]
	if c.Outcome != audit.OutcomeStarted || c.NMIReturnCode == nil || *c.NMIReturnCode != 0 || *c.NMIReasonCode != 0 ||
		!slices.Equal(c.Results, []audit.Result{{TunnelID: "K2", Status: "stateUpdated"}}) ||
		c.Reached == nil || !*c.Reached || c.HTTPStatus != http.StatusOK {
		t.Errorf("completed record %+v", c)
	}
	if recs[0].Outcome != "" || recs[0].Results != nil {
		t.Errorf("the requested record carries no outcome: %+v", recs[0])
	}

	// Refreshing an IKE tunnel that is not active: nothing to refresh.
	v = s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K4:refresh", "", http.StatusOK, "Authorization", "Bearer ADMIN1")
	if got := results(t, v); !slices.Equal(got, []string{"/K4/notFound"}) {
		t.Errorf("refresh of a pending tunnel: %v", got)
	}
	if _, ok := v["reached"]; ok {
		t.Error("reached without ?wait")
	}
}

func TestDeactivateIsIdempotent(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y2:deactivate?wait=10s", "", http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"/Y2/stateUpdated"}) || v["reached"] != true {
		t.Errorf("first deactivate: %v reached %v", got, v["reached"])
	}
	s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y2", http.StatusNotFound)
	// The tunnel is gone now: the repeat is notFound, still 200.
	v = s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y2:deactivate?wait=1s", "", http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"/Y2/notFound"}) || v["reached"] != true {
		t.Errorf("repeated deactivate: %v reached %v", got, v["reached"])
	}
	// An expired IKE tunnel counts as inactive: stateAlreadySet.
	s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K2:deactivate", "", http.StatusOK)
	v = s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K2:deactivate", "", http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"/K2/stateAlreadySet"}) {
		t.Errorf("deactivate of an expired tunnel: %v", got)
	}
	if recs := completed(t, sink); len(recs) != 4 || recs[3].Results[0].Status != "stateAlreadySet" {
		t.Errorf("audit %+v", recs)
	}
}

func TestBulkControl(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/ike/tunnels:deactivate", `{"tunnelIds": ["K9", "K1"]}`, http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"/K9/notFound", "/K1/stateUpdated"}) {
		t.Errorf("results in request order: %v", got)
	}
	// Every active manual tunnel: M1 only.
	v = s.postJSON("/v1/stacks/TCPIP/tunnels/manual:deactivate?wait=5s", `{"all": true}`, http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"MANUAL-DR-VPN/M1/stateUpdated"}) || v["reached"] != true {
		t.Errorf("all manual tunnels: %v reached %v", got, v["reached"])
	}
	calls := f.controlCalls()
	if len(calls) != 2 || len(calls[1].Tunnels) != 0 {
		t.Fatalf("{all: true} must send no records: %+v", calls)
	}
	recs := completed(t, sink)
	if len(recs) != 2 || !recs[1].All || recs[1].Targets != nil || len(recs[1].Results) != 1 {
		t.Errorf("audit of all: %+v", recs)
	}
}

func TestActivateDynamicByRuleName(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic:activate?wait=10s",
		`{"names": ["BRANCH4-VPN", "BRANCH1-VPN", "LEGACY-VPN", "ORPHAN-VPN", "NOOFFER-VPN", "NOSUCH"]}`, http.StatusOK)
	want := []string{"BRANCH4-VPN/Y7/stateUpdated", "BRANCH1-VPN/Y1/stateAlreadySet", "LEGACY-VPN//noKeyExchangeRule",
		"ORPHAN-VPN//noFilter", "NOOFFER-VPN//noDataOffer", "NOSUCH//notFound"}
	if got := results(t, v); !slices.Equal(got, want) {
		t.Errorf("results %v\nwant %v", got, want)
	}
	// Only the started rules count for reached; BRANCH4-VPN's tunnel came
	// up (its IKE tunnel first) once the clock moved.
	if v["reached"] != true {
		t.Errorf("reached %v", v["reached"])
	}
	y7, _ := s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y7", http.StatusOK)
	if y7["state"] != "active" || y7["localDynVpnRule"] != "BRANCH4-VPN" {
		t.Errorf("Y7 %v %v", y7["state"], y7["localDynVpnRule"])
	}
	calls := f.controlCalls()
	if len(calls) != 1 || len(calls[0].Tunnels) != 6 || !calls[0].Tunnels[0].Name.Equal("BRANCH4-VPN") ||
		!calls[0].Tunnels[0].TunnelID.IsBlank() {
		t.Errorf("activation goes by name: %+v", calls)
	}
	if recs := completed(t, sink); len(recs) != 1 || len(recs[0].Results) != 6 || recs[0].Targets[5].Name != "NOSUCH" {
		t.Errorf("audit %+v", recs)
	}
}

func TestActivateManualLooksUpTheName(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/tunnels/manual/M2:activate?wait=10s", "", http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"MANUAL-LEGACY/M2/stateUpdated"}) || v["reached"] != true {
		t.Errorf("activate M2: %v reached %v", got, v["reached"])
	}
	calls := f.controlCalls()
	if len(calls) != 1 || !calls[0].Tunnels[0].Name.Equal("MANUAL-LEGACY") || !calls[0].Tunnels[0].TunnelID.IsBlank() {
		t.Fatalf("manual activation goes by IpManVpnAction name: %+v", calls)
	}
	// A tunnel ID the NMI does not show: notFound, and no control request
	// at all (an empty one would act on every tunnel).
	v = s.postJSON("/v1/stacks/TCPIP/tunnels/manual:activate", `{"tunnelIds": ["M9"]}`, http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"/M9/notFound"}) {
		t.Errorf("unknown manual tunnel: %v", got)
	}
	if n := len(f.controlCalls()); n != 1 {
		t.Errorf("%d control requests, want still 1", n)
	}
	recs := completed(t, sink)
	if len(recs) != 2 || recs[1].Outcome != audit.OutcomeStarted || recs[1].NMIReturnCode != nil ||
		recs[1].Results[0].Status != "notFound" {
		t.Errorf("audit of a request the NMI never saw: %+v", recs)
	}
}

func TestLoadFilters(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/filters:loadDefault?wait=10s", "", http.StatusOK)
	if v["filterSet"] != "default" || v["stack"] != "TCPIP" || v["reached"] != true {
		t.Errorf("load default: %v", v)
	}
	st, _ := s.getJSON("/v1/stacks/TCPIP", http.StatusOK)
	if st["filterSet"] != "default" {
		t.Errorf("stack after the switch: %v", st["filterSet"])
	}
	v = s.postJSON("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusOK)
	if v["filterSet"] != "policy" {
		t.Errorf("load policy: %v", v)
	}
	calls := f.controlCalls()
	if len(calls) != 2 || calls[0].Policy.Source != nmi.FilterSetDefault || calls[1].Policy.Source != nmi.FilterSetPolicy {
		t.Errorf("NMsec_LOAD_POLICY requests %+v", calls)
	}
	recs := completed(t, sink)
	if len(recs) != 2 || recs[0].FilterSet != "default" || recs[0].NMIRequest != "NMsec_LOAD_POLICY" ||
		recs[0].Operation != "loadDefaultFilters" || recs[1].FilterSet != "policy" {
		t.Errorf("audit %+v", recs)
	}
}

func TestWaitRunsOut(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	f.setStep(0) // the clock stands still: the negotiation never ends
	s := ctlServer(t, f, sink)
	v := s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic:activate?wait=300ms", `{"names": ["BRANCH4-VPN"]}`, http.StatusOK)
	if v["reached"] != false || results(t, v)[0] != "BRANCH4-VPN/Y7/stateUpdated" {
		t.Errorf("answer %v", v)
	}
	if recs := completed(t, sink); len(recs) != 1 || recs[0].Reached == nil || *recs[0].Reached {
		t.Errorf("audit %+v", recs)
	}
}

func TestControlDenied(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink, withAuthz(t))
	p := s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": ["BRANCH4-VPN"]}`, http.StatusForbidden,
		"Authorization", "Bearer OPER1")
	if p["type"] != "urn:nmigw:problem:forbidden" || p["resource"] != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" ||
		p["profile"] != "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL" {
		t.Errorf("problem %v", p)
	}
	if n := len(f.controlCalls()); n != 0 {
		t.Errorf("%d control requests sent for a denied caller", n)
	}
	recs := sink.records()
	if len(recs) != 1 {
		t.Fatalf("a denial is one completed record: %+v", recs)
	}
	r := recs[0]
	if r.Stage != audit.StageCompleted || r.Allowed || r.User != "OPER1" || !slices.Equal(r.Groups, []string{"OPSGRP"}) ||
		r.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || r.Profile != "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL" ||
		r.Reason == "" || r.Outcome != audit.OutcomeDenied || r.HTTPStatus != http.StatusForbidden ||
		r.NMIRequest != "NMsec_ACT_DYNTUN" || r.Operation != "activateDynamicTunnels" {
		t.Errorf("denied record %+v", r)
	}
	// Without credentials: 401, audited as denied too.
	s.postJSON("/v1/stacks/TCPIP/filters:loadDefault", "", http.StatusUnauthorized)
	if recs := sink.records(); len(recs) != 2 || recs[1].Outcome != audit.OutcomeDenied || recs[1].HTTPStatus != http.StatusUnauthorized {
		t.Errorf("unauthenticated record %+v", recs)
	}
	// DISPLAY alone suffices for filters:test (it only reads).
	s.postJSON("/v1/stacks/TCPIP/filters:test", `{"direction":"outbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp"}`,
		http.StatusOK, "Authorization", "Bearer OPER1")
}

func TestControlBadInput(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	long := strings.Repeat("R", 49)
	cases := []struct {
		path, body, param string
	}{
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", "", "body"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{}`, "body"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"tunnelIds": []}`, "body/tunnelIds"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"tunnelIds": ["K1"], "all": true}`, "body"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"all": false}`, "body/all"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"tunnelIds": ["K1", "K1"]}`, "body/tunnelIds"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"tunnelIds": "K1"}`, "body/tunnelIds"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"names": ["K1"]}`, "body"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `[1,2]`, "body"},
		{"/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": []}`, "body/names"},
		{"/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": ["` + long + `"]}`, "body/names/0"},
		// No EBCDIC (IBM-1047) code point: caught by the gateway, not the document.
		{"/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": ["RULE€"]}`, "body/names/0"},
		{"/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": ["R", "名前"]}`, "body/names/1"},
		{"/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": [" RULE1"]}`, "body/names/0"},
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh?wait=61s", "", "wait"},
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh?wait=soon", "", "wait"},
		{"/v1/stacks/TCPIP/ike/tunnels/Y1:refresh", "", "tunnelId"},
		{"/v1/stacks/TCPIP/filters:loadDefault?set=policy", "", "set"},
		// An operation that takes no body.
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh", `{"tunnelIds": ["K1"]}`, "request"},
	}
	for _, c := range cases {
		resp, b := s.post(c.path, c.body)
		var p map[string]any
		_ = json.Unmarshal(b, &p)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d, want 400: %s", c.path, c.body, resp.StatusCode, b)
			continue
		}
		ip, _ := p["invalidParams"].([]any)
		if len(ip) == 0 || ip[0].(map[string]any)["name"] != c.param {
			t.Errorf("%s %s: invalid parameter %v, want %s", c.path, c.body, p["invalidParams"], c.param)
		}
	}
	if n := len(f.controlCalls()); n != 0 {
		t.Errorf("%d control requests sent for bad input", n)
	}
	// Each refusal is audited as invalid once, naming the parameter,
	// whether the document's checks or the gateway's own caught it.
	recs := completed(t, sink)
	if len(recs) != len(cases) {
		t.Fatalf("%d audit records for %d refused requests: %+v", len(recs), len(cases), recs)
	}
	for i, r := range recs {
		c := cases[i]
		path, _, _ := strings.Cut(c.path, "?")
		if r.Outcome != audit.OutcomeInvalid || r.HTTPStatus != http.StatusBadRequest || r.Path != path ||
			!strings.HasPrefix(r.Error, c.param+": ") {
			t.Errorf("record %+v, want one of %s naming %s", r, c.path, c.param)
		}
	}
	for _, r := range sink.records() {
		if r.Stage == audit.StageRequested {
			t.Errorf("bad input reached the requested stage: %+v", r)
		}
	}
}

func TestAuditFailureRefusesControl(t *testing.T) {
	f := newSim(t)
	sink := &memSink{failAt: audit.StageRequested}
	s := ctlServer(t, f, sink)
	p := s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K1:deactivate", "", http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:audit-unavailable" || !strings.Contains(p["detail"].(string), "refused") {
		t.Errorf("problem %v", p)
	}
	if n := len(f.controlCalls()); n != 0 {
		t.Errorf("an unaudited action was sent (%d requests)", n)
	}
	if strings.Contains(s.logs.String(), "audit device gone") == false {
		t.Error("the audit failure is not in the log")
	}

	// The outcome cannot be written: the action went out, the answer is
	// withheld and says so.
	sink.failAt = audit.StageCompleted
	p = s.postJSON("/v1/stacks/TCPIP/ike/tunnels/K1:deactivate", "", http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:audit-unavailable" || !strings.Contains(p["detail"].(string), "was sent") {
		t.Errorf("problem %v", p)
	}
	if n := len(f.controlCalls()); n != 1 {
		t.Errorf("%d control requests, want 1", n)
	}

	// A denied request whose record cannot be written: 503 as well.
	sink.failAt = audit.StageCompleted
	s2 := ctlServer(t, newSim(t), sink, withAuthz(t))
	s2.postJSON("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusServiceUnavailable, "Authorization", "Bearer OPER1")

	// No audit sink at all: control is off.
	s3 := ctlServer(t, newSim(t), nil)
	p = s3.postJSON("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:audit-unavailable" {
		t.Errorf("problem %v", p)
	}
}

func TestControlNMIErrors(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	p := s.postJSON("/v1/stacks/TCPIPX/ike/tunnels/K1:refresh", "", http.StatusNotFound)
	if p["type"] != "urn:nmigw:problem:unknown-stack" {
		t.Errorf("unknown stack: %v", p)
	}
	f.setFailCtl(&nmi.OpError{Op: "write", Addr: "/x", Err: errors.New("broken pipe")})
	s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic/Y1:refresh", "", http.StatusServiceUnavailable)
	f.setFailCtl(&nmi.StatusError{Type: nmi.DeactManTun, Rc: nmi.EINVAL, Rsn: nmi.RsnBadControlRecord})
	p = s.postJSON("/v1/stacks/TCPIP/tunnels/manual/M2:deactivate", "", http.StatusBadGateway)
	if p["nmiReasonCode"] != float64(10) {
		t.Errorf("rejected: %v", p)
	}
	recs := completed(t, sink)
	if len(recs) != 3 {
		t.Fatalf("audit %+v", recs)
	}
	if r := recs[0]; r.Outcome != audit.OutcomeRejected || r.NMIReturnCode == nil || *r.NMIReturnCode != 138 ||
		r.NMIReturnName != "ENXIO" || r.HTTPStatus != http.StatusNotFound {
		t.Errorf("unknown stack record %+v", r)
	}
	if r := recs[1]; r.Outcome != audit.OutcomeFailed || r.NMIReturnCode != nil || !strings.Contains(r.Error, "broken pipe") {
		t.Errorf("unreachable record %+v", r)
	}
	if r := recs[2]; r.Outcome != audit.OutcomeRejected || *r.NMIReasonCode != 10 || r.NMIReasonName != "NMsRsnBadControlRecord" {
		t.Errorf("rejected record %+v", r)
	}
}
