package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// The roles of the authorization tests, each a bearer token of the policy
// below (roleNone sends no credentials).
type role int

const (
	roleNone      role = iota // no credentials (the policy has no anonymous user)
	roleViewer                // VIEWER1, group VIEWERS: DISPLAY
	roleOtherOper             // OPERB, group OPERSB: DISPLAY and CONTROL of stack TCPIPB only
	roleOperator              // OPER1, group OPERS: DISPLAY and CONTROL
	roleSuperuser             // IBMUSER, a superuser: only where no profile covers
	roleGeneric               // GENUSER: DISPLAY and CONTROL by its own entries in generic profiles
	roleDenied                // DENIED1: DISPLAY; CONTROL denied by a more specific profile
	nRoles
)

var roleNames = [nRoles]string{"none", "viewer", "operator on another stack", "operator", "superuser",
	"user under a generic profile", "user denied by a more specific profile"}

func (r role) String() string { return roleNames[r] }

// token is the role's bearer token; the policy holds only its SHA-256.
func (r role) token() string {
	if r == roleNone {
		return ""
	}
	return "tok-" + strings.ReplaceAll(roleNames[r], " ", "-") + "-7f3a9c"
}

// header is the Authorization header of the role, as name, value pairs.
func (r role) header() []string {
	if r == roleNone {
		return nil
	}
	return []string{"Authorization", "Bearer " + r.token()}
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// The policy of the tests. The display data set has stacks TCPIP and TCPIP2.
// TCPIP is covered by the profiles; TCPIP2 (six characters) by none, so
// there only superusers pass.
const authzPolicyYAML = `
system: SYS1
superusers: {users: [IBMUSER]}
profiles:
  # DISPLAY of the stacks named TCPI and one character: TCPIP.
  - name: EZB.NETMGMT.SYS1.TCPI%.IPSEC.DISPLAY
    uacc: NONE
    access:
      - {id: VIEWERS, level: READ}
      - {id: OPERS, level: READ}
      - {id: GENUSER, level: READ}
      - {id: DENIED1, level: READ}
  # CONTROL of the same stacks. It decides for TCPIP: it is more specific
  # than the next profile, which would let DENIED1 act.
  - name: EZB.NETMGMT.SYS1.TCPI%.IPSEC.CONTROL
    uacc: NONE
    access:
      - {id: OPERS, level: READ}
      - {id: GENUSER, level: READ}
      - {id: DENIED1, level: NONE}
  - name: EZB.NETMGMT.SYS1.%%%%%.IPSEC.CONTROL
    uacc: NONE
    access: [{id: DENIED1, level: READ}]
  # Everything on stack TCPIPB, for its own operators.
  - name: EZB.NETMGMT.SYS1.TCPIPB.IPSEC.*
    uacc: NONE
    access: [{id: OPERSB, level: READ}]
users:
  VIEWER1: [VIEWERS]
  OPER1: [OPERS]
  OPERB: [OPERSB]
identities:
  tokens:
    - {sha256: "@viewer", user: VIEWER1}
    - {sha256: "@otheroper", user: OPERB}
    - {sha256: "@operator", user: OPER1}
    - {sha256: "@superuser", user: IBMUSER}
    - {sha256: "@generic", user: GENUSER}
    - {sha256: "@denied", user: DENIED1}
`

// Profiles of authzPolicyYAML that decide for stack TCPIP.
const (
	tcpipDisplayProfile = "EZB.NETMGMT.SYS1.TCPI%.IPSEC.DISPLAY"
	tcpipControlProfile = "EZB.NETMGMT.SYS1.TCPI%.IPSEC.CONTROL"
)

func authzPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	y := strings.NewReplacer(
		"@viewer", hashHex(roleViewer.token()),
		"@otheroper", hashHex(roleOtherOper.token()),
		"@operator", hashHex(roleOperator.token()),
		"@superuser", hashHex(roleSuperuser.token()),
		"@generic", hashHex(roleGeneric.token()),
		"@denied", hashHex(roleDenied.token()),
	).Replace(authzPolicyYAML)
	p, err := policy.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tableNMI is the NMI of the authorization tests: display requests go to
// the simulator of the display data set (stacks TCPIP and TCPIP2), control
// requests to the simulator of the demo data set, which answers for any
// stack as for its TCPIP.
type tableNMI struct {
	display httpapi.NMI
	control *simNMI
	busy    *atomic.Int32 // exchanges in progress
}

func (n tableNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	n.busy.Add(1)
	defer n.busy.Add(-1)
	if req.Type.IsControl() {
		r := *req
		r.Target = "TCPIP"
		return n.control.Do(ctx, &r, fn)
	}
	return n.display.Do(ctx, req, fn)
}

// authzFixture is the whole handler as cmd/gateway builds it: the real
// authn middleware (its failures written by httpapi.WriteAuthProblem) and
// the policy store, with logs of every level captured.
type authzFixture struct {
	s       *server
	sink    *memSink
	logs    *syncLog
	display *simNMI
	control *simNMI
	nmiBusy atomic.Int32 // NMI exchanges in progress
}

// newAuthzFixture is the fixture with the policy store as the authorizer.
func newAuthzFixture(t *testing.T) *authzFixture { return newAuthzFixtureWith(t, nil) }

// newAuthzFixtureWith is the fixture whose authorizer is authorizer(store)
// (nil: the store itself), where store holds authzPolicy and still maps
// the roles' tokens to principals. Another backend passes here an
// authorizer that decides as the store does, by its own means.
func newAuthzFixtureWith(t *testing.T, authorizer func(store *policy.Store) authz.Authorizer) *authzFixture {
	t.Helper()
	store := policy.NewStaticStore(authzPolicy(t))
	var az authz.Authorizer = store
	if authorizer != nil {
		az = authorizer(store)
	}
	display := newDisplaySim(t, 0)
	f := &authzFixture{sink: &memSink{}, logs: &syncLog{}, display: display, control: newSim(t)}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	an := authn.New(authn.Options{Policy: store.Current, Logger: log,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *authn.Error) {
			httpapi.WriteAuthProblem(w, r, e.Status, e.Detail)
		}})
	f.s = newServer(t, tableNMI{display, f.control, &f.nmiBusy}, func(d *httpapi.Deps) {
		d.Logger = log
		d.Authenticate = an.Middleware
		d.Authorizer = az
		d.AuthMethod = authn.MethodName
		d.Audit = f.sink
		// One poll per event stream: no NMI request of a stream after its
		// answer (the table counts the requests of refusals).
		d.Events = httpapi.EventOptions{Interval: time.Hour, MaxInterval: time.Hour}
	})
	return f
}

// nmiCalls is the number of NMI requests so far.
func (f *authzFixture) nmiCalls() int {
	return f.control.nmiCalls() + f.display.nmiCalls()
}

// syncLog is a log destination safe for concurrent use.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not a JSON object: %v: %.300s", err, b)
	}
	return v
}

// A 403 names the resource and the profile that decided, and says why in
// terms of the caller's own user ID and groups only.
func TestForbiddenNamesResourceAndProfile(t *testing.T) {
	s := newAuthzFixture(t).s
	resp, b := s.get("/v1/stacks/TCPIP/summary", roleOtherOper.header()...)
	p := decodeObject(t, b)
	if resp.StatusCode != http.StatusForbidden || p["type"] != "urn:nmigw:problem:forbidden" ||
		p["resource"] != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY" || p["profile"] != tcpipDisplayProfile ||
		p["detail"] != "no READ access to EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY: NONE via UACC; READ required" ||
		p["requestId"] != resp.Header.Get("X-Request-ID") {
		t.Errorf("%d %v", resp.StatusCode, p)
	}
	// The access list names other users and groups; the answer does not.
	for _, other := range []string{"VIEWERS", "OPERS\"", "GENUSER", "DENIED1", "OPER1"} {
		if strings.Contains(string(b), other) {
			t.Errorf("the 403 names %s, an entry of another caller: %s", other, b)
		}
	}

	// A NONE entry for the caller in the more specific profile decides.
	resp, b = s.post("/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "", roleDenied.header()...)
	p = decodeObject(t, b)
	if resp.StatusCode != http.StatusForbidden || p["profile"] != tcpipControlProfile ||
		p["detail"] != "no READ access to EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL: NONE via access list entry for user DENIED1; READ required" {
		t.Errorf("%d %v", resp.StatusCode, p)
	}

	// No profile covers TCPIP2: no profile member, and the detail says so.
	resp, b = s.get("/v1/stacks/TCPIP2/interfaces", roleOperator.header()...)
	p = decodeObject(t, b)
	if _, has := p["profile"]; resp.StatusCode != http.StatusForbidden || has ||
		p["resource"] != "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.DISPLAY" ||
		p["detail"] != "no READ access to EZB.NETMGMT.SYS1.TCPIP2.IPSEC.DISPLAY: no profile: superusers only" {
		t.Errorf("%d %v", resp.StatusCode, p)
	}
}

// Authentication failures are the API's problems (with the request ID);
// the WWW-Authenticate header of the authenticator, with its error code,
// is kept.
func TestUnauthorizedKeepsChallenge(t *testing.T) {
	s := newAuthzFixture(t).s
	for _, c := range []struct {
		hdr       []string
		challenge string
	}{
		{nil, `Bearer realm="nmigw"`},
		{[]string{"Authorization", "Bearer not-a-known-token"}, `Bearer realm="nmigw", error="invalid_token", error_description="unknown token"`},
		{[]string{"Authorization", "Basic dXNlcjpwdw=="}, `Bearer realm="nmigw", error="invalid_request", error_description="only Bearer credentials are accepted"`},
	} {
		resp, b := s.get("/v1/stacks", c.hdr...)
		p := decodeObject(t, b)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != c.challenge ||
			p["type"] != "urn:nmigw:problem:unauthorized" || p["requestId"] != resp.Header.Get("X-Request-ID") ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %q %v", c.hdr, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), p)
		}
		if strings.Contains(string(b), "not-a-known-token") || strings.Contains(string(b), "dXNlcjpwdw") {
			t.Errorf("the answer repeats the credentials: %s", b)
		}
	}
}

// Answers depend on the caller: shared caches must not serve one caller's
// answer to another.
func TestAnswersArePrivate(t *testing.T) {
	s := newAuthzFixture(t).s
	for _, path := range []string{"/v1/stacks", "/v1/stacks/TCPIP/ike/tunnels", "/v1/whoami"} {
		resp, _ := s.get(path, roleViewer.header()...)
		cc := resp.Header.Get("Cache-Control")
		if resp.StatusCode != http.StatusOK || !slices.Contains(resp.Header.Values("Vary"), "Authorization") ||
			(cc != "private, no-cache" && cc != "no-store") {
			t.Errorf("%s: %d, Vary %v, Cache-Control %q", path, resp.StatusCode, resp.Header.Values("Vary"), cc)
		}
	}
}
