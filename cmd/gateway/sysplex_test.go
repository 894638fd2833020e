package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/transport/sshdtest"
)

// sysplex is the three systems of the whole-program sysplex test: SYSA,
// an IKED over unix:// (the default system, the demo data set); SYSB, an
// IKED over ssh:// through a real OpenSSH server (generated data); and
// NSS1, an NSS server over unix:// with three IPSec clients, SYSC_TCPIP,
// SYSD_TCPIP and SYSE_TCPIP (generated data). Every stack is named TCPIP,
// each with data of its own.
type sysplex struct {
	g     *gateway
	sshd  *sshdtest.Server
	nss   *ikedsim.Server
	data  map[string]*ikedsim.Stack // system -> its TCPIP
	token string                    // may display every stack
	cOnly string                    // may display SYSC's client only
}

// nssData generates the NSS server's three client systems.
func nssData(t *testing.T) *ikedsim.NSSDataSet {
	t.Helper()
	d, err := ikedsim.GenerateNSS(ikedsim.NSSGenSpec{Systems: 3, GenSpec: ikedsim.GenSpec{Stacks: 1, Filters: 10, Tunnels: 12, Seed: 31}})
	if err != nil {
		t.Fatal(err)
	}
	rename := map[string]string{"SYSA": "SYSC", "SYSB": "SYSD", "SYSC": "SYSE"}
	for _, ds := range d.Systems {
		ds.System = rename[ds.System]
	}
	for i := range d.Clients {
		c := &d.Clients[i]
		c.System = rename[c.System]
		c.Name = ikedsim.ClientName(c.System, c.Stack)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func startSysplex(t *testing.T, args ...string) *sysplex {
	t.Helper()
	p := &sysplex{data: map[string]*ikedsim.Stack{}, token: "sysplex-every-stack-81f2", cOnly: "sysplex-sysc-only-0d3e"}
	dsA := ikedsim.Demo()
	sockA, _ := simServer(t, dsA)
	p.data["SYSA"] = dsA.Stacks[0]

	p.sshd = sshdtest.Start(t)
	dsB, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: 10, Tunnels: 25, Seed: 23})
	if err != nil {
		t.Fatal(err)
	}
	pathB := remoteSim(t, p.sshd, ikedsim.Config{Data: dsB, Now: ikedsim.NewClock(dsB.Epoch).Now})
	p.data["SYSB"] = dsB.Stacks[0]

	d := nssData(t)
	for _, ds := range d.Systems {
		p.data[ds.System] = ds.Stacks[0]
	}
	sockN := filepath.Join(t.TempDir(), "nss")
	ln, err := ikedsim.Listen(sockN, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.nss, err = ikedsim.NewServer(ikedsim.Config{NSS: d, System: "NSS1", Now: ikedsim.NewClock(d.Systems[0].Epoch).Now})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.nss.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = p.nss.Shutdown(ctx)
		<-done
	})

	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("system: SYSA\nanonymous: ANONYM\nprofiles:\n"+
		"  - {name: EZB.NETMGMT.*.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: ALLSYS, level: READ}, {id: ANONYM, level: READ}]}\n"+
		"  - {name: EZB.NETMGMT.*.*.IPSEC.CONTROL, uacc: NONE, access: [{id: ALLSYS, level: READ}]}\n"+
		"  - {name: EZB.NETMGMT.NSS1.SYSC_TCPIP.IPSEC.DISPLAY, uacc: NONE, access: [{id: CONLY, level: READ}, {id: ALLSYS, level: READ}, {id: ANONYM, level: READ}]}\n"+
		"identities:\n  tokens:\n"+
		"    - {sha256: \""+sha256Hex(p.token)+"\", user: ALLSYS}\n"+
		"    - {sha256: \""+sha256Hex(p.cOnly)+"\", user: CONLY}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`systems:
  - {name: SYSA, kind: iked, nmi: "unix://%s", pool: 3}
  - {name: SYSB, kind: iked, nmi: "%s", pool: 2}
  - {name: NSS1, kind: nss, nmi: "unix://%s", pool: 2}
`, sockA, p.sshd.URL(pathB), sockN)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.g = startRun(t, append([]string{"--config", cfg, "--policy", pol, "--ssh-key", p.sshd.Key,
		"--ssh-known-hosts", p.sshd.Known, "--exporter-timeout", "3s"}, args...)...)
	return p
}

// The sysplex's metrics: every system's stack under its own name and with
// its own data; a scraper granted one NSS client by the NSS server's
// resource name sees that client alone; a client disconnected mid-test is
// a stack down on a system up; the ssh:// system down (its sshd killed)
// is nmigw_ipsec_up 0 with its stacks' series gone, the others unchanged;
// /v1/stacks stays the default system's.
func TestWholeProgramSysplexMetrics(t *testing.T) {
	p := startSysplex(t)
	g := p.g
	auth := []string{"Authorization", "Bearer " + p.token}
	systems := []string{"SYSA", "SYSB", "SYSC", "SYSD", "SYSE"}

	mfs := g.metricsOf(auth...)
	for _, sys := range systems {
		if v, ok := sample(mfs, "nmigw_ipsec_up", "system", sys); !ok || v != 1 {
			t.Errorf("nmigw_ipsec_up{system=%s} = %v (present %v)", sys, v, ok)
		}
		if n, _ := dynamicCount(mfs, sys, "TCPIP"); n != float64(len(p.data[sys].DynTunnels)) {
			t.Errorf("%s/TCPIP: %v dynamic tunnels exported, its data set has %d", sys, n, len(p.data[sys].DynTunnels))
		}
	}
	if _, ok := sample(mfs, "nmigw_ipsec_up", "system", "NSS1"); ok {
		t.Error("the NSS server's own system is exported, though none of its clients runs there")
	}
	for sys, size := range map[string]float64{"SYSA": 3, "SYSB": 2, "NSS1": 2} {
		if v, ok := sample(mfs, "nmigw_nmi_pool_max_connections", "system", sys); !ok || v != size {
			t.Errorf("pool of %s: max %v (present %v), want %v", sys, v, ok, size)
		}
	}

	// EZB.NETMGMT.NSS1.SYSC_TCPIP.IPSEC.DISPLAY: SYSC's stack and no other.
	mfsC := g.metricsOf("Authorization", "Bearer "+p.cOnly)
	for _, sys := range systems {
		got := seriesOf(mfsC, sys)
		if sys == "SYSC" && len(got) == 0 {
			t.Error("the scraper granted SYSC_TCPIP sees no series of SYSC")
		}
		if sys != "SYSC" && len(got) != 0 {
			t.Errorf("the scraper granted SYSC_TCPIP sees %s", got[0])
		}
	}

	// SYSD's client disconnects: SYSD stays up (the NSS server answers),
	// its stack is down.
	if err := p.nss.SetClientConnected("SYSD_TCPIP", false); err != nil {
		t.Fatal(err)
	}
	mfs = g.metricsOf(auth...)
	if v, ok := sample(mfs, "nmigw_ipsec_stack_up", "system", "SYSD", "stack", "TCPIP"); !ok || v != 0 {
		t.Errorf("SYSD_TCPIP disconnected: stack_up %v (present %v), want 0", v, ok)
	}
	if v, _ := sample(mfs, "nmigw_ipsec_up", "system", "SYSD"); v != 1 {
		t.Errorf("SYSD_TCPIP disconnected: up{SYSD} = %v", v)
	}
	if _, ok := dynamicCount(mfs, "SYSD", "TCPIP"); ok {
		t.Error("SYSD_TCPIP disconnected: its tunnel counts are still exported")
	}

	// SYSB's sshd dies: SYSB is down, the rest as before.
	p.sshd.Kill()
	mfs = g.metricsOf(auth...)
	if v, ok := sample(mfs, "nmigw_ipsec_up", "system", "SYSB"); !ok || v != 0 {
		t.Errorf("SYSB's sshd killed: up %v (present %v), want 0", v, ok)
	}
	if got := seriesOf(mfs, "SYSB"); len(got) != 0 {
		t.Errorf("SYSB down: %d series of its stacks remain, e.g. %s", len(got), got[0])
	}
	for _, sys := range []string{"SYSA", "SYSC", "SYSE"} {
		if v, _ := sample(mfs, "nmigw_ipsec_up", "system", sys); v != 1 {
			t.Errorf("SYSB down: up{%s} = %v", sys, v)
		}
		if n, _ := dynamicCount(mfs, sys, "TCPIP"); n != float64(len(p.data[sys].DynTunnels)) {
			t.Errorf("SYSB down: %s/TCPIP has %v dynamic tunnels exported, want %d", sys, n, len(p.data[sys].DynTunnels))
		}
	}
	if names := stackNames(g.list("/v1/stacks")); !slices.Equal(names, []string{"TCPIP", "TCPIPB"}) {
		t.Errorf("/v1/stacks: %v, want the default system's (SYSA: TCPIP, TCPIPB)", names)
	}
}
