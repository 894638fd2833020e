package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/httpapi"
)

// The dashboard is embedded: / and its modules and styles, with a
// same-origin content security policy and 304 on a matching ETag.
func TestDashboardFiles(t *testing.T) {
	s := newServer(t, httpapi.NewFake(t))
	fetch := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	resp, body := fetch("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `<script type="module" src="dashboard/app.js">`) {
		t.Fatalf("/: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("/ without X-Content-Type-Options: nosniff")
	}
	resp, _ = fetch("/", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("/ conditional: %d", resp.StatusCode)
	}

	for path, ct := range map[string]string{
		"/dashboard/app.js":    "text/javascript",
		"/dashboard/api.js":    "text/javascript",
		"/dashboard/dom.js":    "text/javascript",
		"/dashboard/format.js": "text/javascript",
		"/dashboard/style.css": "text/css",
	} {
		resp, body := fetch(path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || len(body) == 0 {
			t.Errorf("%s: %d %s, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		// Text from the API becomes text nodes, never markup.
		if strings.Contains(body, "innerHTML") || strings.Contains(body, "insertAdjacentHTML") || strings.Contains(body, "document.write") {
			t.Errorf("%s parses HTML", path)
		}
	}
	for _, path := range []string{"/dashboard/index.html", "/dashboard/nope.js", "/dashboard/..%2Fdocs.html", "/dashboard/"} {
		if resp, _ := fetch(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}
