package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestValidationMemo: a GET URL that passed validation passes again, but
// a header parameter of its operation is still validated, and URLs that
// failed fail every time.
func TestValidationMemo(t *testing.T) {
	s := newServer(t, newSim(t))
	const path = "/v1/stacks/TCPIP/ike/tunnels"
	for i := range 3 {
		if a := fetch(s, path); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("GET %d: %d %v %s", i, a.status, a.err, a.body)
		}
	}
	long := strings.Repeat("x", 2000) // over the document's 1024 characters
	if a := fetch(s, path, "If-None-Match", long); a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "If-None-Match") {
		t.Errorf("an over-long If-None-Match on a remembered URL: %d %s, want 400 naming it", a.status, a.body)
	}
	for _, bad := range []string{path + "?pageSize=0", path + "?color=red", "/v1/stacks/TC%2FPIP/ike/tunnels"} {
		first := fetch(s, bad)
		if first.status < 400 {
			t.Errorf("GET %s: %d, want a refusal", bad, first.status)
		}
		if again := fetch(s, bad); again.status != first.status {
			t.Errorf("GET %s again: %d, first %d", bad, again.status, first.status)
		}
	}
	// A remembered URL with a body is validated in full.
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET with a body on a remembered URL: %s, want 400", resp.Status)
	}
}
