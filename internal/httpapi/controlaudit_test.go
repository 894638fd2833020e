package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	spec "github.com/nmigw/nmigw/api"
	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/httpapi"
)

// A control request that the OpenAPI validation refuses before its
// handler is audited like one its handler refuses: one completed record,
// outcome invalid, naming the caller and the parameter. Nothing reaches
// the NMI.
func TestValidationRefusalOfControlIsAudited(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink, withAuthz(t))
	const path = "/v1/stacks/TCPIP/ike/tunnels:refresh"
	// A string where the document wants an array of tunnel IDs.
	p := s.postJSON(path, `{"tunnelIds": "K1"}`, http.StatusBadRequest,
		"Authorization", "Bearer ADMIN1", "X-Request-ID", "bad-body")
	ip, _ := p["invalidParams"].([]any)
	if len(ip) != 1 || ip[0].(map[string]any)["name"] != "body/tunnelIds" {
		t.Fatalf("problem %v, want body/tunnelIds named", p)
	}
	if n := f.nmiCalls(); n != 0 {
		t.Errorf("%d NMI requests for a refused request", n)
	}
	recs := sink.records()
	if len(recs) != 1 {
		t.Fatalf("records %+v, want one", recs)
	}
	r := recs[0]
	if r.Stage != audit.StageCompleted || r.Outcome != audit.OutcomeInvalid || r.HTTPStatus != http.StatusBadRequest ||
		!strings.HasPrefix(r.Error, "body/tunnelIds: ") || r.ClientRequestID != "bad-body" || len(r.RequestID) != 32 ||
		r.User != "ADMIN1" || !slices.Equal(r.Groups, []string{"NETADM"}) || r.Authentication != "token" ||
		r.Method != http.MethodPost || r.Path != path || r.Operation != "refreshIkeTunnels" || r.Stack != "TCPIP" ||
		r.NMIRequest != "NMsec_REFRESH_IKETUN" || r.RemoteAddr == "" || r.Time.IsZero() ||
		!r.Allowed || r.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" || len(r.Targets) != 0 {
		t.Errorf("record %+v", r)
	}

	// A caller without CONTROL gets the same answer as before the audit
	// (the validation's 400, not a 403); the record shows the denial.
	s.postJSON(path, `{"tunnelIds": "K1"}`, http.StatusBadRequest, "Authorization", "Bearer OPER1")
	// No credentials: the record names no one.
	s.postJSON(path+"?bogus=1", `{"all": true}`, http.StatusBadRequest)
	recs = sink.records()
	if len(recs) != 3 {
		t.Fatalf("records %+v, want three", recs)
	}
	if r := recs[1]; r.User != "OPER1" || r.Allowed || r.Profile != "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL" ||
		r.Outcome != audit.OutcomeInvalid || r.HTTPStatus != http.StatusBadRequest {
		t.Errorf("record of a caller without CONTROL %+v", r)
	}
	if r := recs[2]; r.User != "" || r.Allowed || r.Outcome != audit.OutcomeInvalid ||
		!strings.HasPrefix(r.Error, "bogus: ") {
		t.Errorf("record of an anonymous caller %+v", r)
	}
	if n := f.nmiCalls(); n != 0 {
		t.Errorf("%d NMI requests for refused requests", n)
	}
}

// Every control operation is audited when the validation refuses it, under
// its operationId in the document (the one of /v1/stacks for its copy on a
// system, whose record names the system); filters:test (a POST that only reads)
// and display requests are not.
func TestValidationRefusalAuditsEveryControlRoute(t *testing.T) {
	doc, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink)
	for _, rt := range routeTable {
		method, route, _ := strings.Cut(rt.route, " ")
		if method != http.MethodPost {
			continue
		}
		path := tablePath(route, "TCPIP", rt.id) + "?bogus=1"
		before := len(sink.records())
		resp, _ := s.post(path, rt.body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d, want 400", method, path, resp.StatusCode)
			continue
		}
		recs := sink.records()[before:]
		if rt.kind != ctl {
			if len(recs) != 0 {
				t.Errorf("%s %s: audited %+v", method, path, recs)
			}
			continue
		}
		op := strings.TrimSuffix(doc.Paths.Value(route).Post.OperationID, spec.SystemOperationSuffix)
		if len(recs) != 1 || recs[0].Operation != op || recs[0].System != "SYS1" || recs[0].Path != strings.TrimSuffix(path, "?bogus=1") ||
			recs[0].Stack != "TCPIP" || recs[0].Outcome != audit.OutcomeInvalid || !strings.HasPrefix(recs[0].Error, "bogus: ") {
			t.Errorf("%s %s: records %+v, want one of %s", method, path, recs, op)
		}
	}
	if n := f.nmiCalls(); n != 0 {
		t.Errorf("%d NMI requests for refused requests", n)
	}
	// Refused display requests: nothing.
	for _, path := range []string{"/v1/stacks/TCPIP/ike/tunnels?bogus=1", "/v1/stacks/TCPIP/ike/tunnels?pageSize=many",
		"/v1/stacks/TCPIP/filters?pageSize=0", "/v1/stacks/TCPIP/tunnels/dynamic/Y1?bogus=1"} {
		if resp, _ := s.get(path); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, resp.StatusCode)
		}
	}
	if n := len(sink.records()); n != len(controlRoutes()) {
		t.Errorf("%d records, want one per control route (%d)", n, len(controlRoutes()))
	}
}

// controlRoutes are the control routes of routeTable.
func controlRoutes() []string {
	var out []string
	for _, rt := range routeTable {
		if rt.kind == ctl {
			out = append(out, rt.route)
		}
	}
	return out
}

// A control request refused by the validation whose record cannot be
// written is refused with 503, as the handler refuses one: a refusal, too,
// is on record or not answered as such.
func TestValidationRefusalAuditFailure(t *testing.T) {
	f := newSim(t)
	sink := &memSink{failAt: audit.StageCompleted}
	s := ctlServer(t, f, sink)
	p := s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": "RULE1"}`, http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:audit-unavailable" || !strings.Contains(str(p["detail"]), "refused") {
		t.Errorf("problem %v", p)
	}
	if !strings.Contains(s.logs.String(), "audit device gone") {
		t.Error("the audit failure is not in the log")
	}
	// Without an audit log control is off, whatever the request.
	s = ctlServer(t, f, nil)
	p = s.postJSON("/v1/stacks/TCPIP/tunnels/dynamic:activate", `{"names": "RULE1"}`, http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:audit-unavailable" {
		t.Errorf("problem %v", p)
	}
	if n := f.nmiCalls(); n != 0 {
		t.Errorf("%d NMI requests for refused requests", n)
	}
}

// A control request whose Content-Length is over the body limit is refused
// with 413 and audited with its caller, like one sent without a length;
// nothing reaches the NMI. A display request with such a body is refused
// at once and not audited.
func TestOversizedControlRequestIsAudited(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink, withAuthz(t), func(d *httpapi.Deps) { d.MaxBodyBytes = 1 << 10 })
	const path = "/v1/stacks/TCPIP/ike/tunnels:refresh"
	body := `{"tunnelIds": ["` + strings.Repeat("K", 2<<10) + `"]}`
	p := s.postJSON(path, body, http.StatusRequestEntityTooLarge, "Authorization", "Bearer ADMIN1")
	if p["status"] != float64(http.StatusRequestEntityTooLarge) {
		t.Errorf("problem %v", p)
	}
	recs := sink.records()
	if len(recs) != 1 {
		t.Fatalf("records %+v, want one", recs)
	}
	if r := recs[0]; r.Outcome != audit.OutcomeInvalid || r.HTTPStatus != http.StatusRequestEntityTooLarge ||
		r.User != "ADMIN1" || r.Operation != "refreshIkeTunnels" || r.Path != path {
		t.Errorf("record %+v", r)
	}
	if n := f.nmiCalls(); n != 0 {
		t.Errorf("%d NMI requests for a refused request", n)
	}

	req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/v1/stacks/TCPIP/summary", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer ADMIN1")
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("GET with a large body: %s, want 413", resp.Status)
	}
	if n := len(sink.records()); n != 1 {
		t.Errorf("%d records after a display request, want still one", n)
	}
}

// The audit record's target is the tunnel ID of the path, as the NMI was
// asked about it: the record's path and target agree. The IDs here are
// plain; path parameters that are percent-encoded are to be decoded
// before use (a separate change to the request contract), and then an
// encoded ID belongs in this table too.
func TestAuditTargetIsPathTunnelID(t *testing.T) {
	f, sink := newSim(t), &memSink{}
	s := ctlServer(t, f, sink, withAuthz(t))
	for _, c := range []struct{ path, id string }{
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "K1"},
		{"/v1/stacks/TCPIP/tunnels/dynamic/Y1:refresh", "Y1"},
		{"/v1/stacks/TCPIP/tunnels/manual/M1:deactivate", "M1"},
	} {
		before := len(sink.records())
		s.postJSON(c.path, "", http.StatusOK, "Authorization", "Bearer ADMIN1")
		recs := sink.records()[before:]
		if len(recs) != 2 {
			t.Fatalf("%s: records %+v", c.path, recs)
		}
		for _, r := range recs {
			if r.Path != c.path || len(r.Targets) != 1 || r.Targets[0].TunnelID != c.id {
				t.Errorf("%s: %s record path %q targets %+v, want tunnel ID %s", c.path, r.Stage, r.Path, r.Targets, c.id)
			}
		}
		calls := f.controlCalls()
		if last := calls[len(calls)-1]; len(last.Tunnels) != 1 || !last.Tunnels[0].TunnelID.Equal(c.id) {
			t.Errorf("%s: NMI request %+v", c.path, last)
		}
	}
}
