package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/coalesce"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// coalescedServer is the gateway with the authorization policy of the
// authorization tests over a coalesce.Reader over the display simulator.
func coalescedServer(t *testing.T, cfg coalesce.Config) (*server, *simNMI, *coalesce.Reader) {
	t.Helper()
	return coalescedServerN(t, cfg, 0)
}

// coalescedServerN is coalescedServer with n more policy filter rules.
func coalescedServerN(t *testing.T, cfg coalesce.Config, n int) (*server, *simNMI, *coalesce.Reader) {
	t.Helper()
	sim := newDisplaySim(t, n)
	r := coalesce.New(sim, cfg)
	store := policy.NewStaticStore(authzPolicy(t))
	an := authn.New(authn.Options{Policy: store.Current,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *authn.Error) {
			httpapi.WriteAuthProblem(w, r, e.Status, e.Detail)
		}})
	s := newServer(t, r, func(d *httpapi.Deps) {
		d.Authenticate = an.Middleware
		d.Authorizer = store
		d.AuthMethod = authn.MethodName
		d.Audit = &memSink{}
		d.RequestTimeout = 5 * time.Minute // a 100,000-rule list to several callers under the race detector
	})
	return s, sim, r
}

// waitUntil polls cond until it holds (the test's deadline bounds it).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type answer struct {
	status int
	body   []byte
	err    error
}

// fetch is a GET from any goroutine.
func fetch(s *server, path string, hdr ...string) answer {
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		return answer{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, err: err}
}

// TestCoalescedCallersKeepTheirRights: callers whose requests share one
// NMI exchange are each authorized on their own: a caller without DISPLAY
// on the stack gets 403 while the others get the list.
func TestCoalescedCallersKeepTheirRights(t *testing.T) {
	s, sim, _ := coalescedServer(t, coalesce.Config{})
	const path = "/v1/stacks/TCPIP/tunnels/dynamic"
	direct := fetch(s, path, roleViewer.header()...)
	if direct.err != nil || direct.status != http.StatusOK {
		t.Fatalf("first read: %d %v: %s", direct.status, direct.err, direct.body)
	}
	base := sim.srv.Requests(nmi.GetIPTunDynStack)
	sim.faults.Set(nmi.GetIPTunDynStack, ikedsim.Fault{Delay: 2 * time.Second, Times: 1})

	roles := []role{roleViewer, roleOperator, roleOtherOper, roleViewer}
	joins0 := httpapi.ViewJoins()
	got := make([]answer, len(roles))
	var wg sync.WaitGroup
	get := func(i int) {
		defer wg.Done()
		got[i] = fetch(s, path, roles[i].header()...)
	}
	wg.Add(1)
	go get(0)
	waitUntil(t, "the first request at IKED", func() bool { return sim.srv.Requests(nmi.GetIPTunDynStack) == base+1 })
	for i := 1; i < len(roles); i++ {
		wg.Add(1)
		go get(i)
	}
	// Two callers with DISPLAY join the first one's rendering; the
	// third is refused before.
	waitUntil(t, "the callers to join", func() bool { return httpapi.ViewJoins()-joins0 == 2 })
	wg.Wait()
	for i, a := range got {
		want := http.StatusOK
		if roles[i] == roleOtherOper {
			want = http.StatusForbidden
		}
		if a.err != nil || a.status != want {
			t.Errorf("%v: %d %v, want %d: %.200s", roles[i], a.status, a.err, want, a.body)
			continue
		}
		if want == http.StatusOK && !bytes.Equal(a.body, direct.body) {
			t.Errorf("%v: a different list:\n%s\nwant\n%s", roles[i], a.body, direct.body)
		}
	}
	if d := sim.srv.Requests(nmi.GetIPTunDynStack) - base; d != 1 {
		t.Errorf("IKED saw %d requests for 3 permitted callers, want 1", d)
	}
}

// TestAnswerNeverPredatesRequest: the simulator's state changes just
// before a request; the answer shows the change, though an identical
// request was answered a moment before.
func TestAnswerNeverPredatesRequest(t *testing.T) {
	s, sim, _ := coalescedServer(t, coalesce.Config{})
	const path = "/v1/stacks/TCPIP/tunnels/dynamic"
	before, _ := s.getJSON(path, http.StatusOK, roleViewer.header()...)
	if len(items(t, before)) == 0 {
		t.Fatal("no dynamic tunnels to start with")
	}
	if !sim.srv.Model().RestartStack("TCPIP") {
		t.Fatal("restart")
	}
	after, _ := s.getJSON(path, http.StatusOK, roleViewer.header()...)
	if n := len(items(t, after)); n == len(items(t, before)) {
		t.Errorf("after the stack's restart the list still has %d tunnels", n)
	}
}

// TestMaxStaleness: with --max-staleness a read reuses a recent answer and
// says how old it is (Age); Cache-Control: no-cache and a control action
// through the gateway each force a fresh exchange, counted by IKED.
func TestMaxStaleness(t *testing.T) {
	s, sim, _ := coalescedServer(t, coalesce.Config{MaxStaleness: time.Hour})
	const path = "/v1/stacks/TCPIP/tunnels/manual"
	exchanges := func() uint64 { return sim.srv.Requests(nmi.GetIPTunManual) }
	_, resp := s.getJSON(path, http.StatusOK, roleOperator.header()...)
	if resp.Header.Get("Age") != "" {
		t.Errorf("a fresh answer carries Age %q", resp.Header.Get("Age"))
	}
	n := exchanges()
	_, resp = s.getJSON(path, http.StatusOK, roleOperator.header()...)
	if age, err := strconv.Atoi(resp.Header.Get("Age")); err != nil || age < 0 {
		t.Errorf("a reused answer: Age %q", resp.Header.Get("Age"))
	}
	if exchanges() != n {
		t.Errorf("IKED saw %d more requests for a reused answer, want 0", exchanges()-n)
	}
	_, resp = s.getJSON(path, http.StatusOK, append(roleOperator.header(), "Cache-Control", "no-cache")...)
	if exchanges() != n+1 {
		t.Errorf("no-cache: IKED saw %d more requests, want 1", exchanges()-n)
	}
	if resp.Header.Get("Age") != "" {
		t.Errorf("a no-cache answer carries Age %q", resp.Header.Get("Age"))
	}
	// A control action on the stack: the next read asks IKED again and
	// shows what the action did.
	resp2, b := s.post("/v1/stacks/TCPIP/tunnels/manual:deactivate", `{"all": true}`, roleOperator.header()...)
	if resp2.StatusCode >= 300 {
		t.Fatalf("deactivate: %d %s", resp2.StatusCode, b)
	}
	n = exchanges()
	_, resp = s.getJSON(path, http.StatusOK, roleOperator.header()...)
	if exchanges() != n+1 || resp.Header.Get("Age") != "" {
		t.Errorf("after a control action: IKED saw %d more requests (want 1), Age %q", exchanges()-n, resp.Header.Get("Age"))
	}
}
