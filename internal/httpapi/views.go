package httpapi

import (
	"net/netip"
	"strconv"

	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// The JSON views of NMI records. Each function writes the members of one
// object (without its braces) so that callers can add members (generations,
// cascaded tunnels) or nest it. Field names and the shapes are those of
// api/openapi.yaml.

// idType names an identity type; 0 means no identity.
func idType(t nmi.IDType) string {
	if t == 0 {
		return "none"
	}
	return t.String()
}

func viewStack(w *jsonw, s *nmi.Stack, nss *nmi.NSS) {
	w.text("name", s.Name[:])
	w.enum("filterSet", s.FilterSet.String())
	w.boolean("ipSecurity", s.IPSecurity)
	w.boolean("ipv6Security", s.IPv6Security)
	w.boolean("dvipsec", s.DVIPSec)
	w.boolean("filterLogging", s.Logging)
	w.boolean("preDecapFiltering", s.PreDecap)
	w.boolean("fips140", s.FIPS140)
	if s.Partial {
		w.partial(nmi.SectionStack)
	} else {
		w.uint("natKeepAliveSeconds", uint64(s.NATKeepAlive))
	}
	if nss != nil {
		w.object("nss")
		w.optText("clientName", nss.ClientName[:])
		w.optText("stackName", nss.StackName[:])
		w.optText("userId", nss.Userid[:])
		w.optText("serverSystemName", nss.ServerSysName[:])
		w.boolean("configured", nss.Configured)
		w.boolean("certificateServicesSelected", nss.SvcSelCert)
		w.boolean("certificateServicesEnabled", nss.SvcEnblCert)
		w.boolean("connected", nss.Connected)
		w.endObject()
	}
}

func viewStats(w *jsonw, k string, s *nmi.StatsBlock) {
	w.object(k)
	w.uint("active", uint64(s.Active))
	w.uint("inProgress", uint64(s.InProgress))
	w.uint("expired", uint64(s.Expired))
	w.uint("localActivationSuccesses", s.LclActSuccess)
	w.uint("remoteActivationSuccesses", s.RmtActSuccess)
	w.uint("localActivationFailures", s.LclActFailure)
	w.uint("remoteActivationFailures", s.RmtActFailure)
	w.uint("retransmits", s.Retransmit)
	w.endObject()
}

func viewSummary(w *jsonw, stack string, s *nmi.Statistics) {
	w.str("stack", stack)
	viewStats(w, "ikeTunnels", &s.P1)
	if s.Partial {
		w.partial(nmi.SectionStatistics)
		return
	}
	viewStats(w, "dynamicTunnels", &s.P2)
}

func viewInterface(w *jsonw, i *nmi.Interface) {
	w.text("name", i.Name[:])
	w.addr("address", i.Addr)
	w.uint("securityClass", uint64(i.SecClass))
	w.boolean("ipv6", i.IPv6)
	w.boolean("active", i.Active)
	w.boolean("dvipa", i.DVIPA)
}

// viewAddrSel writes an address selector (format, address, prefix, range).
func viewAddrSel(w *jsonw, k string, f nmi.AddrFormat, a, a2 netip.Addr, prefix uint8) {
	w.key(k)
	w.b = appendAddrSel(w.b, f, a, a2, prefix)
	w.comma = true
}

// appendAddrSel appends an address selector object.
func appendAddrSel(b []byte, f nmi.AddrFormat, a, a2 netip.Addr, prefix uint8) []byte {
	b = append(b, `{"format":"`...)
	b = append(b, f.String()...)
	b = append(b, '"')
	switch f {
	case nmi.AddrAny:
	case nmi.AddrHost:
		b = appendAddrMember(b, `,"address":"`, a)
	case nmi.AddrPrefix:
		b = appendAddrMember(b, `,"address":"`, a)
		b = append(b, `,"prefixLength":`...)
		b = strconv.AppendUint(b, uint64(prefix), 10)
	case nmi.AddrRange:
		b = appendAddrMember(b, `,"address":"`, a)
		b = appendAddrMember(b, `,"endAddress":"`, a2)
	default: // unknown format: show what there is
		if !a.IsUnspecified() {
			b = appendAddrMember(b, `,"address":"`, a)
		}
		if !a2.IsUnspecified() {
			b = appendAddrMember(b, `,"endAddress":"`, a2)
		}
	}
	return append(b, '}')
}

// appendAddrMember appends the member k (its comma, name and opening
// quote) with the address as text, or nothing for an invalid (absent)
// address.
func appendAddrMember(b []byte, k string, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	b = append(b, k...)
	b = a.AppendTo(b)
	return append(b, '"')
}

func viewPorts(w *jsonw, k string, lo, hi uint16) {
	w.object(k)
	w.uint("low", uint64(lo))
	w.uint("high", uint64(hi))
	w.endObject()
}

// viewFilter writes a filter rule. Rules are most of a 100,000-rule
// listing, so a rule is written into a local slice with its member names
// (and the commas before them) as constants rather than member by member
// through jsonw; the bytes are those jsonw would write (a test compares
// the two).
func viewFilter(w *jsonw, f *nmi.IPFilter) {
	b := w.b
	if w.comma {
		b = append(b, ',')
	}
	b = append(b, `"name":`...)
	b = appendEBCDICString(b, f.Name[:])
	b = append(b, `,"nameExtension":`...)
	b = strconv.AppendUint(b, uint64(f.NameExt), 10)
	b = appendOptText(b, `,"groupName":`, f.GroupName[:])
	b = appendOptText(b, `,"localStartAction":`, f.LclStartAction[:])
	b = appendOptText(b, `,"vpnAction":`, f.VpnAction[:])
	// IBM's display shows 0x00 for a filter without a tunnel: a field of
	// zeros or blanks is "none".
	b = appendOptText(b, `,"tunnelId":`, f.TunnelID[:])
	b = append(b, `,"type":"`...)
	b = append(b, f.Type.String()...)
	b = append(b, `","state":"`...)
	b = append(b, f.State.String()...)
	b = append(b, `","action":"`...)
	b = append(b, f.Action.String()...)
	b = append(b, `","scope":"`...)
	b = append(b, f.Scope.String()...)
	b = append(b, `","direction":"`...)
	b = append(b, f.Direction.String()...)
	b = append(b, `","logging":"`...)
	b = append(b, f.Logging.String()...)
	b = append(b, '"')
	b = appendOptUint(b, `,"logLimit":`, uint64(f.LogLimit))
	b = appendBoolMember(b, `,"ipv6":`, f.IPv6)
	b = appendBoolMember(b, `,"onDemand":`, f.OnDemand)
	b = append(b, `,"securityClass":`...)
	b = strconv.AppendUint(b, uint64(f.SecClass), 10)
	b = append(b, `,"protocol":`...)
	b = strconv.AppendUint(b, uint64(f.Protocol), 10)
	b = append(b, `,"source":`...)
	b = appendAddrSel(b, f.SrcAddrFmt, f.SrcAddr, f.SrcAddr2, f.SrcPrefixLen)
	b = append(b, `,"destination":`...)
	b = appendAddrSel(b, f.DstAddrFmt, f.DstAddr, f.DstAddr2, f.DstPrefixLen)
	b = append(b, `,"sourcePorts":{"low":`...)
	b = strconv.AppendUint(b, uint64(f.SrcPortLow), 10)
	b = append(b, `,"high":`...)
	b = strconv.AppendUint(b, uint64(f.SrcPortHigh), 10)
	b = append(b, `},"destinationPorts":{"low":`...)
	b = strconv.AppendUint(b, uint64(f.DstPortLow), 10)
	b = append(b, `,"high":`...)
	b = strconv.AppendUint(b, uint64(f.DstPortHigh), 10)
	b = append(b, '}')
	if f.ICMPType != 255 {
		b = append(b, `,"icmpType":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
	}
	if f.ICMPCode != 255 {
		b = append(b, `,"icmpCode":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
	}
	b = appendOptUint(b, `,"ospfType":`, uint64(f.OSPFType))
	b = appendBoolMember(b, `,"tcpConnectionInitiatingOnly":`, f.TCPQualifier == 1)
	b = appendBoolMember(b, `,"granularity":{"protocol":`, f.GranProtocol)
	b = appendBoolMember(b, `,"sourceAddress":`, f.GranSrcAddr)
	b = appendBoolMember(b, `,"destinationAddress":`, f.GranDstAddr)
	b = appendBoolMember(b, `,"sourcePort":`, f.GranSrcPort)
	b = appendBoolMember(b, `,"destinationPort":`, f.GranDstPort)
	b = appendBoolMember(b, `,"icmpType":`, f.GranICMPType)
	b = appendBoolMember(b, `,"icmpCode":`, f.GranICMPCode)
	b = append(b, `},"matchCount":`...)
	b = strconv.AppendUint(b, f.MatchCount, 10)
	if f.CreateTime != 0 {
		b = append(b, `,"createTime":`...)
		b = appendUnixTime(b, f.CreateTime)
	}
	w.b = b
	w.comma = true
}

// appendOptText appends the member k (its comma and name) with an EBCDIC
// text field, or nothing when the field is blank.
func appendOptText(b []byte, k string, field []byte) []byte {
	if nmi.TextLen(field) == 0 {
		return b
	}
	b = append(b, k...)
	return appendEBCDICString(b, field)
}

// appendOptUint appends the member k (its comma and name) with v, or
// nothing when v is 0.
func appendOptUint(b []byte, k string, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, k...)
	return strconv.AppendUint(b, v, 10)
}

// appendBoolMember appends the member k (its comma and name) with v.
func appendBoolMember(b []byte, k string, v bool) []byte {
	b = append(b, k...)
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func viewTraffic(w *jsonw, in, out, inPk, outPk uint64) {
	w.object("traffic")
	w.uint("inboundBytes", in)
	w.uint("outboundBytes", out)
	w.uint("inboundPackets", inPk)
	w.uint("outboundPackets", outPk)
	w.endObject()
}

// viewIPTunnel writes the NMsecIPTunnel members shared by manual and
// dynamic tunnels. Of a partial section (IBM's prefix only) it writes
// IBM's fields and "partial" instead of the PROPOSED ones.
func viewIPTunnel(w *jsonw, t *nmi.IPTunnel) {
	w.text("vpnAction", t.VPNAction[:])
	w.enum("type", t.Type.String())
	w.str("state", ipsec.IPStateName(t.State))
	w.boolean("ipv6", t.IPv6)
	w.boolean("fips140", t.FIPS140)
	if t.Partial {
		w.partial(nmi.SectionIPTunnel)
		return
	}
	w.optAddr("localSecurityEndpoint", t.LclSecEndpoint)
	w.optAddr("remoteSecurityEndpoint", t.RmtSecEndpoint)
	w.object("security")
	w.enum("encapsulationMode", t.EncapMode.String())
	w.enum("authenticationProtocol", t.AuthProto.String())
	w.enum("authenticationAlgorithm", t.AuthAlg.String())
	w.enum("encryptionAlgorithm", t.EncryptAlg.String())
	w.uint("encryptionKeyLength", uint64(t.EncryptKeyLen))
	w.optSPI("ahInboundSpi", t.AuthInSPI)
	w.optSPI("ahOutboundSpi", t.AuthOutSPI)
	w.optSPI("espInboundSpi", t.EncryptInSPI)
	w.optSPI("espOutboundSpi", t.EncryptOutSPI)
	w.endObject()
}

// optSPI writes a security parameter index, unless 0 (none), as 8 hex
// digits under k+"Hex" (as `ipsec -y display` and the ISAKMP cookies show
// it) and as the number under k (kept for clients that read it).
func (w *jsonw) optSPI(k string, v uint32) {
	if v == 0 {
		return
	}
	w.uint(k, uint64(v))
	w.key(k + "Hex")
	w.b = append(w.b, '"')
	for i := 28; i >= 0; i -= 4 {
		w.b = append(w.b, "0123456789abcdef"[(v>>uint(i))&0xF])
	}
	w.b = append(w.b, '"')
}

func viewManual(w *jsonw, r *nmi.ManualTunnelRecord) {
	w.text("tunnelId", r.Tunnel.ID[:])
	viewIPTunnel(w, &r.Tunnel)
	w.unixTime("activateTime", r.Manual.ActivateTime)
	m := &r.Manual
	viewTraffic(w, m.InBytes, m.OutBytes, m.InPackets, m.OutPackets)
}

// viewDyn writes the members common to both views of a dynamic tunnel.
func viewDyn(w *jsonw, t *nmi.IPTunnel, d *nmi.IPDynTunnel) {
	w.text("tunnelId", t.ID[:])
	w.uint("generation", uint64(d.Generation))
	w.text("localDynVpnRule", d.LocalDynVpnRule[:])
	viewIPTunnel(w, t)
	w.optText("ikeTunnelId", d.IKETunnelID[:])
	w.boolean("udpEncapsulated", d.UDPEncap)
	w.boolean("swsaShadow", d.SWSAShadow)
	w.boolean("clearDf", d.ClearDF)
	w.boolean("clearDscp", d.ClearDSCP)
	w.enum("activationMethod", d.ActivationMethod.String())
	w.enum("pfsGroup", d.PFSGroup.String())
	w.uint("protocol", uint64(d.Protocol))
	viewAddrSel(w, "source", d.SrcAddrFmt, d.SrcAddr, d.SrcAddr2, d.SrcPrefixLen)
	viewAddrSel(w, "destination", d.DstAddrFmt, d.DstAddr, d.DstAddr2, d.DstPrefixLen)
	w.uint("sourcePort", uint64(d.SrcPort))
	w.uint("destinationPort", uint64(d.DstPort))
	w.uint("lifesizeBytes", d.Lifesize)
	w.uint("lifetimeSeconds", uint64(d.Lifetime))
	w.unixTime("expireTime", d.ExpireTime)
	w.unixTime("refreshTime", d.RefreshTime)
	if d.UDPEncap || d.LclUDPPort != 0 || d.RmtUDPPort != 0 {
		w.uint("localUdpPort", uint64(d.LclUDPPort))
		w.uint("remoteUdpPort", uint64(d.RmtUDPPort))
	}
	w.optAddr("sourceNatOa", d.SrcNATOA)
	w.optAddr("destinationNatOa", d.DstNATOA)
}

func viewDynStack(w *jsonw, r *nmi.DynStackRecord) {
	viewDyn(w, &r.Tunnel, &r.Dyn)
	s := &r.Stack
	w.object("stackView")
	viewTraffic(w, s.InBytes, s.OutBytes, s.InPackets, s.OutPackets)
	w.uint("currentLifesizeBytes", s.CurrentLifesize)
	w.unixTime("installTime", s.InstallTime)
	w.endObject()
}

func viewDynIKE(w *jsonw, r *nmi.DynIKERecord) {
	viewDyn(w, &r.Tunnel, &r.Dyn)
	k := &r.IKE
	w.object("ikeView")
	w.boolean("locallyInitiated", k.LocallyInitiated)
	w.uint("extendedState", uint64(k.ExtState))
	w.enum("localClientIdType", idType(k.LclIDType))
	if len(r.LocalID) > 0 {
		w.identity("localClientId", k.LclIDType, r.LocalID)
	}
	w.enum("remoteClientIdType", idType(k.RmtIDType))
	if len(r.RemoteID) > 0 {
		w.identity("remoteClientId", k.RmtIDType, r.RemoteID)
	}
	w.uint("retransmits", uint64(k.Retransmits))
	w.endObject()
}

// appendHex16 appends v as 16 lower-case hex digits.
func appendHex16(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		b = append(b, hex[(v>>uint(i))&0xF])
	}
	return b
}

// identity writes an identity as nmi.Identity's text. Addresses, and text
// that needs no escape, are written straight from the record.
func (w *jsonw) identity(k string, t nmi.IDType, b []byte) {
	w.key(k)
	switch {
	case t == nmi.IDIPv4Addr && len(b) == 4:
		w.b = append(w.b, '"')
		w.b = netip.AddrFrom4([4]byte(b)).AppendTo(w.b)
		w.b = append(w.b, '"')
	case t == nmi.IDIPv6Addr && len(b) == 16:
		w.b = append(w.b, '"')
		w.b = netip.AddrFrom16([16]byte(b)).AppendTo(w.b)
		w.b = append(w.b, '"')
	case (t == nmi.IDFQDN || t == nmi.IDUserFQDN || t == nmi.IDDERASN1DN) && ebcdicPlainText(b):
		w.b = appendEBCDICString(w.b, b)
	default:
		w.b = appendJSONString(w.b, nmi.Identity(t, b))
	}
}

func (w *jsonw) hex16(k string, v uint64) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = appendHex16(w.b, v)
	w.b = append(w.b, '"')
}

// viewIKE writes an IKE tunnel; its cascaded phase 2 tunnels are written
// as dynamicTunnels when cascade is set.
func viewIKE(w *jsonw, r *nmi.IKETunnelRecord, cascade bool) {
	t := &r.Tunnel
	w.text("tunnelId", t.ID[:])
	w.uint("generation", uint64(t.Generation))
	w.text("keyExchangeRule", t.KeyExchRule[:])
	w.text("keyExchangeAction", t.KeyExchAction[:])
	w.addr("localEndpoint", t.LclEndpoint)
	w.addr("remoteEndpoint", t.RmtEndpoint)
	w.enum("state", ipsec.IKEStateName(t.State))
	w.boolean("ipv6", t.IPv6)
	w.boolean("natTraversalEnabled", t.NATAllowed)
	w.boolean("localNatDetected", t.LclNAT)
	w.boolean("remoteNatDetected", t.RmtNAT)
	w.boolean("remoteNaptDetected", t.RmtNAPT)
	w.boolean("canInitiate", t.CanInitP1)
	w.key("ikeVersion")
	w.b = append(w.b, '"')
	w.b = strconv.AppendUint(w.b, uint64(t.MajorVer), 10)
	w.b = append(w.b, '.')
	w.b = strconv.AppendUint(w.b, uint64(t.MinorVer), 10)
	w.b = append(w.b, '"')
	w.enum("exchangeMode", t.ExchangeMode.String())
	w.enum("role", t.Role.String())
	w.enum("authenticationMethod", t.AuthMethod.String())
	w.enum("encryptionAlgorithm", t.EncryptAlg.String())
	w.uint("encryptionKeyLength", uint64(t.EncryptKeyLen))
	w.enum("authenticationAlgorithm", t.AuthAlg.String())
	w.enum("dhGroup", t.DHGroup.String())
	w.enum("localIdType", idType(t.LclIDType))
	if len(r.LocalID) > 0 {
		w.identity("localId", t.LclIDType, r.LocalID)
	}
	w.enum("remoteIdType", idType(t.RmtIDType))
	if len(r.RemoteID) > 0 {
		w.identity("remoteId", t.RmtIDType, r.RemoteID)
	}
	w.uint("localUdpPort", uint64(t.LclUDPPort))
	w.uint("remoteUdpPort", uint64(t.RmtUDPPort))
	w.uint("lifesizeKilobytes", uint64(t.Lifesize))
	w.uint("lifetimeSeconds", uint64(t.Lifetime))
	w.unixTime("activateTime", t.ActivateTime)
	w.unixTime("expireTime", t.ExpireTime)
	w.hex16("initiatorCookie", t.InitCookie)
	w.hex16("responderCookie", t.RespCookie)
	w.uint("bytes", t.Bytes)
	viewStats(w, "phase2", &r.Stats.StatsBlock)
	if cascade && (r.HasCascade || len(r.Cascade) > 0) {
		w.array("dynamicTunnels")
		for i := range r.Cascade {
			w.elem()
			w.beginObject()
			viewDynIKE(w, &r.Cascade[i])
			w.endObject()
		}
		w.endArray()
	}
}

func viewPortTrans(w *jsonw, p *nmi.PortTrans) {
	w.text("tunnelId", p.TunnelID[:])
	w.uint("protocol", uint64(p.Protocol))
	w.addr("remoteSecurityEndpoint", p.RmtSecEndpoint)
	w.uint("remoteUdpPort", uint64(p.RmtUDPEncapPort))
	w.uint("remoteOriginalPort", uint64(p.RmtOrigPort))
	w.uint("translatedPort", uint64(p.TranslatedPort))
	w.uint("localPort", uint64(p.LclPort))
	w.optAddr("remoteOriginalAddress", p.RmtOrigAddr)
}
