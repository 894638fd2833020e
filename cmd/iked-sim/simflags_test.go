package main

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// runInProcess runs run() with args on a socket in a temporary directory
// until the end of the test, and waits for the ready line.
func runInProcess(t *testing.T, args ...string) (sock string, out *lockedBuffer) {
	t.Helper()
	sock = t.TempDir() + "/ipsecmgmt"
	ctx, cancel := context.WithCancel(context.Background())
	out = &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--socket", sock}, args...), func(string) string { return "" }, out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	waitFor(t, "the ready line", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run ended: %v", err)
		default:
		}
		return strings.Contains(out.String(), "iked-sim ready")
	})
	return sock, out
}

// filterSet is the filter set in effect on stack.
func (n *nmiConn) filterSet(stack string) nmi.FilterSet {
	n.t.Helper()
	_, recs := n.exchange(&nmi.Request{Type: nmi.GetStackInfo})
	for _, rec := range recs {
		var r nmi.StackRecord
		if err := r.Decode(rec); err != nil {
			n.t.Fatal(err)
		}
		if r.Stack.Name.String() == stack {
			return r.Stack.FilterSet
		}
	}
	n.t.Fatalf("no stack %s", stack)
	return 0
}

// ikeState is the state of the newest IKE tunnel of key exchange rule ker.
func (n *nmiConn) ikeState(stack, ker string) nmi.IKETunState {
	n.t.Helper()
	_, recs := n.exchange(&nmi.Request{Type: nmi.GetIKETun, Target: stack})
	var newest *nmi.IKETunnel
	for _, rec := range recs {
		var r nmi.IKETunnelRecord
		if err := r.Decode(rec); err != nil {
			n.t.Fatal(err)
		}
		if r.Tunnel.KeyExchRule.String() == ker && (newest == nil || r.Tunnel.Generation > newest.Generation) {
			newest = &r.Tunnel
		}
	}
	if newest == nil {
		n.t.Fatalf("no IKE tunnel of %s", ker)
	}
	return newest.State
}

func (n *nmiConn) loadPolicy(stack string, fs nmi.FilterSet) {
	n.t.Helper()
	if h, _ := n.exchange(&nmi.Request{Type: nmi.LoadPolicy, Target: stack, Policy: &nmi.PolicySource{Source: fs}}); h.Rc != 0 {
		n.t.Fatalf("LOAD_POLICY: rc %v rsn %v", h.Rc, h.Rsn)
	}
}

// activate starts the LocalDynVpnRule name.
func (n *nmiConn) activate(stack, name string) {
	n.t.Helper()
	var tun nmi.Tunnel
	if err := tun.Name.Set(name); err != nil {
		n.t.Fatal(err)
	}
	_, recs := n.exchange(&nmi.Request{Type: nmi.ActDynTun, Target: stack, Tunnels: []nmi.Tunnel{tun}})
	var r nmi.TunnelRecord
	if len(recs) != 1 || r.Decode(recs[0]) != nil || r.Tunnel.Status != nmi.TunStatusStateUpdated {
		n.t.Fatalf("activating %s: %d records, %+v", name, len(recs), r.Tunnel)
	}
}

// TestTimingFlags checks each timing flag by the order of events, never by
// a clock: the event that ends the wait is due after the default (1s) of
// the flag under test, so with the flag ignored the checked state would
// already have moved on. In the demo data set, activating BRANCH4-VPN
// starts a new IKE tunnel of KER-BRANCH4.
func TestTimingFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		// activateFirst: activation, then LOAD_POLICY; else the reverse.
		activateFirst bool
		until         func(n *nmiConn) bool // what ends the wait
		want          func(n *nmiConn) bool // what must still hold then
	}{{
		// Negotiation starts 1.1s after activation; the switch, asked for
		// before it, is not done.
		name: "switch-time", args: []string{"--switch-time", "1h", "--pending-time", "1100ms", "--negotiate-time", "1ms"},
		until: func(n *nmiConn) bool { return n.ikeState("TCPIP", "KER-BRANCH4") != nmi.IKETunPending },
		want:  func(n *nmiConn) bool { return n.filterSet("TCPIP") == nmi.FilterSetPolicy },
	}, {
		// The switch ends 1.1s after a LOAD_POLICY sent after activation:
		// the negotiation is still going on.
		name: "negotiate-time", args: []string{"--negotiate-time", "1h", "--pending-time", "1ms", "--switch-time", "1100ms"},
		activateFirst: true,
		until:         func(n *nmiConn) bool { return n.filterSet("TCPIP") == nmi.FilterSetDefault },
		want:          func(n *nmiConn) bool { return n.ikeState("TCPIP", "KER-BRANCH4") == nmi.IKETunNegotiating },
	}, {
		name: "pending-time", args: []string{"--pending-time", "1h", "--switch-time", "1100ms"},
		activateFirst: true,
		until:         func(n *nmiConn) bool { return n.filterSet("TCPIP") == nmi.FilterSetDefault },
		want:          func(n *nmiConn) bool { return n.ikeState("TCPIP", "KER-BRANCH4") == nmi.IKETunPending },
	}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sock, _ := runInProcess(t, c.args...)
			n := connect(t, sock)
			if c.activateFirst {
				n.activate("TCPIP", "BRANCH4-VPN")
				n.loadPolicy("TCPIP", nmi.FilterSetDefault)
			} else {
				n.loadPolicy("TCPIP", nmi.FilterSetDefault)
				n.activate("TCPIP", "BRANCH4-VPN")
			}
			waitFor(t, "the deciding event", func() bool { return c.until(n) })
			if !c.want(n) {
				t.Errorf("state moved on: filter set %v, IKE tunnel %v", n.filterSet("TCPIP"), n.ikeState("TCPIP", "KER-BRANCH4"))
			}
		})
	}
}

func TestFaultsFlag(t *testing.T) {
	sock, out := runInProcess(t, "--faults", "term-rate=1,seed=5")
	if !strings.Contains(out.String(), `faults="term-rate=1,seed=5"`) {
		t.Errorf("ready line: %s", out.String())
	}
	for range 2 {
		n := connect(t, sock)
		n.corr++
		b, err := nmi.AppendRequest(nil, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, n.corr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.c.Write(b); err != nil {
			t.Fatal(err)
		}
		n.expectTerm()
	}
}

// TestSIGUSR1RestartsStacks: the stacks lose their dynamic tunnels; the
// filter set chosen with LOAD_POLICY stays.
func TestSIGUSR1RestartsStacks(t *testing.T) {
	p := startProcess(t, "--switch-time", "1ms")
	n := connect(t, p.sock)
	n.loadPolicy("TCPIP", nmi.FilterSetDefault)
	waitFor(t, "the switch", func() bool { return n.filterSet("TCPIP") == nmi.FilterSetDefault })
	setB := n.filterSet("TCPIPB")
	for _, stack := range []string{"TCPIP", "TCPIPB"} {
		if _, count := n.do(nmi.GetIPTunDynStack, stack); count == 0 {
			t.Fatalf("%s: no dynamic tunnels before the restart", stack)
		}
	}
	p.signal(syscall.SIGUSR1)
	waitFor(t, "the restart", func() bool { return strings.Contains(p.out.String(), "stacks restarted") })
	for _, stack := range []string{"TCPIP", "TCPIPB"} {
		if _, count := n.do(nmi.GetIPTunDynStack, stack); count != 0 {
			t.Errorf("%s: %d dynamic tunnels after the restart", stack, count)
		}
	}
	if fs := n.filterSet("TCPIP"); fs != nmi.FilterSetDefault {
		t.Errorf("TCPIP: filter set %v after the restart, want default", fs)
	}
	if fs := n.filterSet("TCPIPB"); fs != setB {
		t.Errorf("TCPIPB: filter set %v after the restart, want %v", fs, setB)
	}
	// New connections are served as before.
	if h, count := connect(t, p.sock).do(nmi.GetIKETun, "TCPIP"); h.Rc != 0 || count == 0 {
		t.Errorf("IKE tunnels after the restart: rc %v, %d records", h.Rc, count)
	}
}

func TestReplayFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--replay", "x.jsonl", "--data", "d.yaml"}, "--replay excludes --data and --generate"},
		{[]string{"--replay", "x.jsonl", "--generate", "stacks=1"}, "--replay excludes"},
		{[]string{"--replay", t.TempDir() + "/absent.jsonl"}, "--replay: open"},
	} {
		err := run(context.Background(), append([]string{"--socket", t.TempDir() + "/s"}, c.args...), func(string) string { return "" }, &lockedBuffer{})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.args, err, c.msg)
		}
	}
}

// TestFaultsFlagPerType: a fault for one request type from the command
// line applies to that type alone, the given number of times.
func TestFaultsFlagPerType(t *testing.T) {
	sock, _ := runInProcess(t, "--faults", "type=NMsec_GET_SUMMARY,rc=EAGAIN,rsn=3,times=2")
	n := connect(t, sock)
	for i, want := range []nmi.ReturnCode{nmi.EAGAIN, nmi.EAGAIN, nmi.RcOK} {
		if h, _ := n.do(nmi.GetSummary, "TCPIP"); h.Rc != want || want != nmi.RcOK && h.Rsn != 3 {
			t.Errorf("summary %d: rc %v rsn %v, want %v", i, h.Rc, h.Rsn, want)
		}
	}
	if h, _ := n.do(nmi.GetStackInfo, ""); h.Rc != nmi.RcOK {
		t.Errorf("stack info: rc %v", h.Rc)
	}
}
