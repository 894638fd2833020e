package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// open starts GET path as an event stream (headers as name, value pairs).
// A 200 answer comes back open, checked against the API document; any
// other answer with its body. The stream is cut after 30 seconds at most,
// so that a missing event fails the test instead of hanging it.
func (s *server) open(path string, hdr ...string) (*http.Response, *contract.Stream, []byte) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(30*time.Second, cancel)
	s.t.Cleanup(func() { stop.Stop(); cancel() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, st, body, err := validator(s.t).Open(s.srv.Client(), req)
	if err != nil {
		s.t.Fatal(err)
	}
	if st != nil {
		s.t.Cleanup(func() { st.Close() })
	}
	return resp, st, body
}

// eventServer is the handler over the simulator, its clock standing
// still (the tests move it), polling every few milliseconds, without
// heartbeats unless asked. One exchange has opened the pool's connection,
// so that goroutine counts taken now hold.
func eventServer(t *testing.T, mod ...func(*httpapi.EventOptions)) (*server, *simNMI, chan struct{}) {
	t.Helper()
	sim := newSim(t)
	sim.setStep(0)
	done := make(chan struct{})
	s := newServer(t, sim, func(d *httpapi.Deps) {
		d.Events = httpapi.EventOptions{Interval: 2 * time.Millisecond, MinInterval: time.Millisecond,
			Heartbeat: time.Hour, History: 4, Done: done}
		for _, m := range mod {
			m(&d.Events)
		}
	})
	s.getJSON("/v1/stacks/TCPIP", http.StatusOK)
	return s, sim, done
}

// control carries out a control request on the simulator's TCPIP, as an
// operator at the console would: not through the gateway.
func (s *simNMI) control(t *testing.T, typ nmi.MsgType, name, id string) {
	t.Helper()
	s.controlOn(t, "TCPIP", typ, name, id)
}

// controlOn is control on stack.
func (s *simNMI) controlOn(t *testing.T, stack string, typ nmi.MsgType, name, id string) {
	t.Helper()
	out, ok := s.srv.Model().Control(stack, typ, []ikedsim.ControlRecord{{Name: name, TunnelID: id}})
	if !ok || len(out) != 1 || out[0].Status != nmi.TunStatusStateUpdated {
		t.Fatalf("%s %s%s: %+v", typ, name, id, out)
	}
}

// stream opens the events of TCPIP, expecting 200.
func stream(t *testing.T, s *server, hdr ...string) *contract.Stream {
	t.Helper()
	resp, st, body := s.open("/v1/stacks/TCPIP/events", hdr...)
	if st == nil {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return st
}

// first reads the block that starts a fresh subscription: an ID alone.
func first(t *testing.T, st *contract.Stream) string {
	t.Helper()
	ev, err := st.Next()
	if err != nil || ev.Name != "" || !ev.HasID || ev.ID == "" {
		t.Fatalf("first block %+v, %v; want an ID alone", ev, err)
	}
	return ev.ID
}

// expect reads the next event and checks its name and data members.
func expect(t *testing.T, st *contract.Stream, name string, want map[string]any) contract.Event {
	t.Helper()
	ev, err := st.NextEvent()
	if err != nil {
		t.Fatalf("waiting for %s: %v", name, err)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
		t.Fatal(err)
	}
	if ev.Name != name {
		t.Fatalf("event %s %s, want %s", ev.Name, ev.Data, name)
	}
	for k, v := range want {
		if v == nil {
			if _, ok := data[k]; ok {
				t.Errorf("%s: has %s: %s", name, k, ev.Data)
			}
		} else if data[k] != v {
			t.Errorf("%s: %s = %v, want %v: %s", name, k, data[k], v, ev.Data)
		}
	}
	return ev
}

func num(n int) float64 { return float64(n) }

// Each change between polls makes one event, with growing IDs; traffic
// counters (which change as the clock moves) make none. The demo's TCPIP
// changes as IKED would: deactivations, an activation through pending and
// negotiating, a refresh, a filter set switch.
func TestEventsDiff(t *testing.T) {
	s, sim, _ := eventServer(t)
	st := stream(t, s)
	last := first(t, st)
	steps := []struct {
		change func()
		name   string
		want   map[string]any
	}{
		{func() { sim.control(t, nmi.DeactDynTun, "", "Y2") }, "tunnel.removed",
			map[string]any{"stack": "TCPIP", "kind": "dynamic", "tunnelId": "Y2", "generation": nil, "oldState": "active", "newState": nil}},
		{func() { sim.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "") }, "tunnel.added",
			map[string]any{"kind": "dynamic", "tunnelId": "Y7", "generation": num(1), "newState": "pending", "oldState": nil}},
		{func() { sim.clock.Advance(simTiming.Pending) }, "tunnel.changed",
			map[string]any{"kind": "dynamic", "tunnelId": "Y7", "generation": num(1), "oldGeneration": nil, "oldState": "pending", "newState": "negotiating"}},
		{func() { sim.control(t, nmi.RefreshDynTun, "", "Y1") }, "tunnel.changed",
			map[string]any{"kind": "dynamic", "tunnelId": "Y1", "generation": num(3), "oldGeneration": num(2), "oldState": "active", "newState": "active"}},
		{func() { sim.control(t, nmi.DeactIKETun, "", "K2") }, "tunnel.changed",
			map[string]any{"kind": "ike", "tunnelId": "K2", "generation": num(1), "oldGeneration": nil, "oldState": "active", "newState": "expired"}},
		{func() { sim.control(t, nmi.ActManTun, "MANUAL-LEGACY", "") }, "tunnel.changed",
			map[string]any{"kind": "manual", "tunnelId": "M2", "generation": nil, "oldState": "inactive", "newState": "active"}},
		{func() {
			if !sim.srv.Model().LoadPolicy("TCPIP", ikedsim.FilterSetDefault) {
				t.Fatal("LoadPolicy")
			}
			sim.clock.Advance(simTiming.Switch)
		}, "stack.filterSetChanged",
			map[string]any{"stack": "TCPIP", "oldFilterSet": "policy", "newFilterSet": "default"}},
	}
	seen := map[string]bool{last: true}
	for _, c := range steps {
		c.change()
		ev := expect(t, st, c.name, c.want)
		if !ev.HasID || seen[ev.ID] {
			t.Errorf("%s: ID %q, want a new one", c.name, ev.ID)
		}
		seen[ev.ID] = true
	}
}

// Last-Event-ID: a replay while the ring holds the events, a reset when
// it does not (or the ID is not the gateway's), and a resumption after
// every subscriber had left.
func TestEventsResume(t *testing.T) {
	s, sim, _ := eventServer(t) // History 4
	n0 := runtime.NumGoroutine()
	a := stream(t, s)
	first(t, a)
	var ids []string
	change := func(typ nmi.MsgType, name, id string) string {
		sim.control(t, typ, name, id)
		ev, err := a.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
		return ev.ID
	}
	change(nmi.DeactDynTun, "", "Y2")
	change(nmi.ActDynTun, "BRANCH1-DB-VPN", "")

	b := stream(t, s, "Last-Event-ID", ids[0])
	ev := expect(t, b, "tunnel.added", map[string]any{"tunnelId": "Y7"})
	if ev.ID != ids[1] {
		t.Errorf("replayed ID %s, want %s", ev.ID, ids[1])
	}
	b.Close()

	for range 6 { // more changes than the ring holds
		change(nmi.RefreshDynTun, "", "Y1")
	}
	c := stream(t, s, "Last-Event-ID", ids[0])
	ev = expect(t, c, "reset", map[string]any{"stack": "TCPIP"})
	if ev.ID != ids[len(ids)-1] {
		t.Errorf("reset ID %s, want the newest %s", ev.ID, ids[len(ids)-1])
	}
	c.Close()
	for _, bad := range []string{"garbage", "1", strconv.FormatUint(1<<63, 10)} {
		d := stream(t, s, "Last-Event-ID", bad)
		expect(t, d, "reset", nil)
		d.Close()
	}

	// Everybody leaves; the stack changes; a client resumes: the restarted
	// poller reports the change since.
	a.Close()
	settle(t, n0) // the poller has stopped
	sim.control(t, nmi.DeactIKETun, "", "K2")
	e := stream(t, s, "Last-Event-ID", ids[len(ids)-1])
	expect(t, e, "tunnel.changed", map[string]any{"tunnelId": "K2", "oldState": "active", "newState": "expired"})
}

// Each stack numbers its own events: IDs of one stack do not count the
// events of another (the number in an ID grows by one per event of its
// stack), an ID of another stack or a forged one resumes nothing (reset),
// and an ID of the stack resumes it.
func TestEventIDsPerStack(t *testing.T) {
	s, sim, _ := eventServer(t)
	a := stream(t, s)
	first(t, a)
	resp, b, body := s.open("/v1/stacks/TCPIPB/events")
	if b == nil {
		t.Fatalf("TCPIPB events: %d %s", resp.StatusCode, body)
	}
	first(t, b)
	number := func(ev contract.Event) uint64 {
		t.Helper()
		raw, err := base64.RawURLEncoding.DecodeString(ev.ID)
		if err != nil || len(raw) < 8 {
			t.Fatalf("ID %q: not the gateway's opaque form (%v)", ev.ID, err)
		}
		return binary.BigEndian.Uint64(raw)
	}
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	e1 := expect(t, a, "tunnel.removed", map[string]any{"tunnelId": "Y2"})
	var other contract.Event
	for range 3 {
		sim.controlOn(t, "TCPIPB", nmi.RefreshDynTun, "", "Y1")
		other = expect(t, b, "tunnel.changed", map[string]any{"stack": "TCPIPB", "tunnelId": "Y1"})
	}
	sim.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	e2 := expect(t, a, "tunnel.added", map[string]any{"tunnelId": "Y7"})
	if n1, n2 := number(e1), number(e2); n2 != n1+1 {
		t.Errorf("TCPIP's events numbered %d then %d: the IDs count TCPIPB's events", n1, n2)
	}

	c := stream(t, s, "Last-Event-ID", other.ID)
	expect(t, c, "reset", map[string]any{"stack": "TCPIP"})
	c.Close()
	raw, _ := base64.RawURLEncoding.DecodeString(e1.ID)
	raw[len(raw)-1] ^= 1
	d := stream(t, s, "Last-Event-ID", base64.RawURLEncoding.EncodeToString(raw))
	expect(t, d, "reset", map[string]any{"stack": "TCPIP"})
	d.Close()
	e := stream(t, s, "Last-Event-ID", e1.ID)
	if ev := expect(t, e, "tunnel.added", map[string]any{"tunnelId": "Y7"}); ev.ID != e2.ID {
		t.Errorf("resumed with ID %s, want %s", ev.ID, e2.ID)
	}
}

// A failed poll is an error event (problem+json, no ID) and the stream
// goes on; an unknown stack is 404 before any stream; a bad interval 400.
func TestEventsErrors(t *testing.T) {
	s, sim, _ := eventServer(t)
	a := stream(t, s)
	first(t, a)
	sim.setErr(&nmi.OpError{Op: "dial", Addr: "/x", Err: errors.New("connection refused")})
	ev := expect(t, a, "error", map[string]any{"status": num(503), "type": "urn:nmigw:problem:nmi-unavailable"})
	if ev.HasID {
		t.Errorf("error event with an ID: %+v", ev)
	}
	// A new subscriber during the failure gets the stream and the error.
	b := stream(t, s, "X-Request-ID", "ev-during-failure")
	expect(t, b, "error", map[string]any{"status": num(503)})
	sim.setErr(nil)
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	// Every failed poll until then was an error event of its own; the
	// first good poll says so, without an ID, before the changes it saw.
	for _, st := range []*contract.Stream{a, b} {
		for {
			ev, err := st.NextEvent()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Name == "error" {
				continue
			}
			if ev.Name != "recovered" || ev.HasID || !strings.Contains(ev.Data, `"stack":"TCPIP"`) {
				t.Errorf("first after the failure: %+v, want recovered without an ID", ev)
			}
			break
		}
		if ev := expect(t, st, "tunnel.removed", map[string]any{"tunnelId": "Y2"}); !ev.HasID {
			t.Errorf("tunnel.removed without an ID: %+v", ev)
		}
	}
	// A subscriber after the recovery is not told of it.
	c := stream(t, s)
	first(t, c)
	sim.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	expect(t, c, "tunnel.added", map[string]any{"tunnelId": "Y7"})

	resp, st, body := s.open("/v1/stacks/NOPE/events")
	if st != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown stack: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"interval=fast", "interval=-1s", "interval=5h"} {
		resp, _, body := s.open("/v1/stacks/TCPIP/events?" + q)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	// Intervals out of range are clamped, not refused.
	for _, q := range []string{"interval=0ms", "interval=99999m", "interval=1.5s"} {
		if resp, st, body := s.open("/v1/stacks/TCPIP/events?" + q); st == nil {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		} else {
			st.Close()
		}
	}
}

// settle waits until at most n goroutines run (pollers, handlers and
// connections have ended), and fails with a dump after 10 seconds.
func settle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Subscribers of a stack share one poller (the same event has the same
// ID everywhere); streams end on disconnect and on shutdown (EOF, no
// error), and every goroutine they started ends.
func TestEventsEndWithoutLeaks(t *testing.T) {
	s, sim, done := eventServer(t)
	n0 := runtime.NumGoroutine()
	var sts []*contract.Stream
	for range 3 {
		st := stream(t, s)
		first(t, st)
		sts = append(sts, st)
	}
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	var ids []string
	for _, st := range sts {
		ids = append(ids, expect(t, st, "tunnel.removed", map[string]any{"tunnelId": "Y2"}).ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("one change, IDs %v", ids)
	}
	sts[0].Close()
	sts[1].Close()
	sim.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	expect(t, sts[2], "tunnel.added", map[string]any{"tunnelId": "Y7"})

	close(done) // server shutdown
	for {
		ev, err := sts[2].Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream at shutdown: %v", err)
		}
		if ev.Name != "" && ev.Name != "tunnel.added" {
			t.Errorf("event %+v at shutdown", ev)
		}
	}
	sts[2].Close()
	s.srv.Client().CloseIdleConnections()
	settle(t, n0)
}

// Heartbeats, and the write deadline moved forward with each write, keep
// a stream open well past the server's ReadTimeout and WriteTimeout.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	sim := newSim(t)
	sim.setStep(0)
	h, err := httpapi.NewHandler(httpapi.Deps{NMI: sim, Authorizer: authz.AllowAll, Events: httpapi.EventOptions{
		Interval: 2 * time.Millisecond, MinInterval: time.Millisecond, Heartbeat: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	s := &server{t: t, srv: srv}
	st := stream(t, s)
	first(t, st)
	for pings := 0; pings < 20; {
		ev, err := st.Next()
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		if len(ev.Comments) == 1 && ev.Comments[0] == "ping" {
			pings++
		}
	}
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	expect(t, st, "tunnel.removed", map[string]any{"tunnelId": "Y2"})
}
