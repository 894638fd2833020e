package safauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/authz/safauth/safauthtest"
)

// clock is a settable time for the cache tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The test endpoint grants READ to OPER1 and #OPS$ on everything of
// stack TCPIP, and nothing else.
func testEndpoint(t *testing.T) (*safauthtest.Server, *httptest.Server) {
	t.Helper()
	s := &safauthtest.Server{Username: "NMIGWSV", Password: "secret-pw", Decide: func(user, entity string, a authz.Access) bool {
		return (user == "OPER1" || user == "#OPS$") && strings.HasPrefix(entity, "EZB.NETMGMT.SYS1.TCPIP.") && a == authz.AccessRead
	}}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func newClient(t *testing.T, base string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{URL: base + "/saf-auth", System: "sys1", Username: "NMIGWSV", Password: "secret-pw",
		CacheTTL: DefaultCacheTTL, DenialTTL: 20 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	tcpipD = authz.Resource("SYS1", "TCPIP", authz.Display)
	tcpipC = authz.Resource("SYS1", "TCPIP", authz.Control)
	otherD = authz.Resource("SYS1", "TCPIP2", authz.Display)
)

// A grant, a denial and a batch, each asked as GET
// <base>/<USERID>/SERVAUTH/<resource>/READ with the Basic credentials.
func TestAuthorize(t *testing.T) {
	s, ts := testEndpoint(t)
	c := newClient(t, ts.URL, nil)
	ctx := t.Context()
	d, err := c.Authorize(ctx, authz.Principal{User: "oper1", Groups: []string{"IGNORED"}}, tcpipD)
	if err != nil || !d.Allowed || d.Resource != tcpipD || d.Profile != "" || d.Reason != "RACF via saf-auth: authorized" {
		t.Errorf("grant: %+v, %v", d, err)
	}
	d, err = c.Authorize(ctx, authz.Principal{User: "VIEWER1"}, tcpipC)
	if err != nil || d.Allowed || !strings.HasPrefix(d.Reason, "RACF via saf-auth: not authorized (Permission denied; user='VIEWER1'") {
		t.Errorf("denial: %+v, %v", d, err)
	}
	ds, err := c.AuthorizeBatch(ctx, authz.Principal{User: "OPER1"}, []string{tcpipD, tcpipC, otherD, "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.CONTROL"})
	if err != nil || len(ds) != 4 || !ds[0].Allowed || !ds[1].Allowed || ds[2].Allowed || ds[3].Allowed ||
		ds[2].Resource != otherD {
		t.Errorf("batch: %+v, %v", ds, err)
	}
	want := []safauthtest.Check{
		{User: "OPER1", Class: "SERVAUTH", Entity: tcpipD, Access: authz.AccessRead},
		{User: "VIEWER1", Class: "SERVAUTH", Entity: tcpipC, Access: authz.AccessRead},
	}
	got := s.Checks()
	if len(got) != 5 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("checks %+v", got) // the batch's first resource came from the cache
	}
	if c.Resource("", "TCPIP", authz.Control) != tcpipC {
		t.Errorf("Resource: %s", c.Resource("", "TCPIP", authz.Control))
	}
}

// Names are escaped as path segments: # would otherwise end the path.
func TestURLEscapesNames(t *testing.T) {
	s, ts := testEndpoint(t)
	c := newClient(t, ts.URL+"/zss/api/v1", nil)
	res := authz.Resource("SYS1", "TCP#1", authz.Display)
	if u := c.URL("#OPS$", res); u != ts.URL+"/zss/api/v1/saf-auth/%23OPS$/SERVAUTH/EZB.NETMGMT.SYS1.TCP%231.IPSEC.DISPLAY/READ" {
		t.Errorf("URL %s", u)
	}
	if _, err := c.Authorize(t.Context(), authz.Principal{User: "#ops$"}, res); err != nil {
		t.Fatal(err)
	}
	if got := s.Checks(); len(got) != 1 || got[0].User != "#OPS$" || got[0].Entity != res {
		t.Errorf("checks %+v", got)
	}
}

// A user ID RACF cannot hold never reaches the endpoint: it is denied
// here. So is a resource name that is not valid.
func TestBadUserIDsNeverReachEndpoint(t *testing.T) {
	s, ts := testEndpoint(t)
	c := newClient(t, ts.URL, nil)
	for _, u := range []string{"", "1OPER", "TOOLONGID", "OP/ER", "OP ER", "OP%2FER", "..", "OPER1/SERVAUTH", "ÖPER", "OP\x00", "OPER-1", "*"} {
		for _, batch := range []bool{false, true} {
			var d authz.Decision
			var err error
			if batch {
				var ds []authz.Decision
				ds, err = c.AuthorizeBatch(t.Context(), authz.Principal{User: u}, []string{tcpipD})
				if len(ds) == 1 {
					d = ds[0]
				}
			} else {
				d, err = c.Authorize(t.Context(), authz.Principal{User: u}, tcpipD)
			}
			if err != nil || d.Allowed || d.Reason != authz.ReasonBadUser {
				t.Errorf("user %q (batch %v): %+v, %v", u, batch, d, err)
			}
		}
	}
	for _, r := range []string{"EZB..X", "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", "EZB/X", ""} {
		d, err := c.Authorize(t.Context(), authz.Principal{User: "OPER1"}, r)
		if err != nil || d.Allowed || d.Reason != authz.ReasonBadResource {
			t.Errorf("resource %q: %+v, %v", r, d, err)
		}
	}
	if got := s.Checks(); len(got) != 0 {
		t.Errorf("the endpoint was asked %+v", got)
	}
	if _, ok := UserID("@1"); !ok {
		t.Error("@1 is a valid RACF user ID")
	}
}

// Every failure is an error, never a decision: the endpoint down, an
// error answer, a malformed answer, an answer too long, a status other
// than 200 (a server error, the service credentials refused, a
// redirect), an answer slower than the timeout.
func TestFailsClosed(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		mod     func(*Config)
		want    error // nil: any error
		detail  string
	}{
		{"down", nil, nil, nil, "connect"},
		{"error answer", answer(200, `{"error": true, "message": "ZIS unavailable"}`), nil, ErrEndpoint, "ZIS unavailable"},
		{"malformed", answer(200, `{"authorised": true}`), nil, ErrMalformed, ""},
		{"not JSON", answer(200, `<html>OK</html>`), nil, ErrMalformed, ""},
		{"too long", answer(200, `{"authorized": true, "x": "`+strings.Repeat("x", MaxAnswerSize)+`"}`), nil, ErrMalformed, "longer than"},
		{"500", answer(500, `{"authorized": true}`), nil, nil, "HTTP status 500"},
		{"401", answer(401, `{"authorized": true}`), nil, nil, "HTTP status 401"},
		{"201", answer(201, `{"authorized": true}`), nil, nil, "HTTP status 201"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.example/grant", http.StatusFound)
		}, nil, nil, "HTTP status 302"},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, func(c *Config) { c.Timeout = 50 * time.Millisecond }, nil, "Timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := downURL
			if c.handler != nil {
				ts := httptest.NewServer(c.handler)
				t.Cleanup(ts.Close)
				base = ts.URL
			}
			cl := newClient(t, base, c.mod)
			d, err := cl.Authorize(t.Context(), authz.Principal{User: "OPER1"}, tcpipD)
			if err == nil || d.Allowed || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("%+v, %v", d, err)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("the error holds the password: %v", err)
			}
			ds, err := cl.AuthorizeBatch(t.Context(), authz.Principal{User: "OPER1"}, []string{tcpipD, tcpipC})
			if err == nil || ds != nil {
				t.Errorf("batch: %+v, %v", ds, err)
			}
			// Failures are not cached: the next lookup asks again.
			if _, err := cl.Authorize(t.Context(), authz.Principal{User: "OPER1"}, tcpipD); err == nil {
				t.Error("the second lookup decided")
			}
		})
	}
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// Without the service's credentials the endpoint answers 401: an error.
func TestWrongCredentials(t *testing.T) {
	_, ts := testEndpoint(t)
	c := newClient(t, ts.URL, func(c *Config) { c.Password = "wrong" })
	if _, err := c.Authorize(t.Context(), authz.Principal{User: "OPER1"}, tcpipD); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("%v", err)
	}
	// A token goes as the apimlAuthenticationToken cookie.
	s := &safauthtest.Server{Token: "jwt.of.service", Decide: func(string, string, authz.Access) bool { return true }}
	ts2 := httptest.NewServer(s)
	t.Cleanup(ts2.Close)
	c = newClient(t, ts2.URL, func(c *Config) { c.Username, c.Token = "", "jwt.of.service" })
	if d, err := c.Authorize(t.Context(), authz.Principal{User: "OPER1"}, tcpipD); err != nil || !d.Allowed {
		t.Errorf("%+v, %v", d, err)
	}
}

// Grants are cached for CacheTTL, denials for DenialTTL (no longer), per
// user and resource; Clear empties the cache.
func TestCache(t *testing.T) {
	s, ts := testEndpoint(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newClient(t, ts.URL, func(c *Config) { c.Now = clk.now; c.CacheTTL = 60 * time.Second; c.DenialTTL = 20 * time.Second })
	oper, viewer := authz.Principal{User: "OPER1"}, authz.Principal{User: "VIEWER1"}
	ask := func(p authz.Principal, res string, want bool) {
		t.Helper()
		d, err := c.Authorize(t.Context(), p, res)
		if err != nil || d.Allowed != want {
			t.Fatalf("%s %s: %+v, %v", p.User, res, d, err)
		}
	}
	asked := func(want int) {
		t.Helper()
		if n := len(s.Checks()); n != want {
			t.Fatalf("%d requests, want %d", n, want)
		}
	}
	ask(oper, tcpipD, true)
	ask(viewer, tcpipD, false)
	asked(2)
	ask(oper, tcpipD, true)
	ask(viewer, tcpipD, false)
	ask(oper, tcpipC, true) // another resource: asked
	ask(viewer, tcpipC, false)
	asked(4)
	clk.add(20 * time.Second) // the denials expire, the grants stay
	ask(oper, tcpipD, true)
	ask(viewer, tcpipD, false)
	asked(5)
	clk.add(40 * time.Second) // the grants expire
	ask(oper, tcpipD, true)
	asked(6)
	ask(oper, tcpipD, true)
	asked(6)
	c.Clear()
	ask(oper, tcpipD, true)
	ask(viewer, tcpipD, false)
	asked(8)

	// No cache at all.
	s.Reset()
	c = newClient(t, ts.URL, func(c *Config) { c.CacheTTL, c.DenialTTL = 0, 0 })
	ask(oper, tcpipD, true)
	ask(oper, tcpipD, true)
	asked(2)
}

// Concurrent identical lookups share one request; a batch asks about its
// resources at the same time, at most MaxConcurrent at once.
func TestSharedAndConcurrentLookups(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, requests := 0, 0, 0
	release := make(chan struct{})
	entered := make(chan struct{}, 100)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		requests++
		most = max(most, inFlight)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		answer(200, `{"authorized": true}`)(w, r)
	}))
	t.Cleanup(ts.Close)

	const n = 10
	c := newClient(t, ts.URL, func(c *Config) { c.CacheTTL, c.DenialTTL = 0, 0; c.MaxConcurrent = 3 })
	waiting := make(chan struct{}, 100)
	c.onWait = func() { waiting <- struct{}{} }
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.Authorize(context.Background(), authz.Principal{User: "OPER1"}, tcpipD)
			if err == nil && !d.Allowed {
				err = errors.New("denied")
			}
			errs <- err
		}()
	}
	for range n {
		<-waiting // every caller waits for a lookup
	}
	<-entered
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if requests != 1 {
		t.Errorf("%d requests for %d identical lookups", requests, n)
	}

	// A batch of 7 resources: 3 at a time, all of them asked.
	release = make(chan struct{})
	mu.Lock()
	requests, most = 0, 0
	mu.Unlock()
	res := make([]string, 7)
	for i := range res {
		res[i] = authz.Resource("SYS1", "TCPIP"+string(rune('A'+i)), authz.Display)
	}
	done := make(chan error, 1)
	go func() {
		ds, err := c.AuthorizeBatch(context.Background(), authz.Principal{User: "OPER1"}, res)
		if err == nil && len(ds) != len(res) {
			err = errors.New("short")
		}
		done <- err
	}()
	for range 3 {
		<-entered // three requests in flight at once
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for len(entered) > 0 {
		<-entered
	}
	if requests != 7 || most != 3 {
		t.Errorf("%d requests, at most %d at once", requests, most)
	}
}

// A caller's context ends its wait, not the shared lookup, which goes on
// and fills the cache.
func TestCallerContext(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		if requests.Add(1) > 1 {
			answer(500, "")(w, r)
			return
		}
		answer(200, `{"authorized": true}`)(w, r)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, ts.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Authorize(ctx, authz.Principal{User: "OPER1"}, tcpipD); !errors.Is(err, context.Canceled) {
		t.Errorf("%v", err)
	}
	close(release)
	// Still in flight (this call joins it) or done (its answer cached):
	// either way the first lookup's grant, not the 500 of a new request.
	if d, err := c.Authorize(t.Context(), authz.Principal{User: "OPER1"}, tcpipD); err != nil || !d.Allowed {
		t.Errorf("%+v, %v", d, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{URL: "ftp://h/saf-auth", System: "SYS1"},
		{URL: "https:///saf-auth", System: "SYS1"},
		{URL: "https://u:p@h/saf-auth", System: "SYS1"},
		{URL: "https://h/saf-auth?x=1", System: "SYS1"},
		{URL: "https://h/saf-auth", System: "SYS.1"},
		{URL: "https://h/saf-auth", System: "SYS1", Timeout: -1},
		{URL: "https://h/saf-auth", System: "SYS1", Timeout: 2 * MaxTimeout},
		{URL: "https://h/saf-auth", System: "SYS1", CacheTTL: MaxCacheTTL + 1},
		{URL: "https://h/saf-auth", System: "SYS1", CacheTTL: time.Second, DenialTTL: 2 * time.Second},
		{URL: "https://h/saf-auth", System: "SYS1", MaxConcurrent: MaxConcurrentLimit + 1},
		{URL: "https://h/saf-auth", System: "SYS1", Username: "a:b"},
		{URL: "https://h/saf-auth", System: "SYS1", Token: "a;b"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
