package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/httpapi"
)

func TestErrorMapping(t *testing.T) {
	s := newServer(t, httpapi.NewFake())
	cases := []struct {
		stack      string
		status     int
		typ        string
		rc, rsn    float64 // 0: no NMI codes
		retryAfter bool
	}{
		{"NOPE", http.StatusNotFound, "urn:nmigw:problem:unknown-stack", 138, -1, false},
		{"DENIED", http.StatusForbidden, "urn:nmigw:problem:forbidden", 111, -1, false},
		{"BAD", http.StatusBadGateway, "urn:nmigw:problem:nmi-rejected", 121, 9, false},
		{"BUSY", http.StatusServiceUnavailable, "urn:nmigw:problem:nmi-unavailable", 0, 0, true},
		{"DOWN", http.StatusServiceUnavailable, "urn:nmigw:problem:nmi-unavailable", 0, 0, true},
		{"TERM", http.StatusServiceUnavailable, "urn:nmigw:problem:nmi-unavailable", 0, 0, true},
		{"SLOW", http.StatusGatewayTimeout, "urn:nmigw:problem:nmi-timeout", 0, 0, false},
		{"BROKEN", http.StatusInternalServerError, "urn:nmigw:problem:internal", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.stack, func(t *testing.T) {
			id := "req-" + c.stack
			resp, body := s.get("/v1/stacks/"+c.stack+"/summary", "X-Request-ID", id)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if strings.Contains(string(body), httpapi.SecretText) {
				t.Errorf("internal error text reached the client: %s", body)
			}
			p, resp := s.getJSON("/v1/stacks/"+c.stack+"/summary", c.status, "X-Request-ID", id)
			if p["type"] != c.typ || p["status"] != float64(c.status) || p["requestId"] != resp.Header.Get("X-Request-ID") {
				t.Errorf("problem %v", p)
			}
			if c.rc != 0 {
				if p["nmiReturnCode"] != c.rc {
					t.Errorf("nmiReturnCode %v, want %v", p["nmiReturnCode"], c.rc)
				}
				if c.rsn >= 0 && p["nmiReasonCode"] != c.rsn {
					t.Errorf("nmiReasonCode %v, want %v", p["nmiReasonCode"], c.rsn)
				}
			} else if _, ok := p["nmiReturnCode"]; ok {
				t.Errorf("NMI codes where the NMI did not answer: %v", p)
			}
			if got := resp.Header.Get("Retry-After") != ""; got != c.retryAfter {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		})
	}
	// The internal text is in the log, with the request ID.
	if logs := s.logs.String(); !strings.Contains(logs, httpapi.SecretText) || !strings.Contains(logs, `"clientRequestId":"req-BROKEN"`) {
		t.Errorf("internal error not logged with its request ID:\n%s", logs)
	}
}

func TestValidation(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	cases := []struct{ path, param string }{
		{"/v1/stacks/TCPIP/filters?pageSize=0", "pageSize"},
		{"/v1/stacks/TCPIP/filters?pageSize=abc", "pageSize"},
		{"/v1/stacks/TCPIP/filters?set=other", "set"},
		{"/v1/stacks/TCPIP/filters?bogus=1", "bogus"},
		{"/v1/stacks/TCPIP/ike/tunnels?protocol=6", "protocol"}, // IKE tunnels take no protocol
		{"/v1/stacks/TCPIP/filters?localAddress=10.1.2", "localAddress"},
		{"/v1/stacks/TCPIP/filters?localAddress=10.0.0.0/33", "localAddress"},
		{"/v1/stacks/TCPIP/filters?remoteAddress=zz::1", "remoteAddress"},
		{"/v1/stacks/TCPIP/filters?protocol=0", "protocol"},
		{"/v1/stacks/TCPIP/filters?protocol=bgp", "protocol"},
		{"/v1/stacks/TCPIP/filters?localPort=70000", "localPort"},
		{"/v1/stacks/TCPIP/filters?name=" + strings.Repeat("N", 49), "name"},
		{"/v1/stacks/TCPIP/filters?name=%E2%82%AC", "name"}, // the euro sign has no IBM-1047 code
		{"/v1/stacks/TCPIP/filters?localAddress=10.0.0.1&remoteAddress=2001:db8::1", "remoteAddress"},
		{"/v1/stacks/TCPIP/filters?pageToken=AAAA", "pageToken"},
		{"/v1/stacks/TCPIP/tunnels/dynamic/K1", "tunnelId"},
		{"/v1/stacks/TCP.IP/summary", "stack"},
		{"/v1/stacks/TCPIP/tunnels/dynamic?view=both", "view"},
		{"/v1/stacks/TCPIP/ike/tunnels?cascade=maybe", "cascade"},
	}
	before := sim.nmiCalls()
	for _, c := range cases {
		p, _ := s.getJSON(c.path, http.StatusBadRequest)
		ip, _ := p["invalidParams"].([]any)
		if len(ip) != 1 || ip[0].(map[string]any)["name"] != c.param {
			t.Errorf("%s: problem %v, want it to name %s", c.path, p, c.param)
		}
	}
	if n := sim.nmiCalls() - before; n != 0 {
		t.Errorf("%d invalid requests reached the NMI", n)
	}
	// Unknown paths and methods are problems too.
	resp, err := s.srv.Client().Get(s.srv.URL + "/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown path: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = s.srv.Client().Post(s.srv.URL+"/v1/stacks", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST /v1/stacks: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestFilterTranslation(t *testing.T) {
	sim := newDisplaySim(t, 0)
	s := newServer(t, sim)
	s.getJSON("/v1/stacks/TCPIP/tunnels/dynamic?name=A&name=B&protocol=tcp&protocol=17&localAddress=10.1.0.0/16&remotePort=443", http.StatusOK)
	fs := sim.lastRequest(t).Filters
	if len(fs) != 4 {
		t.Fatalf("2 names x 2 protocols = 4 records, got %d", len(fs))
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if !f.HasName || !f.HasProtocol || !f.HasLclAddr || !f.HasRmtPort || f.HasTunnelID || f.HasRmtAddr || f.HasLclPort || f.IPv6 {
			t.Errorf("criteria of %+v", f)
		}
		if f.LclAddr.String() != "10.1.0.0" || f.LclPrefix != 16 || f.RmtPort != 443 {
			t.Errorf("values of %+v", f)
		}
		seen[f.Name.String()+"/"+string(rune('0'+f.Protocol/10))+string(rune('0'+f.Protocol%10))] = true
	}
	for _, k := range []string{"A/06", "A/17", "B/06", "B/17"} {
		if !seen[k] {
			t.Errorf("combination %s missing: %v", k, seen)
		}
	}
	// Mixed families: only same-family combinations go out; a host address
	// is an exact match (prefix 0); /0 is no criterion at all.
	s.getJSON("/v1/stacks/TCPIP/filters?localAddress=10.0.0.1&localAddress=2001:db8::1&remoteAddress=192.0.2.0/24&remoteAddress=2001:db8::/32&localPort=1", http.StatusOK)
	fs = sim.lastRequest(t).Filters
	if len(fs) != 2 || fs[0].IPv6 || !fs[1].IPv6 || fs[0].LclPrefix != 0 || fs[1].RmtPrefix != 32 {
		t.Errorf("mixed families: %+v", fs)
	}
	s.getJSON("/v1/stacks/TCPIP/filters?localAddress=0.0.0.0/0", http.StatusOK)
	if fs := sim.lastRequest(t).Filters; len(fs) != 0 {
		t.Errorf("/0 sent filters %+v", fs)
	}
	// Too many combinations.
	q := "?"
	for i := range 9 {
		q += "name=N" + string(rune('a'+i)) + "&tunnelId=Y" + string(rune('1'+i)) + "&"
	}
	p, _ := s.getJSON("/v1/stacks/TCPIP/filters"+q, http.StatusBadRequest)
	if !strings.Contains(p["detail"].(string), "combinations") {
		t.Errorf("81 combinations: %v", p)
	}
}

// A problem carries NMI codes only when the NMI sent them: a stack that
// the list of stacks does not name is unknown (404) without codes, while
// the NMI's own ENXIO (IKED's answer for a stack it does not know) shows
// its codes.
func TestNMICodesOnlyWhenSent(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	for _, c := range []struct {
		path string
		rc   any // nil: no codes
	}{
		{"/v1/stacks/TCPIPX", nil},
		{"/v1/stacks/NOPE/summary", float64(138)},
	} {
		p, _ := s.getJSON(c.path, http.StatusNotFound)
		if p["type"] != "urn:nmigw:problem:unknown-stack" || p["nmiReturnCode"] != c.rc {
			t.Errorf("%s: %v, want nmiReturnCode %v", c.path, p, c.rc)
		}
		if _, ok := p["nmiReasonCode"]; ok != (c.rc != nil) {
			t.Errorf("%s: reason code present %v: %v", c.path, ok, p)
		}
	}
	resp, st, body := s.open("/v1/stacks/TCPIPX/events")
	if st != nil {
		st.Close()
		t.Fatal("events of an unknown stack opened a stream")
	}
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "unknown-stack") ||
		strings.Contains(string(body), "nmiReturnCode") {
		t.Errorf("events of an unknown stack: %d %s", resp.StatusCode, body)
	}
}
