package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// pages follows nextPageToken from path (which has a query) and returns
// every item's field k.
func pages(t *testing.T, s *server, path, k string) (all []string, n int) {
	t.Helper()
	next := path
	for {
		v, _ := s.getJSON(next, http.StatusOK)
		all = append(all, field(items(t, v), k)...)
		n++
		tok, ok := v["nextPageToken"].(string)
		if !ok {
			return all, n
		}
		next = path + "&pageToken=" + url.QueryEscape(tok)
		if n > 100 {
			t.Fatal("pagination does not end")
		}
	}
}

func TestPagination(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 25))
	cases := []struct{ path, key string }{
		{"/v1/stacks/TCPIP/ike/tunnels?cascade=true", "generation"},
		{"/v1/stacks/TCPIP/tunnels/dynamic?view=stack", "generation"},
		{"/v1/stacks/TCPIP/filters?set=current", "name"},
		{"/v1/stacks/TCPIP/interfaces?x=", "name"},
	}
	for _, c := range cases {
		path := strings.Replace(c.path, "?x=", "?", 1)
		full, _ := s.getJSON(path, http.StatusOK)
		want := field(items(t, full), c.key)
		for _, size := range []int{1, 2, 7} {
			got, n := pages(t, s, path+"&pageSize="+itoa(size), c.key)
			if !slices.Equal(got, want) {
				t.Errorf("%s pageSize=%d: %v, want %v", path, size, got, want)
			}
			if wantPages := (len(want) + size - 1) / size; n != wantPages && n != wantPages+1 {
				t.Errorf("%s pageSize=%d: %d pages for %d items", path, size, n, len(want))
			}
		}
	}
	// A token only fits the list and filters it came from.
	v, _ := s.getJSON("/v1/stacks/TCPIP/ike/tunnels?pageSize=1", http.StatusOK)
	tok := v["nextPageToken"].(string)
	for _, other := range []string{
		"/v1/stacks/TCPIP/ike/tunnels?cascade=true&pageToken=",
		"/v1/stacks/TCPIP2/ike/tunnels?pageToken=",
		"/v1/stacks/TCPIP/tunnels/dynamic?pageToken=",
	} {
		s.getJSON(other+url.QueryEscape(tok), http.StatusBadRequest)
	}
	// pageSize may change between pages.
	v, _ = s.getJSON("/v1/stacks/TCPIP/ike/tunnels?pageSize=2&pageToken="+url.QueryEscape(tok), http.StatusOK)
	if got := field(items(t, v), "tunnelId"); !slices.Equal(got, []string{"K2", "K10"}) {
		t.Errorf("second page %v", got)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestETag(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	for _, path := range []string{"/v1/stacks", "/v1/stacks/TCPIP", "/v1/stacks/TCPIP/summary",
		"/v1/stacks/TCPIP/filters", "/v1/stacks/TCPIP/ike/tunnels/K2", "/v1/stacks/TCPIP/tunnels/manual/M1"} {
		resp, body := s.get(path)
		tag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(tag, `"`) || resp.ContentLength != int64(len(body)) {
			t.Errorf("%s: %d ETag %q length %d", path, resp.StatusCode, tag, resp.ContentLength)
			continue
		}
		for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
			if resp, _ := s.get(path, "If-None-Match", inm); resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != tag {
				t.Errorf("%s If-None-Match %s: %d", path, inm, resp.StatusCode)
			}
		}
		if resp, _ := s.get(path, "If-None-Match", `"stale"`); resp.StatusCode != http.StatusOK {
			t.Errorf("%s stale tag: %d", path, resp.StatusCode)
		}
	}
}

// TestStreamedList checks a list too large to buffer: it is streamed in
// chunks with the ETag as a trailer, and a conditional request is still
// answered 304 without sending it.
func TestStreamedList(t *testing.T) {
	sim := newDisplaySim(t, 3000) // about 2 MB of JSON
	s := newServer(t, sim)
	const path = "/v1/stacks/TCPIP/filters"
	resp, body := s.get(path)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 {
		t.Fatalf("status %d, length %d, transfer encoding %v: want a chunked stream", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	}
	var v struct{ Items []json.RawMessage }
	if err := json.Unmarshal(body, &v); err != nil || len(v.Items) != 3007 { // the data set's 3 rules and 4 dynamic filters
		t.Fatalf("%d items, %v", len(v.Items), err)
	}
	tag := resp.Header.Get("ETag") // merged from the trailer
	if tag == "" {
		t.Fatal("no ETag trailer")
	}
	calls := sim.nmiCalls()
	resp, body = s.get(path, "If-None-Match", tag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("conditional: %d with %d bytes", resp.StatusCode, len(body))
	}
	if n := sim.nmiCalls() - calls; n != 1 {
		t.Errorf("a matching conditional request took %d NMI exchanges, want 1", n)
	}
	calls = sim.nmiCalls()
	resp, body = s.get(path, "If-None-Match", `"stale"`)
	if resp.StatusCode != http.StatusOK || len(body) < 1<<20 || resp.Header.Get("ETag") != tag {
		t.Errorf("stale conditional: %d with %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	if n := sim.nmiCalls() - calls; n != 2 {
		t.Errorf("a stale conditional request took %d NMI exchanges, want 2 (hash, then stream)", n)
	}
}

// The request ID is always the gateway's own: a caller's X-Request-ID is
// logged as clientRequestId and never becomes the request's ID.
func TestRequestID(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
	resp, _ := s.get("/healthz", "X-Request-ID", "abc-123.x:y")
	own := resp.Header.Get("X-Request-ID")
	if len(own) != 32 || own == "abc-123.x:y" {
		t.Errorf("answered X-Request-ID %q, want the gateway's own", own)
	}
	line := s.accessLine("abc-123.x:y")
	if line["requestId"] != own || line["clientRequestId"] != "abc-123.x:y" {
		t.Errorf("access log line %v: want requestId %s and the caller's as clientRequestId", line, own)
	}
	resp, _ = s.get("/healthz", "X-Request-ID", "bad id with spaces")
	if got := resp.Header.Get("X-Request-ID"); len(got) != 32 || strings.Contains(got, " ") {
		t.Errorf("generated %q", got)
	}
	if strings.Contains(s.logs.String(), "bad id with spaces") {
		t.Errorf("an invalid X-Request-ID reached the log")
	}
}

func TestCORS(t *testing.T) {
	preflight := func(s *server, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+"/v1/stacks", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	off := newServer(t, newDisplaySim(t, 0))
	if resp, _ := off.get("/v1/stacks", "Origin", "https://dash.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS is on by default")
	}
	on := newServer(t, newDisplaySim(t, 0), func(d *httpapi.Deps) { d.CORSOrigins = []string{"https://dash.example"} })
	resp, _ := on.get("/v1/stacks", "Origin", "https://dash.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("allowed origin: %v", resp.Header)
	}
	if resp, _ := on.get("/v1/stacks", "Origin", "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("other origin allowed")
	}
	if resp := preflight(on, "https://dash.example"); resp.StatusCode != http.StatusNoContent ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "If-None-Match") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight(on, "https://evil.example"); resp.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of another origin allowed: %v", resp.Header)
	}
}

// TestBrokenAnswer: an NMI failure before anything was sent is a problem
// answer; one in the middle of a streamed list aborts the connection, so
// the client sees a broken answer instead of a short, well-formed one.
func TestBrokenAnswer(t *testing.T) {
	sim := newDisplaySim(t, 4000)
	s := newServer(t, sim)

	// IKED closes the connection half way through its answer: of the
	// two WEB rules nothing was sent yet.
	sim.faults.Set(nmi.GetIPFltCurr, ikedsim.Fault{Truncate: true, Times: 1})
	p, _ := s.getJSON("/v1/stacks/TCPIP/filters?name=WEB", http.StatusServiceUnavailable)
	if p["type"] != "urn:nmigw:problem:nmi-unavailable" {
		t.Errorf("problem %v", p)
	}

	// Half of TCPIP's 4000 rules is past the 1 MiB buffer: streaming.
	sim.faults.Set(nmi.GetIPFltCurr, ikedsim.Fault{Truncate: true, Times: 1})
	resp, err := s.srv.Client().Get(s.srv.URL + "/v1/stacks/TCPIP/filters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Errorf("status %d, read error %v after %d bytes: want the stream cut off", resp.StatusCode, err, len(body))
	}
	if json.Valid(body) {
		t.Error("a cut-off stream parsed as complete JSON")
	}
}
