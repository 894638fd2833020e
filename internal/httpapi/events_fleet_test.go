package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// fleetSims are two IKE daemons, SYSA and SYSB, each serving the demo's
// stacks TCPIP and TCPIPB (the same stack names on two systems), over
// their own AF_UNIX sockets, their clocks standing still.
func fleetSims(t *testing.T) (simA, simB *simNMI) {
	t.Helper()
	sims := make([]*simNMI, 2)
	for i, name := range []string{"SYSA", "SYSB"} {
		ds := ikedsim.Demo()
		ds.System = name
		sims[i] = newSimData(t, ds)
		sims[i].setStep(0)
	}
	return sims[0], sims[1]
}

// fleetEventServer serves the fleet of SYSA (the default) and SYSB, plus
// the endpoints of more, polling every few milliseconds.
func fleetEventServer(t *testing.T, simA, simB *simNMI, more []fleet.Endpoint, mod ...func(*httpapi.Deps)) *server {
	t.Helper()
	eps := append([]fleet.Endpoint{
		{Name: "SYSA", Kind: fleet.IKED, NMI: simA},
		{Name: "SYSB", Kind: fleet.IKED, NMI: simB},
	}, more...)
	fl, err := fleet.New(eps, "", fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newServer(t, simA, append([]func(*httpapi.Deps){func(d *httpapi.Deps) {
		d.Fleet = fl
		d.Events = httpapi.EventOptions{Interval: 2 * time.Millisecond, MinInterval: time.Millisecond, Heartbeat: time.Hour}
	}}, mod...)...)
}

// openFleet opens path (/v1/events...), expecting 200, and reads its
// first block, an ID alone, which it returns.
func openFleet(t *testing.T, s *server, path string, hdr ...string) (*contract.Stream, string) {
	t.Helper()
	resp, st, body := s.open(path, hdr...)
	if st == nil {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	return st, first(t, st)
}

// expectOf is expect, also checking the event's system and stack.
func expectOf(t *testing.T, st *contract.Stream, name, system, stack string, want map[string]any) contract.Event {
	t.Helper()
	m := map[string]any{"system": system, "stack": stack}
	if stack == "" {
		m["stack"] = nil
	}
	for k, v := range want {
		m[k] = v
	}
	return expect(t, st, name, m)
}

// A stack name on two systems is two feeds: the default system's stream
// of TCPIP sees SYSA's changes only, the fleet stream sees both systems'
// with their system and stack, and each poller sends its exchanges to its
// own system's IKE daemon.
func TestFleetEventsSameStackOnTwoSystems(t *testing.T) {
	simA, simB := fleetSims(t)
	s := fleetEventServer(t, simA, simB, nil)
	a := stream(t, s) // /v1/stacks/TCPIP: SYSA's
	first(t, a)
	all, _ := openFleet(t, s, "/v1/events")

	simB.control(t, nmi.DeactDynTun, "", "Y2")
	expectOf(t, all, "tunnel.removed", "SYSB", "TCPIP", map[string]any{"tunnelId": "Y2"})
	simA.control(t, nmi.RefreshDynTun, "", "Y1")
	// SYSA's stream did not see SYSB's removal: its next event is SYSA's.
	expectOf(t, a, "tunnel.changed", "SYSA", "TCPIP", map[string]any{"tunnelId": "Y1"})
	expectOf(t, all, "tunnel.changed", "SYSA", "TCPIP", map[string]any{"tunnelId": "Y1"})
	simB.controlOn(t, "TCPIPB", nmi.RefreshDynTun, "", "Y1")
	expectOf(t, all, "tunnel.changed", "SYSB", "TCPIPB", map[string]any{"tunnelId": "Y1"})

	// Each daemon was asked for its own stacks' tunnels only by its own
	// pollers: SYSB's for TCPIPB too, though no stream of SYSA's TCPIPB
	// shares a feed with it.
	for _, c := range []struct {
		sim  *simNMI
		name string
	}{{simA, "SYSA"}, {simB, "SYSB"}} {
		targets := map[string]bool{}
		for _, req := range c.sim.requests() {
			if req.Type == nmi.GetIPTunDynStack {
				targets[req.Target] = true
			}
		}
		if !targets["TCPIP"] || !targets["TCPIPB"] {
			t.Errorf("%s was asked for the dynamic tunnels of %v, want TCPIP and TCPIPB", c.name, targets)
		}
	}
}

// ?system and ?stack narrow the fleet stream to exact names; an unknown
// system is 404 naming it, a malformed one 400.
func TestFleetEventsFilters(t *testing.T) {
	simA, simB := fleetSims(t)
	s := fleetEventServer(t, simA, simB, nil)
	onlyB, _ := openFleet(t, s, "/v1/events?system=sysb")
	onlyTCPIPB, _ := openFleet(t, s, "/v1/events?stack=TCPIPB")
	bTCPIP, _ := openFleet(t, s, "/v1/events?system=SYSB&stack=TCPIP")

	simA.control(t, nmi.DeactDynTun, "", "Y2")               // SYSA TCPIP: none of them
	simA.controlOn(t, "TCPIPB", nmi.RefreshDynTun, "", "Y1") // SYSA TCPIPB: onlyTCPIPB
	simB.controlOn(t, "TCPIPB", nmi.RefreshDynTun, "", "Y1") // SYSB TCPIPB: onlyB, onlyTCPIPB
	simB.control(t, nmi.DeactDynTun, "", "Y2")               // SYSB TCPIP: onlyB, bTCPIP

	// Each stream's first event is its first match: the events before
	// it were not sent. (The fleet's events are in the order the polls
	// saw them, which differs between systems: so one match per system.)
	ev := expectOf(t, bTCPIP, "tunnel.removed", "SYSB", "TCPIP", map[string]any{"tunnelId": "Y2"})
	if !ev.HasID {
		t.Errorf("no ID: %+v", ev)
	}
	got := map[string]bool{}
	for range 2 {
		ev, err := onlyTCPIPB.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &d)
		if d["stack"] != "TCPIPB" || ev.Name != "tunnel.changed" {
			t.Errorf("?stack=TCPIPB: %s %s", ev.Name, ev.Data)
		}
		got[str(d["system"])] = true
	}
	if !got["SYSA"] || !got["SYSB"] {
		t.Errorf("?stack=TCPIPB: systems %v, want SYSA and SYSB", got)
	}
	got = map[string]bool{}
	for range 2 {
		ev, err := onlyB.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &d)
		if d["system"] != "SYSB" {
			t.Errorf("?system=SYSB: %s %s", ev.Name, ev.Data)
		}
		got[str(d["stack"])] = true
	}
	if !got["TCPIP"] || !got["TCPIPB"] {
		t.Errorf("?system=SYSB: stacks %v, want TCPIP and TCPIPB", got)
	}

	resp, st, body := s.open("/v1/events?system=NOPE")
	if st != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown system: %d %s", resp.StatusCode, body)
	}
	if p := decodeObject(t, body); p["type"] != "urn:nmigw:problem:unknown-system" || str(p["detail"]) != "the gateway reaches no system NOPE" {
		t.Errorf("unknown system: %s", body)
	}
	for _, q := range []string{"system=TOOLONGNAME", "system=A.B", "stack=A-B", "interval=fast"} {
		if resp, st, body := s.open("/v1/events?" + q); st != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// A system that stops answering is a system.unreachable event (and a
// stack.error per stack, once) on the fleet stream, which goes on with
// the other system's events; when it answers again, system.reachable,
// the stacks' recovered, then what changed meanwhile. A stream opened
// during the failure starts with it.
func TestFleetEventsSystemDownAndBack(t *testing.T) {
	simA, simB := fleetSims(t)
	s := fleetEventServer(t, simA, simB, nil)
	all, _ := openFleet(t, s, "/v1/events?stack=TCPIP")

	// IKED on SYSB stops: every request is answered with TERM.
	simB.faults.Set(ikedsim.AnyRequest, ikedsim.Fault{TermClose: true})
	// Under load the systems watcher has been seen to report SYSB
	// reachable once more before it stays unreachable (why is not known
	// yet: every request is answered with TERM): system.reachable and a
	// second system.unreachable are allowed here, a second stack.error
	// is not.
	seen := map[string]bool{}
	lastSys := ""
	for lastSys != "system.unreachable" || !seen["stack.error"] {
		ev, err := all.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &d)
		flip := ev.Name == "system.reachable" || ev.Name == "system.unreachable"
		if d["system"] != "SYSB" || ev.HasID || seen[ev.Name] && !flip {
			t.Fatalf("while SYSB fails: %s %s (id %q)", ev.Name, ev.Data, ev.ID)
		}
		seen[ev.Name] = true
		if flip {
			lastSys = ev.Name
		}
		if ev.Name == "system.reachable" {
			continue
		}
		p, _ := d["problem"].(map[string]any)
		if p["status"] != num(503) {
			t.Errorf("%s: problem %v, want a 503", ev.Name, p)
		}
	}
	// SYSA goes on.
	simA.control(t, nmi.DeactDynTun, "", "Y2")
	expectOf(t, all, "tunnel.removed", "SYSA", "TCPIP", map[string]any{"tunnelId": "Y2"})

	// A stream opened now starts with the failure.
	late, _ := openFleet(t, s, "/v1/events?system=SYSB")
	expectOf(t, late, "system.unreachable", "SYSB", "", nil)
	late.Close()

	simB.control(t, nmi.DeactDynTun, "", "Y2") // while nobody can see it
	simB.faults.Clear()
	seen = map[string]bool{}
	for !seen["tunnel.removed"] {
		ev, err := all.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &d)
		switch {
		case d["system"] != "SYSB":
			t.Fatalf("after SYSB came back: %s %s", ev.Name, ev.Data)
		case ev.Name == "tunnel.removed":
			if !seen["recovered"] || d["tunnelId"] != "Y2" || !ev.HasID {
				t.Errorf("%s %s before the stack's recovery", ev.Name, ev.Data)
			}
		case ev.Name == "system.reachable" || ev.Name == "recovered":
		default:
			t.Errorf("after SYSB came back: %s %s", ev.Name, ev.Data)
		}
		seen[ev.Name] = true
	}
	if !seen["system.reachable"] {
		// The watcher may see the system back after the stack's poll.
		expectOf(t, all, "system.reachable", "SYSB", "", nil)
	}
}

// The fleet stream's IDs resume the whole fleet: after a reconnection
// with Last-Event-ID, the events of both systems made meanwhile, in the
// order the gateway saw them. Its IDs are not a stack stream's, nor the
// other way round: each is answered with a reset.
func TestFleetEventsResumeAndForeignIDs(t *testing.T) {
	simA, simB := fleetSims(t)
	s := fleetEventServer(t, simA, simB, nil)
	all, _ := openFleet(t, s, "/v1/events")
	a := stream(t, s)
	first(t, a)
	simA.control(t, nmi.DeactDynTun, "", "Y2")
	evA := expect(t, a, "tunnel.removed", map[string]any{"system": "SYSA", "tunnelId": "Y2"})
	evF := expectOf(t, all, "tunnel.removed", "SYSA", "TCPIP", map[string]any{"tunnelId": "Y2"})
	if evA.ID == evF.ID {
		t.Errorf("the stack's and the fleet's event have the same ID %s", evA.ID)
	}
	all.Close()
	a.Close()

	simB.control(t, nmi.DeactDynTun, "", "Y2")
	simA.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	// The pollers may have stopped with their last subscriber: then the
	// resumed stream's restarted pollers report the changes since their
	// last polls.
	resp, again, body := s.open("/v1/events", "Last-Event-ID", evF.ID)
	if again == nil {
		t.Fatalf("resuming: %d %s", resp.StatusCode, body)
	}
	got := map[string]string{}
	for len(got) < 2 {
		ev, err := again.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &d)
		if !ev.HasID || ev.ID == evF.ID {
			t.Errorf("resumed %s %s with ID %q", ev.Name, ev.Data, ev.ID)
		}
		got[str(d["system"])] = ev.Name + " " + str(d["tunnelId"])
	}
	if got["SYSA"] != "tunnel.added Y7" || got["SYSB"] != "tunnel.removed Y2" {
		t.Errorf("resumed with %v", got)
	}
	again.Close()

	// A stack's ID on the fleet stream, the fleet's on a stack's stream,
	// and a made-up one: resets.
	for _, c := range []struct{ path, id string }{
		{"/v1/events", evA.ID},
		{"/v1/stacks/TCPIP/events", evF.ID},
		{"/v1/events", "AAAAAAAAAAEAAAAAAAAAAAAAAAA"},
	} {
		resp, st, body := s.open(c.path, "Last-Event-ID", c.id)
		if st == nil {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
		}
		want := map[string]any{"system": "SYSA", "stack": "TCPIP"}
		if c.path == "/v1/events" {
			want = map[string]any{"system": nil, "stack": nil}
		}
		expect(t, st, "reset", want)
		st.Close()
	}
}

// fleetPolicy writes a policy: VIEWER1 (by revokeToken unless the token
// is left out) may display TCPIP of SYSA, and of SYSB when sysB is set;
// OPER1 (by its own token) may display everything.
func fleetPolicy(t *testing.T, path string, sysB, token bool) {
	t.Helper()
	level := "NONE"
	if sysB {
		level = "READ"
	}
	y := "system: SYSA\nprofiles:\n" +
		"  - {name: EZB.NETMGMT.SYSA.TCPIP.IPSEC.DISPLAY, uacc: NONE, access: [{id: VIEWERS, level: READ}, {id: OPERS, level: READ}]}\n" +
		"  - {name: EZB.NETMGMT.SYSB.TCPIP.IPSEC.DISPLAY, uacc: NONE, access: [{id: VIEWERS, level: " + level + "}, {id: OPERS, level: READ}]}\n" +
		"  - {name: EZB.NETMGMT.*.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: OPERS, level: READ}]}\n" +
		"users: {VIEWER1: [VIEWERS], OPER1: [OPERS]}\n" +
		"identities:\n  tokens:\n" +
		"    - {sha256: \"" + hashHex("operator-token-for-fleet-tests") + "\", user: OPER1}\n"
	if token {
		y += "    - {sha256: \"" + hashHex(revokeToken) + "\", user: VIEWER1}\n"
	}
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The fleet stream shows the stacks the caller may display; a policy
// reload that takes SYSB's DISPLAY away stops SYSB's events before any
// more is sent (while another caller still gets them), one that gives it
// back follows SYSB again, and one that deletes the caller's token ends
// the stream with a final 401.
func TestFleetEventsPolicyReload(t *testing.T) {
	simA, simB := fleetSims(t)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	fleetPolicy(t, path, true, true)
	store := policy.NewStore(path)
	if err := store.Load(); err != nil {
		t.Fatal(err)
	}
	an := authn.New(authn.Options{Policy: store.Current})
	s := fleetEventServer(t, simA, simB, nil, func(d *httpapi.Deps) {
		d.Authenticate, d.Authorizer, d.AuthMethod = an.Middleware, store, authn.MethodName
		d.PolicyChanged, d.Reauthenticate, d.CredentialExpiry = store.Changed, an.Reauthenticate, authn.ExpiryFrom
	})
	viewer := []string{"Authorization", "Bearer " + revokeToken}
	oper := []string{"Authorization", "Bearer operator-token-for-fleet-tests"}
	v, _ := openFleet(t, s, "/v1/events", viewer...)
	o, _ := openFleet(t, s, "/v1/events", oper...)

	// TCPIPB is nobody's to see but the operator's.
	simA.controlOn(t, "TCPIPB", nmi.RefreshDynTun, "", "Y1")
	expectOf(t, o, "tunnel.changed", "SYSA", "TCPIPB", nil)
	simB.control(t, nmi.DeactDynTun, "", "Y2")
	expectOf(t, o, "tunnel.removed", "SYSB", "TCPIP", nil)
	expectOf(t, v, "tunnel.removed", "SYSB", "TCPIP", nil) // not SYSA's TCPIPB before it

	reload := func(sysB, token bool) {
		t.Helper()
		fleetPolicy(t, path, sysB, token)
		if err := store.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	reload(false, true)
	simB.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	expectOf(t, o, "tunnel.added", "SYSB", "TCPIP", nil) // recorded before SYSA's next
	simA.control(t, nmi.DeactDynTun, "", "Y2")
	expectOf(t, o, "tunnel.removed", "SYSA", "TCPIP", nil)
	// The viewer's next event is SYSA's: SYSB's, before it, was not sent.
	expectOf(t, v, "tunnel.removed", "SYSA", "TCPIP", nil)

	reload(true, true)
	simB.controlOn(t, "TCPIP", nmi.RefreshDynTun, "", "Y1")
	expectOf(t, v, "tunnel.changed", "SYSB", "TCPIP", map[string]any{"tunnelId": "Y1"})
	expectOf(t, o, "tunnel.changed", "SYSB", "TCPIP", map[string]any{"tunnelId": "Y1"})

	reload(true, false)
	simA.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
	final(t, v, http.StatusUnauthorized)
	expectOf(t, o, "tunnel.added", "SYSA", "TCPIP", nil)
}

// nssFleet serves SYSA (an IKE daemon) and, behind an NSS server of
// system NSSSYS, the demo's stacks on systems SYSC and SYSD, clients
// SYSC_TCPIP, SYSC_TCPIPB, SYSD_TCPIP and SYSD_TCPIPB.
func nssFleet(t *testing.T) (*server, *ikedsim.Server) {
	t.Helper()
	simA, simB := fleetSims(t)
	d := &ikedsim.NSSDataSet{}
	for _, sys := range []string{"SYSC", "SYSD"} {
		ds := ikedsim.Demo()
		ds.System = sys
		d.Systems = append(d.Systems, ds)
		for _, st := range []string{"TCPIP", "TCPIPB"} {
			d.Clients = append(d.Clients, ikedsim.NSSClient{Name: ikedsim.ClientName(sys, st), System: sys, Stack: st,
				Discipline: nmi.DisciplineIPSec, RemoteManagement: true, Connected: true})
		}
	}
	sockPath := filepath.Join(t.TempDir(), "nss.sock")
	ln, err := ikedsim.Listen(sockPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := ikedsim.NewClock(ikedsim.Demo().Epoch)
	srv, err := ikedsim.NewServer(ikedsim.Config{NSS: d, System: "NSSSYS", Now: clock.Now, Timing: simTiming})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(sockPath), Addr: sockPath})
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; err != nil && !errors.Is(err, ikedsim.ErrServerClosed) {
			t.Errorf("NSS simulator: %v", err)
		}
	})
	s := fleetEventServer(t, simA, simB, []fleet.Endpoint{{Name: "NSSSYS", Kind: fleet.NSS, NMI: pool}})
	return s, srv
}

// nssControl carries out a control request on stack of an NSS client
// system, at its console.
func nssControl(t *testing.T, srv *ikedsim.Server, system, stack string, typ nmi.MsgType, name, id string) {
	t.Helper()
	out, ok := srv.NSSModel(system).Control(stack, typ, []ikedsim.ControlRecord{{Name: name, TunnelID: id}})
	if !ok || len(out) != 1 || out[0].Status != nmi.TunStatusStateUpdated {
		t.Fatalf("%s %s %s%s: %+v", system, typ, name, id, out)
	}
}

// Stacks behind an NSS server: their events come through the NSS
// server's NMI (routed by client name) with their own system and stack;
// a client that disconnects is stack.disconnected (not an error), one
// that connects again stack.connected, followed by what changed while it
// was away. The same stack name on SYSC and SYSD is not confused.
func TestFleetEventsNSSClients(t *testing.T) {
	s, srv := nssFleet(t)
	all, _ := openFleet(t, s, "/v1/events?stack=TCPIP")

	nssControl(t, srv, "SYSD", "TCPIP", nmi.DeactDynTun, "", "Y2")
	expectOf(t, all, "tunnel.removed", "SYSD", "TCPIP", map[string]any{"tunnelId": "Y2"})
	nssControl(t, srv, "SYSC", "TCPIP", nmi.RefreshDynTun, "", "Y1")
	expectOf(t, all, "tunnel.changed", "SYSC", "TCPIP", map[string]any{"tunnelId": "Y1"})

	if err := srv.SetClientConnected("SYSC_TCPIP", false); err != nil {
		t.Fatal(err)
	}
	ev := expectOf(t, all, "stack.disconnected", "SYSC", "TCPIP", nil)
	var d map[string]any
	_ = json.Unmarshal([]byte(ev.Data), &d)
	if _, ok := d["connectTime"]; !ok || !ev.HasID {
		t.Errorf("stack.disconnected %s (id %q): want the connection that ended, and an ID", ev.Data, ev.ID)
	}
	nssControl(t, srv, "SYSC", "TCPIP", nmi.DeactDynTun, "", "Y2") // while it is away
	if err := srv.SetClientConnected("SYSC_TCPIP", true); err != nil {
		t.Fatal(err)
	}
	expectOf(t, all, "stack.connected", "SYSC", "TCPIP", map[string]any{"oldConnectTime": nil})
	expectOf(t, all, "tunnel.removed", "SYSC", "TCPIP", map[string]any{"tunnelId": "Y2"})

	// The stacks of the NSS server were asked for by client name, never
	// with NMsec_GET_STACKINFO (which the NSS server does not route).
	if n := srv.Requests(nmi.GetStackInfo); n != 0 {
		t.Errorf("the NSS server got %d NMsec_GET_STACKINFO", n)
	}
	if n := srv.Requests(nmi.GetClientInfo); n == 0 {
		t.Errorf("the NSS server got no NMsec_GET_CLIENTINFO")
	}
}

// Without a fleet (Deps.NMI alone), the fleet stream is the stacks of
// the one system. Fleet streams share the stacks' pollers with the
// stacks' streams (the same change, one poll: the fleet stream's event
// is the stack stream's, with another ID), end at shutdown, and every
// goroutine they started ends.
func TestFleetEventsSingleSystem(t *testing.T) {
	s, sim, done := eventServer(t)
	n0 := runtime.NumGoroutine()
	all, _ := openFleet(t, s, "/v1/events")
	one := stream(t, s)
	first(t, one)
	sim.controlOn(t, "TCPIPB", nmi.DeactDynTun, "", "Y1")
	expectOf(t, all, "tunnel.removed", "SYS1", "TCPIPB", map[string]any{"tunnelId": "Y1"})
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	a := expectOf(t, all, "tunnel.removed", "SYS1", "TCPIP", map[string]any{"tunnelId": "Y2"})
	b := expectOf(t, one, "tunnel.removed", "SYS1", "TCPIP", map[string]any{"tunnelId": "Y2"})
	if a.Data != b.Data || a.ID == b.ID {
		t.Errorf("one change: fleet %s %s, stack %s %s", a.ID, a.Data, b.ID, b.Data)
	}
	close(done) // server shutdown
	for _, st := range []*contract.Stream{all, one} {
		for {
			ev, err := st.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || ev.Name != "" {
				t.Fatalf("at shutdown: %+v %v", ev, err)
			}
		}
		st.Close()
	}
	s.srv.Client().CloseIdleConnections()
	settle(t, n0)
}

// requests are the requests the simulator was sent, as far.
func (s *simNMI) requests() []nmi.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// A system that hangs (its IKE daemon stopped) from the start delays the
// fleet stream's start by one request deadline at most, is told as
// unreachable (a timeout) though none of its stacks is known yet, and
// does not hold up the other system's events. When it answers, its
// stacks are followed from then on.
func TestFleetEventsSystemHangs(t *testing.T) {
	simA, simB := fleetSims(t)
	s := fleetEventServer(t, simA, simB, nil, func(d *httpapi.Deps) { d.RequestTimeout = time.Second })
	simB.faults.SetHang(true)
	t.Cleanup(func() { simB.faults.SetHang(false) })
	all, _ := openFleet(t, s, "/v1/events?stack=TCPIP")
	ev := expectOf(t, all, "system.unreachable", "SYSB", "", nil)
	var d map[string]any
	_ = json.Unmarshal([]byte(ev.Data), &d)
	if p, _ := d["problem"].(map[string]any); p["status"] != num(http.StatusGatewayTimeout) {
		t.Errorf("system.unreachable %s, want a 504 problem", ev.Data)
	}
	simA.control(t, nmi.DeactDynTun, "", "Y2")
	expectOf(t, all, "tunnel.removed", "SYSA", "TCPIP", map[string]any{"tunnelId": "Y2"})

	simB.faults.SetHang(false)
	expectOf(t, all, "system.reachable", "SYSB", "", nil)
	// The stream follows SYSB's TCPIP from now on: once its poller has
	// polled twice (the first poll is the baseline), a change is an event.
	n := countRequests(simB, nmi.GetIPTunDynStack, "TCPIP")
	for deadline := time.Now().Add(10 * time.Second); countRequests(simB, nmi.GetIPTunDynStack, "TCPIP") < n+2; {
		if time.Now().After(deadline) {
			t.Fatal("SYSB's TCPIP is not polled after SYSB answered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	simB.control(t, nmi.RefreshDynTun, "", "Y1")
	for {
		ev, err := all.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(ev.Data), &d)
		if ev.Name == "tunnel.changed" && d["system"] == "SYSB" && d["tunnelId"] == "Y1" {
			break
		}
		if d["system"] == "SYSB" && ev.Name != "system.reachable" && ev.Name != "system.unreachable" {
			t.Fatalf("after SYSB answered: %s %s", ev.Name, ev.Data)
		}
	}
}

// countRequests counts the requests of type typ for target that sim got.
func countRequests(sim *simNMI, typ nmi.MsgType, target string) int {
	n := 0
	for _, r := range sim.requests() {
		if r.Type == typ && r.Target == target {
			n++
		}
	}
	return n
}
