package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// problemDetail is the detail of a problem answer.
func problemDetail(t *testing.T, body []byte) string {
	t.Helper()
	var p struct{ Detail string }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	return p.Detail
}

// Refusals say what is wrong in words a person understands, with the
// document's x-invalid-reason where the schema's own message would not.
func TestFriendlyRefusals(t *testing.T) {
	s := ctlServer(t, newSim(t), &memSink{})
	posts := []struct{ path, body, want string }{
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{}`, "body: must name either tunnelIds or all"},
		{"/v1/stacks/TCPIP/ike/tunnels:refresh", `{"tunnelIds":["K1"],"all":true}`, "body: must name either tunnelIds or all"},
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh?wait=61s", ``, "wait: not a duration from 0s to 60s"},
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh?wait=60.5s", ``, "wait: not a duration from 0s to 60s"},
		{"/v1/stacks/TCPIP/ike/tunnels/K1:refresh?wait=1h", ``, "wait: not a duration from 0s to 60s"},
		{"/v1/stacks/TCPIP/ike/tunnels/X1:refresh", ``, "tunnelId: not an IKE tunnel ID"},
	}
	for _, c := range posts {
		resp, body := s.post(c.path, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(problemDetail(t, body), c.want) {
			t.Errorf("POST %s %s: %d %s, want 400 %q", c.path, c.body, resp.StatusCode, body, c.want)
		}
	}
	for _, ok := range []string{"?wait=60s", "?wait=60000ms", "?wait=1m", "?wait=0s", "?wait=59.999s"} {
		if resp, body := s.post("/v1/stacks/TCPIP/ike/tunnels/K1:refresh"+ok, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("wait %s: %d %s", ok, resp.StatusCode, body)
		}
	}
	gets := []struct{ path, want string }{
		{"/v1/stacks/TCPIP/filters?protocol=0", "protocol: not a protocol number 1-255"},
		{"/v1/stacks/TCPIP/filters?protocol=256", "protocol: not a protocol number 1-255"},
		{"/v1/stacks/TCPIP/filters?localAddress=10.0.0.0/129", "localAddress: not an IPv4 or IPv6 address"},
		{"/v1/stacks/TCPIP/events?interval=soon", "interval: not a duration"},
		{"/v1/stacks/TC.P/summary", "stack: not a stack name"},
		{"/v1/stacks/TCPIP/ike/tunnels?pageToken=a.b", "pageToken: not a page token"},
	}
	for _, c := range gets {
		resp, body := s.get(c.path)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(problemDetail(t, body), c.want) {
			t.Errorf("GET %s: %d %s, want 400 %q", c.path, resp.StatusCode, body, c.want)
		}
	}
	// A stack named in lower case that exists in upper case: 404 with the
	// hint, on every kind of route; another unknown stack without one.
	for _, p := range []string{"/v1/stacks/tcpip", "/v1/stacks/tcpip/summary", "/v1/stacks/Tcpip/tunnels/manual/M1",
		"/v1/stacks/tcpip/events"} {
		resp, body := s.get(p)
		if resp.StatusCode != http.StatusNotFound || problemDetail(t, body) != "stack names are upper case: did you mean TCPIP?" {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if resp, body := s.post("/v1/stacks/tcpip/tunnels/manual/M1:activate", ""); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(problemDetail(t, body), "did you mean TCPIP?") {
		t.Errorf("control on tcpip: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/v1/stacks/nosuch", "/v1/stacks/NOSUCH/summary"} {
		if resp, body := s.get(p); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "did you mean") {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
}
