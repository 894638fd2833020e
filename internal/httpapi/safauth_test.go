package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/authz/safauth"
	"github.com/nmigw/nmigw/internal/authz/safauth/safauthtest"
	"github.com/nmigw/nmigw/internal/policy"
)

// safAuthorizer returns an authorizer for the tables: a saf-auth client
// of an in-process endpoint that speaks ZSS's REST shape and decides with
// the policy model of the store, as RACF holding the same profiles would.
func safAuthorizer(t *testing.T, endpoint **safauthtest.Server) func(*policy.Store) authz.Authorizer {
	return func(store *policy.Store) authz.Authorizer {
		srv := &safauthtest.Server{Username: "NMIGWSV", Password: "pw", Decide: safauthtest.ModelDecider(func() *authz.Model {
			m, err := store.Current().Authorizer()
			if err != nil {
				t.Error(err)
			}
			return m
		})}
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		c, err := safauth.New(safauth.Config{URL: ts.URL + "/saf-auth", System: "SYS1", Username: "NMIGWSV", Password: "pw",
			CacheTTL: safauth.DefaultCacheTTL, DenialTTL: safauth.DefaultCacheTTL})
		if err != nil {
			t.Fatal(err)
		}
		if endpoint != nil {
			*endpoint = srv
		}
		return c
	}
}

// The route x role table and whoami, with RACF (through saf-auth)
// deciding: the same answers as the policy model, but 403s name no
// profile (saf-auth answers only yes or no).
func TestAuthzTablesSAFEndpoint(t *testing.T) {
	var srv *safauthtest.Server
	authzTable(t, safAuthorizer(t, &srv), false)
	if len(srv.Checks()) == 0 {
		t.Fatal("the endpoint was never asked")
	}
	for _, c := range srv.Checks() {
		if c.Class != "SERVAUTH" || c.Access != authz.AccessRead || !strings.HasPrefix(c.Entity, "EZB.NETMGMT.SYS1.") {
			t.Errorf("check %+v", c)
		}
	}
	whoAmITable(t, safAuthorizer(t, nil))
}

// An endpoint that cannot decide fails closed, through the whole handler:
// 503 with Retry-After and the authorization-unavailable problem, on a
// display route, a control route, whoami and the stack list; never a
// grant, never a 403.
func TestSAFEndpointFailsClosed(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	answer := func(status int, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
	}
	for _, c := range []struct {
		name    string
		handler http.Handler // nil: down
	}{
		{"endpoint down", nil},
		{"error answer", answer(200, `{"error": true, "message": "ZIS unavailable"}`)},
		{"malformed answer", answer(200, `{"authorized": "yes"}`)},
		{"500", answer(500, `{"authorized": true}`)},
		{"slow answer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := downURL
			if c.handler != nil {
				ts := httptest.NewServer(c.handler)
				t.Cleanup(ts.Close)
				base = ts.URL
			}
			f := newAuthzFixtureWith(t, func(*policy.Store) authz.Authorizer {
				cl, err := safauth.New(safauth.Config{URL: base + "/saf-auth", System: "SYS1", Timeout: 100 * time.Millisecond,
					CacheTTL: time.Minute, DenialTTL: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				return cl
			})
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, "/v1/stacks/TCPIP/summary"},
				{http.MethodPost, "/v1/stacks/TCPIP/ike/tunnels/K1:refresh"},
				{http.MethodGet, "/v1/whoami"},
				{http.MethodGet, "/v1/stacks"},
			} {
				var resp *http.Response
				var b []byte
				if r.method == http.MethodGet {
					resp, b = f.s.get(r.path, roleOperator.header()...)
				} else {
					resp, b = f.s.post(r.path, "", roleOperator.header()...)
				}
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("%s %s: %d, Retry-After %q: %s", r.method, r.path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
				}
				if p := decodeObject(t, b); p["type"] != "urn:nmigw:problem:authorization-unavailable" {
					t.Errorf("%s %s: %v", r.method, r.path, p)
				}
			}
			recs := f.sink.records()
			if len(recs) != 1 || recs[0].Outcome != "undecided" || recs[0].Allowed {
				t.Errorf("audit records %+v", recs)
			}
		})
	}
}
