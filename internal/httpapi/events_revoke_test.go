package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

const revokeToken = "viewer-token-for-revocation-tests"

// revokePolicy writes a policy whose viewer (VIEWER1, by revokeToken
// unless the token is left out) has access level on TCPIP's DISPLAY.
func revokePolicy(t *testing.T, path, level string, token bool) {
	t.Helper()
	y := "system: SYS1\nprofiles:\n" +
		"  - {name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY, uacc: NONE, access: [{id: VIEWERS, level: " + level + "}]}\n" +
		"users: {VIEWER1: [VIEWERS]}\n"
	if token {
		y += "identities:\n  tokens: [{sha256: \"" + hashHex(revokeToken) + "\", user: VIEWER1}]\n"
	}
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// revokeServer serves the simulator behind a policy file's store, with
// the real authentication and the stream checks wired as the gateway
// wires them.
func revokeServer(t *testing.T, mod ...func(*httpapi.Deps)) (*server, *simNMI, *policy.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	revokePolicy(t, path, "READ", true)
	store := policy.NewStore(path)
	if err := store.Load(); err != nil {
		t.Fatal(err)
	}
	an := authn.New(authn.Options{Policy: store.Current})
	sim := newSim(t)
	sim.setStep(0)
	s := newServer(t, sim, func(d *httpapi.Deps) {
		d.Authenticate, d.Authorizer, d.AuthMethod = an.Middleware, store, authn.MethodName
		d.PolicyChanged, d.Reauthenticate, d.CredentialExpiry = store.Changed, an.Reauthenticate, authn.ExpiryFrom
		d.Events = httpapi.EventOptions{Interval: 2 * time.Millisecond, MinInterval: time.Millisecond, Heartbeat: time.Hour}
		for _, m := range mod {
			m(d)
		}
	})
	return s, sim, store, path
}

// final reads the stream to its end: the events before it, and the last
// one, which must be an error event with status; then EOF.
func final(t *testing.T, st *contract.Stream, status int) {
	t.Helper()
	var last contract.Event
	for {
		ev, err := st.NextEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		last = ev
		if ev.Name != "error" {
			t.Errorf("event %s %s after access was taken away", ev.Name, ev.Data)
		}
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(last.Data), &p); err != nil || last.Name != "error" || p["status"] != num(status) {
		t.Fatalf("last event %+v, want an error with status %d", last, status)
	}
}

// A policy reload that takes the caller's DISPLAY away (READ to NONE), or
// deletes its token, ends an open stream with a final 403 or 401 error
// event, before any change after the reload is sent; a reload that keeps
// the access keeps the stream.
func TestEventsRevokedOnReload(t *testing.T) {
	auth := []string{"Authorization", "Bearer " + revokeToken}
	for _, c := range []struct {
		name   string
		level  string
		token  bool
		status int
	}{
		{"display taken away", "NONE", true, 403},
		{"token deleted", "READ", false, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, sim, store, path := revokeServer(t)
			st := stream(t, s, auth...)
			first(t, st)
			sim.control(t, nmi.DeactDynTun, "", "Y2")
			expect(t, st, "tunnel.removed", map[string]any{"tunnelId": "Y2"})

			// A reload that changes nothing for the caller.
			revokePolicy(t, path, "UPDATE", true)
			if err := store.Reload(); err != nil {
				t.Fatal(err)
			}
			sim.control(t, nmi.ActDynTun, "BRANCH1-DB-VPN", "")
			expect(t, st, "tunnel.added", map[string]any{"tunnelId": "Y7"})

			revokePolicy(t, path, c.level, c.token)
			if err := store.Reload(); err != nil {
				t.Fatal(err)
			}
			sim.control(t, nmi.RefreshDynTun, "", "Y1")
			final(t, st, c.status)
			// A new stream is refused outright.
			resp, _, _ := s.open("/v1/stacks/TCPIP/events", auth...)
			if resp.StatusCode != c.status {
				t.Errorf("new stream after the reload: %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}

// A stream ends when its credentials expire (an OIDC token's exp), with a
// final 401 error event; until then it delivers events. (The expiry is
// generous: a loaded machine must deliver one event before it.)
func TestEventsEndAtCredentialExpiry(t *testing.T) {
	expires := time.Now().Add(3 * time.Second)
	s, sim, _, _ := revokeServer(t, func(d *httpapi.Deps) {
		d.CredentialExpiry = func(context.Context) time.Time { return expires }
	})
	st := stream(t, s, "Authorization", "Bearer "+revokeToken)
	first(t, st)
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	expect(t, st, "tunnel.removed", map[string]any{"tunnelId": "Y2"})
	final(t, st, 401)
	if time.Now().Before(expires) {
		t.Errorf("the stream ended before the credentials expired")
	}
}

// A stream ends after its maximum lifetime, without an error; the client
// resumes with Last-Event-ID and misses nothing.
func TestEventsMaxLifetime(t *testing.T) {
	const lifetime = time.Second
	s, sim, _, _ := revokeServer(t, func(d *httpapi.Deps) { d.Events.MaxLifetime = lifetime })
	auth := []string{"Authorization", "Bearer " + revokeToken}
	started := time.Now() // before the stream, whose life starts later
	st := stream(t, s, auth...)
	last := first(t, st)
	for {
		ev, err := st.NextEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("event %+v before the end of the stream's life", ev)
	}
	if time.Since(started) < lifetime {
		t.Errorf("the stream ended after %s, before its lifetime of %s", time.Since(started), lifetime)
	}
	sim.control(t, nmi.DeactDynTun, "", "Y2")
	// The change happened while no stream was open.
	time.Sleep(20 * time.Millisecond)
	again := stream(t, s, append(auth, "Last-Event-ID", last)...)
	ev := expect(t, again, "tunnel.removed", map[string]any{"tunnelId": "Y2"})
	if ev.ID == last {
		t.Errorf("resumed event ID %q", ev.ID)
	}
}
