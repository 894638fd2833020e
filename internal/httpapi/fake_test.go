package httpapi

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// fakeNMI stands in for *nmi.Pool at the httpapi->nmi boundary. It answers
// from a small data set of records encoded with the nmi codec and parsed
// back, as the client hands them over. It applies name and tunnel ID
// criteria (enough for the by-ID routes) and records every request.
type fakeNMI struct {
	t *testing.T

	mu    sync.Mutex
	calls []nmi.Request

	nFilters  int // extra generated filters on TCPIP
	failAfter int // > 0: the connection breaks after this many records
	err       map[string]error
}

const secretText = "secret-internal-detail"

func newFake(t *testing.T) *fakeNMI {
	return &fakeNMI{t: t, err: map[string]error{
		"NOPE":   &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.ENXIO},
		"DENIED": &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EACCES},
		"BAD":    &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EINVAL, Rsn: nmi.RsnBadFilter},
		"BUSY":   nmi.ErrPoolExhausted,
		"DOWN":   &nmi.OpError{Op: "dial", Addr: "/x", Err: errors.New("connection refused")},
		"SLOW":   context.DeadlineExceeded,
		"BROKEN": errors.New(secretText),
		"TERM":   &nmi.StatusError{Type: nmi.MsgTerm, Term: true},
	}}
}

func (f *fakeNMI) requests() []nmi.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]nmi.Request(nil), f.calls...)
}

func (f *fakeNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	f.mu.Lock()
	f.calls = append(f.calls, *req)
	f.mu.Unlock()
	h := nmi.Header{Version: 1, Type: req.Type}
	if err := ctx.Err(); err != nil {
		return h, err
	}
	if err := f.err[req.Target]; err != nil {
		return h, err
	}
	recs := f.records(req)
	for i, b := range recs {
		if f.failAfter > 0 && i == f.failAfter {
			return h, &nmi.OpError{Op: "read", Addr: "/x", Err: errors.New("connection reset by peer")}
		}
		rec, err := nmi.ParseRecord(b)
		if err != nil {
			f.t.Errorf("fake: encoded record does not parse: %v", err)
			return h, err
		}
		if err := fn(rec); err != nil {
			return h, err
		}
	}
	h.RecCount = uint32(len(recs))
	return h, nil
}

func (f *fakeNMI) must(b []byte, err error) []byte {
	if err != nil {
		f.t.Fatalf("fake: encode: %v", err)
	}
	return b
}

func t48(s string) (t nmi.Text48) { _ = t.Set(s); return t }
func t24(s string) (t nmi.Text24) { _ = t.Set(s); return t }
func t16(s string) (t nmi.Text16) { _ = t.Set(s); return t }
func t8(s string) (t nmi.Text8)   { _ = t.Set(s); return t }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// match applies the name and tunnel ID criteria of the request's filters.
func match(req *nmi.Request, name, id string) bool {
	if len(req.Filters) == 0 {
		return true
	}
	for _, f := range req.Filters {
		if (!f.HasName || f.Name.String() == name) && (!f.HasTunnelID || f.TunnelID.String() == id) {
			return true
		}
	}
	return false
}

const t0 = 1714550400 // 2024-05-01T08:00:00Z

func (f *fakeNMI) filter(name string, ext uint32, tunnel string) nmi.FilterRecord {
	return nmi.FilterRecord{Filter: nmi.IPFilter{
		Name: t48(name), NameExt: ext, VpnAction: t48("VPN1"), TunnelID: t48(tunnel),
		Type: nmi.FilterGeneric, State: nmi.FilterActive, Action: nmi.ActionIPSec, Scope: nmi.ScopeLocal,
		Direction: nmi.DirectionOutbound, Logging: nmi.LoggingAll, Protocol: 6,
		SrcAddrFmt: nmi.AddrHost, SrcAddr: ip("192.0.2.10"),
		DstAddrFmt: nmi.AddrPrefix, DstAddr: ip("10.1.0.0"), DstPrefixLen: 16,
		DstPortLow: 443, DstPortHigh: 443, ICMPType: 255, ICMPCode: 255,
		MatchCount: 1 << 40, CreateTime: t0,
	}}
}

func (f *fakeNMI) dyn(id string, gen uint32) (nmi.IPTunnel, nmi.IPDynTunnel) {
	return nmi.IPTunnel{
			ID: t48(id), VPNAction: t48("VPN1"), Type: nmi.IPTunStack, State: nmi.IPTunActive,
			EncapMode: nmi.EncapTunnel, AuthProto: nmi.AuthProtoESP, AuthAlg: nmi.AuthAlgHMACSHA1,
			EncryptAlg: nmi.EncryptAESCBC, EncryptKeyLen: 128,
			LclSecEndpoint: ip("192.0.2.10"), RmtSecEndpoint: ip("198.51.100.7"),
			EncryptInSPI: 0x1000 + gen, EncryptOutSPI: 0x2000 + gen,
		}, nmi.IPDynTunnel{
			LocalDynVpnRule: t48("RULE_" + id), Generation: gen, IKETunnelID: t48("K1"),
			ActivationMethod: nmi.ActivationUser, PFSGroup: nmi.DHGroup14,
			SrcAddrFmt: nmi.AddrHost, SrcAddr: ip("192.0.2.10"),
			DstAddrFmt: nmi.AddrRange, DstAddr: ip("10.1.0.1"), DstAddr2: ip("10.1.0.9"),
			Lifetime: 3600, ExpireTime: t0 + 3600, RefreshTime: t0 + 3000,
		}
}

func (f *fakeNMI) dynIKE(id string, gen uint32) nmi.DynIKERecord {
	t, d := f.dyn(id, gen)
	t.Type = nmi.IPTunIKE
	return nmi.DynIKERecord{Tunnel: t, Dyn: d,
		IKE:     nmi.IPDynamicIKE{LocallyInitiated: true, LclIDType: nmi.IDIPv4Addr, RmtIDType: nmi.IDFQDN, Retransmits: 1},
		LocalID: []byte{192, 0, 2, 10}, RemoteID: f.must(nmi.AppendIdentity(nil, nmi.IDFQDN, "peer.example.com")),
	}
}

func (f *fakeNMI) ike(id string, gen uint32, cascade []nmi.DynIKERecord, withCascade bool) nmi.IKETunnelRecord {
	return nmi.IKETunnelRecord{
		Tunnel: nmi.IKETunnel{
			NATAllowed: true, CanInitP1: true, ID: t48(id), Generation: gen,
			KeyExchRule: t48("KER_" + id), KeyExchAction: t48("KEA1"),
			LclEndpoint: ip("192.0.2.10"), RmtEndpoint: ip("198.51.100.7"),
			State: nmi.IKETunActive, ExchangeMode: nmi.ExchangeMain, Role: nmi.RoleInitiator,
			AuthMethod: nmi.AuthMethodRSA, EncryptAlg: nmi.EncryptAESCBC, AuthAlg: nmi.AuthAlgHMACSHA1,
			DHGroup: nmi.DHGroup14, LclIDType: nmi.IDFQDN, RmtIDType: nmi.IDIPv4Addr, MajorVer: 1,
			EncryptKeyLen: 128, LclUDPPort: 500, RmtUDPPort: 500, Lifetime: 28800,
			ActivateTime: t0, ExpireTime: t0 + 28800, InitCookie: 0x0123456789abcdef, RespCookie: 0xfedcba98,
			Bytes: 12345,
		},
		Stats:    nmi.IKETunStats{StatsBlock: nmi.StatsBlock{Active: 1, LclActSuccess: 2}},
		LocalID:  f.must(nmi.AppendIdentity(nil, nmi.IDFQDN, "zos1.example.com")),
		RemoteID: []byte{198, 51, 100, 7}, HasCascade: withCascade, Cascade: cascade,
	}
}

type appender interface{ Append([]byte) ([]byte, error) }

func (f *fakeNMI) records(req *nmi.Request) [][]byte {
	var out [][]byte
	add := func(a appender, name, id string) {
		if match(req, name, id) {
			out = append(out, f.must(a.Append(nil)))
		}
	}
	switch req.Type {
	case nmi.GetStackInfo:
		add(&nmi.StackRecord{Stack: nmi.Stack{IPSecurity: true, IPv6Security: true, Logging: true,
			FilterSet: nmi.FilterSetPolicy, Name: t24("TCPIP"), NATKeepAlive: 20}}, "", "")
		add(&nmi.StackRecord{Stack: nmi.Stack{IPSecurity: true, FilterSet: nmi.FilterSetDefault,
			Name: t24("TCPIP2")}}, "", "")
	case nmi.GetIKENSInfo:
		add(&nmi.NSSRecord{NSS: nmi.NSS{ClientName: t24("SYS1_TCPIP"), StackName: t8("TCPIP"),
			Userid: t8("NSSCLNT"), ServerSysName: t8("SYS2"), Configured: true, Connected: true}}, "", "")
	case nmi.GetSummary:
		add(&nmi.SummaryRecord{Statistics: nmi.Statistics{
			P1: nmi.StatsBlock{Active: 2, LclActSuccess: 1 << 60},
			P2: nmi.StatsBlock{Active: 3, Retransmit: 7},
		}}, "", "")
	case nmi.GetIPInterfaces:
		add(&nmi.InterfaceRecord{Interface: nmi.Interface{Name: t16("OSA2"), Addr: ip("2001:db8::10"), IPv6: true, Active: true}}, "", "")
		add(&nmi.InterfaceRecord{Interface: nmi.Interface{Name: t16("OSA1"), Addr: ip("192.0.2.10"), SecClass: 1, Active: true}}, "", "")
	case nmi.GetIPFltCurr, nmi.GetIPFltDefault, nmi.GetIPFltPolicy:
		for i, fr := range []nmi.FilterRecord{f.filter("WEB", 1, "Y1"), f.filter("WEB", 2, "Y1"), f.filter("DENYALL", 1, "")} {
			fr := fr
			if i == 2 {
				fr.Filter.Action, fr.Filter.TunnelID, fr.Filter.SrcAddrFmt, fr.Filter.DstAddrFmt = nmi.ActionDeny, nmi.Text48{}, nmi.AddrAny, nmi.AddrAny
			}
			add(&fr, fr.Filter.Name.String(), fr.Filter.TunnelID.String())
		}
		for i := range f.nFilters {
			fr := f.filter("GEN"+strconv.Itoa(i), 1, "")
			add(&fr, fr.Filter.Name.String(), "")
		}
	case nmi.GetIKETun, nmi.GetIKETunCascade:
		cascade := req.Type == nmi.GetIKETunCascade
		var casc []nmi.DynIKERecord
		if cascade {
			casc = []nmi.DynIKERecord{f.dynIKE("Y1", 2)}
		}
		for _, r := range []nmi.IKETunnelRecord{f.ike("K10", 1, nil, false), f.ike("K2", 2, casc, cascade), f.ike("K2", 1, nil, false)} {
			add(&r, r.Tunnel.KeyExchRule.String(), r.Tunnel.ID.String())
		}
	case nmi.GetIPTunDynStack:
		for _, g := range []struct {
			id  string
			gen uint32
		}{{"Y3", 1}, {"Y1", 1}, {"Y1", 2}} {
			t, d := f.dyn(g.id, g.gen)
			r := nmi.DynStackRecord{Tunnel: t, Dyn: d, Stack: nmi.IPDynamicStack{InBytes: 100, OutBytes: 200, InstallTime: t0}}
			add(&r, d.LocalDynVpnRule.String(), g.id)
		}
	case nmi.GetIPTunDynIKE:
		for _, r := range []nmi.DynIKERecord{f.dynIKE("Y3", 1), f.dynIKE("Y1", 2), f.dynIKE("Y1", 1)} {
			add(&r, r.Dyn.LocalDynVpnRule.String(), r.Tunnel.ID.String())
		}
	case nmi.GetIPTunManual:
		t, _ := f.dyn("M1", 1)
		t.Type, t.State = nmi.IPTunManual, nmi.IPTunInactive
		r := nmi.ManualTunnelRecord{Tunnel: t, Manual: nmi.IPManualTunnel{InBytes: 5}}
		add(&r, "VPN1", "M1")
	case nmi.GetPortTrans:
		r := nmi.PortTransRecord{PortTrans: nmi.PortTrans{TunnelID: t48("Y1"), Protocol: 6,
			RmtSecEndpoint: ip("203.0.113.5"), RmtUDPEncapPort: 4500, RmtOrigPort: 51000,
			TranslatedPort: 4097, LclPort: 443, RmtOrigAddr: ip("10.0.0.5")}}
		add(&r, "", "Y1")
	}
	return out
}
