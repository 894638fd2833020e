package ikedsim

import (
	"errors"
	"net/netip"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// Conversions of the model into the codec's sections. Text fields were
// checked when the data set was validated; a failure here is reported, not
// hidden.

type texter interface{ Set(string) error }

type textField struct {
	dst texter
	s   string
}

// setTexts stores each string in its field; the first error is returned.
func setTexts(fields ...textField) error {
	var first error
	for _, f := range fields {
		if err := f.dst.Set(f.s); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func stamp(t time.Time) uint32 { return nmi.TimeStamp(t) }

func secs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(d/time.Second, 1<<32-1))
}

func stackSection(s *Stack) (nmi.Stack, error) {
	out := nmi.Stack{IPSecurity: s.IPSecurity, IPv6Security: s.IPv6Security, DVIPSec: s.DVIPSec, Logging: s.Logging,
		PreDecap: s.PreDecap, FilterSet: s.FilterSet, FIPS140: s.FIPS140, NATKeepAlive: s.NATKeepAlive}
	return out, out.Name.Set(s.Name)
}

func nssSection(s *Stack) (nmi.NSS, error) {
	n := s.NSS
	out := nmi.NSS{Configured: n.Configured, SvcSelCert: n.CertSelected, SvcEnblCert: n.CertEnabled, Connected: n.Connected}
	return out, setTexts(textField{&out.ClientName, n.ClientName}, textField{&out.StackName, s.Name}, textField{&out.Userid, n.Userid}, textField{&out.ServerSysName, n.ServerSysName})
}

func interfaceSection(i *Interface) (nmi.Interface, error) {
	out := nmi.Interface{Addr: i.Addr, SecClass: i.SecClass, IPv6: i.Addr.Is6(), Active: i.Active, DVIPA: i.DVIPA}
	return out, out.Name.Set(i.Name)
}

func statsBlock(active, progress, expired uint32, c IKEStats) nmi.StatsBlock {
	return nmi.StatsBlock{Active: active, InProgress: progress, Expired: expired, LclActSuccess: c.LclActSuccess,
		RmtActSuccess: c.RmtActSuccess, LclActFailure: c.LclActFailure, RmtActFailure: c.RmtActFailure,
		Retransmit: c.Retransmit}
}

func statisticsSection(s *Statistics) nmi.Statistics {
	return nmi.Statistics{P1: statsBlock(s.P1Active, s.P1InProgress, s.P1Expired, s.P1),
		P2: statsBlock(s.P2Active, s.P2InProgress, s.P2Expired, s.P2)}
}

// putSpec stores an address selector in the codec's four fields.
func putSpec(a AddrSpec, format *nmi.AddrFormat, addr, addr2 *netip.Addr, prefix *uint8) {
	*format, *addr, *addr2, *prefix = a.Format, a.Addr, a.Addr2, a.Prefix
}

func filterSection(f *Filter, out *nmi.IPFilter) error {
	*out = nmi.IPFilter{NameExt: f.NameExt, IPv6: f.IPv6, OnDemand: f.OnDemand,
		GranProtocol: f.Granularity&granProtocol != 0, GranSrcAddr: f.Granularity&granSrcAddr != 0,
		GranDstAddr: f.Granularity&granDstAddr != 0, GranSrcPort: f.Granularity&granSrcPort != 0,
		GranDstPort: f.Granularity&granDstPort != 0, GranICMPType: f.Granularity&granICMPType != 0,
		GranICMPCode: f.Granularity&granICMPCode != 0,
		Type:         nmi.FilterType(f.Type), State: nmi.FilterState(f.State), Action: nmi.FilterAction(f.Action),
		Scope: nmi.FilterScope(f.Scope), Direction: nmi.FilterDirection(f.Direction), Logging: nmi.FilterLogging(f.Logging),
		SecClass: f.SecClass, Protocol: f.Protocol, SrcPortLow: f.SrcPorts.Low, SrcPortHigh: f.SrcPorts.High,
		DstPortLow: f.DstPorts.Low, DstPortHigh: f.DstPorts.High, ICMPType: f.ICMPType, ICMPCode: f.ICMPCode,
		OSPFType: f.OSPFType, TCPQualifier: f.TCPQualifier, MatchCount: f.MatchCount, CreateTime: stamp(f.Created),
		LogLimit: f.LogLimit}
	putSpec(f.Src, &out.SrcAddrFmt, &out.SrcAddr, &out.SrcAddr2, &out.SrcPrefixLen)
	putSpec(f.Dst, &out.DstAddrFmt, &out.DstAddr, &out.DstAddr2, &out.DstPrefixLen)
	return setTexts(textField{&out.Name, f.Name}, textField{&out.GroupName, f.Group}, textField{&out.LclStartAction, f.LocalStartAction}, textField{&out.VpnAction, f.VpnAction}, textField{&out.TunnelID, f.TunnelID})
}

func manualRecord(t *ManualTunnel) (nmi.ManualTunnelRecord, error) {
	r := nmi.ManualTunnelRecord{
		Tunnel: nmi.IPTunnel{IPv6: t.Local.Is6(), FIPS140: t.FIPS140, Type: nmi.IPTunManual, State: t.State,
			EncapMode: nmi.EncapMode(t.Encap), AuthProto: nmi.AuthProto(t.AuthProto), AuthAlg: nmi.AuthAlg(t.AuthAlg),
			EncryptAlg: nmi.EncryptAlg(t.EncryptAlg), EncryptKeyLen: t.EncryptKeyLen, LclSecEndpoint: t.Local,
			RmtSecEndpoint: t.Remote, AuthInSPI: t.AuthInSPI, AuthOutSPI: t.AuthOutSPI, EncryptInSPI: t.EncryptInSPI,
			EncryptOutSPI: t.EncryptOutSPI},
		Manual: nmi.IPManualTunnel{OutBytes: t.Traffic.OutBytes, InBytes: t.Traffic.InBytes,
			OutPackets: t.Traffic.OutPackets, InPackets: t.Traffic.InPackets},
	}
	if t.State == TunActive {
		r.Manual.ActivateTime = stamp(t.Activated)
	}
	return r, setTexts(textField{&r.Tunnel.ID, t.ID}, textField{&r.Tunnel.VPNAction, t.VpnAction})
}

// dynSections fills the two sections both views of a dynamic tunnel share.
func dynSections(t *DynTunnel, typ nmi.IPTunType, tun *nmi.IPTunnel, dyn *nmi.IPDynTunnel) error {
	*tun = nmi.IPTunnel{IPv6: t.LocalEndpoint.Is6(), FIPS140: t.FIPS140, Type: typ, State: t.State,
		EncapMode: nmi.EncapMode(t.Encap), AuthProto: nmi.AuthProto(t.AuthProto), AuthAlg: nmi.AuthAlg(t.AuthAlg),
		EncryptAlg: nmi.EncryptAlg(t.EncryptAlg), EncryptKeyLen: t.EncryptKeyLen, LclSecEndpoint: t.LocalEndpoint,
		RmtSecEndpoint: t.RemoteEndpoint, AuthInSPI: t.AuthInSPI, AuthOutSPI: t.AuthOutSPI,
		EncryptInSPI: t.EncryptInSPI, EncryptOutSPI: t.EncryptOutSPI}
	*dyn = nmi.IPDynTunnel{IPv6: tun.IPv6, UDPEncap: t.UDPEncap, SWSAShadow: t.SWSAShadow, ClearDF: t.ClearDF,
		ClearDSCP: t.ClearDSCP, Generation: t.Generation, ActivationMethod: nmi.ActivationMethod(t.Activation),
		PFSGroup: nmi.DHGroup(t.PFSGroup), Protocol: t.Protocol, SrcPort: t.SrcPort, DstPort: t.DstPort,
		Lifesize: t.Lifesize, Lifetime: secs(t.Lifetime), RmtUDPPort: t.RemoteUDPPort, LclUDPPort: t.LocalUDPPort,
		SrcNATOA: t.SrcNATOA, DstNATOA: t.DstNATOA}
	if t.State == TunActive || t.State == TunExpired {
		dyn.ExpireTime = stamp(t.Expires)
		if t.AutoRefresh && t.State == TunActive {
			dyn.RefreshTime = stamp(refreshAt(t.Activated, t.Lifetime))
		}
	}
	putSpec(t.Src, &dyn.SrcAddrFmt, &dyn.SrcAddr, &dyn.SrcAddr2, &dyn.SrcPrefixLen)
	putSpec(t.Dst, &dyn.DstAddrFmt, &dyn.DstAddr, &dyn.DstAddr2, &dyn.DstPrefixLen)
	return setTexts(textField{&tun.ID, t.ID}, textField{&tun.VPNAction, t.VpnAction}, textField{&dyn.LocalDynVpnRule, t.LocalDynVpnRule}, textField{&dyn.IKETunnelID, t.IKETunnelID})
}

func dynStackRecord(t *DynTunnel, r *nmi.DynStackRecord) error {
	tr := t.Traffic
	r.Stack = nmi.IPDynamicStack{OutBytes: tr.OutBytes, InBytes: tr.InBytes, OutPackets: tr.OutPackets,
		InPackets: tr.InPackets, InstallTime: stamp(t.Installed)}
	if t.State == TunActive {
		r.Stack.CurrentLifesize = tr.OutBytes + tr.InBytes
	}
	return dynSections(t, nmi.IPTunStack, &r.Tunnel, &r.Dyn)
}

func dynIKERecord(t *DynTunnel, r *nmi.DynIKERecord) error {
	r.IKE = nmi.IPDynamicIKE{LocallyInitiated: t.LocallyInitiated, ExtState: t.ExtState,
		LclIDType: nmi.IDType(t.LocalClientIDType), RmtIDType: nmi.IDType(t.RemoteClientIDType), Retransmits: t.Retransmits}
	var err1, err2 error
	r.LocalID, err1 = identity(r.LocalID[:0], t.LocalClientIDType, t.LocalClientID)
	r.RemoteID, err2 = identity(r.RemoteID[:0], t.RemoteClientIDType, t.RemoteClientID)
	return errors.Join(err1, err2, dynSections(t, nmi.IPTunIKE, &r.Tunnel, &r.Dyn))
}

// identity is the wire form of an identity; empty when there is none.
func identity(b []byte, typ uint8, s string) ([]byte, error) {
	if s == "" {
		return b, nil
	}
	return nmi.AppendIdentity(b, nmi.IDType(typ), s)
}

func ikeRecord(v *IKEView, cascade bool, r *nmi.IKETunnelRecord) error {
	t := &v.IKETunnel
	r.Tunnel = nmi.IKETunnel{IPv6: t.Local.Is6(), NATAllowed: t.NATAllowed, LclNAT: t.LocalNAT, RmtNAT: t.RemoteNAT,
		RmtNAPT: t.RemoteNAPT, CanInitP1: t.CanInitP1, Generation: t.Generation, LclEndpoint: t.Local,
		RmtEndpoint: t.Remote, State: t.State, ExchangeMode: nmi.ExchangeMode(t.ExchangeMode), Role: nmi.Role(t.Role),
		AuthMethod: nmi.AuthMethod(t.AuthMethod), EncryptAlg: nmi.EncryptAlg(t.EncryptAlg), AuthAlg: nmi.AuthAlg(t.AuthAlg),
		DHGroup: nmi.DHGroup(t.DHGroup), LclIDType: nmi.IDType(t.LocalIDType), RmtIDType: nmi.IDType(t.RemoteIDType),
		MajorVer: t.MajorVer, MinorVer: t.MinorVer, EncryptKeyLen: t.EncryptKeyLen, LclUDPPort: t.LocalUDPPort,
		RmtUDPPort: t.RemoteUDPPort, Lifesize: t.Lifesize, Lifetime: secs(t.Lifetime), InitCookie: t.InitCookie,
		RespCookie: t.RespCookie, Bytes: t.Bytes}
	if t.State == IKEActive || t.State == IKEExpired {
		r.Tunnel.ActivateTime, r.Tunnel.ExpireTime = stamp(t.Activated), stamp(t.Expires)
	}
	r.Stats = nmi.IKETunStats{StatsBlock: statsBlock(v.P2Active, v.P2InProgress, v.P2Expired, t.Stats)}
	var err1, err2 error
	r.LocalID, err1 = identity(r.LocalID[:0], t.LocalIDType, t.LocalID)
	r.RemoteID, err2 = identity(r.RemoteID[:0], t.RemoteIDType, t.RemoteID)
	r.HasCascade = cascade && v.Dyn != nil
	r.Cascade = r.Cascade[:0]
	errs := []error{err1, err2, setTexts(textField{&r.Tunnel.ID, t.ID}, textField{&r.Tunnel.KeyExchRule, t.KeyExchangeRule}, textField{&r.Tunnel.KeyExchAction, t.KeyExchangeAction})}
	if r.HasCascade {
		for i := range v.Dyn {
			r.Cascade = append(r.Cascade, nmi.DynIKERecord{})
			errs = append(errs, dynIKERecord(&v.Dyn[i], &r.Cascade[len(r.Cascade)-1]))
		}
	}
	return errors.Join(errs...)
}

func portTransSection(p *PortTranslation) (nmi.PortTrans, error) {
	out := nmi.PortTrans{Protocol: p.Protocol, RmtSecEndpoint: p.RemoteEndpoint, RmtUDPEncapPort: p.RemoteUDPPort,
		RmtOrigPort: p.RemoteOrigPort, TranslatedPort: p.TranslatedPort, LclPort: p.LocalPort, RmtOrigAddr: p.RemoteOrigAddr}
	return out, out.TunnelID.Set(p.TunnelID)
}

// Record sizes, computed so that a response's header can be written before
// its records are built (framing rule 3: sections padded to 4 bytes).

func pad4(n int) int { return (n + 3) &^ 3 }

func recordSize(sections ...int) int {
	n := nmi.RecHdrSize + len(sections)*nmi.SecDescSize
	for _, s := range sections {
		n += pad4(s)
	}
	return n
}

var (
	filterRecSize     = recordSize(nmi.IPFilterSize)
	manualRecSize     = recordSize(nmi.IPTunnelSize, nmi.IPManualTunnelSize)
	dynStackRecSize   = recordSize(nmi.IPTunnelSize, nmi.IPDynTunnelSize, nmi.IPDynamicStackSize)
	stackRecSize      = recordSize(nmi.StackSize)
	nssRecSize        = recordSize(nmi.NSSSize)
	interfaceRecSize  = recordSize(nmi.InterfaceSize)
	summaryRecSize    = recordSize(nmi.StatisticsSize)
	portRecSize       = recordSize(nmi.PortTransSize)
	tunnelRecSize     = recordSize(nmi.TunnelSize)
	policyRecSize     = recordSize(nmi.PolicySourceSize)
	clientInfoRecSize = recordSize(nmi.ClientInfoSize)
)

func dynIKERecSize(r *nmi.DynIKERecord) int {
	return recordSize(nmi.IPTunnelSize, nmi.IPDynTunnelSize, nmi.IPDynamicIKESize, len(r.LocalID), len(r.RemoteID))
}

func ikeRecSize(r *nmi.IKETunnelRecord) int {
	n := recordSize(nmi.IKETunnelSize, nmi.IKETunStatsSize, len(r.LocalID), len(r.RemoteID))
	if r.HasCascade {
		n += nmi.CascDescSize
		for i := range r.Cascade {
			n += dynIKERecSize(&r.Cascade[i])
		}
	}
	return n
}
