package ikedsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

// Tests talk to the server over a real AF_UNIX socket with raw messages
// built by the codec, so that malformed input can be sent too.

const ioWait = 10 * time.Second // a bound against hangs, never a timing claim

func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = newFakeClock().Now
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ipsecmgmt")
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, path
}

type rawClient struct {
	t    *testing.T
	c    net.Conn
	buf  []byte
	corr uint32
}

func dialRaw(t *testing.T, path string) *rawClient {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

// dial connects and reads INIT.
func dial(t *testing.T, path string) *rawClient {
	t.Helper()
	r := dialRaw(t, path)
	if h := r.read(); h.Type != nmi.MsgInit || h.Rc != 0 || h.Version != nmi.Version {
		t.Fatalf("first message %+v, want INIT", h)
	}
	return r
}

// read reads one message; its records stay in r.buf until the next read.
func (r *rawClient) read() nmi.Header {
	r.t.Helper()
	h, msg, err := r.tryRead()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	r.buf = msg
	return h
}

func (r *rawClient) tryRead() (nmi.Header, []byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(ioWait))
	return nmi.ReadMessage(r.c, r.buf, 1<<30)
}

func (r *rawClient) send(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawClient) request(req *nmi.Request) []byte {
	r.t.Helper()
	r.corr++
	b, err := nmi.AppendRequest(nil, req, r.corr)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// do sends req and returns the answer's header and records.
func (r *rawClient) do(req *nmi.Request) (nmi.Header, []nmi.Record) {
	r.t.Helper()
	r.send(r.request(req))
	h := r.read()
	if h.Type != req.Type || h.Correlator != r.corr {
		r.t.Fatalf("answer %v/%d to %v/%d", h.Type, h.Correlator, req.Type, r.corr)
	}
	return h, r.records(h)
}

func (r *rawClient) records(h nmi.Header) []nmi.Record {
	r.t.Helper()
	if h.RecCount == 0 {
		return nil
	}
	var out []nmi.Record
	d := nmi.NewRecordDecoder(r.buf[h.RecOff:], int(h.RecCount))
	for d.Next() {
		out = append(out, d.Record())
	}
	if err := d.Err(); err != nil {
		r.t.Fatalf("records: %v", err)
	}
	return out
}

// expectStatus sends raw request bytes and wants an error answer.
func (r *rawClient) expectStatus(msg []byte, rc nmi.ReturnCode, rsn nmi.ReasonCode) nmi.Header {
	r.t.Helper()
	r.send(msg)
	h := r.read()
	if h.Rc != rc || h.Rsn != rsn || h.RecCount != 0 || h.MsgSize != nmi.HdrSize {
		r.t.Fatalf("answer rc %v rsn %v (%d records), want %v/%v", h.Rc, h.Rsn, h.RecCount, rc, rsn)
	}
	return h
}

// expectTerm reads a TERM and then the end of the stream.
func (r *rawClient) expectTerm(rc nmi.ReturnCode, rsn nmi.ReasonCode) {
	r.t.Helper()
	h := r.read()
	if h.Type != nmi.MsgTerm || h.Rc != rc || h.Rsn != rsn {
		r.t.Fatalf("got %v rc %v rsn %v, want TERM %v/%v", h.Type, h.Rc, h.Rsn, rc, rsn)
	}
	r.expectEOF()
}

func (r *rawClient) expectEOF() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(ioWait))
	if n, err := r.c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		r.t.Fatalf("connection still open (%d bytes, %v)", n, err)
	}
}

func decode[T any, P interface {
	*T
	Decode(nmi.Record) error
}](t *testing.T, recs []nmi.Record) []T {
	t.Helper()
	out := make([]T, len(recs))
	for i, rec := range recs {
		if err := P(&out[i]).Decode(rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return out
}

func TestEveryDisplayRequest(t *testing.T) {
	srv, path := startServer(t, Config{})
	c := dial(t, path)
	m := srv.Model()

	_, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo})
	stacks := decode[nmi.StackRecord](t, recs)
	if len(stacks) != 2 || stacks[0].Stack.Name.String() != "TCPIP" || stacks[1].Stack.Name.String() != "TCPIPB" ||
		stacks[0].Stack.FilterSet != nmi.FilterSetPolicy || stacks[0].Stack.NATKeepAlive != 20 || !stacks[0].Stack.IPSecurity {
		t.Errorf("stacks %+v", stacks)
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIKENSInfo})
	nss := decode[nmi.NSSRecord](t, recs)
	if len(nss) != 2 || nss[0].NSS.ClientName.String() != "SYS1_TCPIP" || nss[0].NSS.StackName.String() != "TCPIP" ||
		!nss[0].NSS.Connected || nss[1].NSS.Configured {
		t.Errorf("NSS %+v", nss)
	}
	for _, tc := range []struct {
		typ nmi.MsgType
		src FilterSource
	}{{nmi.GetIPFltCurr, SourceCurrent}, {nmi.GetIPFltDefault, SourceDefault}, {nmi.GetIPFltPolicy, SourcePolicy}} {
		_, recs = c.do(&nmi.Request{Type: tc.typ, Target: "TCPIP"})
		fl := decode[nmi.FilterRecord](t, recs)
		l, _ := m.Filters("TCPIP", tc.src)
		if len(fl) != l.Len() {
			t.Errorf("%v: %d records, model has %d", tc.typ, len(fl), l.Len())
		}
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP"})
	var dynFilters int
	for _, f := range decode[nmi.FilterRecord](t, recs) {
		if f.Filter.Type == nmi.FilterDynamic {
			dynFilters++
			if f.Filter.TunnelID.String() == "" || f.Filter.Action != nmi.ActionIPSec {
				t.Errorf("dynamic filter %+v", f.Filter)
			}
		}
	}
	if dynFilters == 0 {
		t.Error("no dynamic filters in the current set")
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIPInterfaces, Target: "TCPIP"})
	ifs := decode[nmi.InterfaceRecord](t, recs)
	if len(ifs) != 6 || ifs[3].Interface.Addr.String() != "2001:db8:1::10" || !ifs[3].Interface.IPv6 || !ifs[2].Interface.DVIPA {
		t.Errorf("interfaces %+v", ifs)
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIPTunManual, Target: "TCPIP"})
	man := decode[nmi.ManualTunnelRecord](t, recs)
	if len(man) != 3 || man[0].Tunnel.State != nmi.IPTunActive || man[1].Tunnel.State != nmi.IPTunInactive ||
		man[0].Tunnel.Type != nmi.IPTunManual || man[0].Manual.OutBytes == 0 || man[0].Manual.ActivateTime == 0 || !man[2].Tunnel.IPv6 {
		t.Errorf("manual %+v", man)
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIPTunDynStack, Target: "TCPIP"})
	ds := decode[nmi.DynStackRecord](t, recs)
	if len(ds) != 7 || ds[0].Tunnel.ID.String() != "Y1" || ds[0].Dyn.Generation != 2 || ds[0].Tunnel.Type != nmi.IPTunStack ||
		ds[0].Stack.OutBytes == 0 || ds[0].Dyn.LocalDynVpnRule.String() != "BRANCH1-VPN" || ds[0].Dyn.SrcAddrFmt != nmi.AddrPrefix {
		t.Errorf("dynamic (stack) %+v", ds[0])
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIPTunDynIKE, Target: "TCPIP"})
	for _, rec := range recs {
		if rec.NumSections() != 5 {
			t.Errorf("dynamic (IKE) record with %d sections", rec.NumSections())
		}
	}
	di := decode[nmi.DynIKERecord](t, recs)
	if len(di) != 7 || di[0].Tunnel.Type != nmi.IPTunIKE || di[0].Dyn.IKETunnelID.String() != "K1" {
		t.Errorf("dynamic (IKE) %+v", di[0])
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIKETun, Target: "TCPIP"})
	ike := decode[nmi.IKETunnelRecord](t, recs)
	if len(ike) != 6 || ike[0].Tunnel.ID.String() != "K1" || ike[0].Tunnel.Generation != 3 || ike[1].Tunnel.Generation != 2 ||
		ike[0].Tunnel.State != nmi.IKETunActive || ike[1].Tunnel.State != nmi.IKETunExpired || ike[0].HasCascade ||
		nmi.Identity(ike[0].Tunnel.LclIDType, ike[0].LocalID) != "zos1.example.com" || ike[0].Stats.Active == 0 {
		t.Errorf("IKE %+v", ike[:2])
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetIKETunCascade, Target: "TCPIP"})
	casc := decode[nmi.IKETunnelRecord](t, recs)
	if len(casc) != 6 || !casc[0].HasCascade || len(casc[0].Cascade) != 4 || casc[1].HasCascade ||
		casc[0].Cascade[0].Dyn.IKETunnelID.String() != "K1" {
		t.Errorf("cascade: %d records, first has %v/%d", len(casc), casc[0].HasCascade, len(casc[0].Cascade))
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetPortTrans, Target: "TCPIP"})
	pt := decode[nmi.PortTransRecord](t, recs)
	if len(pt) != 2 || pt[0].PortTrans.TunnelID.String() != "Y3" || pt[0].PortTrans.RmtUDPEncapPort != 4500 {
		t.Errorf("port translations %+v", pt)
	}
	_, recs = c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"})
	sum := decode[nmi.SummaryRecord](t, recs)
	if len(sum) != 1 || sum[0].Statistics.P1.Active != 3 || sum[0].Statistics.P1.InProgress != 1 ||
		sum[0].Statistics.P2.LclActSuccess != 388 {
		t.Errorf("summary %+v", sum)
	}
}

func TestInputFilters(t *testing.T) {
	_, path := startServer(t, Config{})
	c := dial(t, path)
	name := func(s string) nmi.InFilter {
		f := nmi.InFilter{HasName: true}
		_ = f.Name.Set(s)
		return f
	}
	names := func(typ nmi.MsgType, fs ...nmi.InFilter) []string {
		t.Helper()
		h, recs := c.do(&nmi.Request{Type: typ, Target: "TCPIP", Filters: fs})
		if h.Rc != 0 {
			t.Fatalf("%v: rc %v rsn %v", typ, h.Rc, h.Rsn)
		}
		var out []string
		for _, rec := range recs {
			switch typ {
			case nmi.GetIPFltPolicy, nmi.GetIPFltCurr:
				var r nmi.FilterRecord
				_ = r.Decode(rec)
				out = append(out, r.Filter.Name.String()+"/"+r.Filter.Direction.String())
			case nmi.GetIPTunDynStack:
				var r nmi.DynStackRecord
				_ = r.Decode(rec)
				out = append(out, r.Tunnel.ID.String())
			case nmi.GetIKETun:
				var r nmi.IKETunnelRecord
				_ = r.Decode(rec)
				out = append(out, r.Tunnel.ID.String())
			case nmi.GetPortTrans:
				var r nmi.PortTransRecord
				_ = r.Decode(rec)
				out = append(out, r.PortTrans.TunnelID.String())
			case nmi.GetIPTunManual:
				var r nmi.ManualTunnelRecord
				_ = r.Decode(rec)
				out = append(out, r.Tunnel.ID.String())
			}
		}
		return out
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	eq(names(nmi.GetIPFltPolicy, name("PERMIT-DNS")), "PERMIT-DNS/outbound", "PERMIT-DNS/inbound")
	// OR across records, in server order, each once.
	eq(names(nmi.GetIPFltPolicy, name("DENY-TELNET"), name("PERMIT-DNS"), name("PERMIT-DNS")),
		"PERMIT-DNS/outbound", "PERMIT-DNS/inbound", "DENY-TELNET/outbound", "DENY-TELNET/inbound")
	// AND inside a record: name and local port 53 -> the two DNS filters; remote port 53 -> none.
	dns := name("PERMIT-DNS")
	dns.HasRmtPort, dns.RmtPort = true, 53
	eq(names(nmi.GetIPFltPolicy, dns), "PERMIT-DNS/outbound", "PERMIT-DNS/inbound")
	dns.RmtPort = 54
	eq(names(nmi.GetIPFltPolicy, dns))
	// A prefix matches objects whose ranges overlap it; "any" matches every value.
	// (Rules for any protocol match a protocol criterion.)
	pfx := nmi.InFilter{HasRmtAddr: true, RmtAddr: ip("198.51.100.50"), RmtPrefix: 30, HasProtocol: true, Protocol: 17}
	eq(names(nmi.GetIPFltPolicy, pfx), "BRANCH1-VPN/outbound", "BRANCH1-VPN/inbound", "ROAMING-NATT/outbound",
		"ROAMING-NATT/inbound", "SYSDEFAULTDENYRULE/outbound", "SYSDEFAULTDENYRULE/inbound")
	pfx.RmtPrefix, pfx.RmtAddr, pfx.Protocol = 26, ip("198.51.100.0"), 6
	eq(names(nmi.GetIPFltPolicy, pfx), "PERMIT-SSH-ADMIN/outbound", "PERMIT-SSH-ADMIN/inbound", "DENY-TELNET/outbound",
		"DENY-TELNET/inbound", "BRANCH1-DB-VPN/outbound", "BRANCH1-DB-VPN/inbound", "BRANCH1-VPN/outbound",
		"BRANCH1-VPN/inbound", "ROAMING-NATT/outbound", "ROAMING-NATT/inbound", "SYSDEFAULTDENYRULE/outbound",
		"SYSDEFAULTDENYRULE/inbound")
	v6 := nmi.InFilter{HasLclAddr: true, IPv6: true, LclAddr: ip("2001:db8:1::"), LclPrefix: 48}
	eq(names(nmi.GetIPFltPolicy, v6), "PARTNER6-VPN/outbound", "PARTNER6-VPN/inbound", "PERMIT-ICMPV6-ECHO/outbound",
		"PERMIT-ICMPV6-ECHO/inbound", "SYSDEFAULTDENYRULE6/outbound", "SYSDEFAULTDENYRULE6/inbound")
	// Tunnel IDs, dynamic tunnels by rule and port, IKE tunnels by key exchange rule, port translations.
	tid := nmi.InFilter{HasTunnelID: true}
	_ = tid.TunnelID.Set("Y1")
	eq(names(nmi.GetIPTunDynStack, tid), "Y1", "Y1")
	eq(names(nmi.GetIPFltCurr, tid), "BRANCH1-VPN/outbound", "BRANCH1-VPN/inbound")
	rule := name("BRANCH1-DB-VPN")
	rule.HasLclPort, rule.LclPort = true, 1521
	eq(names(nmi.GetIPTunDynStack, rule, name("PARTNER6-VPN")), "Y2", "Y4")
	eq(names(nmi.GetIKETun, name("KER-PARTNER6")), "K3", "K3")
	rmt := nmi.InFilter{HasRmtAddr: true, RmtAddr: ip("203.0.113.5"), HasTunnelID: true}
	_ = rmt.TunnelID.Set("Y3")
	eq(names(nmi.GetPortTrans, rmt), "Y3", "Y3")
	rmt.HasRmtPort, rmt.RmtPort = true, 5060
	eq(names(nmi.GetPortTrans, rmt), "Y3")
	eq(names(nmi.GetIPTunManual, name("MANUAL-LEGACY")), "M2")
}

// rawRequest builds a request message without the client-side checks.
func rawRequest(t *testing.T, typ nmi.MsgType, target string, corr uint32, records [][]byte) []byte {
	t.Helper()
	h := nmi.Header{Version: nmi.Version, Type: typ, Correlator: corr}
	if err := h.SetTarget(target); err != nil {
		t.Fatal(err)
	}
	var recs []byte
	for _, r := range records {
		recs = append(recs, r...)
	}
	b, err := nmi.AppendMessage(nil, h, recs, len(records))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func filterRecord(t *testing.T, f nmi.InFilter) []byte {
	t.Helper()
	r := nmi.InFilterRecord{Filter: f}
	b, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReasonCodes(t *testing.T) {
	_, path := startServer(t, Config{})
	c := dial(t, path)
	be := binary.BigEndian
	stackinfo := func() []byte { return rawRequest(t, nmi.GetStackInfo, "", 7, nil) }

	// Requests that fail and leave the connection open, each followed by a good one.
	ports := nmi.InFilter{HasLclPort: true, LclPort: 22}
	tun := nmi.TunnelRecord{}
	blankTunnel, _ := tun.Append(nil)
	cases := []struct {
		name string
		msg  []byte
		rc   nmi.ReturnCode
		rsn  nmi.ReasonCode
	}{
		{"version", func() []byte { b := stackinfo(); be.PutUint16(b[8:], 2); return b }(), nmi.EINVAL, nmi.RsnBadVersion},
		{"type", rawRequest(t, 150, "TCPIP", 1, nil), nmi.EINVAL, nmi.RsnBadType},
		{"type 209", rawRequest(t, 209, "TCPIP", 1, nil), nmi.EINVAL, nmi.RsnBadType},
		{"header size", func() []byte { b := stackinfo(); be.PutUint32(b[4:], 60); return b }(), nmi.EINVAL, nmi.RsnHdrSize},
		{"reserved", func() []byte { b := stackinfo(); b[63] = 1; return b }(), nmi.EINVAL, nmi.RsnReservedNonzero},
		{"records do not add up", func() []byte {
			b := rawRequest(t, nmi.GetIKETun, "TCPIP", 3, [][]byte{filterRecord(t, nmi.InFilter{HasName: true})})
			b = append(b, 0, 0, 0, 0)
			be.PutUint32(b[12:], uint32(len(b)))
			return b
		}(), nmi.EINVAL, nmi.RsnMsgSize},
		{"record length", func() []byte {
			b := rawRequest(t, nmi.GetIKETun, "TCPIP", 3, [][]byte{filterRecord(t, nmi.InFilter{HasName: true})})
			be.PutUint32(b[64+4:], 150) // not a multiple of 4
			return b
		}(), nmi.EINVAL, nmi.RsnRecordLength},
		{"filter on a request without filters", rawRequest(t, nmi.GetSummary, "TCPIP", 4, [][]byte{filterRecord(t, nmi.InFilter{HasName: true})}), nmi.EINVAL, nmi.RsnBadFilter},
		{"criterion that does not apply", rawRequest(t, nmi.GetIKETun, "TCPIP", 5, [][]byte{filterRecord(t, ports)}), nmi.EINVAL, nmi.RsnBadFilter},
		{"control record without name and ID", rawRequest(t, nmi.DeactDynTun, "TCPIP", 6, [][]byte{blankTunnel}), nmi.EINVAL, nmi.RsnBadControlRecord},
		{"section outside its record", func() []byte {
			b := rawRequest(t, nmi.GetIKETun, "TCPIP", 3, [][]byte{filterRecord(t, nmi.InFilter{HasName: true})})
			be.PutUint32(b[64+16:], 4000) // section descriptor offset
			return b
		}(), nmi.EINVAL, nmi.RsnBadSection},
		{"unknown stack", rawRequest(t, nmi.GetSummary, "TCPIPX", 8, nil), nmi.ENXIO, nmi.RsnNone},
		{"blank stack", rawRequest(t, nmi.GetSummary, "", 9, nil), nmi.ENXIO, nmi.RsnNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			h := c.expectStatus(tc.msg, tc.rc, tc.rsn)
			if want := be.Uint32(tc.msg[16:]); h.Correlator != want {
				t.Errorf("correlator %d, want %d", h.Correlator, want)
			}
			if _, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo}); len(recs) != 2 {
				t.Errorf("connection unusable after the error")
			}
		})
	}
	c.t = t

	// Errors that close: the error answer, then TERM with the same codes.
	closing := []struct {
		name string
		msg  []byte
		rsn  nmi.ReasonCode
	}{
		{"identifier", func() []byte { b := stackinfo(); b[0] = 0; return b }(), nmi.RsnBadIdent},
		{"too large", func() []byte { b := stackinfo(); be.PutUint32(b[12:], nmi.MaxRequestSize+4); return b }(), nmi.RsnExcessiveSize},
		{"message size below the header", func() []byte { b := stackinfo(); be.PutUint32(b[12:], 32); return b }(), nmi.RsnMsgSize},
	}
	for _, tc := range closing {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, path)
			c.expectStatus(tc.msg, nmi.EINVAL, tc.rsn)
			c.expectTerm(nmi.EINVAL, tc.rsn)
		})
	}
}

func TestNotReadyAndInit(t *testing.T) {
	srv, path := startServer(t, Config{NotReady: true})
	c := dialRaw(t, path)
	// Before INIT every request is refused with reason 11; the connection stays.
	c.expectStatus(rawRequest(t, nmi.GetStackInfo, "", 1, nil), nmi.EINVAL, nmi.RsnNotReady)
	c.expectStatus(rawRequest(t, nmi.GetSummary, "TCPIP", 2, nil), nmi.EINVAL, nmi.RsnNotReady)
	srv.SetReady(true)
	if h := c.read(); h.Type != nmi.MsgInit {
		t.Fatalf("got %v, want INIT", h.Type)
	}
	if _, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo}); len(recs) != 2 {
		t.Fatal("no answer after INIT")
	}
	// New clients get INIT at once; after SetReady(false) they wait again.
	dial(t, path)
	srv.SetReady(false)
	late := dialRaw(t, path)
	late.expectStatus(rawRequest(t, nmi.GetStackInfo, "", 3, nil), nmi.EINVAL, nmi.RsnNotReady)
	srv.SetReady(true)
	if h := late.read(); h.Type != nmi.MsgInit {
		t.Fatalf("got %v, want INIT", h.Type)
	}
}

func TestInitDelay(t *testing.T) {
	srv, path := startServer(t, Config{InitDelay: 50 * time.Millisecond})
	c := dialRaw(t, path)
	if h := c.read(); h.Type != nmi.MsgInit || !srv.Ready() {
		t.Fatalf("got %v, want INIT", h.Type)
	}
}

func TestClientLimit(t *testing.T) {
	srv, path := startServer(t, Config{})
	clients := make([]*rawClient, DefaultMaxClients)
	for i := range clients {
		clients[i] = dial(t, path)
	}
	// The 51st: TERM with EAGAIN before any INIT, then close.
	extra := dialRaw(t, path)
	extra.expectTerm(nmi.EAGAIN, nmi.RsnNone)
	// Every one of the 50 still works.
	for _, c := range clients {
		if _, recs := c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIPB"}); len(recs) != 1 {
			t.Fatal("a client lost its answer")
		}
	}
	// One leaves: room for another.
	clients[0].c.Close()
	for srv.Clients() == DefaultMaxClients {
		time.Sleep(time.Millisecond)
	}
	dial(t, path)
}

func TestAuthorization(t *testing.T) {
	pol, err := policy.Parse([]byte(`
system: SYS1
superusers: {users: [IBMUSER]}
profiles:
  - name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY
    uacc: NONE
    access: [{id: OPER1, level: READ}]
  - name: EZB.NETMGMT.SYS1.TCPIPB.IPSEC.DISPLAY
    uacc: NONE
identities:
  uids: {` + strconv.Itoa(os.Getuid()) + `: OPER1}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, path := startServer(t, Config{Policy: func() *policy.Policy { return pol }})
	c := dial(t, path)
	_, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo})
	if st := decode[nmi.StackRecord](t, recs); len(st) != 1 || st[0].Stack.Name.String() != "TCPIP" {
		t.Errorf("STACKINFO shows %d stacks, want TCPIP alone", len(st))
	}
	if h, recs := c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}); h.Rc != 0 || len(recs) != 1 {
		t.Errorf("TCPIP: rc %v", h.Rc)
	}
	if h, _ := c.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIPB"}); h.Rc != nmi.EACCES || h.Rsn != 0 {
		t.Errorf("TCPIPB: rc %v rsn %v, want EACCES", h.Rc, h.Rsn)
	}
	// The connection stays open after EACCES.
	if h, _ := c.do(&nmi.Request{Type: nmi.GetIKETun, Target: "TCPIP"}); h.Rc != 0 {
		t.Errorf("after EACCES: rc %v", h.Rc)
	}
}

func TestShutdownSendsTerm(t *testing.T) {
	srv, path := startServer(t, Config{})
	a, b := dial(t, path), dial(t, path)
	b.do(&nmi.Request{Type: nmi.GetStackInfo})
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.expectTerm(nmi.RcOK, nmi.RsnNone)
	b.expectTerm(nmi.RcOK, nmi.RsnNone)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left: %v", err)
	}
	if err := srv.Serve(nil); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestIdleTimeoutTerminates(t *testing.T) {
	_, path := startServer(t, Config{IdleTimeout: 20 * time.Millisecond})
	c := dial(t, path)
	c.expectTerm(nmi.RcOK, nmi.RsnNone)
}

func TestClientCloseIsClean(t *testing.T) {
	srv, path := startServer(t, Config{})
	c := dial(t, path)
	c.c.Close()
	for srv.Clients() != 0 {
		time.Sleep(time.Millisecond)
	}
}

func TestFaults(t *testing.T) {
	faults := NewFaults()
	_, path := startServer(t, Config{Faults: faults})
	summary := &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}

	t.Run("delay", func(t *testing.T) {
		faults.Set(nmi.GetSummary, Fault{Delay: 10 * time.Millisecond, Times: 1})
		c := dial(t, path)
		if h, recs := c.do(summary); h.Rc != 0 || len(recs) != 1 {
			t.Fatal("delayed answer wrong")
		}
	})
	t.Run("no reply", func(t *testing.T) {
		faults.Set(nmi.GetSummary, Fault{NoReply: true, Times: 1})
		c := dial(t, path)
		c.send(c.request(summary))
		first := c.corr
		if _, recs := c.do(&nmi.Request{Type: nmi.GetStackInfo}); len(recs) != 2 || c.corr == first {
			t.Fatal("the next request was not answered")
		}
	})
	t.Run("forced error", func(t *testing.T) {
		faults.Set(AnyRequest, Fault{Rc: nmi.EIO, Rsn: 42, Times: 2})
		c := dial(t, path)
		for i := 0; i < 2; i++ {
			if h, _ := c.do(summary); h.Rc != nmi.EIO || h.Rsn != 42 {
				t.Fatalf("rc %v rsn %v", h.Rc, h.Rsn)
			}
		}
		if h, _ := c.do(summary); h.Rc != 0 {
			t.Fatal("fault outlived its count")
		}
	})
	t.Run("wrong correlator", func(t *testing.T) {
		faults.Set(nmi.GetSummary, Fault{WrongCorrelator: true, Times: 1})
		c := dial(t, path)
		c.send(c.request(summary))
		if h := c.read(); h.Correlator != c.corr+1 {
			t.Fatalf("correlator %d, sent %d", h.Correlator, c.corr)
		}
	})
	t.Run("term then close", func(t *testing.T) {
		faults.Set(nmi.GetSummary, Fault{TermClose: true, Rc: nmi.EIO, Times: 1})
		c := dial(t, path)
		c.send(c.request(summary))
		c.expectTerm(nmi.EIO, nmi.RsnNone)
	})
	t.Run("truncated", func(t *testing.T) {
		faults.Set(nmi.GetIPFltPolicy, Fault{Truncate: true, Times: 1})
		c := dial(t, path)
		c.send(c.request(&nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"}))
		_ = c.c.SetReadDeadline(time.Now().Add(ioWait))
		if _, _, err := nmi.ReadMessage(c.c, nil, 1<<30); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read %v, want a cut message", err)
		}
	})
	t.Run("paced", func(t *testing.T) {
		policy := &nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"}
		c := dial(t, path)
		_, want := c.do(policy)
		const pace, piece = 2 * time.Millisecond, 64
		faults.Set(nmi.GetIPFltPolicy, Fault{Pace: pace, PaceBytes: piece, Times: 1})
		start := time.Now()
		h, got := c.do(policy)
		took := time.Since(start)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%d records paced, %d without", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Bytes(), want[i].Bytes()) {
				t.Fatalf("record %d differs when paced", i)
			}
		}
		// Every piece after the first waited at least pace: a lower
		// bound that holds by construction, however loaded the machine.
		if pieces := (int(h.MsgSize) + piece - 1) / piece; took < time.Duration(pieces-1)*pace {
			t.Fatalf("%d bytes in %d pieces took %v, less than %v", h.MsgSize, pieces, took, time.Duration(pieces-1)*pace)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		c := dial(t, path)
		faults.Set(nmi.GetIPFltPolicy, Fault{Stall: true, Times: 1})
		c.send(c.request(&nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"}))
		_ = c.c.SetReadDeadline(time.Now().Add(ioWait))
		hb := make([]byte, nmi.HdrSize)
		if _, err := io.ReadFull(c.c, hb); err != nil {
			t.Fatal(err)
		}
		var h nmi.Header
		if err := h.UnmarshalBinary(hb); err != nil || h.RecCount == 0 {
			t.Fatalf("header %+v, %v", h, err)
		}
		half := int(h.MsgSize-nmi.HdrSize) / 2
		if _, err := io.ReadFull(c.c, make([]byte, half)); err != nil {
			t.Fatalf("the first half: %v", err)
		}
		// Nothing more comes, and the connection stays open.
		_ = c.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var one [1]byte
		if n, err := c.c.Read(one[:]); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("after half the answer: %d bytes, %v; want nothing, connection open", n, err)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		faults.Set(nmi.GetSummary, Fault{Oversize: true, Times: 1})
		c := dial(t, path)
		c.send(c.request(summary))
		_ = c.c.SetReadDeadline(time.Now().Add(ioWait))
		h, _, err := nmi.ReadMessage(c.c, nil, nmi.DefaultMaxResponseSize)
		var fe *nmi.FormatError
		if !errors.As(err, &fe) || fe.Rsn != nmi.RsnExcessiveSize || h.MsgSize < 1<<30 {
			t.Fatalf("read %v (size %d), want too large", err, h.MsgSize)
		}
		c.expectEOF()
	})
}

func TestLargeAnswerStreams(t *testing.T) {
	ds, err := Generate(GenSpec{Stacks: 1, Filters: 20_000, Tunnels: 2_000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, path := startServer(t, Config{Data: ds})
	c := dial(t, path)
	h, recs := c.do(&nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"})
	if len(recs) != 20_000 || h.MsgSize != uint32(nmi.HdrSize+20_000*filterRecSize) {
		t.Fatalf("%d records, %d bytes", len(recs), h.MsgSize)
	}
	h, recs = c.do(&nmi.Request{Type: nmi.GetIKETunCascade, Target: "TCPIP"})
	if len(recs) != 2_000 {
		t.Fatalf("%d IKE records", len(recs))
	}
	var total int
	for _, r := range decode[nmi.IKETunnelRecord](t, recs) {
		total += len(r.Cascade)
	}
	if total != 2_000 {
		t.Errorf("%d cascaded dynamic tunnels, want 2000", total)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sock")
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path, 0); err == nil {
		t.Error("a live socket was replaced")
	}
	// A socket nobody answers on is stale and replaced.
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(path, 0o600)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	file := filepath.Join(dir, "file")
	_ = os.WriteFile(file, nil, 0o600)
	if _, err := Listen(file, 0); err == nil {
		t.Error("a regular file was replaced")
	}
}

// BenchmarkFilterAnswer measures the 100,000-filter answer (about 38 MB)
// end to end over the socket: model snapshot, encoding, streaming, and the
// raw read on the client side.
func BenchmarkFilterAnswer(b *testing.B) {
	ds, err := Generate(GenSpec{Stacks: 1, Filters: 100_000, Tunnels: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	srv, err := NewServer(Config{Data: ds})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "s")
	ln, err := Listen(path, 0)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	nc, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	c := &rawClient{t: t, c: nc}
	if h := c.read(); h.Type != nmi.MsgInit {
		b.Fatal("no INIT")
	}
	req := &nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"}
	b.ResetTimer()
	for b.Loop() {
		c.send(c.request(req))
		h := c.read()
		if h.RecCount != 100_000 {
			b.Fatalf("%d records", h.RecCount)
		}
		b.SetBytes(int64(h.MsgSize))
	}
}

// A client message typed INIT or TERM is not answered with an echo of its
// type (it would read as the server's INIT or TERM): TERM with EINVAL and
// the reason, then close.
func TestClientSendsInitOrTerm(t *testing.T) {
	_, path := startServer(t, Config{})
	for _, typ := range []nmi.MsgType{nmi.MsgInit, nmi.MsgTerm} {
		c := dial(t, path)
		c.send(rawRequest(t, typ, "", 5, nil))
		c.expectTerm(nmi.EINVAL, nmi.RsnBadType)
		// With a wrong eyecatcher as well: TERM alone, with reason 1.
		c = dial(t, path)
		msg := rawRequest(t, typ, "", 6, nil)
		copy(msg, "NMSX")
		c.send(msg)
		c.expectTerm(nmi.EINVAL, nmi.RsnBadIdent)
	}
}

// hugeRecord claims more bytes than NMsMMsgSize can count.
type hugeRecord struct{}

func (hugeRecord) Append(b []byte) ([]byte, error) { return b, nil }

func TestAnswerTooLargeForMsgSizeIsAnError(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	here, there := net.Pipe()
	defer here.Close()
	defer there.Close()
	c := &conn{s: srv, nc: here, done: make(chan struct{}), bw: bufio.NewWriterSize(here, writeChunk)}
	type answer struct {
		h   nmi.Header
		err error
	}
	got := make(chan answer, 1)
	go func() {
		h, _, err := nmi.ReadMessage(there, nil, nmi.DefaultMaxResponseSize)
		got <- answer{h, err}
	}()
	req := nmi.Header{Version: nmi.Version, Type: nmi.GetIPFltCurr, Correlator: 7}
	src := func(yield func(record, int) error) error { return yield(hugeRecord{}, 1<<32) }
	if !c.sendRecords(req, src, Fault{}) {
		t.Fatal("the connection ended")
	}
	a := <-got
	if a.err != nil {
		t.Fatalf("reading the answer: %v", a.err)
	}
	if a.h.Type != req.Type || a.h.Correlator != 7 || a.h.Rc != nmi.EIO || a.h.Rsn != nmi.RsnExcessiveSize || a.h.RecCount != 0 {
		t.Errorf("answer %+v, want EIO/NMsRsnExcessiveSize without records", a.h)
	}
}
