package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// The policy of the system tables: the fleet fixture's systems, each
// stack TCPIP guarded by its own resource. Behind NSS server NSS1 the
// resources are the NSS server's: EZB.NETMGMT.NSS1.<client>.IPSEC.*.
const systemsPolicyYAML = `
system: SYS1
superusers: {users: [IBMUSER]}
profiles:
  - name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.*
    uacc: NONE
    access: [{id: OPERS, level: READ}]
  - name: EZB.NETMGMT.SYS2.TCPIP.IPSEC.DISPLAY
    uacc: NONE
    access: [{id: VIEWERS, level: READ}, {id: OPERS, level: READ}]
  - name: EZB.NETMGMT.SYS2.TCPIP.IPSEC.CONTROL
    uacc: NONE
    access: [{id: OPERS, level: READ}]
  - name: EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC.DISPLAY
    uacc: NONE
    access: [{id: VIEWERS, level: READ}, {id: OPERS, level: READ}]
  - name: EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC.CONTROL
    uacc: NONE
    access: [{id: OPERS, level: READ}]
  - name: EZB.NETMGMT.NSS1.SYSBTCP.IPSEC.*
    uacc: NONE
    access: [{id: OPERSB, level: READ}]
  # Stacks named TCPIP on any system directly reached: not the NSS
  # server's resources, which name the client.
  - name: EZB.NETMGMT.*.TCPIPB.IPSEC.*
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
`

// systemTable: for each system's TCPIP (and TCPIPB), what each role gets
// on a display route and on a control route, and the resource a 403
// names. Roles: none, viewer, othr (OPERB), oper.
var systemTable = []struct {
	system, stack string
	display       [4]int
	control       [4]int
	resource      string // of the 403s, without the kind
}{
	//                       none view othr oper        none view othr oper
	{"SYS1", "TCPIP", [4]int{401, 403, 403, 200}, [4]int{401, 403, 403, 200}, "EZB.NETMGMT.SYS1.TCPIP.IPSEC."},
	{"SYS2", "TCPIP", [4]int{401, 200, 403, 200}, [4]int{401, 403, 403, 200}, "EZB.NETMGMT.SYS2.TCPIP.IPSEC."},
	{"SYS2", "TCPIPB", [4]int{401, 403, 200, 403}, [4]int{401, 403, 200, 403}, "EZB.NETMGMT.SYS2.TCPIPB.IPSEC."},
	{"SYSA", "TCPIP", [4]int{401, 200, 403, 200}, [4]int{401, 403, 403, 200}, "EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC."},
	{"SYSB", "TCPIP", [4]int{401, 403, 200, 403}, [4]int{401, 403, 200, 403}, "EZB.NETMGMT.NSS1.SYSBTCP.IPSEC."},
}

var systemRoles = [4]role{roleNone, roleViewer, roleOtherOper, roleOperator}

func newSystemsAuthzFixture(t *testing.T) *fleetFixture {
	t.Helper()
	y := strings.NewReplacer(
		"@viewer", hashHex(roleViewer.token()),
		"@otheroper", hashHex(roleOtherOper.token()),
		"@operator", hashHex(roleOperator.token()),
	).Replace(systemsPolicyYAML)
	p, err := policy.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	store := policy.NewStaticStore(p)
	log := slog.New(slog.DiscardHandler)
	an := authn.New(authn.Options{Policy: store.Current, Logger: log,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *authn.Error) {
			httpapi.WriteAuthProblem(w, r, e.Status, e.Detail)
		}})
	return newFleetFixture(t, func(d *httpapi.Deps) {
		d.Authenticate, d.Authorizer, d.AuthMethod = an.Middleware, store, authn.MethodName
	})
}

// System × stack × role: the SAF resource checked is the system's own,
// or behind the NSS server the one IBM's NSS server checks, and a refusal
// sends nothing to the NMI.
func TestSystemsAuthzTable(t *testing.T) {
	f := newSystemsAuthzFixture(t)
	// The requests made for the caller: the gateway's own NMsec_GET_CLIENTINFO,
	// which finds the NSS clients, does not count.
	calls := func() int {
		n := f.sys1.nmiCalls() + f.sys2.nmiCalls()
		for _, r := range f.nss.requests() {
			if r.Type != nmi.GetClientInfo {
				n++
			}
		}
		return n
	}
	for _, row := range systemTable {
		root := "/v1/systems/" + row.system + "/stacks/" + row.stack
		for i, who := range systemRoles {
			for _, c := range []struct {
				method, path string
				want         int
				kind         string
			}{
				{http.MethodGet, root + "/tunnels/manual", row.display[i], "DISPLAY"},
				{http.MethodGet, root + "/interfaces", row.display[i], "DISPLAY"},
				{http.MethodPost, root + "/tunnels/manual:activate", row.control[i], "CONTROL"},
			} {
				before := calls()
				var resp *http.Response
				var b []byte
				if c.method == http.MethodGet {
					resp, b = f.s.get(c.path, who.header()...)
				} else {
					resp, b = f.s.post(c.path, allBody, who.header()...)
				}
				want := c.want
				if resp.StatusCode != want {
					t.Errorf("%s %s as %s: %d, want %d: %.300s", c.method, c.path, who, resp.StatusCode, want, b)
					continue
				}
				if want == http.StatusOK {
					continue
				}
				if n := calls() - before; n != 0 {
					t.Errorf("%s %s as %s: %d NMI requests before the refusal", c.method, c.path, who, n)
				}
				if want == http.StatusForbidden {
					if p := decodeObject(t, b); p["resource"] != row.resource+c.kind {
						t.Errorf("%s %s as %s: resource %v, want %s", c.method, c.path, who, p["resource"], row.resource+c.kind)
					}
				}
			}
		}
	}
	// The audit records name the system and the resource.
	for _, r := range f.sink.records() {
		if r.User == "OPER1" && strings.HasPrefix(r.Path, "/v1/systems/SYSA/") && r.Resource != "EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC.CONTROL" {
			t.Errorf("audit record %+v", r)
		}
	}
}

// whoami, /v1/systems and the fleet lists show each caller its own
// systems and stacks, decided in one batch.
func TestSystemsPerRole(t *testing.T) {
	f := newSystemsAuthzFixture(t)
	type rights struct {
		Name    string
		Display bool
		Control bool
	}
	for _, c := range []struct {
		who     role
		systems map[string][]rights // whoami
		listed  []string            // /v1/systems: system/stack
		tunnels []string            // /v1/tunnels/manual: the systems/stacks of its items
	}{
		{roleViewer, map[string][]rights{"SYS2": {{"TCPIP", true, false}}, "SYSA": {{"TCPIP", true, false}}},
			[]string{"SYS2/TCPIP", "SYSA/TCPIP"}, []string{"SYS2/TCPIP", "SYSA/TCPIP"}},
		{roleOtherOper, map[string][]rights{"SYS2": {{"TCPIPB", true, true}}, "SYSB": {{"TCPIP", true, true}}},
			[]string{"SYS2/TCPIPB", "SYSB/TCPIP"}, nil},
		{roleOperator, map[string][]rights{"SYS1": {{"TCPIP", true, true}}, "SYS2": {{"TCPIP", true, true}}, "SYSA": {{"TCPIP", true, true}}},
			[]string{"SYS1/TCPIP", "SYS2/TCPIP", "SYSA/TCPIP"}, []string{"SYS1/TCPIP", "SYS2/TCPIP", "SYSA/TCPIP"}},
	} {
		v, _ := f.s.getJSON("/v1/whoami", http.StatusOK, c.who.header()...)
		var w struct {
			Systems []struct {
				Name   string
				Stacks []rights
			}
		}
		if err := json.Unmarshal(mustJSON(t, v), &w); err != nil {
			t.Fatal(err)
		}
		got := map[string][]rights{}
		for _, s := range w.Systems {
			got[s.Name] = s.Stacks
		}
		if len(got) != len(c.systems) {
			t.Errorf("whoami of %s: %v, want %v", c.who, got, c.systems)
		}
		for sys, want := range c.systems {
			if !slices.Equal(got[sys], want) {
				t.Errorf("whoami of %s on %s: %v, want %v", c.who, sys, got[sys], want)
			}
		}

		l, _ := f.s.getJSON("/v1/systems", http.StatusOK, c.who.header()...)
		var listed []string
		for _, it := range l["items"].([]any) {
			m := it.(map[string]any)
			for _, st := range m["stacks"].([]any) {
				listed = append(listed, str(m["name"])+"/"+str(st.(map[string]any)["name"]))
			}
		}
		if !slices.Equal(listed, c.listed) {
			t.Errorf("/v1/systems for %s: %v, want %v", c.who, listed, c.listed)
		}

		items, un, _ := fleetItems(t, getBody(t, f.s, "/v1/tunnels/manual", http.StatusOK, c.who.header()...), "tunnelId")
		var from []string
		for _, it := range items {
			if s := it.system + "/" + it.stack; !slices.Contains(from, s) {
				from = append(from, s)
			}
		}
		if !slices.Equal(from, c.tunnels) || len(un) != 0 {
			t.Errorf("/v1/tunnels/manual for %s: from %v, unreachable %v; want from %v", c.who, from, un, c.tunnels)
		}
	}
}

// A filter set action behind an NSS server answers at once, without
// "reached": NMsec_GET_STACKINFO, which would show the set, is not routed
// to the client. On an IKE daemon ?wait confirms it.
func TestLoadPolicyWaitBehindNSS(t *testing.T) {
	f := newFleetFixture(t)
	v := f.s.postJSON("/v1/systems/SYSA/stacks/TCPIP/filters:loadDefault?wait=30s", "", http.StatusOK)
	if _, ok := v["reached"]; ok || v["filterSet"] != "default" {
		t.Errorf("behind NSS: %v", v)
	}
	for _, c := range f.nss.requests() {
		if c.Type == nmi.GetStackInfo {
			t.Errorf("NMsec_GET_STACKINFO sent to the NSS server")
		}
	}
	f.sys2.setStep(1e9)
	v = f.s.postJSON("/v1/systems/SYS2/stacks/TCPIP/filters:loadDefault?wait=30s", "", http.StatusOK)
	if v["reached"] != true {
		t.Errorf("on SYS2: %v", v)
	}
}

// /readyz of a gateway whose default system is an NSS server asks it
// NMsec_GET_CLIENTINFO, which it answers itself.
func TestReadinessOfNSSDefault(t *testing.T) {
	nss := newSimConfig(t, ikedsim.Config{NSS: loadNSSExample(t), System: "NSS1"}, time.Now())
	fl, err := fleet.New([]fleet.Endpoint{{Name: "NSS1", Kind: fleet.NSS, NMI: nss}}, "", fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet = fl })
	if resp, b := s.get("/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", resp.StatusCode, b)
	}
	if r := nss.lastRequest(t); r.Type != nmi.GetClientInfo {
		t.Errorf("readyz sent %v", r.Type)
	}
	nss.setErr(&nmi.StatusError{Type: nmi.GetClientInfo, Rc: nmi.EACCES})
	if resp, _ := s.get("/readyz"); resp.StatusCode < 500 {
		t.Errorf("readyz with the NSS server failing: %d", resp.StatusCode)
	}
}
