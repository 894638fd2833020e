package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/fleet"
)

// writeConfig writes body as a config file in a new directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSystemsConfig(t *testing.T) {
	file := writeConfig(t, `pool-size: 6
systems:
  - name: sysa
    nmi: unix:///var/sock/ipsecmgmt
  - {name: SYSB, kind: iked, nmi: "ssh://nmigw@sysb.example.com/var/sock/ipsecmgmt", pool: 2, default: true, capture: /tmp/sysb.capture}
  - {name: NSSSYS, kind: NSS, nmi: "tls://nss.example.com:4159", pool: 50}
`)
	c, err := parseConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []systemConfig{
		{Name: "SYSA", Kind: fleet.IKED, NMI: "unix:///var/sock/ipsecmgmt", Pool: 6, SAFSystem: "SYSA"},
		{Name: "SYSB", Kind: fleet.IKED, NMI: "ssh://nmigw@sysb.example.com/var/sock/ipsecmgmt", Pool: 2, Default: true,
			Capture: "/tmp/sysb.capture", SAFSystem: "SYSB"},
		{Name: "NSSSYS", Kind: fleet.NSS, NMI: "tls://nss.example.com:4159", Pool: 50, SAFSystem: "NSSSYS"},
	}
	if len(c.Systems) != len(want) {
		t.Fatalf("systems %+v", c.Systems)
	}
	for i, w := range want {
		got := c.Systems[i]
		got.line = 0
		if got != w {
			t.Errorf("systems[%d] = %+v, want %+v", i, got, w)
		}
	}
	if d := defaultSystem(c.Systems); d != "SYSB" {
		t.Errorf("default system %s, want SYSB", d)
	}
	// Every system's pool counts for the default concurrency limit.
	if c.MaxConcurrent != requestsPerConnection*(6+2+50) {
		t.Errorf("max-concurrent-requests %d", c.MaxConcurrent)
	}

	// Without systems: one IKED, the endpoint of --nmi, named as the
	// policy's system, with the policy's SAF system.
	c, err = parseConfig([]string{"--nmi", "unix:///s", "--pool-size", "3", "--nmi-capture", "/tmp/c"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	one := c.systems("SYS7", "")
	if len(one) != 1 || one[0] != (systemConfig{Name: "SYS7", Kind: fleet.IKED, NMI: "unix:///s", Pool: 3, Default: true, Capture: "/tmp/c"}) {
		t.Errorf("single system %+v", one)
	}
	if s := c.systems("SYS1", "/tmp/sim/ipsecmgmt"); s[0].NMI != "unix:///tmp/sim/ipsecmgmt" {
		t.Errorf("-sim system %+v", s)
	}
}

// Each bad systems: refuses to start with one line naming the key.
func TestSystemsConfigErrors(t *testing.T) {
	sysa := "  - {name: SYSA, nmi: \"unix:///a\"}\n"
	for _, c := range []struct {
		name string
		file string
		args []string
		env  map[string]string
		want string
	}{
		{"duplicate", "systems:\n" + sysa + "  - {name: sysa, nmi: \"unix:///b\"}\n", nil, nil, "line 3: systems[1].name: SYSA is listed twice"},
		{"bad URL", "systems:\n" + sysa + "  - {name: SYSB, nmi: \"unix:///b\"}\n  - {name: SYSC, nmi: \"ftp://c/x\"}\n", nil, nil, "line 4: systems[2].nmi: "},
		{"relative path", "systems:\n  - {name: SYSA, nmi: \"unix://sock\"}\n", nil, nil, "systems[0].nmi: "},
		{"no nmi", "systems:\n  - {name: SYSA}\n", nil, nil, "systems[0].nmi: missing"},
		{"no name", "systems:\n  - {nmi: \"unix:///a\"}\n", nil, nil, "systems[0].name: missing"},
		{"bad name", "systems:\n  - {name: SYS.A, nmi: \"unix:///a\"}\n", nil, nil, "systems[0].name: "},
		{"long name", "systems:\n  - {name: SYSTEMABC, nmi: \"unix:///a\"}\n", nil, nil, "systems[0].name: "},
		{"bad kind", "systems:\n  - {name: SYSA, kind: ikev2, nmi: \"unix:///a\"}\n", nil, nil, "line 2: systems[0].kind: \"ikev2\" is neither iked nor nss"},
		{"pool too big", "systems:\n" + sysa + "  - {name: SYSB, nmi: \"unix:///b\", pool: 51}\n", nil, nil, "systems[1].pool: 51 is not 1-50: IKED serves at most 50 NMI clients"},
		{"pool zero", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", pool: 0}\n", nil, nil, "systems[0].pool: 0 is not 1-50"},
		{"pool word", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", pool: many}\n", nil, nil, "systems[0].pool: \"many\" is not a number"},
		{"default word", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", default: maybe}\n", nil, nil, "systems[0].default: \"maybe\" is not a boolean"},
		{"two defaults", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", default: true}\n  - {name: SYSB, nmi: \"unix:///b\", default: true}\n", nil, nil, "systems[1].default: SYSA is the default already"},
		{"unknown key", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", socket: /x}\n", nil, nil, "line 2: systems[0].socket: unknown key"},
		{"key twice", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", name: SYSB}\n", nil, nil, "systems[0].name: given twice"},
		{"list value", "systems:\n  - {name: [SYSA], nmi: \"unix:///a\"}\n", nil, nil, "systems[0].name: want a single value"},
		{"not a list", "systems: SYSA\n", nil, nil, "line 1: systems: want a list"},
		{"empty list", "systems: []\n", nil, nil, "systems: empty"},
		{"entry not a mapping", "systems:\n  - SYSA\n", nil, nil, "line 2: systems[0]: want a mapping"},
		{"twice", "systems:\n" + sysa + "systems:\n" + sysa, nil, nil, `key "systems" given twice`},
		{"same capture", "systems:\n  - {name: SYSA, nmi: \"unix:///a\", capture: /tmp/x}\n  - {name: SYSB, nmi: \"unix:///b\", capture: /tmp/x}\n", nil, nil, "systems[1].capture: /tmp/x is the capture of systems[0]"},
		{"with --nmi", "systems:\n" + sysa, []string{"--nmi", "unix:///x"}, nil, "systems: and --nmi"},
		{"with nmi-socket in the environment", "systems:\n" + sysa, nil, map[string]string{"NMIGW_NMI_SOCKET": "/x"}, "systems: and --nmi"},
		{"with nmi-socket in the file", "nmi-socket: /x\nsystems:\n" + sysa, nil, nil, "systems: and --nmi"},
		{"with -sim", "systems:\n" + sysa, []string{"-sim"}, nil, "systems: and -sim"},
		{"with --nmi-capture", "systems:\n" + sysa, []string{"--nmi-capture", "/tmp/c"}, nil, "systems: and --nmi-capture"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := writeConfig(t, c.file)
			_, err := parseConfig(append([]string{"--config", file}, c.args...), func(k string) string { return c.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to name %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
		})
	}
}

// An endpoint whose transport cannot be prepared (an ssh:// endpoint
// without --ssh-known-hosts) refuses to start, naming the system.
func TestRunRefusesSystemWithoutTransport(t *testing.T) {
	file := writeConfig(t, "systems:\n  - {name: SYSA, nmi: \"unix:///a\"}\n  - {name: SYSB, nmi: \"ssh://nmigw@sysb.example.com/var/sock/ipsecmgmt\"}\n")
	err := run(t.Context(), []string{"gateway", "--insecure-no-auth", "--listen", "127.0.0.1:0", "--config", file},
		func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "systems[1] (SYSB)") {
		t.Fatalf("error %v, want it to name systems[1] (SYSB)", err)
	}
}

// The systems: examples of README.md and docs/sysplex.md are
// configurations the gateway accepts.
func TestSystemsExamplesParse(t *testing.T) {
	n := 0
	for _, doc := range []string{"../../README.md", "../../docs/sysplex.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
			block = block[:strings.Index(block, "```")]
			if !strings.Contains(block, "systems:\n") {
				continue
			}
			n++
			c, err := parseConfig([]string{"--config", writeConfig(t, block)}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Errorf("%s: %v in\n%s", doc, err, block)
				continue
			}
			if len(c.Systems) == 0 {
				t.Errorf("%s: no systems in\n%s", doc, block)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d systems: examples found", n)
	}
}
