package fleet

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// startSim serves the demo data set on a real AF_UNIX socket and returns
// the server and a pool reaching it.
func startSim(t *testing.T) (*ikedsim.Server, *nmi.Pool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nmi.sock")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, pool
}

// deadPool reaches a socket nobody serves.
func deadPool(t *testing.T) *nmi.Pool {
	path := filepath.Join(t.TempDir(), "nobody.sock")
	p := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	t.Cleanup(func() { p.Close() })
	return p
}

func TestNewRefusesBadSystems(t *testing.T) {
	_, p := startSim(t)
	for _, c := range []struct {
		eps  []Endpoint
		def  string
		want string
	}{
		{nil, "", "no systems"},
		{[]Endpoint{{Name: "SYSA", Kind: IKED, NMI: p}, {Name: "sysa", Kind: IKED, NMI: p}}, "", "systems[1].name: SYSA is listed twice"},
		{[]Endpoint{{Name: "TOOLONGNAME", Kind: IKED, NMI: p}}, "", "systems[0].name"},
		{[]Endpoint{{Name: "SYSA", Kind: "ldap", NMI: p}}, "", "systems[0].kind"},
		{[]Endpoint{{Name: "SYSA", Kind: IKED}}, "", "no NMI"},
		{[]Endpoint{{Name: "SYSA", Kind: IKED, NMI: p}}, "SYSZ", "default system SYSZ"},
	} {
		_, err := New(c.eps, c.def, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.eps, err, c.want)
		}
	}
	if _, err := ParseKind("LDAP"); err == nil {
		t.Error("ParseKind accepted ldap")
	}
	if k, err := ParseKind("NSS"); err != nil || k != NSS {
		t.Errorf("ParseKind(NSS) = %q, %v", k, err)
	}
}

// TestSameStackOnTwoSystems: a stack name present on two systems is sent
// to the system asked for, and its SAF resource names that system.
func TestSameStackOnTwoSystems(t *testing.T) {
	simA, pa := startSim(t)
	simB, pb := startSim(t)
	f, err := New([]Endpoint{{Name: "sysa", Kind: IKED, NMI: pa}, {Name: "SYSB", Kind: IKED, NMI: pb, SAFSystem: "SYSB"}}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Default() != "SYSA" {
		t.Fatalf("default %q", f.Default())
	}
	st, err := f.Lookup(t.Context(), "sysb", "TCPIP")
	if err != nil {
		t.Fatal(err)
	}
	before := [2]uint64{simA.Requests(nmi.GetSummary), simB.Requests(nmi.GetSummary)}
	if _, err := st.Do(t.Context(), &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, func(nmi.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if a, b := simA.Requests(nmi.GetSummary)-before[0], simB.Requests(nmi.GetSummary)-before[1]; a != 0 || b != 1 {
		t.Fatalf("summary requests: SYSA %d, SYSB %d; want 0, 1", a, b)
	}
	az, err := authz.New(authz.Config{System: "POLSYS"})
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Resource(az, authz.Control); r != "EZB.NETMGMT.SYSB.TCPIP.IPSEC.CONTROL" {
		t.Errorf("SYSB resource %s", r)
	}
	// SYSA's SAF system is the authorizer's own (the policy's).
	sa, _ := f.Lookup(t.Context(), "SYSA", "TCPIP")
	if r := sa.Resource(az, authz.Display); r != "EZB.NETMGMT.POLSYS.TCPIP.IPSEC.DISPLAY" {
		t.Errorf("SYSA resource %s", r)
	}
	if _, err := f.Lookup(t.Context(), "SYSC", "TCPIP"); !errors.As(err, new(*UnknownSystemError)) {
		t.Errorf("unknown system: %v", err)
	}
}

// TestSystemsWithOneDown: an endpoint that does not answer is reported
// beside the others, not instead of them.
func TestSystemsWithOneDown(t *testing.T) {
	_, pa := startSim(t)
	f, err := New([]Endpoint{{Name: "SYSA", Kind: IKED, NMI: pa}, {Name: "SYSD", Kind: IKED, NMI: deadPool(t)}}, "SYSD", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ss := f.Systems(ctx)
	if len(ss) != 2 || ss[0].Name != "SYSA" || ss[1].Name != "SYSD" {
		t.Fatalf("systems %+v", ss)
	}
	if !ss[0].Reachable || len(ss[0].Stacks) == 0 || ss[0].Default {
		t.Errorf("SYSA %+v", ss[0])
	}
	if ss[1].Reachable || ss[1].Err == nil || !ss[1].Default {
		t.Errorf("SYSD %+v", ss[1])
	}
	stacks, un := f.Stacks(ctx)
	if len(stacks) != len(ss[0].Stacks) || len(un) != 1 || un[0].System != "SYSD" || un[0].Stack != "" {
		t.Errorf("stacks %d, unreachable %+v", len(stacks), un)
	}
	for _, s := range stacks {
		if s.System != "SYSA" || s.Target != s.Name || !s.Connected {
			t.Errorf("stack %+v", s)
		}
	}
}

func TestParallelBound(t *testing.T) {
	var now, peak atomic.Int32
	ran := make([]bool, 20)
	Parallel(t.Context(), len(ran), 3, func(_ context.Context, i int) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		ran[i] = true
		now.Add(-1)
	})
	if peak.Load() > 3 {
		t.Errorf("%d at once, limit 3", peak.Load())
	}
	for i, r := range ran {
		if !r {
			t.Errorf("call %d did not run", i)
		}
	}
}
