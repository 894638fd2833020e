package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// clientNames sends GET_CLIENTINFO (every connected client) and returns
// the client names.
func (n *nmiConn) clientNames() []string {
	n.t.Helper()
	h, recs := n.exchange(&nmi.Request{Type: nmi.GetClientInfo})
	if h.Rc != nmi.RcOK {
		n.t.Fatalf("GET_CLIENTINFO: rc %v rsn %v", h.Rc, h.Rsn)
	}
	var names []string
	for _, rec := range recs {
		var r nmi.ClientInfoRecord
		if err := r.Decode(rec); err != nil {
			n.t.Fatal(err)
		}
		names = append(names, r.ClientInfo.ClientName.String())
	}
	return names
}

// TestNSSProcess runs iked-sim --nss as a process, with the example NSS
// data set and with a generated one.
func TestNSSProcess(t *testing.T) {
	t.Run("yaml", func(t *testing.T) {
		p := startProcess(t, "--nss", "--data", filepath.Join("..", "..", "internal", "ikedsim", "testdata", "example-nss.yaml"))
		if out := p.out.String(); !strings.Contains(out, "system=NSS1") || !strings.Contains(out, "clients=SYSA_TCPIP,SYSA_TCPIPB,SYSBTCP,SYSB_XMLGW,SYSC_TCPIP") {
			t.Errorf("ready line: %s", out)
		}
		n := connect(t, p.sock)
		if got, want := n.clientNames(), []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSBTCP", "SYSB_XMLGW"}; !slices.Equal(got, want) {
			t.Errorf("clients %v, want %v", got, want)
		}
		if h, recs := n.do(nmi.GetIKETun, "SYSBTCP"); h.Rc != nmi.RcOK || recs != 2 {
			t.Errorf("SYSBTCP: rc %v, %d IKE tunnels", h.Rc, recs)
		}
		if h, _ := n.do(nmi.GetIKETun, "SYSA_TCPIPB"); h.Rc != nmi.EOPNOTSUPP {
			t.Errorf("SYSA_TCPIPB: rc %v, want EOPNOTSUPP", h.Rc)
		}
		if h, _ := n.do(nmi.GetStackInfo, ""); h.Rc != nmi.EINVAL || h.Rsn != nmi.RsnBadType {
			t.Errorf("STACKINFO: rc %v rsn %v", h.Rc, h.Rsn)
		}
		p.signal(syscall.SIGUSR1) // restarts the stacks of every system
		waitFor(t, "the restart", func() bool { return strings.Contains(p.out.String(), "stacks restarted") })
		if h, recs := n.do(nmi.GetIKETun, "SYSA_TCPIP"); h.Rc != nmi.RcOK || recs != 1 {
			t.Errorf("after SIGUSR1: rc %v, %d IKE tunnels", h.Rc, recs)
		}
		p.signal(syscall.SIGTERM)
		n.expectTerm()
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("exit: %v", err)
		}
	})
	t.Run("generate", func(t *testing.T) {
		p := startProcess(t, "--nss", "--system", "NSSX", "--generate", "systems=3,stacks=2,filters=10,tunnels=3")
		n := connect(t, p.sock)
		want := []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSB_TCPIP", "SYSB_TCPIPB", "SYSC_TCPIP", "SYSC_TCPIPB"}
		if got := n.clientNames(); !slices.Equal(got, want) {
			t.Errorf("clients %v, want %v", got, want)
		}
		if h, recs := n.do(nmi.GetIKETun, "SYSC_TCPIPB"); h.Rc != nmi.RcOK || recs != 3 {
			t.Errorf("SYSC_TCPIPB: rc %v, %d IKE tunnels", h.Rc, recs)
		}
		if !strings.Contains(p.out.String(), "system=NSSX") {
			t.Errorf("ready line: %s", p.out.String())
		}
	})
}

func TestNSSChurnFlag(t *testing.T) {
	sock, out := runInProcess(t, "--nss", "--generate", "systems=2,filters=5,tunnels=1", "--nss-churn", "1ms", "--nss-churn-seed", "9")
	waitFor(t, "a churn", func() bool { return strings.Contains(out.String(), "NSS client churn") })
	n := connect(t, sock)
	if h, _ := n.do(nmi.GetClientInfo, ""); h.Rc != nmi.RcOK {
		t.Errorf("GET_CLIENTINFO during churn: rc %v", h.Rc)
	}
}

func TestNSSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nss-churn", "1s"}, "need --nss"},
		{[]string{"--nss", "--nss-churn", "-1s"}, "--nss-churn"},
		{[]string{"--nss", "--replay", "x"}, "--nss excludes --replay"},
		{[]string{"--nss", "--generate", "systems=0"}, "systems must be"},
		{[]string{"--nss", "--data", filepath.Join("..", "..", "internal", "ikedsim", "testdata", "example-dataset.yaml")}, "field system not found"},
		{[]string{"--nss", "--system", "TOOLONGNAME"}, "NSS server system name"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append(tc.args, "--socket", filepath.Join(dir, "s")), func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"--nss"}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil || o.system != defaultNSSSystem {
		t.Errorf("--nss alone: system %q, %v", o.system, err)
	}
	o, err = parseFlags([]string{"--nss"}, func(k string) string { return map[string]string{"IKED_SIM_SYSTEM": "NSSE"}[k] }, &bytes.Buffer{})
	if err != nil || o.system != "NSSE" {
		t.Errorf("--nss with IKED_SIM_SYSTEM: system %q, %v", o.system, err)
	}
	if o, err := parseFlags(nil, func(string) string { return "" }, &bytes.Buffer{}); err != nil || o.system != "SYS1" {
		t.Errorf("IKED mode: system %q, %v", o.system, err)
	}
}
