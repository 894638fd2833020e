package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/policy"
)

// Kinds of SAF check of a route; none: authentication only.
const (
	disp = authz.Display
	ctl  = authz.Control
	none = authz.Kind(-1)
)

// routeTable is what each role gets on each /v1 route for stack TCPIP,
// through the whole handler: the real authn middleware, the policy
// authzPolicyYAML (parsed by internal/policy), the NMI fakes. DISPLAY
// governs the GETs and filters:test (it only reads); CONTROL the actions.
//
// The columns of statuses are the roles (see role):
//
//	none  no credentials (the policy has no anonymous user)
//	view  VIEWER1, group VIEWERS
//	othr  OPERB, operator of stack TCPIPB only
//	oper  OPER1, group OPERS
//	supr  IBMUSER, a superuser: a profile covers TCPIP, so the profile decides
//	gen   GENUSER, by its own entries in generic profiles
//	deny  DENIED1: READ in EZB.NETMGMT.SYS1.%%%%%.IPSEC.CONTROL, but NONE in
//	      the more specific EZB.NETMGMT.SYS1.TCPI%.IPSEC.CONTROL
//
// Every route of a stack is in it twice: under /v1/stacks/{stack} and, for
// the default system SYS1, under /v1/systems/{system}/stacks/{stack}.
var routeTable = withSystemRoutes([]tableRoute{
	//  none view othr oper supr gen  deny
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/whoami", "", ""},
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/stacks", "", ""},
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/events", "", ""}, // shows what the caller may display
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/systems", "", ""},
	{st{401, 200, 404, 200, 200, 200, 200}, none, "GET /v1/systems/{system}", "", ""}, // OPERB may display no stack of SYS1
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/systems/{system}/stacks", "", ""},
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/ike/tunnels", "", ""},
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/tunnels/dynamic", "", ""},
	{st{401, 200, 200, 200, 200, 200, 200}, none, "GET /v1/tunnels/manual", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/summary", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/interfaces", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/filters", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/filters/{name}", "WEB", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/ike/tunnels", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/ike/tunnels/{tunnelId}", "K2", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/tunnels/dynamic", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/tunnels/dynamic/{tunnelId}", "Y1", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/tunnels/manual", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/tunnels/manual/{tunnelId}", "M1", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/port-translations", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "GET /v1/stacks/{stack}/events", "", ""},
	{st{401, 200, 403, 200, 403, 200, 200}, disp, "POST /v1/stacks/{stack}/filters:test", "", packetBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/filters:loadDefault", "", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/filters:loadPolicy", "", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/ike/tunnels/{tunnelId}:refresh", "K1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/ike/tunnels/{tunnelId}:deactivate", "K1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/ike/tunnels:refresh", "", allBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/ike/tunnels:deactivate", "", allBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/dynamic/{tunnelId}:refresh", "Y1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/dynamic/{tunnelId}:deactivate", "Y1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/dynamic:refresh", "", idsBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/dynamic:deactivate", "", idsBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/dynamic:activate", "", namesBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/manual/{tunnelId}:activate", "M1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/manual/{tunnelId}:deactivate", "M1", ""},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/manual:activate", "", allBody},
	{st{401, 403, 403, 200, 403, 200, 403}, ctl, "POST /v1/stacks/{stack}/tunnels/manual:deactivate", "", allBody},
})

type tableRoute struct {
	want  st
	kind  authz.Kind // the SAF check (none: authentication only)
	route string     // method and chi's route pattern
	id    string     // the {name} or {tunnelId} of the path
	body  string
}

// withSystemRoutes adds to rs the copy of each route of a stack under
// /v1/systems/{system}/stacks/{stack}, with the same statuses.
func withSystemRoutes(rs []tableRoute) []tableRoute {
	out := slices.Clone(rs)
	for _, r := range rs {
		method, route, _ := strings.Cut(r.route, " ")
		if rest, ok := strings.CutPrefix(route, "/v1/stacks/{stack}"); ok {
			r.route = method + " /v1/systems/{system}/stacks/{stack}" + rest
			out = append(out, r)
		}
	}
	return out
}

// st are the statuses of a route for each role.
type st = [nRoles]int

// Request bodies of the table.
const (
	packetBody = `{"direction": "outbound", "source": "192.0.2.10", "destination": "10.1.2.3", "protocol": "tcp", "destinationPort": 443}`
	allBody    = `{"all": true}`
	idsBody    = `{"tunnelIds": ["Y1"]}`
	namesBody  = `{"names": ["RULE1"]}`
)

// tablePath is the request path of a table route on stack.
func tablePath(route, stack, id string) string {
	p := strings.TrimSuffix(route, "/")
	p = strings.ReplaceAll(p, "{system}", "SYS1")
	p = strings.ReplaceAll(p, "{stack}", stack)
	p = strings.ReplaceAll(p, "{name}", id)
	return strings.ReplaceAll(p, "{tunnelId}", id)
}

// The table names every /v1 route of the router, and only those.
func TestAuthzTableCoversEveryRoute(t *testing.T) {
	f := newAuthzFixture(t)
	routes, ok := f.s.srv.Config.Handler.(chi.Routes)
	if !ok {
		t.Fatalf("the handler is a %T, not a chi router", f.s.srv.Config.Handler)
	}
	var have []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/v1/") {
			have = append(have, method+" "+route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, r := range routeTable {
		table = append(table, r.route)
	}
	slices.Sort(have)
	slices.Sort(table)
	if !slices.Equal(have, table) {
		t.Errorf("routes of the router:\n%s\nroutes of the table:\n%s", strings.Join(have, "\n"), strings.Join(table, "\n"))
	}
}

func TestAuthzTable(t *testing.T) { authzTable(t, nil, true) }

// authzTable runs routeTable, through the whole handler, against the
// authorizer that newAuthzFixtureWith makes of authorizer, which must
// decide as the policy authzPolicyYAML does. profiles: its 403s name the
// deciding profile and say why as the policy model does (a backend that
// only answers yes or no does not).
func authzTable(t *testing.T, authorizer func(*policy.Store) authz.Authorizer, profiles bool) {
	f := newAuthzFixtureWith(t, authorizer)
	check := func(t *testing.T, rt int, who role, stack string, want int, wantProfile string) {
		t.Helper()
		r := routeTable[rt]
		method, route, _ := strings.Cut(r.route, " ")
		path := tablePath(route, stack, r.id)
		before := f.nmiCalls()
		var resp *http.Response
		var b []byte
		switch {
		case strings.HasSuffix(route, "/events"):
			// A stream: its status and headers, then its first block.
			var st *contract.Stream
			resp, st, b = f.s.open(path, who.header()...)
			if st != nil {
				if _, err := st.Next(); err != nil {
					t.Errorf("%s as %s: %v", path, who, err)
				}
				st.Close()
			}
		case method == http.MethodGet:
			resp, b = f.s.get(path, who.header()...)
		default:
			resp, b = f.s.post(path, r.body, who.header()...)
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s as %s: %d, want %d: %.300s", method, path, who, resp.StatusCode, want, b)
			return
		}
		// A system the caller may see nothing of is unknown to it: known
		// only after asking the NMI which stacks the system has.
		if want == http.StatusOK || want == http.StatusNotFound {
			return
		}
		// Refused before any NMI request: nothing about the stack leaks.
		if n := f.nmiCalls() - before; n != 0 {
			t.Errorf("%s %s as %s: %d NMI requests before the refusal", method, path, who, n)
		}
		p := decodeObject(t, b)
		switch want {
		case http.StatusUnauthorized:
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="nmigw"`) {
				t.Errorf("%s %s: 401 without a Bearer challenge", method, path)
			}
		case http.StatusForbidden:
			res := "EZB.NETMGMT.SYS1." + stack + ".IPSEC." + map[authz.Kind]string{disp: "DISPLAY", ctl: "CONTROL"}[r.kind]
			if p["type"] != "urn:nmigw:problem:forbidden" || p["resource"] != res {
				t.Errorf("%s %s as %s: 403 %v, want resource %s", method, path, who, p, res)
			}
			if !profiles {
				return
			}
			profile, hasProfile := p["profile"]
			if (wantProfile == "") == hasProfile || (hasProfile && profile != wantProfile) {
				t.Errorf("%s %s as %s: 403 %v, want profile %q", method, path, who, p, wantProfile)
			}
			if wantProfile == "" && !strings.HasSuffix(str(p["detail"]), "no profile: superusers only") {
				t.Errorf("%s %s as %s: detail %q", method, path, who, p["detail"])
			}
		}
	}

	t.Run("TCPIP", func(t *testing.T) {
		for i, r := range routeTable {
			for who := range nRoles {
				profile := map[authz.Kind]string{disp: tcpipDisplayProfile, ctl: tcpipControlProfile}[r.kind]
				check(t, i, who, "TCPIP", r.want[who], profile)
			}
		}
	})

	// No profile covers TCPIP2: the superuser passes every check there,
	// everybody else is refused with "no profile: superusers only".
	t.Run("TCPIP2", func(t *testing.T) {
		for i, r := range routeTable {
			if r.kind == none {
				continue
			}
			for who := range nRoles {
				want := http.StatusForbidden
				switch who {
				case roleNone:
					want = http.StatusUnauthorized
				case roleSuperuser:
					want = http.StatusOK
				}
				check(t, i, who, "TCPIP2", want, "")
			}
		}
	})

	// A control request that a page of another site could have made is
	// refused, even for the operator who may control the stack, before
	// any NMI request, and audited as denied; a same-origin request from
	// the gateway's own pages passes.
	t.Run("cross-site", func(t *testing.T) {
		variants := []struct {
			name string
			hdr  []string
			form bool // an empty body with a form content type
			want int
		}{
			{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}, false, http.StatusForbidden},
			{"foreign Origin", []string{"Origin", "https://evil.example"}, false, http.StatusForbidden},
			{"form content type", []string{"Content-Type", "application/x-www-form-urlencoded"}, true, http.StatusForbidden},
			{"same origin", []string{"Origin", f.s.srv.URL, "Sec-Fetch-Site", "same-origin"}, false, http.StatusOK},
		}
		for _, r := range routeTable {
			if r.kind != ctl {
				continue
			}
			_, route, _ := strings.Cut(r.route, " ")
			path := tablePath(route, "TCPIP", r.id)
			for _, v := range variants {
				before, recs := f.nmiCalls(), len(f.sink.records())
				body := r.body
				if v.form {
					body = ""
				}
				resp, b := f.s.post(path, body, append(roleOperator.header(), v.hdr...)...)
				if resp.StatusCode != v.want {
					t.Errorf("%s, %s: %d, want %d: %.300s", path, v.name, resp.StatusCode, v.want, b)
					continue
				}
				if v.want == http.StatusOK {
					continue
				}
				if p := decodeObject(t, b); p["type"] != "urn:nmigw:problem:cross-site" {
					t.Errorf("%s, %s: problem %v", path, v.name, p)
				}
				if n := f.nmiCalls() - before; n != 0 {
					t.Errorf("%s, %s: %d NMI requests", path, v.name, n)
				}
				all := f.sink.records()
				if len(all) != recs+1 || all[recs].Outcome != "denied" || all[recs].HTTPStatus != http.StatusForbidden ||
					all[recs].User != "OPER1" || !strings.Contains(all[recs].Error, "cross-site") {
					t.Errorf("%s, %s: audit records %+v", path, v.name, all[recs:])
				}
			}
		}
	})

	// Every control request was audited; denials as denied, with the
	// deciding profile (a cross-site refusal was allowed by SAF).
	for _, rec := range f.sink.records() {
		if strings.Contains(rec.Error, "cross-site") {
			continue
		}
		if rec.HTTPStatus == http.StatusForbidden && (rec.Allowed || rec.Outcome != "denied" || rec.Resource == "" ||
			profiles && (rec.Stack == "TCPIP") != (rec.Profile == tcpipControlProfile)) {
			t.Errorf("audit record of a denial: %+v", rec)
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

func TestWhoAmIPerRole(t *testing.T) { whoAmITable(t, nil) }

// whoAmITable checks whoami and the stack list, per role, against the
// authorizer newAuthzFixtureWith makes of authorizer: the stacks the NMI
// knows are TCPIP (covered by profiles) and TCPIP2 (covered by none).
func whoAmITable(t *testing.T, authorizer func(*policy.Store) authz.Authorizer) {
	f := newAuthzFixtureWith(t, authorizer)
	type rights struct{ tcpipD, tcpipC, tcpip2D, tcpip2C bool }
	for _, c := range []struct {
		who    role
		user   string
		groups []string
		rights rights
		stacks []string // GET /v1/stacks
	}{
		{roleViewer, "VIEWER1", []string{"VIEWERS"}, rights{true, false, false, false}, []string{"TCPIP"}},
		{roleOtherOper, "OPERB", []string{"OPERSB"}, rights{false, false, false, false}, nil},
		{roleOperator, "OPER1", []string{"OPERS"}, rights{true, true, false, false}, []string{"TCPIP"}},
		{roleSuperuser, "IBMUSER", nil, rights{false, false, true, true}, []string{"TCPIP2"}},
		{roleGeneric, "GENUSER", nil, rights{true, true, false, false}, []string{"TCPIP"}},
		{roleDenied, "DENIED1", nil, rights{true, false, false, false}, []string{"TCPIP"}},
	} {
		v, _ := f.s.getJSON("/v1/whoami", http.StatusOK, c.who.header()...)
		var groups []string
		for _, g := range v["groups"].([]any) {
			groups = append(groups, g.(string))
		}
		got := rights{}
		for _, x := range v["stacks"].([]any) {
			st := x.(map[string]any)
			d, ctl := st["display"].(bool), st["control"].(bool)
			switch st["stack"] {
			case "TCPIP":
				got.tcpipD, got.tcpipC = d, ctl
			case "TCPIP2":
				got.tcpip2D, got.tcpip2C = d, ctl
			default:
				t.Errorf("%s: stack %v", c.who, st["stack"])
			}
			if st["displayResource"] != "EZB.NETMGMT.SYS1."+str(st["stack"])+".IPSEC.DISPLAY" ||
				st["controlResource"] != "EZB.NETMGMT.SYS1."+str(st["stack"])+".IPSEC.CONTROL" {
				t.Errorf("%s: resources %v", c.who, st)
			}
		}
		// Only the stacks with DISPLAY or CONTROL are listed.
		listed := 0
		for _, r := range [][2]bool{{c.rights.tcpipD, c.rights.tcpipC}, {c.rights.tcpip2D, c.rights.tcpip2C}} {
			if r[0] || r[1] {
				listed++
			}
		}
		if v["user"] != c.user || !slices.Equal(groups, c.groups) || v["authentication"] != "token" || got != c.rights ||
			len(v["stacks"].([]any)) != listed {
			t.Errorf("%s: whoami %v, want %s %v %+v", c.who, v, c.user, c.groups, c.rights)
		}

		l, _ := f.s.getJSON("/v1/stacks", http.StatusOK, c.who.header()...)
		if names := field(items(t, l), "name"); !slices.Equal(names, c.stacks) {
			t.Errorf("%s: GET /v1/stacks lists %v, want %v", c.who, names, c.stacks)
		}
	}
	resp, _ := f.s.get("/v1/whoami")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami without credentials: %d", resp.StatusCode)
	}
}

// Tokens and Authorization headers never reach the logs (every level) or
// the audit records, whether they are accepted, unknown or malformed.
func TestLogsHoldNoCredentials(t *testing.T) {
	f := newAuthzFixture(t)
	secrets := []string{"unknown-token-5d1e", "dXNlcjpwYXNzd29yZA==", "two words", "tok-"}
	for who := roleViewer; who < nRoles; who++ {
		f.s.get("/v1/stacks/TCPIP/summary", who.header()...)
		f.s.post("/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "", who.header()...)
		secrets = append(secrets, who.token(), who.header()[1])
	}
	for _, h := range []string{"Bearer unknown-token-5d1e", "Basic dXNlcjpwYXNzd29yZA==", "Bearer two words",
		"bearer unknown-token-5d1e", "Bearer " + strings.Repeat("A", 40) + ".unknown-token-5d1e.x"} {
		resp, _ := f.s.post("/v1/stacks/TCPIP/filters:loadPolicy", "", "Authorization", h)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%q: %d", h, resp.StatusCode)
		}
		secrets = append(secrets, h)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"authentication failed"`) || !strings.Contains(logs, `"msg":"authenticated"`) ||
		!strings.Contains(logs, `"msg":"http"`) {
		t.Fatalf("the logs lack the authentication and access records:\n%s", logs)
	}
	audit, err := json.Marshal(f.sink.records())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
		if strings.Contains(string(audit), s) {
			t.Errorf("the audit records hold %q", s)
		}
	}
}
