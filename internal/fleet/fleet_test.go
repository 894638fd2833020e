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
	return serve(t, ikedsim.Config{})
}

// startNSS serves the simulator's example NSS data set (clients on SYSA,
// SYSB and SYSC, SYSC's not connected) as the NSS server of system NSS1.
func startNSS(t *testing.T) (*ikedsim.Server, *nmi.Pool) {
	t.Helper()
	d, err := ikedsim.LoadNSSDataSet("../ikedsim/testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, ikedsim.Config{NSS: d, System: "NSS1"})
}

func serve(t *testing.T, cfg ikedsim.Config) (*ikedsim.Server, *nmi.Pool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nmi.sock")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(cfg)
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
	f, err := New([]Endpoint{{Name: "sysa", Kind: IKED, NMI: pa, PolicySystem: true}, {Name: "SYSB", Kind: IKED, NMI: pb}}, "", Options{})
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

// TestNSSClients: the systems behind an NSS server are its clients'
// systems; requests carry the client's name and its SAF resource names
// the NSS server's system; a client that disconnects stays listed, not
// connected; a configured IKED wins over the same system behind the NSS
// server.
func TestNSSClients(t *testing.T) {
	nss, pn := startNSS(t)
	simA, pa := startSim(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	f, err := New([]Endpoint{{Name: "NSS1", Kind: NSS, NMI: pn}, {Name: "SYSA", Kind: IKED, NMI: pa}}, "SYSA",
		Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ss := f.Systems(t.Context())
	names := []string{}
	for _, s := range ss {
		names = append(names, s.Name+"/"+string(s.Kind))
	}
	if strings.Join(names, " ") != "SYSB/nss SYSA/iked" {
		t.Fatalf("systems %v", names)
	}
	b := ss[0]
	if !b.Reachable || len(b.Stacks) != 1 || b.Stacks[0].Name != "TCPIP" || b.Stacks[0].Target != "SYSBTCP" || !b.Stacks[0].Connected {
		t.Fatalf("SYSB %+v", b)
	}
	st, err := f.Lookup(t.Context(), "SYSB", "TCPIP")
	if err != nil {
		t.Fatal(err)
	}
	az, _ := authz.New(authz.Config{System: "POLSYS"})
	if r := st.Resource(az, authz.Display); r != "EZB.NETMGMT.NSS1.SYSBTCP.IPSEC.DISPLAY" {
		t.Errorf("resource %s", r)
	}
	var n int
	if _, err := st.Do(t.Context(), &nmi.Request{Type: nmi.GetIPInterfaces, Target: "TCPIP"}, func(nmi.Record) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("interfaces of SYSB's TCPIP through NSS1: %d records, %v", n, err)
	}
	// SYSA is the configured IKED, not the NSS server's client.
	before := simA.Requests(nmi.GetSummary)
	sa, _ := f.Lookup(t.Context(), "SYSA", "TCPIP")
	if _, err := sa.Do(t.Context(), &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, func(nmi.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if simA.Requests(nmi.GetSummary) != before+1 || sa.Kind != IKED {
		t.Fatalf("SYSA went to the NSS server: %+v", sa)
	}
	if _, err := f.Lookup(t.Context(), "SYSB", "TCPIPX"); !errors.As(err, new(*UnknownStackError)) {
		t.Errorf("unknown client stack: %v", err)
	}
	// SYSC's client is not connected: never seen, so SYSC is unknown.
	if _, err := f.Lookup(t.Context(), "SYSC", "TCPIP"); !errors.As(err, new(*UnknownSystemError)) {
		t.Errorf("SYSC: %v", err)
	}
	// SYSB's client disconnects: once the list is stale it is still
	// there, not connected, and its requests get the NSS server's ENXIO.
	if err := nss.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	ss = f.Systems(t.Context())
	if ss[0].Name != "SYSB" || ss[0].Stacks[0].Connected {
		t.Fatalf("after the disconnect: %+v", ss[0])
	}
	st, err = f.Lookup(t.Context(), "SYSB", "TCPIP")
	if err != nil || st.Connected {
		t.Fatalf("lookup after the disconnect: %+v %v", st, err)
	}
	_, err = st.Do(t.Context(), &nmi.Request{Type: nmi.GetIPInterfaces, Target: "TCPIP"}, func(nmi.Record) error { return nil })
	var se *nmi.StatusError
	if !errors.As(err, &se) || se.Rc != nmi.ENXIO {
		t.Fatalf("request for a disconnected client: %v", err)
	}
	// It connects again: a lookup of a name it does not know asks again.
	if err := nss.SetClientConnected("SYSC_TCPIP", true); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if st, err := f.Lookup(t.Context(), "SYSC", "TCPIP"); err != nil || !st.Connected || st.Target != "SYSC_TCPIP" {
		t.Fatalf("SYSC after it connected: %+v %v", st, err)
	}
}

// TestNSSAnswersUpdateTheClientList: an NSS client's ENXIO marks it not
// connected at once, before the list is read again, and an answer marks
// it connected again.
func TestNSSAnswersUpdateTheClientList(t *testing.T) {
	nss, pn := startNSS(t)
	now := time.Unix(1_800_000_000, 0)
	f, err := New([]Endpoint{{Name: "NSS1", Kind: NSS, NMI: pn}}, "", Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	connected := func() bool {
		t.Helper()
		cl, err := f.Clients(t.Context(), "NSS1")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cl {
			if c.Target == "SYSBTCP" {
				return c.Connected
			}
		}
		t.Fatal("SYSBTCP is not in the list")
		return false
	}
	st, err := f.Lookup(t.Context(), "SYSB", "TCPIP")
	if err != nil || !connected() {
		t.Fatalf("SYSB's TCPIP: %v", err)
	}
	ask := func() error {
		_, err := st.Do(t.Context(), &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, func(nmi.Record) error { return nil })
		return err
	}
	if err := nss.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	before := nss.Requests(nmi.GetClientInfo)
	var se *nmi.StatusError
	if err := ask(); !errors.As(err, &se) || se.Rc != nmi.ENXIO {
		t.Fatalf("summary of a disconnected client: %v", err)
	}
	if connected() {
		t.Error("the list still shows the client connected after its ENXIO")
	}
	if err := nss.SetClientConnected("SYSBTCP", true); err != nil {
		t.Fatal(err)
	}
	if err := ask(); err != nil {
		t.Fatal(err)
	}
	if !connected() {
		t.Error("the list shows the client not connected after it answered")
	}
	if n := nss.Requests(nmi.GetClientInfo) - before; n != 0 {
		t.Errorf("%d GET_CLIENTINFO within the list's lifetime", n)
	}
}
