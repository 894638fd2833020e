package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/ikedsim"
)

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does,
// which is what generated clients do to a path parameter.
func encodeURIComponent(s string) string {
	const keep = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

// Stack names with $ # @ (RACF allows them) and tunnel IDs with characters
// a URL must escape reach every route family decoded, once: the NMI gets
// the names, the audit record's path and targets agree, and an encoded /
// is refused.
func TestPathParametersAreDecodedOnce(t *testing.T) {
	const stack, manual = "T$#@P", "LEGACY #?%@$"
	ds := ikedsim.Demo()
	ds.Stacks[0].Name = stack // the demo's TCPIP
	for i, m := range ds.Stacks[0].ManualTunnels {
		switch m.ID {
		case "M2":
			ds.Stacks[0].ManualTunnels[i].ID = manual
		case "M6-DR":
			ds.Stacks[0].ManualTunnels[i].ID = "%41" // decoded twice, it would be A
		}
	}
	sim := newSimData(t, ds)
	sink := &memSink{}
	s := ctlServer(t, sim, sink)

	// Each stack form a client may send: RFC 3986 lets $ and @ go
	// unescaped, encodeURIComponent escapes them; # is always escaped.
	for _, st := range []string{encodeURIComponent(stack), "T$%23@P", "%54%24%23%40%50"} {
		base := "/v1/stacks/" + st
		v, _ := s.getJSON(base, http.StatusOK)
		if v["name"] != stack {
			t.Errorf("GET %s: name %v", base, v["name"])
		}
		for _, p := range []string{"/summary", "/interfaces", "/filters", "/ike/tunnels", "/tunnels/dynamic",
			"/tunnels/manual", "/port-translations", "/ike/tunnels/K1", "/tunnels/dynamic/Y1",
			"/tunnels/manual/" + encodeURIComponent(manual), "/tunnels/manual/M%31"} {
			if v, _ := s.getJSON(base+p, http.StatusOK); strings.Contains(p, "/tunnels/manual/") {
				if want := map[bool]string{true: "M1", false: manual}[strings.HasSuffix(p, "%31")]; v["tunnelId"] != want {
					t.Errorf("GET %s%s: tunnel %v, want %q", base, p, v["tunnelId"], want)
				}
			}
		}
		if v, _ := s.getJSON(base+"/tunnels/manual/%2541", http.StatusOK); v["tunnelId"] != "%41" {
			t.Errorf("GET %s/tunnels/manual/%%2541: tunnel %v, want %%41", base, v["tunnelId"])
		}
		fv, _ := s.getJSON(base+"/filters?pageSize=1", http.StatusOK)
		name := items(t, fv)[0]["name"].(string)
		if v, _ := s.getJSON(base+"/filters/"+encodeURIComponent(name), http.StatusOK); v["name"] != name {
			t.Errorf("GET filter %q: %v", name, v["name"])
		}
		s.postJSON(base+"/filters:test", `{"direction":"outbound","source":"192.0.2.10","destination":"10.1.0.5","protocol":"tcp"}`, http.StatusOK)
		resp, st, body := s.open(base + "/events")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("events of %s: %d %s", base, resp.StatusCode, body)
		} else {
			st.Close()
		}
	}

	// A control request: the NMI, the answer and both audit records name
	// the decoded stack and tunnel.
	path := "/v1/stacks/" + encodeURIComponent(stack) + "/tunnels/manual/" + encodeURIComponent(manual) + ":activate"
	v := s.postJSON(path, "", http.StatusOK)
	if got := results(t, v); !slices.Equal(got, []string{"MANUAL-LEGACY/" + manual + "/stateUpdated"}) {
		t.Errorf("activate: %v", got)
	}
	calls := sim.controlCalls()
	if len(calls) != 1 || calls[0].Target != stack {
		t.Fatalf("control requests %+v, want one for %s", calls, stack)
	}
	recs := sink.records()
	if len(recs) != 2 {
		t.Fatalf("%d audit records, want requested and completed", len(recs))
	}
	for _, rec := range recs {
		if rec.Stack != stack || len(rec.Targets) != 1 || rec.Targets[0].TunnelID != manual ||
			rec.Path != "/v1/stacks/"+stack+"/tunnels/manual/"+manual+":activate" {
			t.Errorf("audit %s: stack %q path %q targets %+v", rec.Stage, rec.Stack, rec.Path, rec.Targets)
		}
	}
	if recs[1].Outcome != audit.OutcomeStarted {
		t.Errorf("outcome %s", recs[1].Outcome)
	}

	// An encoded / in any parameter is refused, and never reaches the NMI.
	n := sim.nmiCalls()
	for _, p := range []string{
		"/v1/stacks/T%2FP", "/v1/stacks/T%2fP/summary", "/v1/stacks/TCPIPB/tunnels/manual/M%2F1",
		"/v1/stacks/TCPIPB/filters/A%2FB", "/v1/stacks/TCPIPB/ike/tunnels/K%2F1",
	} {
		if resp, body := s.get(p); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "%2F") {
			t.Errorf("GET %s: %d %s, want 400 naming the encoded /", p, resp.StatusCode, body)
		}
	}
	if resp, _ := s.post("/v1/stacks/TCPIPB/tunnels/manual/M%2F1:activate", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("control with an encoded /: %d, want 400", resp.StatusCode)
	}
	if got := sim.nmiCalls(); got != n {
		t.Errorf("%d NMI requests for refused paths", got-n)
	}
}
