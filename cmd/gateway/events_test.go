package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The whole program: subscribe to TCPIP's events, deactivate a dynamic
// tunnel with the operator's token, and see the change arrive. The stream
// is left open: the cleanup's shutdown must end it (run returns nil, not
// a shutdown timeout).
func TestWholeProgramEvents(t *testing.T) {
	g := startGateway(t)
	if g.viewer == "" || g.operator == "" {
		t.Fatalf("no demo tokens in:\n%s", g.out.String())
	}
	req, err := http.NewRequest(http.MethodGet, g.base+"/v1/stacks/TCPIP/events?interval=1s", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.viewer)
	resp, st, body, err := g.v.Open(g.client, req)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	if ev, err := st.Next(); err != nil || !ev.HasID || ev.Name != "" {
		t.Fatalf("first block %+v, %v; want an ID alone", ev, err)
	}

	v := g.postObject("/v1/stacks/TCPIP/tunnels/dynamic/Y2:deactivate?wait=10s", "", http.StatusOK,
		"Authorization", "Bearer "+g.operator)
	if got := results(t, v); len(got) != 1 || got[0] != "/Y2/stateUpdated" {
		t.Fatalf("deactivate: %v", v)
	}
	for {
		ev, err := st.NextEvent() // checked against the document's schemas
		if err != nil {
			t.Fatalf("no event of Y2: %v", err)
		}
		var d item
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			t.Fatal(err)
		}
		if d["kind"] == "dynamic" && d["tunnelId"] == "Y2" {
			if (ev.Name != "tunnel.removed" && ev.Name != "tunnel.changed") || d["oldState"] != "active" || d["stack"] != "TCPIP" {
				t.Errorf("event %s %s", ev.Name, ev.Data)
			}
			break
		}
	}
}
