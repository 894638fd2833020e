package ikedsim

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// The NSS server tests use the example NSS data set: SYSA with TCPIP and
// TCPIPB (not enabled for remote management), SYSB with a TCPIP of other
// data (client SYSBTCP) and an XMLAppliance client, SYSC whose TCPIP is not
// connected.

func loadExampleNSS(t *testing.T) *NSSDataSet {
	t.Helper()
	d, err := LoadNSSDataSet("testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func startNSS(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.NSS == nil {
		cfg.NSS = loadExampleNSS(t)
	}
	if cfg.System == "" {
		cfg.System = "NSS1"
	}
	return startServer(t, cfg)
}

func nmiClient(t *testing.T, path string) (*nmi.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	t.Cleanup(cancel)
	c, err := dialNMI(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ctx
}

// clientInfo sends GET_CLIENTINFO with a target and discipline filters.
func clientInfo(ctx context.Context, c *nmi.Client, target string, disciplines ...string) ([]nmi.ClientInfo, error) {
	req := &nmi.Request{Type: nmi.GetClientInfo, Target: target}
	for _, d := range disciplines {
		f := nmi.InFilter{HasName: true}
		if err := f.Name.Set(d); err != nil {
			return nil, err
		}
		req.Filters = append(req.Filters, f)
	}
	var out []nmi.ClientInfo
	_, err := c.Do(ctx, req, func(r nmi.Record) error {
		var ci nmi.ClientInfoRecord
		err := ci.Decode(r)
		out = append(out, ci.ClientInfo)
		return err
	})
	return out, err
}

func clientNames(cs []nmi.ClientInfo) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ClientName.String())
	}
	return out
}

func wantStatus(t *testing.T, what string, err error, rc nmi.ReturnCode, rsn nmi.ReasonCode) {
	t.Helper()
	var se *nmi.StatusError
	if !errors.As(err, &se) || se.Rc != rc || se.Rsn != rsn || se.Term {
		t.Errorf("%s: %v, want rc %v rsn %v on an open connection", what, err, rc, rsn)
	}
}

func TestNSSClientInfo(t *testing.T) {
	clk := newFakeClock()
	_, path := startNSS(t, Config{Now: clk.Now})
	c, ctx := nmiClient(t, path)

	all, err := clientInfo(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := clientNames(all), []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSBTCP", "SYSB_XMLGW"}; !slices.Equal(got, want) {
		t.Fatalf("every connected client: %v, want %v", got, want)
	}
	want := []nmi.ClientInfo{
		{Discipline: nmi.DisciplineIPSec, RemoteMgmt: true, ConnectTime: nmi.TimeStamp(clk.Now())},
		{Discipline: nmi.DisciplineIPSec, RemoteMgmt: false, ConnectTime: nmi.TimeStamp(clk.Now())},
		{Discipline: nmi.DisciplineIPSec, RemoteMgmt: true, ConnectTime: nmi.TimeStamp(clk.Now())},
		{Discipline: nmi.DisciplineXMLAppliance, RemoteMgmt: false, ConnectTime: nmi.TimeStamp(clk.Now())},
	}
	texts := [][4]string{{"SYSA_TCPIP", "SYSA", "TCPIP", "NSSCLNT"}, {"SYSA_TCPIPB", "SYSA", "TCPIPB", "IKED"},
		{"SYSBTCP", "SYSB", "TCPIP", "IKED"}, {"SYSB_XMLGW", "SYSB", "", "XMLGW"}}
	for i := range want {
		w := &want[i]
		_ = setTexts(textField{&w.ClientName, texts[i][0]}, textField{&w.SysName, texts[i][1]},
			textField{&w.StackName, texts[i][2]}, textField{&w.Userid, texts[i][3]})
		if all[i] != *w {
			t.Errorf("record %d: %+v, want %+v", i, all[i], *w)
		}
	}

	one, err := clientInfo(ctx, c, "SYSBTCP")
	if err != nil || len(one) != 1 || one[0] != want[2] {
		t.Errorf("SYSBTCP: %+v, %v", one, err)
	}
	_, err = clientInfo(ctx, c, "SYSC_TCPIP")
	wantStatus(t, "a client not connected", err, nmi.ENXIO, nmi.RsnNone)
	_, err = clientInfo(ctx, c, "NOSUCHCLIENT")
	wantStatus(t, "an unknown client", err, nmi.ENXIO, nmi.RsnNone)

	for _, tc := range []struct {
		filters []string
		want    []string
	}{
		{[]string{"IPSec"}, []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSBTCP"}},
		{[]string{"XMLAppliance"}, []string{"SYSB_XMLGW"}},
		{[]string{"XMLAppliance", "IPSec"}, []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSBTCP", "SYSB_XMLGW"}},
		{[]string{"NOSUCH"}, nil},
	} {
		got, err := clientInfo(ctx, c, "", tc.filters...)
		if err != nil || !slices.Equal(clientNames(got), tc.want) {
			t.Errorf("filters %v: %v, %v; want %v", tc.filters, clientNames(got), err, tc.want)
		}
	}
	if got, err := clientInfo(ctx, c, "SYSB_XMLGW", "IPSec"); err != nil || len(got) != 0 {
		t.Errorf("named client the filter leaves out: %v, %v", clientNames(got), err)
	}
}

// rawAnswer sends req and returns the answer's bytes with its target set
// to a fixed value, so that answers for different targets compare.
func rawAnswer(t *testing.T, c *rawClient, req *nmi.Request) []byte {
	t.Helper()
	c.send(c.request(req))
	h := c.read()
	if h.Rc != nmi.RcOK {
		t.Fatalf("%v for %s: rc %v rsn %v", req.Type, req.Target, h.Rc, h.Rsn)
	}
	if err := h.SetTarget("T"); err != nil {
		t.Fatal(err)
	}
	b, _ := h.AppendBinary(nil)
	return append(b, c.buf[nmi.HdrSize:]...)
}

// TestNSSRoutingMatchesIKED: every request routed to a client gets the
// bytes an IKED serving that client's system would answer (but for the
// target); TCPIP of SYSA and TCPIP of SYSB, the same stack name, never mix.
func TestNSSRoutingMatchesIKED(t *testing.T) {
	clk := newFakeClock()
	d := loadExampleNSS(t)
	_, nssPath := startNSS(t, Config{Now: clk.Now, NSS: d})
	nss := dial(t, nssPath)
	var mt nmi.Tunnel
	_ = mt.TunnelID.Set("M1")
	reqs := []nmi.Request{{Type: nmi.GetIPFltCurr}, {Type: nmi.GetIPFltPolicy}, {Type: nmi.GetIPInterfaces},
		{Type: nmi.GetIPTunManual}, {Type: nmi.GetIPTunDynStack}, {Type: nmi.GetIPTunDynIKE}, {Type: nmi.GetIKETun},
		{Type: nmi.GetIKETunCascade}, {Type: nmi.GetPortTrans}, {Type: nmi.GetSummary},
		{Type: nmi.DeactManTun, Tunnels: []nmi.Tunnel{mt}}, {Type: nmi.GetIPTunManual}}
	for _, tc := range []struct{ system, client string }{{"SYSA", "SYSA_TCPIP"}, {"SYSB", "SYSBTCP"}} {
		data := loadExampleNSS(t) // a fresh copy: the server holds d
		var ds *DataSet
		for _, s := range data.Systems {
			if s.System == tc.system {
				ds = s
			}
		}
		_, ikedPath := startServer(t, Config{Now: clk.Now, Data: ds})
		iked := dial(t, ikedPath)
		for _, req := range reqs {
			req.Target = tc.client
			got := rawAnswer(t, nss, &req)
			req.Target = "TCPIP"
			want := rawAnswer(t, iked, &req)
			if !bytes.Equal(got, want) {
				t.Errorf("%s %v: the NSS server's answer (%d bytes) differs from IKED's (%d bytes)",
					tc.client, req.Type, len(got), len(want))
			}
		}
		nss.corr, iked.corr = 0, 0 // the next pair of servers starts alike
	}

	c, ctx := nmiClient(t, nssPath)
	for client, want := range map[string][]string{"SYSA_TCPIP": {"K1"}, "SYSBTCP": {"K7", "K8"}} {
		var ids []string
		if _, err := c.Do(ctx, &nmi.Request{Type: nmi.GetIKETun, Target: client}, func(r nmi.Record) error {
			var rec nmi.IKETunnelRecord
			err := rec.Decode(r)
			ids = append(ids, rec.Tunnel.ID.String())
			return err
		}); err != nil || !slices.Equal(ids, want) {
			t.Errorf("%s: IKE tunnels %v, %v; want %v", client, ids, err, want)
		}
	}
}

func TestNSSErrors(t *testing.T) {
	_, path := startNSS(t, Config{})
	c, ctx := nmiClient(t, path)
	do := func(typ nmi.MsgType, target string) error {
		_, err := c.Do(ctx, &nmi.Request{Type: typ, Target: target}, nil)
		return err
	}
	wantStatus(t, "unknown client", do(nmi.GetSummary, "NOSUCH"), nmi.ENXIO, nmi.RsnNone)
	wantStatus(t, "client not connected", do(nmi.GetSummary, "SYSC_TCPIP"), nmi.ENXIO, nmi.RsnNone)
	wantStatus(t, "a stack name alone", do(nmi.GetSummary, "TCPIP"), nmi.ENXIO, nmi.RsnNone)
	wantStatus(t, "an XMLAppliance client", do(nmi.GetSummary, "SYSB_XMLGW"), nmi.ENXIO, nmi.RsnNone)
	wantStatus(t, "no remote management", do(nmi.GetIKETun, "SYSA_TCPIPB"), nmi.EOPNOTSUPP, nmi.RsnNone)
	_, err := c.Do(ctx, &nmi.Request{Type: nmi.LoadPolicy, Target: "SYSA_TCPIPB", Policy: &nmi.PolicySource{Source: nmi.FilterSetDefault}}, nil)
	wantStatus(t, "no remote management (control)", err, nmi.EOPNOTSUPP, nmi.RsnNone)
	wantStatus(t, "STACKINFO", do(nmi.GetStackInfo, ""), nmi.EINVAL, nmi.RsnBadType)
	wantStatus(t, "IKENSINFO", do(nmi.GetIKENSInfo, ""), nmi.EINVAL, nmi.RsnBadType)
	if err := do(nmi.GetSummary, "SYSA_TCPIP"); err != nil {
		t.Errorf("after the errors: %v", err)
	}
}

func TestIKEDRefusesClientInfo(t *testing.T) {
	srv, path := startServer(t, Config{})
	c, ctx := nmiClient(t, path)
	_, err := clientInfo(ctx, c, "")
	wantStatus(t, "GET_CLIENTINFO, blank target", err, nmi.EINVAL, nmi.RsnBadType)
	_, err = clientInfo(ctx, c, "TCPIP", "IPSec")
	wantStatus(t, "GET_CLIENTINFO, a stack", err, nmi.EINVAL, nmi.RsnBadType)
	if _, err := c.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, nil); err != nil {
		t.Errorf("after GET_CLIENTINFO: %v", err)
	}
	if err := srv.SetClientConnected("SYS1_TCPIP", false); err == nil {
		t.Error("IKED has no NSS clients to disconnect")
	}
	if srv.NSSClients() != nil {
		t.Error("IKED lists NSS clients")
	}
}

func TestNSSAuthorization(t *testing.T) {
	policyWith := func(nssLevel string) *policy.Policy {
		pol, err := policy.Parse([]byte(`
system: NSS1
profiles:
  - name: EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC.DISPLAY
    uacc: NONE
    access: [{id: OPER1, level: READ}]
  - name: EZB.NETMGMT.NSS1.SYSA_TCPIP.IPSEC.CONTROL
    uacc: NONE
  - name: EZB.NETMGMT.NSS1.SYSBTCP.IPSEC.DISPLAY
    uacc: NONE
  - name: EZB.NETMGMT.NSS1.SYSBTCP.IPSEC.CONTROL
    uacc: NONE
    access: [{id: OPER1, level: READ}]
  - name: EZB.NETMGMT.NSS1.NSS1.NSS.DISPLAY
    uacc: NONE
    access: [{id: OPER1, level: ` + nssLevel + `}]
  - name: EZB.NETMGMT.SYSA.TCPIP.IPSEC.DISPLAY
    uacc: NONE
identities:
  uids: {` + strconv.Itoa(os.Getuid()) + `: OPER1}
`))
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	var cur atomic.Pointer[policy.Policy]
	cur.Store(policyWith("NONE"))
	_, path := startNSS(t, Config{Policy: cur.Load})
	c, ctx := nmiClient(t, path)
	do := func(typ nmi.MsgType, target string) error {
		req := &nmi.Request{Type: typ, Target: target}
		if typ == nmi.LoadPolicy {
			req.Policy = &nmi.PolicySource{Source: nmi.FilterSetPolicy}
		}
		_, err := c.Do(ctx, req, nil)
		return err
	}
	_, err := clientInfo(ctx, c, "")
	wantStatus(t, "GET_CLIENTINFO without NSS.DISPLAY", err, nmi.EACCES, nmi.RsnNone)
	_, err = clientInfo(ctx, c, "SYSA_TCPIP")
	wantStatus(t, "GET_CLIENTINFO of one client without NSS.DISPLAY", err, nmi.EACCES, nmi.RsnNone)
	// The client's resource of the NSS server is checked, not the one IKED
	// of SYSA would check (EZB.NETMGMT.SYSA.TCPIP...).
	if err := do(nmi.GetIKETun, "SYSA_TCPIP"); err != nil {
		t.Errorf("display with READ on SYSA_TCPIP's DISPLAY: %v", err)
	}
	wantStatus(t, "control without CONTROL", do(nmi.LoadPolicy, "SYSA_TCPIP"), nmi.EACCES, nmi.RsnNone)
	wantStatus(t, "display of the other TCPIP", do(nmi.GetIKETun, "SYSBTCP"), nmi.EACCES, nmi.RsnNone)
	if err := do(nmi.LoadPolicy, "SYSBTCP"); err != nil {
		t.Errorf("control with READ on SYSBTCP's CONTROL: %v", err)
	}

	cur.Store(policyWith("READ"))
	if got, err := clientInfo(ctx, c, ""); err != nil || len(got) != 4 {
		t.Errorf("GET_CLIENTINFO with NSS.DISPLAY: %d records, %v", len(got), err)
	}
}

func TestNSSConnectDisconnect(t *testing.T) {
	clk := newFakeClock()
	srv, path := startNSS(t, Config{Now: clk.Now})
	c, ctx := nmiClient(t, path)
	ikeIDs := func() ([]string, error) {
		var ids []string
		_, err := c.Do(ctx, &nmi.Request{Type: nmi.GetIKETun, Target: "SYSBTCP"}, func(r nmi.Record) error {
			var rec nmi.IKETunnelRecord
			err := rec.Decode(r)
			ids = append(ids, rec.Tunnel.ID.String())
			return err
		})
		return ids, err
	}
	before, err := ikeIDs()
	if err != nil || len(before) != 2 {
		t.Fatalf("before: %v, %v", before, err)
	}
	if err := srv.SetClientConnected("SYSBTCP", false); err != nil {
		t.Fatal(err)
	}
	_, err = ikeIDs()
	wantStatus(t, "disconnected", err, nmi.ENXIO, nmi.RsnNone)
	_, err = clientInfo(ctx, c, "SYSBTCP")
	wantStatus(t, "GET_CLIENTINFO of the disconnected client", err, nmi.ENXIO, nmi.RsnNone)
	if all, err := clientInfo(ctx, c, ""); err != nil || slices.Contains(clientNames(all), "SYSBTCP") {
		t.Errorf("every connected client: %v, %v", clientNames(all), err)
	}

	clk.Advance(time.Minute)
	if err := srv.SetClientConnected("SYSBTCP", true); err != nil {
		t.Fatal(err)
	}
	if after, err := ikeIDs(); err != nil || !slices.Equal(after, before) {
		t.Errorf("reconnected: %v, %v; want its tunnels %v", after, err, before)
	}
	one, err := clientInfo(ctx, c, "SYSBTCP")
	if err != nil || len(one) != 1 || one[0].ConnectTime != nmi.TimeStamp(clk.Now()) {
		t.Errorf("reconnected: %+v, %v; want the connect time %d", one, err, nmi.TimeStamp(clk.Now()))
	}
	// A client that was not connected in the data set connects.
	if err := srv.SetClientConnected("SYSC_TCPIP", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: "SYSC_TCPIP"}, nil); err != nil {
		t.Errorf("SYSC_TCPIP connected: %v", err)
	}
	if err := srv.SetClientConnected("NOSUCH", true); err == nil {
		t.Error("an unknown client connected")
	}
}

func churnSequence(t *testing.T, seed uint64, n int) []string {
	t.Helper()
	srv, err := NewServer(Config{System: "NSS1", NSS: loadExampleNSS(t), NSSChurnSeed: seed, Now: newFakeClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for range n {
		name, connected := srv.nss.churnStep()
		out = append(out, name+"="+strconv.FormatBool(connected))
	}
	return out
}

func TestNSSChurnDeterministic(t *testing.T) {
	a, b := churnSequence(t, 7, 40), churnSequence(t, 7, 40)
	if !slices.Equal(a, b) {
		t.Errorf("the same seed flips other clients:\n%v\n%v", a, b)
	}
	flipped := map[string]bool{}
	for _, s := range a {
		name, _, _ := strings.Cut(s, "=")
		flipped[name] = true
	}
	if len(flipped) != 5 {
		t.Errorf("40 flips reach %d of 5 clients", len(flipped))
	}
	if c := churnSequence(t, 8, 40); slices.Equal(a, c) {
		t.Error("seeds 7 and 8 flip the same clients")
	}
}

// logLines is a slog handler's output, safe for concurrent use.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestNSSChurnRuns: with a churn interval the server flips clients by
// itself, the first one chosen as the seed says.
func TestNSSChurnRuns(t *testing.T) {
	name, state, _ := strings.Cut(churnSequence(t, 3, 1)[0], "=")
	var log logLines
	startNSS(t, Config{NSSChurn: time.Millisecond, NSSChurnSeed: 3, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	deadline := time.Now().Add(ioWait)
	for !strings.Contains(log.String(), "NSS client churn") {
		if time.Now().After(deadline) {
			t.Fatalf("no churn after %v", ioWait)
		}
		time.Sleep(time.Millisecond)
	}
	first, _, _ := strings.Cut(log.String()[strings.Index(log.String(), "NSS client churn"):], "\n")
	if want := "client=" + name + " connected=" + state; !strings.Contains(first, want) {
		t.Errorf("first churn %q, want %s", first, want)
	}
}

func TestGenerateNSS(t *testing.T) {
	spec, err := ParseNSSGenSpec("systems=3,stacks=2,filters=20,tunnels=4,seed=5")
	if err != nil {
		t.Fatal(err)
	}
	d, err := GenerateNSS(spec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.Clients {
		names = append(names, c.Name)
		if !c.Connected || !c.RemoteManagement || c.Discipline != nmi.DisciplineIPSec {
			t.Errorf("%s: %+v", c.Name, c)
		}
	}
	if want := []string{"SYSA_TCPIP", "SYSA_TCPIPB", "SYSB_TCPIP", "SYSB_TCPIPB", "SYSC_TCPIP", "SYSC_TCPIPB"}; !slices.Equal(names, want) {
		t.Errorf("clients %v, want %v", names, want)
	}
	// System i is the IKED generator's data set of seed 5+i.
	for i, ds := range d.Systems {
		one, err := Generate(GenSpec{Stacks: 2, Filters: 20, Tunnels: 4, Seed: 5 + uint64(i), System: ds.System})
		if err != nil {
			t.Fatal(err)
		}
		for j, st := range ds.Stacks {
			if len(st.IKETunnels) != len(one.Stacks[j].IKETunnels) || st.IKETunnels[0].Remote != one.Stacks[j].IKETunnels[0].Remote {
				t.Errorf("%s/%s differs from the generator's", ds.System, st.Name)
			}
		}
	}
	if d.Systems[0].Stacks[0].IKETunnels[0].Remote == d.Systems[1].Stacks[0].IKETunnels[0].Remote &&
		d.Systems[0].Stacks[0].IKETunnels[0].ID == d.Systems[1].Stacks[0].IKETunnels[0].ID &&
		len(d.Systems[0].Stacks[0].PolicyFilters) > 0 &&
		d.Systems[0].Stacks[0].PolicyFilters[0].Src == d.Systems[1].Stacks[0].PolicyFilters[0].Src {
		t.Error("two systems got the same data")
	}
	for _, bad := range []string{"systems=0", "systems=65", "systems=x", "stacks=0", "colour=blue"} {
		if _, err := ParseNSSGenSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseNSSDataSetErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"systems: []\n", "line 1: systems: none given"},
		{"systems:\n  - stacks: [{name: A}]\n", "line 2: systems[0]: no name"},
		{"systems:\n  - {name: S, stacks: [{name: A}]}\n  - {name: S, stacks: [{name: B}]}\n", "line 3: system S appears twice"},
		{"systems:\n  - name: S\n    stacks:\n      - {name: A, client: C}\n      - {name: B, client: C}\n", "line 5: client C appears twice"},
		{"systems:\n  - name: S\n    stacks:\n      - {name: A, client: ABCDEFGHIJKLMNOPQRSTUVWXYZ}\n", "line 4: client name"},
		{"systems:\n  - name: S\n    stacks:\n      - {name: A, remoteManagment: false}\n", "line 4: field remoteManagment not found"},
		{"systems:\n  - name: S\n    stacks: [{name: A}]\n  - name: T\n    stacks:\n      - {name: A}\n      - {name: A}\n", "line 6: system T: stack A: the stack appears twice"},
		{"systems:\n  - name: LONGSYSNAME\n    stacks: [{name: A}]\n", "line 2: system LONGSYSNAME: system:"},
		{"systems:\n  - name: S\n    stacks: [{name: A}]\n    xmlAppliances: [{userid: X}]\n", "line 4: a client with no name"},
		{"system: SYS1\nstacks: [{name: A}]\n", "field system not found"},
	} {
		_, err := ParseNSSDataSet([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.doc, err, tc.want)
		}
	}
	if _, err := ParseDataSet([]byte("systems:\n  - {name: S, stacks: [{name: A}]}\n")); err == nil {
		t.Error("an IKED data set with systems: accepted")
	}
}
