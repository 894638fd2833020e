package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// testRouter has a parameterized route, a streamed answer and a
// handler that needs http.ResponseController to reach the connection.
func testRouter(t *testing.T, mw ...func(http.Handler) http.Handler) *chi.Mux {
	r := chi.NewRouter()
	r.Use(mw...)
	r.Get("/v1/stacks/{stack}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "stack "+chi.URLParam(r, "stack"))
	})
	r.Post("/v1/stacks/{stack}/ike/tunnels/{tunnelId}:deactivate", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	r.Get("/stream", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the middleware's writer is no http.Flusher")
			return
		}
		io.WriteString(w, "data: 1\n\n")
		f.Flush()
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			t.Errorf("ResponseController through the middleware: %v", err)
		}
		io.WriteString(w, "data: 2\n\n")
	})
	r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return r
}

// TestHTTPMiddleware drives a real server whose chi router is wrapped from
// outside (as cmd/gateway does) or uses the middleware itself.
func TestHTTPMiddleware(t *testing.T) {
	for _, inside := range []bool{false, true} {
		name := "around the router"
		if inside {
			name = "inside the router"
		}
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := NewHTTP(reg)
			if err != nil {
				t.Fatal(err)
			}
			var h http.Handler
			if inside {
				h = testRouter(t, m.Middleware)
			} else {
				h = m.Middleware(testRouter(t))
			}
			srv := httptest.NewServer(h)
			defer srv.Close()

			var bodyBytes int
			do := func(method, path string, want int) {
				t.Helper()
				req, err := http.NewRequest(method, srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
				}
				if method == "GET" && strings.HasPrefix(path, "/v1/stacks/") {
					bodyBytes += len(b)
				}
			}
			do("GET", "/v1/stacks/TCPIP", 200)
			do("GET", "/v1/stacks/TCPIP", 200)
			do("GET", "/v1/stacks/TCPIPB", 200)
			do("POST", "/v1/stacks/TCPIP/ike/tunnels/K1:deactivate", 202)
			do("GET", "/stream", 200)
			do("GET", "/no/such/path", 404)
			do("BREW", "/v1/stacks/TCPIP", 405)

			e := scrape(t, reg)
			const stack = "/v1/stacks/{stack}"
			if v := e.mustValue(t, "nmigw_http_requests_total", "route", stack, "method", "GET", "code", "200"); v != 3 {
				t.Errorf("GET %s 200: %v requests, want 3", stack, v)
			}
			deact := "/v1/stacks/{stack}/ike/tunnels/{tunnelId}:deactivate"
			if v := e.mustValue(t, "nmigw_http_requests_total", "route", deact, "method", "POST", "code", "202"); v != 1 {
				t.Errorf("POST deactivate: %v, want 1", v)
			}
			if v := e.mustValue(t, "nmigw_http_requests_total", "route", RouteUnmatched, "method", "GET", "code", "404"); v != 1 {
				t.Errorf("404: %v, want 1", v)
			}
			// chi answers an unknown method with 405 before routing; the
			// method is folded into OTHER.
			if e.count("nmigw_http_requests_total", "method", "OTHER", "code", "405") != 1 {
				t.Errorf("BREW not counted as OTHER 405: %v", e.series("nmigw_http_requests_total"))
			}
			for labels := range e.series("nmigw_http_requests_total") {
				if strings.Contains(labels, "TCPIP") || strings.Contains(labels, "no/such") {
					t.Errorf("raw path in a label: %s", labels)
				}
			}
			if v := e.mustValue(t, "nmigw_http_request_duration_seconds", "route", stack, "method", "GET"); v != 3 {
				t.Errorf("latency observations: %v, want 3", v)
			}
			size := e["nmigw_http_response_size_bytes"]
			for _, s := range size.GetMetric() {
				if label(s, "route") == stack && s.GetHistogram().GetSampleSum() != float64(bodyBytes) {
					t.Errorf("response bytes: %v, want %d", s.GetHistogram().GetSampleSum(), bodyBytes)
				}
			}
			if v := e.mustValue(t, "nmigw_http_requests_in_flight"); v != 0 {
				t.Errorf("in flight after the requests: %v", v)
			}
		})
	}
}

// TestHTTPMiddlewareEventStream counts a Server-Sent Events stream but
// keeps it out of the latency and size histograms; what tells a stream is
// the answer's Content-Type, so an error the same route answers before
// streaming is observed like any other answer.
func TestHTTPMiddlewareEventStream(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Get("/v1/stacks/{stack}/events", func(w http.ResponseWriter, r *http.Request) {
		switch chi.URLParam(r, "stack") {
		case "DOWN":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":503}`)
			return
		case "PARAMS":
			w.Header().Set("Content-Type", "Text/Event-Stream; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "text/event-stream")
		}
		w.WriteHeader(http.StatusOK)
		for i := range 3 {
			fmt.Fprintf(w, "id: %d\ndata: {}\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(m.Middleware(r))
	defer srv.Close()
	get := func(stack string, code int, ctype string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/v1/stacks/" + stack + "/events")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body) // to the stream's end
		resp.Body.Close()
		if resp.StatusCode != code || !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), ctype) {
			t.Fatalf("%s: %d %q %q", stack, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	const route = "/v1/stacks/{stack}/events"
	get("DOWN", 503, "application/problem+json")
	before := scrape(t, reg)
	if v := before.mustValue(t, "nmigw_http_response_size_bytes", "route", route, "method", "GET"); v != 1 {
		t.Errorf("size observations of the error: %v, want 1", v)
	}
	get("TCPIP", 200, "text/event-stream")
	get("PARAMS", 200, "text/event-stream")

	e := scrape(t, reg)
	// The streams that ended grew the request counter, not the size
	// histogram.
	if v, w := e.mustValue(t, "nmigw_http_response_size_bytes", "route", route, "method", "GET"),
		before.mustValue(t, "nmigw_http_response_size_bytes", "route", route, "method", "GET"); v != w {
		t.Errorf("size observations after the streams: %v, before them %v", v, w)
	}
	if v := e.mustValue(t, "nmigw_http_requests_total", "route", route, "method", "GET", "code", "200"); v != 2 {
		t.Errorf("streams counted: %v, want 2", v)
	}
	if v := e.mustValue(t, "nmigw_http_requests_total", "route", route, "method", "GET", "code", "503"); v != 1 {
		t.Errorf("errors counted: %v, want 1", v)
	}
	if v := e.mustValue(t, "nmigw_http_request_duration_seconds", "route", route, "method", "GET"); v != 1 {
		t.Errorf("latency observations: %v, want 1 (the error, not the streams)", v)
	}
	if v := e.mustValue(t, "nmigw_http_requests_in_flight"); v != 0 {
		t.Errorf("in flight after the streams: %v", v)
	}
}

// TestHTTPMiddlewarePanic counts a panicking handler as a 500 and lets the
// panic go on to the server (or a recovering middleware further out).
func TestHTTPMiddlewarePanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware(testRouter(t))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not go on")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil))
	}()
	e := scrape(t, reg)
	if v := e.mustValue(t, "nmigw_http_requests_total", "route", "/panic", "method", "GET", "code", "500"); v != 1 {
		t.Errorf("panic counted %v times as 500", v)
	}
	if v := e.mustValue(t, "nmigw_http_requests_in_flight"); v != 0 {
		t.Errorf("in flight after a panic: %v", v)
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := RegisterStandard(reg, BuildInfo{Version: "v1.2.3"}); err != nil {
		t.Fatal(err)
	}
	e := scrape(t, reg)
	mf := e["nmigw_build_info"]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("nmigw_build_info: %v", mf)
	}
	m := mf.GetMetric()[0]
	if label(m, "version") != "v1.2.3" || label(m, "goversion") != runtime.Version() || label(m, "revision") == "" || valueOf(m) != 1 {
		t.Errorf("nmigw_build_info: %s %v", labelsOf(m), valueOf(m))
	}
	if e["go_goroutines"] == nil || e["process_start_time_seconds"] == nil {
		t.Error("Go runtime or process collector missing")
	}
}

// TestHTTPMiddlewareMounted is the shape METRICS_INTEGRATION.md gives
// cmd/gateway: a root chi router with the middleware and /metrics, and
// the REST handler (a chi router of its own) mounted at "/". Routes keep
// the inner router's patterns.
func TestHTTPMiddlewareMounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	inner := testRouter(t)
	inner.NotFound(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "problem", http.StatusNotFound) })
	root := chi.NewRouter()
	root.Use(m.Middleware)
	root.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	root.Mount("/", inner)
	srv := httptest.NewServer(root)
	defer srv.Close()
	for _, p := range []string{"/v1/stacks/TCPIP", "/metrics", "/nothing/here"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	e := scrape(t, reg)
	for _, w := range []struct{ route, code string }{
		{"/v1/stacks/{stack}", "200"}, {"/metrics", "200"}, {"/*", "404"},
	} {
		if v, ok := e.value("nmigw_http_requests_total", "route", w.route, "method", "GET", "code", w.code); !ok || v != 1 {
			t.Errorf("route %s code %s: %v %v; have %v", w.route, w.code, v, ok, e.series("nmigw_http_requests_total"))
		}
	}
}
