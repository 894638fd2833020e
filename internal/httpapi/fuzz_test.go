package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/nmi"
)

// The fuzz targets drive the full handler (OpenAPI validation, routing,
// query-to-filter translation, control body parsing) with a fake NMI, as
// the other tests build it. Whatever the query or body, the answer is
// never a 5xx, errors are problem+json, and nothing panics (the access log
// would report it). Seeds:
// testdata/fuzz/<target>.

// swapNMI forwards to the fake of the current input: the handler is built
// once per process, and a process runs its inputs one at a time.
type swapNMI struct{ cur httpapi.NMI }

func (s *swapNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	return s.cur.Do(ctx, req, fn)
}

type discardSink struct{}

func (discardSink) Write(*audit.Record) error { return nil }

// fuzzHandler is the full handler over a swapNMI, with its log.
type fuzzHandler struct {
	h    http.Handler
	nmi  *swapNMI
	mu   sync.Mutex
	logs bytes.Buffer
}

func newFuzzHandler(f *testing.F) *fuzzHandler {
	fh := &fuzzHandler{nmi: &swapNMI{}}
	var err error
	fh.h, err = httpapi.NewHandler(httpapi.Deps{NMI: fh.nmi, Audit: discardSink{}, Authorizer: authz.AllowAll,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&fh.mu, &fh.logs}, nil))})
	if err != nil {
		f.Fatal(err)
	}
	return fh
}

// serve sends the request of method, target (path and raw query) and
// body, read by the HTTP server's own parser (what it cannot parse never
// reaches the handler), and checks the answer.
func (fh *fuzzHandler) serve(t *testing.T, fake httpapi.NMI, method, target string, body []byte) {
	t.Helper()
	raw := method + " " + target + " HTTP/1.1\r\nHost: gw.example\r\n"
	if body != nil {
		raw += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n" + string(body))))
	if err != nil {
		return
	}
	if _, ok := req.URL.Query()["wait"]; ok {
		// ?wait polls until the change is seen or the client leaves: leave soon.
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	fh.nmi.cur = fake
	fh.mu.Lock()
	fh.logs.Reset()
	fh.mu.Unlock()
	rec := httptest.NewRecorder()
	fh.h.ServeHTTP(rec, req)
	fh.mu.Lock()
	logs := fh.logs.String()
	fh.mu.Unlock()
	if strings.Contains(logs, `"msg":"panic"`) {
		t.Fatalf("%s %s: panic: %.2000s", method, target, logs)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: status %d: %.500s", method, target, body, rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && ct != "application/problem+json" {
		t.Errorf("%s %s %q: status %d as %q, not a problem", method, target, body, rec.Code, ct)
	}
}

var fuzzListPaths = []string{
	"/v1/stacks", "/v1/stacks/TCPIP/filters", "/v1/stacks/TCPIP/ike/tunnels", "/v1/stacks/TCPIP/tunnels/dynamic",
	"/v1/stacks/TCPIP/tunnels/manual", "/v1/stacks/TCPIP/port-translations", "/v1/stacks/TCPIP/interfaces",
	"/v1/stacks/TCPIP/summary", "/v1/stacks/TCPIP/filters/F1", "/v1/stacks/TCPIP/ike/tunnels/K1",
}

// FuzzListQuery: any query string on the display resources, the lists
// above all (criteria to NMI input filters, pagination).
func FuzzListQuery(f *testing.F) {
	fh := newFuzzHandler(f)
	sim := newDisplaySim(f, 0)
	f.Fuzz(func(t *testing.T, path uint8, query string) {
		fh.serve(t, sim, http.MethodGet, fuzzListPaths[int(path)%len(fuzzListPaths)]+"?"+query, nil)
	})
}

var fuzzControlPaths = []string{
	"/v1/stacks/TCPIP/ike/tunnels:refresh", "/v1/stacks/TCPIP/ike/tunnels:deactivate",
	"/v1/stacks/TCPIP/tunnels/dynamic:refresh", "/v1/stacks/TCPIP/tunnels/dynamic:deactivate",
	"/v1/stacks/TCPIP/tunnels/dynamic:activate", "/v1/stacks/TCPIP/tunnels/manual:activate",
	"/v1/stacks/TCPIP/tunnels/manual:deactivate", "/v1/stacks/TCPIP/filters:loadDefault",
	"/v1/stacks/TCPIP/filters:loadPolicy", "/v1/stacks/TCPIP/filters:test",
	"/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "/v1/stacks/TCPIP/tunnels/manual/M1:activate",
}

// FuzzControlBody: any JSON body (and query) on the control resources and
// filters:test.
func FuzzControlBody(f *testing.F) {
	fh := newFuzzHandler(f)
	sim := newSim(f)
	f.Fuzz(func(t *testing.T, path uint8, query string, body []byte) {
		target := fuzzControlPaths[int(path)%len(fuzzControlPaths)]
		if query != "" {
			target += "?" + query
		}
		fh.serve(t, sim, http.MethodPost, target, body)
	})
}
