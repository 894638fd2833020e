package main

import (
	"io"
	"net/http"
	"testing"
)

// /metrics, served beside the API, answers HEAD, OPTIONS and other
// methods as the API's resources do.
func TestMetricsMethods(t *testing.T) {
	g := startGateway(t)
	for _, c := range []struct {
		method string
		status int
		allow  string
	}{
		{http.MethodHead, http.StatusOK, ""},
		{http.MethodOptions, http.StatusNoContent, "GET, HEAD, OPTIONS"},
		{http.MethodPost, http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS"},
	} {
		req, _ := http.NewRequest(c.method, g.base+"/metrics", nil)
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s /metrics: %d Allow %q, want %d %q", c.method, resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow)
		}
		if c.method == http.MethodHead && (len(body) != 0 || resp.Header.Get("Content-Type") == "") {
			t.Errorf("HEAD /metrics: %d bytes, Content-Type %q", len(body), resp.Header.Get("Content-Type"))
		}
	}
}
