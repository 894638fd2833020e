package policy

import (
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
)

var oper1Hash = sha256.Sum256([]byte("oper1-token"))

// The example of DESIGN.md §4, with a real hash.
var example = `system: SYS1                      # <system> in EZB.NETMGMT.<system>.<stack>.IPSEC.<type>
superusers: {users: [IBMUSER], groups: [SYS1]}   # stand for UID 0 and BPX.SUPERUSER
anonymous: ANONYM                 # user ID for requests without credentials; absent = 401
profiles:                         # SERVAUTH profiles
  - name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY
    uacc: NONE
    access: [{id: OPSGRP, level: READ}, {id: "*", level: NONE}]
  - name: EZB.NETMGMT.SYS1.*.IPSEC.CONTROL
    uacc: NONE
    access: [{id: NETADM, level: READ}]
users:                            # group membership of user IDs
  OPER1: [OPSGRP]
  ADMIN1: [OPSGRP, NETADM]
identities:                       # how callers become user IDs
  tokens: [{sha256: "` + hex.EncodeToString(oper1Hash[:]) + `", user: OPER1}]
  certificates: [{subject: "CN=dash,OU=NOC", user: DASHBRD}]   # unlisted subjects are refused
  oidc: {issuer: "https://idp.example", audience: nmigw, userClaim: preferred_username, groupsClaim: groups,
         userDomain: example.com, users: {"alice.smith@example.com": alice}, groups: {ipsec-operators: opsgrp}}
  uids: {1000: OPER1}             # simulator peers; else the login name of the uid, upper-cased
`

func TestParseExample(t *testing.T) {
	p, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if p.Authz.System != "SYS1" || p.Anonymous != "ANONYM" || len(p.Authz.Profiles) != 2 ||
		p.Authz.Profiles[0].Access[1] != (authz.Entry{ID: "*", Level: authz.AccessNone}) ||
		strings.Join(p.Authz.Groups["ADMIN1"], ",") != "OPSGRP,NETADM" {
		t.Errorf("authz config: %+v", p.Authz)
	}
	if len(p.Tokens) != 1 || p.Tokens[0].SHA256 != oper1Hash || p.Tokens[0].User != "OPER1" {
		t.Errorf("tokens: %+v", p.Tokens)
	}
	if len(p.Certificates) != 1 || p.Certificates[0].User != "DASHBRD" {
		t.Errorf("certificates: %+v", p.Certificates)
	}
	if o := p.OIDC; o.Issuer != "https://idp.example" || o.Audience != "nmigw" || o.UserClaim != "preferred_username" ||
		o.GroupsClaim != "groups" || o.Names.Domain != "example.com" || o.Names.Users["alice.smith@example.com"] != "ALICE" ||
		o.Groups["ipsec-operators"] != "OPSGRP" {
		t.Errorf("oidc: %+v", p.OIDC)
	}
	if p.UIDs[1000] != "OPER1" {
		t.Errorf("uids: %v", p.UIDs)
	}
	a, err := p.Authorizer()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := p.Authorizer(); a != b {
		t.Error("Authorizer is built again on every call")
	}
	for _, c := range []struct {
		user  string
		stack string
		kind  authz.Kind
		want  bool
	}{
		{"OPER1", "TCPIP", authz.Display, true},
		{"OPER1", "TCPIP", authz.Control, false},
		{"ADMIN1", "TCPIPB", authz.Control, true},
		{"ANONYM", "TCPIP", authz.Display, false},
		{"IBMUSER", "TCPIPB", authz.Display, true}, // no profile: superuser
	} {
		if got := a.CheckStack(authz.Principal{User: c.user}, c.stack, c.kind).Allowed; got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.user, c.stack, c.kind, got, c.want)
		}
	}
}

func TestParseNormalizes(t *testing.T) {
	p, err := Parse([]byte(`
system: sys1
superusers: {users: [ibmuser]}
anonymous: anonym
profiles:
  - name: ezb.netmgmt.**
    uacc: read
    access: [{id: opsgrp, level: update}]
users: {oper1: [opsgrp]}
identities:
  tokens: [{sha256: "` + strings.ToUpper(hex.EncodeToString(oper1Hash[:])) + `", user: oper1, groups: [extra]}]
  certificates: [{subject: "ou=NOC, cn=dash", user: dashbrd}]
  oidc: {issuer: "http://127.0.0.1:8080/realms/x", audience: nmigw, users: {oper1@x: oper1}}
  uids: {0: root}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Authz.System != "SYS1" || p.Authz.SuperUsers[0] != "IBMUSER" || p.Anonymous != "ANONYM" ||
		p.Authz.Profiles[0].Name != "EZB.NETMGMT.**" || p.Authz.Profiles[0].UACC != authz.AccessRead ||
		p.Authz.Profiles[0].Access[0] != (authz.Entry{ID: "OPSGRP", Level: authz.AccessUpdate}) ||
		p.Authz.Groups["OPER1"][0] != "OPSGRP" || p.Tokens[0].User != "OPER1" || p.Tokens[0].Groups[0] != "EXTRA" ||
		p.UIDs[0] != "ROOT" || p.OIDC.UserClaim != DefaultUserClaim {
		t.Errorf("not normalized: %+v", p)
	}
	if p.Tokens[0].SHA256 != oper1Hash {
		t.Error("upper-case hex hash decoded wrongly")
	}
}

func TestParseErrors(t *testing.T) {
	hash := `"` + hex.EncodeToString(oper1Hash[:]) + `"`
	tests := []struct {
		name string
		yaml string
		line int
		key  string
		want error
	}{
		{"unknown top-level key", "system: SYS1\nsytem: X\n", 2, "sytem", ErrUnknownKey},
		{"unknown nested key", "system: SYS1\nprofiles:\n  - name: A.**\n    uac: READ\n", 4, "profiles[0].uac", ErrUnknownKey},
		{"unknown access key", "system: SYS1\nprofiles:\n  - name: A\n    access:\n      - {id: X, level: READ, note: y}\n", 5, "profiles[0].access[0].note", ErrUnknownKey},
		{"unknown identities key", "system: SYS1\nidentities:\n  ldap: {}\n", 3, "identities.ldap", ErrUnknownKey},
		{"unknown oidc key", "system: SYS1\nidentities:\n  oidc:\n    issuer: https://a\n    audience: b\n    clientSecret: c\n", 6, "identities.oidc.clientSecret", ErrUnknownKey},
		{"missing system", "anonymous: X\n", 1, "system", ErrMissingKey},
		{"empty file", "", 0, "system", ErrMissingKey},
		{"bad system", "system: SYSTEM123\n", 1, "system", authz.ErrInvalidSystem},
		{"bad superuser", "system: S\nsuperusers:\n  users: [OK, TOOLONGID]\n", 3, "superusers.users[1]", authz.ErrInvalidID},
		{"superusers not a mapping", "system: S\nsuperusers: [A]\n", 2, "superusers", ErrInvalid},
		{"bad level", "system: S\nprofiles:\n  - name: A\n    uacc: WRITE\n", 4, "profiles[0].uacc", authz.ErrInvalidAccess},
		{"bad access level", "system: S\nprofiles:\n  - name: A\n    access:\n      - id: X\n        level: ALL\n", 6, "profiles[0].access[0].level", authz.ErrInvalidAccess},
		{"missing access level", "system: S\nprofiles:\n  - name: A\n    access:\n      - id: X\n", 5, "profiles[0].access[0].level", ErrMissingKey},
		{"bad profile name", "system: S\nprofiles:\n  - name: A.**.B.**\n", 3, "profiles[0].name", authz.ErrInvalidName},
		{"RACFVARS", "system: S\nprofiles:\n  - name: EZB.NETMGMT.&SYSNAME.**\n", 3, "profiles[0].name", authz.ErrInvalidName},
		{"missing profile name", "system: S\nprofiles:\n  - uacc: READ\n", 3, "profiles[0].name", ErrMissingKey},
		{"duplicate profile", "system: S\nprofiles:\n  - name: A.*\n  - name: a.*\n", 4, "profiles[1].name", ErrInvalid},
		{"bad access id", "system: S\nprofiles:\n  - name: A\n    access: [{id: 'A B', level: READ}]\n", 4, "profiles[0].access[0].id", authz.ErrInvalidID},
		{"duplicate access id", "system: S\nprofiles:\n  - name: A\n    access:\n      - {id: X, level: READ}\n      - {id: x, level: NONE}\n", 6, "profiles[0].access[1].id", ErrInvalid},
		{"bad user", "system: S\nusers:\n  OPERATOR1: [G]\n", 3, "users.OPERATOR1", authz.ErrInvalidID},
		{"bad group", "system: S\nusers:\n  OPER1:\n    - G1\n    - G.2\n", 5, "users.OPER1[1]", authz.ErrInvalidID},
		{"groups not a list", "system: S\nusers:\n  OPER1: G1\n", 3, "users.OPER1", ErrInvalid},
		{"bad anonymous", "system: S\nanonymous: '*'\n", 2, "anonymous", authz.ErrInvalidID},
		{"short hash", "system: S\nidentities:\n  tokens:\n    - sha256: abc\n      user: U\n", 4, "identities.tokens[0].sha256", ErrInvalid},
		{"non-hex hash", "system: S\nidentities:\n  tokens:\n    - sha256: " + strings.Repeat("g", 64) + "\n      user: U\n", 4, "identities.tokens[0].sha256", ErrInvalid},
		{"token without user", "system: S\nidentities:\n  tokens:\n    - sha256: " + hash + "\n", 4, "identities.tokens[0].user", ErrMissingKey},
		{"duplicate token", "system: S\nidentities:\n  tokens:\n    - {sha256: " + hash + ", user: A}\n    - {sha256: " + hash + ", user: B}\n", 5, "identities.tokens[1].sha256", ErrInvalid},
		{"bad token user", "system: S\nidentities:\n  tokens:\n    - sha256: " + hash + "\n      user: a@b.c\n", 5, "identities.tokens[0].user", authz.ErrInvalidID},
		{"bad subject", "system: S\nidentities:\n  certificates:\n    - subject: dash\n", 4, "identities.certificates[0].subject", ErrInvalid},
		{"unknown subject attribute", "system: S\nidentities:\n  certificates:\n    - subject: XX=dash\n", 4, "identities.certificates[0].subject", ErrInvalid},
		{"duplicate subject", "system: S\nidentities:\n  certificates:\n    - {subject: 'CN=a,OU=b', user: A}\n    - {subject: 'OU=b,CN=a', user: A}\n", 5, "identities.certificates[1].subject", ErrInvalid},
		{"certificate without user", "system: S\nidentities:\n  certificates:\n    - {subject: CN=a}\n", 4, "identities.certificates[0]", ErrMissingKey},
		{"oidc without a name mapping", "system: S\nidentities:\n  oidc:\n    issuer: https://idp.example\n    audience: a\n", 4, "identities.oidc.users", ErrMissingKey},
		{"oidc groups claim without groups", "system: S\nidentities:\n  oidc: {issuer: https://idp.example, audience: a, userDomain: x.example, groupsClaim: groups}\n", 3, "identities.oidc.groups", ErrMissingKey},
		{"oidc name to a superuser", "system: S\nsuperusers: {users: [ibmuser]}\nidentities:\n  oidc:\n    issuer: https://idp.example\n    audience: a\n    users: {boss: ibmuser}\n", 7, "identities.oidc.users.boss", ErrInvalid},
		{"oidc group to a superuser group", "system: S\nsuperusers: {groups: [sys1]}\nidentities:\n  oidc:\n    issuer: https://idp.example\n    audience: a\n    userPrefix: z-\n    groupsClaim: g\n    groups: {admins: sys1}\n", 9, "identities.oidc.groups.admins", ErrInvalid},
		{"http issuer", "system: S\nidentities:\n  oidc: {issuer: 'http://idp.example', audience: a}\n", 3, "identities.oidc.issuer", ErrInvalid},
		{"oidc without audience", "system: S\nidentities:\n  oidc:\n    issuer: https://idp.example\n", 4, "identities.oidc.audience", ErrMissingKey},
		{"bad uid", "system: S\nidentities:\n  uids:\n    -1: ROOT\n", 4, "identities.uids.-1", ErrInvalid},
		{"bad uid user", "system: S\nidentities:\n  uids:\n    0: root.x\n", 4, "identities.uids.0", authz.ErrInvalidID},
		{"list where a value belongs", "system: [S]\n", 1, "system", ErrInvalid},
		{"key twice", "system: S\nanonymous: A\nsystem: T\n", 3, "system", ErrInvalid},
		{"user twice", "system: S\nusers:\n  U1: [G]\n  U1: [H]\n", 4, "users.U1", ErrInvalid},
		{"two documents", "system: S\n---\nsystem: T\n", 2, "---", ErrInvalid},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		var pe *Error
		if !errors.As(err, &pe) || pe.Line != tt.line || pe.Key != tt.key || !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want line %d key %s (%v)", tt.name, err, tt.line, tt.key, tt.want)
		}
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse([]byte("system: [S\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "line") {
		t.Errorf("syntax error reported as %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte("system: SYS1\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2: bogus: unknown key") {
		t.Errorf("Load error %v does not name file, line and key", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestUserForUID(t *testing.T) {
	defer func(f func(string) (*user.User, error)) { lookupUID = f }(lookupUID)
	lookupUID = func(uid string) (*user.User, error) {
		switch uid {
		case "1001":
			return &user.User{Username: "oper2"}, nil
		case "1002":
			return &user.User{Username: "www-data"}, nil
		}
		return nil, user.UnknownUserIdError(0)
	}
	p := &Policy{UIDs: map[uint32]string{1000: "OPER1"}}
	for uid, want := range map[uint32]string{1000: "OPER1", 1001: "OPER2", 1002: "", 1003: ""} {
		if got := p.UserForUID(uid); got != want {
			t.Errorf("UserForUID(%d) = %q, want %q", uid, got, want)
		}
	}
	var none *Policy
	if got := none.UserForUID(1001); got != "OPER2" {
		t.Errorf("nil policy: UserForUID(1001) = %q", got)
	}
}

// The real lookup: uid 0 is root on every Unix system.
func TestUserForUIDRoot(t *testing.T) {
	if got := (*Policy)(nil).UserForUID(0); got != "ROOT" {
		t.Errorf("UserForUID(0) = %q, want ROOT", got)
	}
}

func TestFindCertificate(t *testing.T) {
	p, err := Parse([]byte(`system: S
identities:
  certificates:
    - {subject: "CN=dash,OU=NOC", user: DASHBRD}
    - {subject: "CN=a\\,b+OU=x=y", user: AB, groups: [G]}
`))
	if err != nil {
		t.Fatal(err)
	}
	name := func(rdns ...[2]string) pkix.Name {
		var n pkix.Name
		oids := map[string]asn1.ObjectIdentifier{"CN": {2, 5, 4, 3}, "OU": {2, 5, 4, 11}, "O": {2, 5, 4, 10}}
		for _, r := range rdns {
			n.Names = append(n.Names, pkix.AttributeTypeAndValue{Type: oids[r[0]], Value: r[1]})
		}
		return n
	}
	if c := p.FindCertificate(name([2]string{"OU", "NOC"}, [2]string{"CN", "dash"})); c == nil || c.User != "DASHBRD" {
		t.Errorf("CN=dash,OU=NOC: %+v", c)
	}
	if c := p.FindCertificate(name([2]string{"CN", "a,b"}, [2]string{"OU", "x=y"})); c == nil || c.Groups[0] != "G" {
		t.Errorf("escaped subject: %+v", c)
	}
	for _, n := range []pkix.Name{
		name([2]string{"CN", "dash"}),
		name([2]string{"CN", "dash"}, [2]string{"OU", "NOC"}, [2]string{"O", "Acme"}),
		name([2]string{"CN", "Dash"}, [2]string{"OU", "NOC"}),
		{},
	} {
		if c := p.FindCertificate(n); c != nil {
			t.Errorf("%v matched %+v", n.Names, c)
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := NewStore(path)
	if s.Current() != nil {
		t.Fatal("policy before Load")
	}
	write("system: SYS1\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	first := s.Current()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // readers during reloads, for the race detector
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if s.Current() == nil {
					t.Error("Current went nil")
					return
				}
			}
		}
	}()

	write("system: SYS1\nprofiles: [{name: A, uacc: LOTS}]\n")
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad reload error %v", err)
	}
	if s.Current() != first {
		t.Error("a bad reload replaced the policy")
	}
	write("system: SYS2\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if s.Current().Authz.System != "SYS2" {
		t.Errorf("after reload: system %q", s.Current().Authz.System)
	}

	p := &Policy{Authz: authz.Config{System: "DEMO"}}
	st := NewStaticStore(p)
	if err := st.Reload(); err != nil || st.Current() != p || st.Path() != "" {
		t.Errorf("static store: %v %p", err, st.Current())
	}
	if err := NewStore("").Load(); err == nil {
		t.Error("an empty store loaded")
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	p := &Policy{Authz: authz.Config{System: "sys1", Profiles: []authz.Profile{{Name: "EZB.**", Access: []authz.Entry{{ID: "u1", Level: authz.AccessRead}}}}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := p.Authorizer()
	if err != nil || !a.Check(authz.Principal{User: "U1"}, "EZB.X").Allowed {
		t.Errorf("authorizer %v", err)
	}
	bad := &Policy{Authz: authz.Config{System: "S"}, Tokens: []TokenID{{User: "U"}}}
	var pe *Error
	if err := bad.Validate(); !errors.As(err, &pe) || pe.Key != "identities.tokens[0].sha256" || pe.Line != 0 {
		t.Errorf("Validate error %v", err)
	}
	if !strings.HasPrefix(pe.Error(), "identities.tokens[0].sha256: ") {
		t.Errorf("error text %q", pe.Error())
	}
}

// FuzzParse checks that no input makes Parse panic or accept a policy
// whose authorizer cannot be built.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("system: S\nprofiles: [{name: '**', access: [{id: '*', level: READ}]}]\n"))
	f.Add([]byte("system: &a S\nanonymous: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := p.Authorizer(); err != nil {
			t.Fatalf("accepted policy has no authorizer: %v", err)
		}
	})
}

// A Store is an authz.Authorizer that follows reloads; before the first
// Load it cannot decide.
func TestStoreAuthorizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	s := NewStore(path)
	var az authz.Authorizer = s
	op := authz.Principal{User: "OPER1", Groups: []string{"extra"}}
	if d, err := az.Authorize(t.Context(), op, "EZB.X"); !errors.Is(err, ErrNoPolicy) || d.Allowed {
		t.Errorf("before Load: %+v, %v", d, err)
	}
	if ds, err := az.AuthorizeBatch(t.Context(), op, []string{"EZB.X"}); !errors.Is(err, ErrNoPolicy) || ds != nil {
		t.Errorf("batch before Load: %+v, %v", ds, err)
	}
	if r := az.Resource("", "TCPIP", authz.Display); r != "EZB.NETMGMT..TCPIP.IPSEC.DISPLAY" {
		t.Errorf("before Load: Resource %q", r)
	}
	for _, c := range []struct {
		yaml  string
		allow bool
	}{
		{"system: SYS1\nusers: {OPER1: [OPS]}\nprofiles: [{name: EZB.NETMGMT.SYS1.*.IPSEC.*, access: [{id: OPS, level: READ}]}]\n", true},
		{"system: SYS1\nusers: {OPER1: [OPS]}\nprofiles: [{name: EZB.NETMGMT.SYS1.*.IPSEC.*, access: [{id: OPS, level: NONE}]}]\n", false},
	} {
		if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		res := az.Resource("", "tcpip", authz.Display)
		d, err := az.Authorize(t.Context(), op, res)
		if err != nil || d.Allowed != c.allow || d.Profile != "EZB.NETMGMT.SYS1.*.IPSEC.*" ||
			d.Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY" {
			t.Errorf("after reload: %+v, %v, want allowed=%v", d, err, c.allow)
		}
		ds, err := az.AuthorizeBatch(t.Context(), op, []string{res, az.Resource("", "TCPIP", authz.Control)})
		if err != nil || len(ds) != 2 || ds[0] != d || ds[1].Allowed != c.allow || ds[1].Resource != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL" {
			t.Errorf("batch after reload: %+v, %v", ds, err)
		}
	}
	if got := strings.Join(s.Current().Groups(op), ","); got != "EXTRA,OPS" {
		t.Errorf("Groups = %q", got)
	}
}
