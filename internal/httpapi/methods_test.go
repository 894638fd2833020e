package httpapi_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/nmigw/nmigw/internal/httpapi"
)

// allMethods are the methods sent to every route: the ones routes use,
// the ones no route uses, HEAD and OPTIONS.
var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions}

// Every method against every path of the API document: a documented
// operation answers a status the document lists for it (checked by the
// contract validator), HEAD answers what GET does without the body,
// OPTIONS answers 204 with Allow, and any other method 405 with the same
// Allow: the document's methods, HEAD beside GET, and OPTIONS.
func TestEveryMethodOnEveryRoute(t *testing.T) {
	sim := newSim(t)
	sim.setStep(0) // GET and HEAD see the same data
	s := ctlServer(t, sim, &memSink{})
	doc, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"{system}": "SYS1", "{stack}": "TCPIP", "{name}": "BRANCH1-VPN", "{file}": "app.js"}
	tunnel := map[string]string{"/ike/": "K1", "/dynamic": "Y1", "/manual": "M1"}
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	for _, tmpl := range paths {
		if tmpl == "/metrics" {
			continue // served beside this handler, by cmd/gateway
		}
		path := tmpl
		for k, v := range params {
			path = strings.ReplaceAll(path, k, v)
		}
		for k, v := range tunnel {
			if strings.Contains(path, k) {
				path = strings.ReplaceAll(path, "{tunnelId}", v)
			}
		}
		// What the document allows at this URL, whichever of its paths
		// matches it (a manual tunnel ID may read M1:activate).
		documented := map[string]bool{}
		want := []string{http.MethodOptions}
		for _, m := range allMethods {
			req, _ := http.NewRequest(m, "http://gw"+path, nil)
			if _, _, err := router.FindRoute(req); err == nil {
				documented[m] = true
				want = append(want, m)
				if m == http.MethodGet {
					want = append(want, http.MethodHead)
				}
			}
		}
		for _, m := range allMethods {
			checkMethod(t, s, m, path, documented[m], want)
		}
	}
}

// checkMethod sends method to path; documented says whether the document
// has that operation, allow is the Allow the path must answer.
func checkMethod(t *testing.T, s *server, method, path string, documented bool, allow []string) {
	t.Helper()
	events := strings.HasSuffix(path, "/events")
	switch {
	case documented && method == http.MethodGet && events:
		if resp, _, body := s.open(path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	case documented && method == http.MethodGet:
		s.get(path) // the contract validator checks the status
	case documented && method == http.MethodPost:
		s.post(path, "")
	case method == http.MethodHead && slices.Contains(allow, http.MethodGet):
		resp, body := send(t, s, method, path)
		if len(body) != 0 {
			t.Errorf("HEAD %s: %d bytes of body", path, len(body))
		}
		if events {
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("HEAD %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			return
		}
		get, _ := s.get(path)
		if resp.StatusCode != get.StatusCode || resp.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
			resp.Header.Get("ETag") != get.Header.Get("ETag") {
			t.Errorf("HEAD %s: %d %q ETag %q; GET: %d %q ETag %q", path, resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.Header.Get("ETag"), get.StatusCode, get.Header.Get("Content-Type"), get.Header.Get("ETag"))
		}
	case method == http.MethodOptions:
		resp, body := send(t, s, method, path)
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("OPTIONS %s: %d %q", path, resp.StatusCode, body)
		}
		checkAllow(t, method, path, resp, allow)
	default:
		resp, body := send(t, s, method, path)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s, want 405 problem", method, path, resp.StatusCode, body)
		}
		checkAllow(t, method, path, resp, allow)
	}
}

func checkAllow(t *testing.T, method, path string, resp *http.Response, want []string) {
	t.Helper()
	var got []string
	for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s %s: Allow %v, the document %v", method, path, got, want)
	}
}

// send sends a request with no body and reads the whole answer.
func send(t *testing.T, s *server, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s %s: no X-Request-ID", method, path)
	}
	return resp, body
}

// OPTIONS from a page of an allowed origin gets CORS headers beside
// Allow; a preflight is answered by CORS alone.
func TestOptionsWithCORS(t *testing.T) {
	s := newServer(t, newSim(t), func(d *httpapi.Deps) { d.CORSOrigins = []string{"https://ops.example"} })
	req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+"/v1/stacks/TCPIP", nil)
	req.Header.Set("Origin", "https://ops.example")
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://ops.example" {
		t.Errorf("OPTIONS: %d Allow %q CORS %q", resp.StatusCode, resp.Header.Get("Allow"),
			resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// A body of another media type than the operation takes is 415; a query
// string that does not parse is 400, on every kind of route.
func TestMediaTypeAndQuerySyntax(t *testing.T) {
	s := ctlServer(t, newSim(t), &memSink{})
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/v1/stacks/TCPIP/filters:test", strings.NewReader(`{"direction":"inbound"}`))
	req.Header.Set("Content-Type", "text/plain")
	resp, body, err := validator(t).Do(s.srv.Client(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "application/json") {
		t.Errorf("text/plain body: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/v1/stacks?pageToken=%%%x", "/v1/stacks/TCPIP/filters?name=%zz", "/healthz?%", "/openapi.yaml?a=%4", "/?poll=%", "/dashboard/app.js?%zz"} {
		if resp, body := s.get(p); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "query") {
			t.Errorf("GET %s: %d %s, want 400 naming the query", p, resp.StatusCode, body)
		}
	}
	if resp, _ := s.post("/v1/stacks/TCPIP/tunnels/manual/M1:activate?wait=%zz", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("control with a broken query: %d, want 400", resp.StatusCode)
	}
}
