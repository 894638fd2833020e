package httpapi_test

import (
	"io"
	"io/fs"
	"net/http"
	pathpkg "path"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/web"
)

// The dashboard is embedded: / and its modules and styles, with a
// same-origin content security policy and 304 on a matching ETag.
func TestDashboardFiles(t *testing.T) {
	s := newServer(t, newDisplaySim(t, 0))
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

	// s.get checks each answer against api/openapi.yaml.
	resp, raw := s.get("/")
	body := string(raw)
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
	resp, _ = s.get("/", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("/ conditional: %d", resp.StatusCode)
	}

	// Every file of web/dashboard but the page is served, with its type.
	files, err := fs.ReadDir(web.Dashboard, "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	served := 0
	for _, f := range files {
		if f.Name() == "index.html" {
			continue
		}
		path := "/dashboard/" + f.Name()
		ct := types[pathpkg.Ext(f.Name())]
		if ct == "" {
			t.Errorf("web/dashboard/%s: neither a module nor a style sheet", f.Name())
			continue
		}
		resp, raw := s.get(path)
		body := string(raw)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || len(body) == 0 {
			t.Errorf("%s: %d %s, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		// Text from the API becomes text nodes, never markup.
		if strings.Contains(body, "innerHTML") || strings.Contains(body, "insertAdjacentHTML") || strings.Contains(body, "document.write") {
			t.Errorf("%s parses HTML", path)
		}
		if resp, _ := s.get(path, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s conditional: %d", path, resp.StatusCode)
		}
		served++
	}
	if served < 5 {
		t.Errorf("%d dashboard files served", served)
	}
	for _, path := range []string{"/dashboard/index.html", "/dashboard/nope.js"} {
		if resp, _ := s.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Paths outside the document's /dashboard/{file}.
	if resp, _ := fetch("/dashboard/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/dashboard/: %d, want 404", resp.StatusCode)
	}
	// No path parameter holds an encoded /.
	if resp, _ := fetch("/dashboard/..%2Fdocs.html"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/dashboard/..%%2Fdocs.html: %d, want 400", resp.StatusCode)
	}
}
