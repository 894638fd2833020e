package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
)

var (
	contractOnce sync.Once
	contractV    *contract.Validator
	contractErr  error
)

func validator(t *testing.T) *contract.Validator {
	t.Helper()
	contractOnce.Do(func() { contractV, contractErr = contract.New() })
	if contractErr != nil {
		t.Fatal(contractErr)
	}
	return contractV
}

// server is the full handler (validation included) over an httptest
// server in front of nmi.
type server struct {
	t    *testing.T
	srv  *httptest.Server
	logs *bytes.Buffer
}

func newServer(t *testing.T, nmi httpapi.NMI, mod ...func(*httpapi.Deps)) *server {
	t.Helper()
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	d := httpapi.Deps{NMI: nmi, Authorizer: authz.AllowAll,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mod {
		m(&d)
	}
	h, err := httpapi.NewHandler(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{t: t, srv: srv, logs: logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// get sends a GET with optional headers (name, value pairs), checks the
// answer against the API document and returns it.
func (s *server) get(path string, hdr ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, body, err := validator(s.t).Do(s.srv.Client(), req)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, body
}

// getJSON is get expecting status, decoding the body.
func (s *server) getJSON(path string, status int, hdr ...string) (map[string]any, *http.Response) {
	s.t.Helper()
	resp, body := s.get(path, hdr...)
	if resp.StatusCode != status {
		s.t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, status, body)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		s.t.Fatalf("GET %s: body is not a JSON object: %v: %.200s", path, err, body)
	}
	return v, resp
}

func items(t *testing.T, v map[string]any) []map[string]any {
	t.Helper()
	raw, ok := v["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", v)
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

func field(items []map[string]any, k string) []string {
	var out []string
	for _, it := range items {
		s, _ := json.Marshal(it[k])
		out = append(out, strings.Trim(string(s), `"`))
	}
	return out
}
