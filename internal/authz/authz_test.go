package authz

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// rolesConfig is the policy behind the role table below.
func rolesConfig() Config {
	return Config{
		System:      "sys1",
		SuperUsers:  []string{"ibmuser"},
		SuperGroups: []string{"SYS1"},
		Profiles: []Profile{
			{Name: "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", UACC: AccessNone, Access: []Entry{
				{"VIEWERS", AccessRead}, {"OPERS", AccessRead}, {"ANONYM", AccessRead}, {"GENUSER", AccessRead},
			}},
			{Name: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", UACC: AccessNone, Access: []Entry{{"OPERS", AccessRead}}},
			{Name: "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.CONTROL", UACC: AccessNone, Access: []Entry{{"OP2", AccessRead}}},
			{Name: "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.*", UACC: AccessNone, Access: []Entry{
				{"DENIED", AccessNone}, {"VIEWERS", AccessRead}, {"OPERS", AccessRead}, {"ANONYM", AccessRead},
			}},
			// No profile covers EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL.
		},
		Groups: map[string][]string{
			"VIEW1":  {"VIEWERS"},
			"OPER1":  {"OPERS"},
			"OP2":    {"VIEWERS"},
			"SU2":    {"SYS1"},
			"DENIED": {"VIEWERS"},
		},
	}
}

// Every role against every operation: D = DISPLAY allowed, C = CONTROL
// allowed, - = denied, for the stacks TCPIP, TCPIP2 and TCPIP3 in turn.
func TestRolesAgainstOperations(t *testing.T) {
	a, err := New(rolesConfig())
	if err != nil {
		t.Fatal(err)
	}
	stacks := []string{"TCPIP", "TCPIP2", "TCPIP3"}
	tests := []struct {
		role   string
		p      Principal
		rights string
	}{
		{"anonymous", Principal{User: "ANONYM"}, "D- D- D-"},
		{"viewer", Principal{User: "VIEW1"}, "D- D- D-"},
		{"viewer by identity group", Principal{User: "X", Groups: []string{"viewers"}}, "D- D- D-"},
		{"operator", Principal{User: "oper1"}, "DC D- D-"},
		{"operator on another stack", Principal{User: "OP2"}, "D- DC D-"},
		{"superuser (profiles still decide)", Principal{User: "IBMUSER"}, "-- -- -C"},
		{"superuser by group", Principal{User: "SU2"}, "-- -- -C"},
		{"superuser by identity group", Principal{User: "X", Groups: []string{"sys1"}}, "-- -- -C"},
		{"user under a generic profile", Principal{User: "GENUSER"}, "D- -- D-"},
		{"user denied by a more specific profile", Principal{User: "DENIED"}, "D- -- D-"},
		{"unknown user", Principal{User: "NOBODY"}, "-- -- --"},
		{"no user", Principal{}, "-- -- --"},
		{"user ID too long", Principal{User: "OPERATOR1", Groups: []string{"OPERS"}}, "-- -- --"},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range stacks {
			r := []byte("--")
			if a.CheckStack(tt.p, s, Display).Allowed {
				r[0] = 'D'
			}
			if a.CheckStack(tt.p, s, Control).Allowed {
				r[1] = 'C'
			}
			got = append(got, string(r))
		}
		if g := strings.Join(got, " "); g != tt.rights {
			t.Errorf("%s: rights %q, want %q", tt.role, g, tt.rights)
		}
	}
}

func TestDecisions(t *testing.T) {
	a, err := New(rolesConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    Principal
		res  string
		want Decision
	}{
		{Principal{User: "DENIED"}, "ezb.netmgmt.sys1.tcpip2.ipsec.display", Decision{
			Resource: "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.DISPLAY", Profile: "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.*",
			Reason: "NONE via access list entry for user DENIED; READ required"}},
		{Principal{User: "VIEW1"}, "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", Decision{Allowed: true,
			Resource: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", Profile: "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY",
			Reason: "READ via access list entry for group VIEWERS"}},
		{Principal{User: "VIEW1"}, "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", Decision{
			Resource: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", Profile: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL",
			Reason: "NONE via UACC; READ required"}},
		{Principal{User: "VIEW1"}, "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Decision{
			Resource: "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Reason: ReasonNoProfile}},
		{Principal{User: "IBMUSER"}, "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Decision{Allowed: true,
			Resource: "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Reason: "no profile: IBMUSER is a superuser"}},
		{Principal{User: "SU2"}, "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Decision{Allowed: true,
			Resource: "EZB.NETMGMT.SYS1.TCPIP3.IPSEC.CONTROL", Reason: "no profile: group SYS1 is a superuser group"}},
		// A resource name with generic characters is never looked up.
		{Principal{User: "IBMUSER"}, "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", Decision{
			Resource: "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", Reason: ReasonBadResource}},
		{Principal{User: "IBMUSER"}, "EZB..X", Decision{Resource: "EZB..X", Reason: ReasonBadResource}},
		{Principal{User: "A B"}, "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", Decision{
			Resource: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", Reason: ReasonBadUser}},
	}
	for _, tt := range tests {
		if got := a.Check(tt.p, tt.res); got != tt.want {
			t.Errorf("Check(%+v, %q)\n got  %+v\n want %+v", tt.p, tt.res, got, tt.want)
		}
	}
}

// The access list rules, one profile at a time.
func TestAccessList(t *testing.T) {
	const res = "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY"
	tests := []struct {
		name    string
		profile Profile
		p       Principal
		need    Access
		allowed bool
		reason  string
	}{
		{"user entry decides over a higher group entry",
			Profile{UACC: AccessRead, Access: []Entry{{"G1", AccessAlter}, {"U1", AccessNone}}},
			Principal{User: "U1", Groups: []string{"G1"}}, AccessRead, false, "NONE via access list entry for user U1; READ required"},
		{"user entry grants below a group NONE",
			Profile{Access: []Entry{{"G1", AccessNone}, {"U1", AccessRead}}},
			Principal{User: "U1", Groups: []string{"G1"}}, AccessRead, true, "READ via access list entry for user U1"},
		{"highest group entry decides",
			Profile{Access: []Entry{{"G1", AccessNone}, {"G2", AccessUpdate}, {"G3", AccessRead}}},
			Principal{User: "U1", Groups: []string{"G1", "G2", "G3"}}, AccessUpdate, true, "UPDATE via access list entry for group G2"},
		{"group NONE without a better group denies",
			Profile{UACC: AccessAlter, Access: []Entry{{"G1", AccessNone}, {"*", AccessAlter}}},
			Principal{User: "U1", Groups: []string{"G1"}}, AccessRead, false, "NONE via access list entry for group G1; READ required"},
		{"* entry before UACC",
			Profile{UACC: AccessAlter, Access: []Entry{{"*", AccessNone}, {"G9", AccessRead}}},
			Principal{User: "U1", Groups: []string{"G1"}}, AccessRead, false, "NONE via access list entry for *; READ required"},
		{"* entry grants",
			Profile{Access: []Entry{{"*", AccessRead}}},
			Principal{User: "U1"}, AccessRead, true, "READ via access list entry for *"},
		{"UACC last",
			Profile{UACC: AccessRead, Access: []Entry{{"U2", AccessNone}}},
			Principal{User: "U1"}, AccessRead, true, "READ via UACC"},
		{"level below the one needed",
			Profile{Access: []Entry{{"U1", AccessUpdate}}},
			Principal{User: "U1"}, AccessControl, false, "UPDATE via access list entry for user U1; CONTROL required"},
		{"IDs compared in upper case",
			Profile{Access: []Entry{{"g1", AccessRead}}},
			Principal{User: "u1", Groups: []string{"G1"}}, AccessRead, true, "READ via access list entry for group G1"},
		{"invalid identity groups are ignored",
			Profile{Access: []Entry{{"G1", AccessRead}}},
			Principal{User: "U1", Groups: []string{"Network Operations", "", "G1"}}, AccessRead, true, "READ via access list entry for group G1"},
	}
	for _, tt := range tests {
		tt.profile.Name = res
		a, err := New(Config{System: "SYS1", Profiles: []Profile{tt.profile}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		d := a.Decide(tt.p, res, tt.need)
		if d.Allowed != tt.allowed || d.Reason != tt.reason || d.Profile != res {
			t.Errorf("%s: got %+v, want allowed=%v reason %q", tt.name, d, tt.allowed, tt.reason)
		}
	}
}

// Which profile decides, including the cases the issue names: **, %,
// ties, and a specific NONE beating a generic READ.
func TestDecidingProfile(t *testing.T) {
	tests := []struct {
		name     string
		profiles []string // each grants READ to everyone unless it ends in " NONE"
		resource string
		profile  string
		allowed  bool
	}{
		{"discrete decides over any generic", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY NONE", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLA%", "**"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", false},
		{"specific NONE beats generic READ", []string{"EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.* NONE"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.*", false},
		{"specific READ beats generic NONE", []string{"EZB.NETMGMT.** NONE", "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", true},
		{"** alone covers everything", []string{"**"}, "EZB.NETMGMT.SYS9.X.IPSEC.CONTROL", "**", true},
		{"** is least specific", []string{"** NONE", "EZB.**"}, "EZB.NETMGMT", "EZB.**", true},
		{"% beats end of name", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY% NONE", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLA%"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLA%", true},
		{"% beats *", []string{"EZB.NETMGMT.SYS%.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS*.TCPIP.IPSEC.DISPLAY NONE"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS%.TCPIP.IPSEC.DISPLAY", true},
		{"end of name beats *", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.* NONE", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.**"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.*", false},
		{"specific character beats %", []string{"EZB.NETMGMT.SYS%.** NONE", "EZB.NETMGMT.SYS1*"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1*", true},
		{"tie of two specific characters: lower byte wins", []string{"A.**.C.* NONE", "A.**.B.*"}, "A.B.C.D", "A.**.B.*", true},
		{"tie, configured the other way round", []string{"A.**.B.*", "A.**.C.* NONE"}, "A.B.C.D", "A.**.B.*", true},
		{"a non-matching more specific profile is ignored", []string{"EZB.NETMGMT.SYS1.TCPIP2.** NONE", "EZB.NETMGMT.SYS1.**"},
			"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.**", true},
		{"no covering profile", []string{"EZB.NETMGMT.SYS2.**"}, "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "", false},
	}
	for _, tt := range tests {
		cfg := Config{System: "SYS1"}
		for _, p := range tt.profiles {
			name, none := strings.CutSuffix(p, " NONE")
			uacc := AccessRead
			if none {
				uacc = AccessNone
			}
			cfg.Profiles = append(cfg.Profiles, Profile{Name: name, UACC: uacc})
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		d := a.Check(Principal{User: "U1"}, tt.resource)
		if d.Profile != tt.profile || d.Allowed != tt.allowed {
			t.Errorf("%s: decided by %q allowed=%v, want %q allowed=%v", tt.name, d.Profile, d.Allowed, tt.profile, tt.allowed)
		}
	}
}

func TestNewRejects(t *testing.T) {
	ok := Profile{Name: "EZB.**", UACC: AccessRead}
	tests := []struct {
		name string
		cfg  Config
		want error
		path string
	}{
		{"no system", Config{}, ErrInvalidSystem, "system"},
		{"long system", Config{System: "SYSTEM123"}, ErrInvalidSystem, "system"},
		{"bad superuser", Config{System: "S", SuperUsers: []string{"a.b"}}, ErrInvalidID, "superusers.users[0]"},
		{"bad supergroup", Config{System: "S", SuperGroups: []string{"OK", "TOOLONGID"}}, ErrInvalidID, "superusers.groups[1]"},
		{"bad profile", Config{System: "S", Profiles: []Profile{ok, {Name: "A.**.**"}}}, ErrInvalidName, "profiles[1]: name"},
		{"duplicate profile", Config{System: "S", Profiles: []Profile{ok, {Name: "ezb.**"}}}, ErrDuplicateEntry, "profiles[1]"},
		{"bad uacc", Config{System: "S", Profiles: []Profile{{Name: "A", UACC: 9}}}, ErrInvalidAccess, "profiles[0]: uacc"},
		{"bad entry id", Config{System: "S", Profiles: []Profile{{Name: "A", Access: []Entry{{"", AccessRead}}}}}, ErrInvalidID, "profiles[0]: access[0].id"},
		{"bad entry level", Config{System: "S", Profiles: []Profile{{Name: "A", Access: []Entry{{"U", -1}}}}}, ErrInvalidAccess, "profiles[0]: access[0].level"},
		{"duplicate entry", Config{System: "S", Profiles: []Profile{{Name: "A", Access: []Entry{{"U", AccessRead}, {"u", AccessNone}}}}}, ErrDuplicateEntry, "profiles[0]: access[1].id"},
		{"bad user", Config{System: "S", Groups: map[string][]string{"U%": nil}}, ErrInvalidID, "users"},
		{"bad group", Config{System: "S", Groups: map[string][]string{"U": {"G", "G-1"}}}, ErrInvalidID, "users.U[1]"},
		{"user twice", Config{System: "S", Groups: map[string][]string{"U": nil, "u": nil}}, ErrDuplicateEntry, "users"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), tt.path+": ") {
			t.Errorf("%s: error %v, want %v at %s", tt.name, err, tt.want, tt.path)
		}
	}
}

func TestAccessText(t *testing.T) {
	for l := AccessNone; l <= AccessAlter; l++ {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Access
		if err := back.UnmarshalText([]byte(strings.ToLower(string(b)))); err != nil || back != l {
			t.Errorf("%s: round trip gave %v, %v", l, back, err)
		}
	}
	if s := Access(7).String(); s != "unknown(7)" {
		t.Errorf("Access(7) = %q", s)
	}
	if _, err := Access(-1).MarshalText(); !errors.Is(err, ErrInvalidAccess) {
		t.Errorf("MarshalText(-1) error %v", err)
	}
	if _, err := ParseAccess("WRITE"); !errors.Is(err, ErrInvalidAccess) {
		t.Errorf("ParseAccess(WRITE) error %v", err)
	}
	if s := Kind(5).String(); s != "unknown(5)" {
		t.Errorf("Kind(5) = %q", s)
	}
}

func TestResource(t *testing.T) {
	if got := Resource("sys1", "tcpip", Display); got != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY" {
		t.Errorf("Resource = %q", got)
	}
	a, err := New(Config{System: "sys2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Resource("", "TCPIPB", Control); got != "EZB.NETMGMT.SYS2.TCPIPB.IPSEC.CONTROL" {
		t.Errorf("Model.Resource = %q", got)
	}
	// Another system (behind an NSS server: its system, the client's name).
	if got := a.Resource("nss1", "SYSB_TCPIP", Display); got != "EZB.NETMGMT.NSS1.SYSB_TCPIP.IPSEC.DISPLAY" {
		t.Errorf("Model.Resource on NSS1 = %q", got)
	}
	if a.System() != "SYS2" {
		t.Errorf("System = %q", a.System())
	}
}

func TestGroups(t *testing.T) {
	a, err := New(rolesConfig())
	if err != nil {
		t.Fatal(err)
	}
	got := a.Groups(Principal{User: "op2", Groups: []string{"noc", "viewers", "Not Valid"}})
	if strings.Join(got, ",") != "NOC,VIEWERS" {
		t.Errorf("Groups = %q", got)
	}
	if got := a.Groups(Principal{User: ""}); got != nil {
		t.Errorf("Groups of no user = %q", got)
	}
}

func TestContext(t *testing.T) {
	if _, ok := PrincipalFrom(context.Background()); ok {
		t.Error("principal in an empty context")
	}
	want := Principal{User: "U1", Groups: []string{"G"}}
	got, ok := PrincipalFrom(WithPrincipal(context.Background(), want))
	if !ok || got.User != want.User || len(got.Groups) != 1 {
		t.Errorf("PrincipalFrom = %+v, %v", got, ok)
	}
}

// The Model as an Authorizer: the batch decides each resource as Check
// does, in order, and neither form fails.
func TestModelAuthorizer(t *testing.T) {
	m, err := New(rolesConfig())
	if err != nil {
		t.Fatal(err)
	}
	var az Authorizer = m
	p := Principal{User: "OP2", Groups: []string{"NOC"}}
	resources := []string{
		az.Resource("", "TCPIP", Display), az.Resource("", "TCPIP", Control),
		az.Resource("", "TCPIPB", Display), "not a resource..", az.Resource("", "TCPIPB", Control),
	}
	batch, err := az.AuthorizeBatch(t.Context(), p, resources)
	if err != nil || len(batch) != len(resources) {
		t.Fatalf("AuthorizeBatch = %v, %v", batch, err)
	}
	allowed := 0
	for i, r := range resources {
		one, err := az.Authorize(t.Context(), p, r)
		if err != nil || one != m.Check(p, r) || batch[i] != one {
			t.Errorf("%s: Authorize %+v, %v; batch %+v; Check %+v", r, one, err, batch[i], m.Check(p, r))
		}
		if one.Allowed {
			allowed++
		}
	}
	// Both outcomes occur, so the comparison above means something.
	if allowed == 0 || allowed == len(resources) {
		t.Errorf("%d of %d allowed: %+v", allowed, len(resources), batch)
	}
}

// AllowAll grants everything, to anyone, and names no resource.
func TestAllowAll(t *testing.T) {
	for _, p := range []Principal{{}, {User: "NOBODY"}, {User: "not valid!"}} {
		d, err := AllowAll.Authorize(t.Context(), p, "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL")
		if err != nil || !d.Allowed || d.Profile != "" || d.Reason != ReasonAllowAll ||
			d.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" {
			t.Errorf("%+v: %+v, %v", p, d, err)
		}
		ds, err := AllowAll.AuthorizeBatch(t.Context(), p, []string{"A.B", ""})
		if err != nil || len(ds) != 2 || !ds[0].Allowed || !ds[1].Allowed || ds[0].Resource != "A.B" {
			t.Errorf("%+v: batch %+v, %v", p, ds, err)
		}
	}
	if r := AllowAll.Resource("", "TCPIP", Display); r != "" {
		t.Errorf("AllowAll.Resource = %q", r)
	}
}

// TestAllowed: one batch, one answer per resource, in order.
func TestAllowed(t *testing.T) {
	a, err := New(Config{System: "SYS1", Profiles: []Profile{
		{Name: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", UACC: AccessRead},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Allowed(t.Context(), a, Principal{User: "OPER1"}, []string{
		"EZB.NETMGMT.SYS1.TCPIPB.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY"})
	if err != nil || len(got) != 2 || got[0] || !got[1] {
		t.Fatalf("Allowed = %v, %v", got, err)
	}
}
