package nmi

import "encoding/binary"

// SetCorrelator stores c in the NMsMCorrelator field of the message whose
// header starts msg, leaving every other byte as it is (a replayed answer
// keeps the bytes the server sent). msg must hold at least HdrSize bytes.
func SetCorrelator(msg []byte, c uint32) {
	binary.BigEndian.PutUint32(msg[offMCorrelator:offMCorrelator+4], c)
}

// This file describes the layout field by field, for annotated dumps and
// field checks (gateway doctor). The numbers are layout.go's constants.

// Source says where a field's place comes from.
type Source string

const (
	IBM      Source = "IBM"      // IBM's published layout
	Proposed Source = "PROPOSED" // the project's own layout
)

// FieldKind says how a field's bytes read.
type FieldKind uint8

const (
	FieldUint       FieldKind = iota // big-endian unsigned integer (1, 2, 4 or 8 bytes)
	FieldInt                         // big-endian signed integer
	FieldText                        // IBM-1047 text, padded with blanks
	FieldAddr                        // 16-byte address (IPv4 in the last 4 bytes)
	FieldFlags                       // bit flags; Known has the defined bits
	FieldEnum                        // enumeration; Enum names the values
	FieldTime                        // seconds since 1970 (uint32)
	FieldEyecatcher                  // fixed value; Want holds it
	FieldReserved                    // must be zero
	FieldBytes                       // opaque bytes
)

// Field is one field of a layout.
type Field struct {
	Name   string
	Off    int
	Len    int
	Kind   FieldKind
	Source Source
	// Want is the value of an eyecatcher or fixed field.
	Want uint64
	// Mask: for FieldFlags, the bits this build defines (others are
	// reserved and must be zero).
	Mask uint64
	// Enum: for FieldEnum, the value's name; "unknown(N)" when the value
	// is not defined.
	Enum func(uint64) string
}

// Layout is a fixed-size block: the message header, the record header, a
// section. Size -1: variable length (identity sections).
type Layout struct {
	Name   string
	Size   int
	Source Source // of the length
	Fields []Field
	// IBMSize is the length of IBM's published prefix when the section
	// decodes from it (the PROPOSED remainder then absent); 0 otherwise.
	IBMSize int
}

// IsUnknown reports whether an enumeration's name says the value is not
// defined.
func IsUnknown(name string) bool { return len(name) > 8 && name[:8] == "unknown(" }

// Uint reads a big-endian unsigned field from b (the block's bytes).
func (f *Field) Uint(b []byte) uint64 {
	var v uint64
	for _, c := range b[f.Off : f.Off+f.Len] {
		v = v<<8 | uint64(c)
	}
	return v
}

func field(name string, off, n int, k FieldKind, src Source) Field {
	return Field{Name: name, Off: off, Len: n, Kind: k, Source: src}
}

func flags(name string, off, n int, mask uint64, src Source) Field {
	return Field{Name: name, Off: off, Len: n, Kind: FieldFlags, Source: src, Mask: mask}
}

func rsvd(name string, off, n int) Field { return field(name, off, n, FieldReserved, Proposed) }

// enum is a one-byte enumeration whose type names its values.
func enum[T ~uint8 | ~uint16 | ~uint32 | ~int32](name string, off, n int, src Source, str func(T) string) Field {
	return Field{Name: name, Off: off, Len: n, Kind: FieldEnum, Source: src,
		Enum: func(v uint64) string { return str(T(v)) }}
}

// idTypeName names an identity type; 0 goes with an empty identity
// section (P.9: the identity sections may be length 0).
func idTypeName(t IDType) string {
	if t == 0 {
		return "none"
	}
	return t.String()
}

// HeaderLayout is NMsecMessageHdr.
var HeaderLayout = Layout{Name: "NMsecMessageHdr", Size: HdrSize, Source: Proposed, Fields: []Field{
	{Name: "NMsMIdent", Off: offMIdent, Len: 4, Kind: FieldEyecatcher, Source: Proposed, Want: uint64(MIdent)},
	{Name: "NMsMHdrSize", Off: offMHdrSize, Len: 4, Kind: FieldEyecatcher, Source: Proposed, Want: HdrSize},
	field("NMsMVersion", offMVersion, 2, FieldUint, Proposed),
	enum("NMsMType", offMType, 2, Proposed, MsgType.String),
	field("NMsMMsgSize", offMMsgSize, 4, FieldUint, Proposed),
	field("NMsMCorrelator", offMCorrelator, 4, FieldUint, Proposed),
	field("NMsMRc", offMRc, 4, FieldInt, Proposed),
	field("NMsMRsn", offMRsn, 4, FieldInt, Proposed),
	field("NMsMTarget", offMTarget, TargetLen, FieldText, Proposed),
	field("NMsMRecOff", offMRecOff, 4, FieldUint, Proposed),
	field("NMsMRecCount", offMRecCount, 4, FieldUint, Proposed),
	rsvd("NMsMRsvd1", offMRsvd1, 4),
}}

// RecordHeaderLayout is NMsecRecordHdr (the descriptors follow it).
var RecordHeaderLayout = Layout{Name: "NMsecRecordHdr", Size: RecHdrSize, Source: Proposed, Fields: []Field{
	{Name: "NMsRIdent", Off: offRIdent, Len: 4, Kind: FieldEyecatcher, Source: Proposed, Want: uint64(RIdent)},
	field("NMsRRecLen", offRRecLen, 4, FieldUint, Proposed),
	field("NMsRSecCount", offRSecCount, 2, FieldUint, Proposed),
	field("NMsRCascCount", offRCascCount, 2, FieldUint, Proposed),
	rsvd("NMsRRsvd", offRRsvd, 4),
}}

// SectionDescLayout is a section descriptor.
var SectionDescLayout = Layout{Name: "section descriptor", Size: SecDescSize, Source: Proposed, Fields: []Field{
	field("offset", offSDOff, 4, FieldUint, Proposed),
	field("length", offSDLen, 4, FieldUint, Proposed),
}}

// CascadeDescLayout is a cascade descriptor.
var CascadeDescLayout = Layout{Name: "cascade descriptor", Size: CascDescSize, Source: Proposed, Fields: []Field{
	field("offset", offCDOff, 4, FieldUint, Proposed),
	field("length", offCDLen, 4, FieldUint, Proposed),
	field("count", offCDCount, 4, FieldUint, Proposed),
}}

func block(prefix string, off int, src Source) []Field {
	return []Field{
		field(prefix+"Active", off+offBlkActive, 4, FieldUint, src),
		field(prefix+"InProgress", off+offBlkInProgress, 4, FieldUint, src),
		field(prefix+"Expired", off+offBlkExpired, 4, FieldUint, src),
		field(prefix+"LclActOK", off+offBlkLclActOK, 8, FieldUint, src),
		field(prefix+"RmtActOK", off+offBlkRmtActOK, 8, FieldUint, src),
		field(prefix+"LclActErr", off+offBlkLclActErr, 8, FieldUint, src),
		field(prefix+"RmtActErr", off+offBlkRmtActErr, 8, FieldUint, src),
		field(prefix+"Retransmit", off+offBlkRetransmit, 8, FieldUint, src),
	}
}

// Section layouts.
var (
	StackLayout = Layout{Name: "NMsecStack", Size: StackSize, IBMSize: StackIBMSize, Source: Proposed, Fields: []Field{
		flags("NMsStackFlags", offStackFlags, 4, uint64(maskStackKnown), IBM),
		field("NMsStackName", offStackName, lenStackName, FieldText, IBM),
		field("NMsStackNATKeepAlive", offStackNATKeepAlive, 4, FieldUint, Proposed),
	}}
	StatisticsLayout = Layout{Name: "NMsecStatistics", Size: StatisticsSize, IBMSize: StatisticsIBMSize, Source: Proposed,
		Fields: append(block("NMsStatP1", 0, IBM), block("NMsStatP2", offStatP2Active, Proposed)...)}
	IKETunStatsLayout = Layout{Name: "NMsecIKETunStats", Size: IKETunStatsSize, Source: Proposed, Fields: block("NMsIKEStatP2", 0, Proposed)}
	NSSLayout         = Layout{Name: "NMsecNSS", Size: NSSSize, IBMSize: NSSIBMSize, Source: Proposed, Fields: []Field{
		field("NMsIKENSClientName", offNSSClientName, lenNSSClientName, FieldText, IBM),
		field("NMsIKENSStackName", offNSSStackName, lenNSSShort, FieldText, IBM),
		field("NMsIKENSUserid", offNSSUserid, lenNSSShort, FieldText, IBM),
		field("NMsIKENSServerSysName", offNSSServerSysName, lenNSSShort, FieldText, IBM),
		flags("NMsIKENSFlags", offNSSFlags, 4, uint64(maskNSSKnown), IBM),
	}}
	ClientInfoLayout = Layout{Name: "NMsecClientInfo", Size: ClientInfoSize, Source: Proposed, Fields: []Field{
		field("NMsCIClientName", offCIClientName, lenNSSClientName, FieldText, Proposed),
		field("NMsCISysName", offCISysName, lenNSSShort, FieldText, Proposed),
		field("NMsCIStackName", offCIStackName, lenNSSShort, FieldText, Proposed),
		field("NMsCIUserid", offCIUserid, lenNSSShort, FieldText, Proposed),
		field("NMsCIDiscipline", offCIDiscipline, 1, FieldUint, Proposed),
		rsvd("reserved", offCIRsvd1, lenCIRsvd1),
		flags("NMsCIFlags", offCIFlags, 4, uint64(maskCIKnown), Proposed),
		field("NMsCIConnectTime", offCIConnectTime, 4, FieldUint, Proposed),
		rsvd("reserved", offCIRsvd2, lenCIRsvd2),
	}}
	InterfaceLayout = Layout{Name: "NMsecInterface", Size: InterfaceSize, IBMSize: InterfaceIBMSize, Source: Proposed, Fields: []Field{
		field("NMsInterfaceName", offIfName, lenIfName, FieldText, IBM),
		field("NMsInterfaceAddr", offIfAddr, addrLen, FieldAddr, IBM),
		field("NMsInterfaceSecClass", offIfSecClass, 1, FieldUint, IBM),
		flags("NMsInterfaceFlags", offIfFlags, 1, uint64(maskIfKnown), IBM),
		rsvd("reserved", offIfFlags+1, InterfaceSize-offIfFlags-1),
	}}
	IPTunnelLayout = Layout{Name: "NMsecIPTunnel", Size: IPTunnelSize, IBMSize: IPTunnelIBMSize, Source: Proposed, Fields: []Field{
		field("NMsIPTunID", offIPTunID, NameLen, FieldText, IBM),
		field("NMsIPTunVPNAction", offIPTunVPNAction, NameLen, FieldText, IBM),
		flags("NMsIPTunFlags", offIPTunFlags, 4, bitIPTunIPv6|bitIPTunFIPS140, IBM),
		enum("NMsIPTunType", offIPTunType, 1, IBM, IPTunType.String),
		enum("NMsIPTunState", offIPTunState, 1, IBM, IPTunState.String),
		enum("NMsIPTunEncapMode", offIPTunEncapMode, 1, Proposed, EncapMode.String),
		enum("NMsIPTunAuthProto", offIPTunAuthProto, 1, Proposed, AuthProto.String),
		enum("NMsIPTunAuthAlg", offIPTunAuthAlg, 1, Proposed, AuthAlg.String),
		enum("NMsIPTunEncryptAlg", offIPTunEncryptAlg, 1, Proposed, EncryptAlg.String),
		field("NMsIPTunEncryptKeyLen", offIPTunEncryptKeyLen, 2, FieldUint, Proposed),
		field("NMsIPTunLclSecEndpt", offIPTunLclSecEndpt, addrLen, FieldAddr, Proposed),
		field("NMsIPTunRmtSecEndpt", offIPTunRmtSecEndpt, addrLen, FieldAddr, Proposed),
		field("NMsIPTunAuthInSPI", offIPTunAuthInSPI, 4, FieldUint, Proposed),
		field("NMsIPTunAuthOutSPI", offIPTunAuthOutSPI, 4, FieldUint, Proposed),
		field("NMsIPTunEncInSPI", offIPTunEncInSPI, 4, FieldUint, Proposed),
		field("NMsIPTunEncOutSPI", offIPTunEncOutSPI, 4, FieldUint, Proposed),
		rsvd("NMsIPTunRsvd2", offIPTunRsvd2, 4),
	}}
	IPManualTunnelLayout = Layout{Name: "NMsecIPManualTunnel", Size: IPManualTunnelSize, Source: Proposed, Fields: []Field{
		field("NMsIPManActivateTime", offIPManActivate, 4, FieldTime, Proposed),
		rsvd("NMsIPManRsvd", offIPManRsvd, 4),
		field("NMsIPManOutBytes", offIPManOutBytes, 8, FieldUint, Proposed),
		field("NMsIPManInBytes", offIPManInBytes, 8, FieldUint, Proposed),
		field("NMsIPManOutPackets", offIPManOutPackets, 8, FieldUint, Proposed),
		field("NMsIPManInPackets", offIPManInPackets, 8, FieldUint, Proposed),
	}}
	IPDynTunnelLayout = Layout{Name: "NMsecIPDynTunnel", Size: IPDynTunnelSize, Source: Proposed, Fields: []Field{
		flags("NMsIPDynFlags", offIPDynFlags, 4, bitIPDynUDPEncap|bitIPDynSWSAShadow|bitIPDynClearDF|bitIPDynClearDSCP, Proposed),
		field("NMsIPDynLocalDynVpnRule", offIPDynLocalDynVpn, NameLen, FieldText, Proposed),
		field("NMsIPDynGeneration", offIPDynGeneration, 4, FieldUint, Proposed),
		field("NMsIPDynIKETunnelID", offIPDynIKETunnelID, NameLen, FieldText, Proposed),
		enum("NMsIPDynActMethod", offIPDynActMethod, 1, Proposed, ActivationMethod.String),
		enum("NMsIPDynPFSGroup", offIPDynPFSGroup, 1, Proposed, DHGroup.String),
		field("NMsIPDynProtocol", offIPDynProtocol, 1, FieldUint, Proposed),
		rsvd("NMsIPDynRsvd1", offIPDynRsvd1, 1),
		field("NMsIPDynSrcAddr", offIPDynSrcAddr, addrLen, FieldAddr, Proposed),
		field("NMsIPDynSrcAddr2", offIPDynSrcAddr2, addrLen, FieldAddr, Proposed),
		field("NMsIPDynDstAddr", offIPDynDstAddr, addrLen, FieldAddr, Proposed),
		field("NMsIPDynDstAddr2", offIPDynDstAddr2, addrLen, FieldAddr, Proposed),
		enum("NMsIPDynSrcAddrFmt", offIPDynSrcAddrFmt, 1, Proposed, AddrFormat.String),
		enum("NMsIPDynDstAddrFmt", offIPDynDstAddrFmt, 1, Proposed, AddrFormat.String),
		field("NMsIPDynSrcPrefixLen", offIPDynSrcPrefixLen, 1, FieldUint, Proposed),
		field("NMsIPDynDstPrefixLen", offIPDynDstPrefixLen, 1, FieldUint, Proposed),
		field("NMsIPDynSrcPort", offIPDynSrcPort, 2, FieldUint, Proposed),
		field("NMsIPDynDstPort", offIPDynDstPort, 2, FieldUint, Proposed),
		field("NMsIPDynLifesize", offIPDynLifesize, 8, FieldUint, Proposed),
		field("NMsIPDynLifetime", offIPDynLifetime, 4, FieldUint, Proposed),
		field("NMsIPDynExpireTime", offIPDynExpireTime, 4, FieldTime, Proposed),
		field("NMsIPDynRefreshTime", offIPDynRefreshTime, 4, FieldTime, Proposed),
		field("NMsIPDynRmtUDPPort", offIPDynRmtUDPPort, 2, FieldUint, Proposed),
		field("NMsIPDynLclUDPPort", offIPDynLclUDPPort, 2, FieldUint, Proposed),
		field("NMsIPDynSrcNATOA", offIPDynSrcNATOA, addrLen, FieldAddr, Proposed),
		field("NMsIPDynDstNATOA", offIPDynDstNATOA, addrLen, FieldAddr, Proposed),
	}}
	IPDynamicStackLayout = Layout{Name: "NMsecIPDynamicStack", Size: IPDynamicStackSize, Source: Proposed, Fields: []Field{
		field("NMsIPDynStkOutBytes", offIPDynStkOutBytes, 8, FieldUint, Proposed),
		field("NMsIPDynStkInBytes", offIPDynStkInBytes, 8, FieldUint, Proposed),
		field("NMsIPDynStkOutPkts", offIPDynStkOutPkts, 8, FieldUint, Proposed),
		field("NMsIPDynStkInPkts", offIPDynStkInPkts, 8, FieldUint, Proposed),
		field("NMsIPDynStkCurrentLifesize", offIPDynStkCurLife, 8, FieldUint, Proposed),
		field("NMsIPDynStkInstallTime", offIPDynStkInstall, 4, FieldTime, Proposed),
		rsvd("NMsIPDynStkRsvd", offIPDynStkRsvd, 4),
	}}
	IPDynamicIKELayout = Layout{Name: "NMsecIPDynamicIKE", Size: IPDynamicIKESize, Source: Proposed, Fields: []Field{
		flags("NMsIPDynIKEFlags", offIPDynIKEFlags, 4, bitIPDynIKELocalInit, Proposed),
		field("NMsIPDynIKEExtState", offIPDynIKEExtState, 1, FieldUint, Proposed),
		rsvd("NMsIPDynIKERsvd1", offIPDynIKERsvd1, 3),
		enum("NMsIPDynIKELclIDType", offIPDynIKELclIDType, 1, Proposed, idTypeName),
		enum("NMsIPDynIKERmtIDType", offIPDynIKERmtIDType, 1, Proposed, idTypeName),
		rsvd("NMsIPDynIKERsvd2", offIPDynIKERsvd2, 2),
		field("NMsIPDynIKERetransmits", offIPDynIKERetrans, 4, FieldUint, Proposed),
	}}
	IKETunnelLayout = Layout{Name: "NMsecIKETunnel", Size: IKETunnelSize, Source: Proposed, Fields: []Field{
		flags("NMsIKETunFlags", offIKETunFlags, 4, bitIKETunIPv6|bitIKETunNATAllowed|bitIKETunLclNAT|bitIKETunRmtNAT|bitIKETunRmtNAPT|bitIKETunCanInitP1, IBM),
		field("NMsIKETunID", offIKETunID, NameLen, FieldText, Proposed),
		field("NMsIKETunGeneration", offIKETunGeneration, 4, FieldUint, Proposed),
		field("NMsIKETunKeyExchRule", offIKETunKeyExchRule, NameLen, FieldText, Proposed),
		field("NMsIKETunKeyExchAction", offIKETunKeyExchAction, NameLen, FieldText, Proposed),
		field("NMsIKETunLclEndpoint", offIKETunLclEndpoint, addrLen, FieldAddr, Proposed),
		field("NMsIKETunRmtEndpoint", offIKETunRmtEndpoint, addrLen, FieldAddr, Proposed),
		enum("NMsIKETunState", offIKETunState, 1, Proposed, IKETunState.String),
		enum("NMsIKETunExchangeMode", offIKETunExchangeMode, 1, Proposed, ExchangeMode.String),
		enum("NMsIKETunRole", offIKETunRole, 1, Proposed, Role.String),
		enum("NMsIKETunAuthMethod", offIKETunAuthMethod, 1, Proposed, AuthMethod.String),
		enum("NMsIKETunEncryptAlg", offIKETunEncryptAlg, 1, Proposed, EncryptAlg.String),
		enum("NMsIKETunAuthAlg", offIKETunAuthAlg, 1, Proposed, AuthAlg.String),
		enum("NMsIKETunDHGroup", offIKETunDHGroup, 1, Proposed, DHGroup.String),
		enum("NMsIKETunLclIDType", offIKETunLclIDType, 1, Proposed, idTypeName),
		enum("NMsIKETunRmtIDType", offIKETunRmtIDType, 1, Proposed, idTypeName),
		field("NMsIKETunMajorVer", offIKETunMajorVer, 1, FieldUint, Proposed),
		field("NMsIKETunMinorVer", offIKETunMinorVer, 1, FieldUint, Proposed),
		rsvd("NMsIKETunRsvd1", offIKETunRsvd1, 1),
		field("NMsIKETunEncryptKeyLen", offIKETunEncryptKeyLen, 2, FieldUint, Proposed),
		field("NMsIKETunLclUDPPort", offIKETunLclUDPPort, 2, FieldUint, Proposed),
		field("NMsIKETunRmtUDPPort", offIKETunRmtUDPPort, 2, FieldUint, Proposed),
		rsvd("NMsIKETunRsvd2", offIKETunRsvd2, 2),
		field("NMsIKETunLifesize", offIKETunLifesize, 4, FieldUint, Proposed),
		field("NMsIKETunLifetime", offIKETunLifetime, 4, FieldUint, Proposed),
		field("NMsIKETunActivateTime", offIKETunActivateTime, 4, FieldTime, Proposed),
		field("NMsIKETunExpireTime", offIKETunExpireTime, 4, FieldTime, Proposed),
		rsvd("NMsIKETunRsvd3", offIKETunRsvd3, 4),
		field("NMsIKETunInitCookie", offIKETunInitCookie, 8, FieldBytes, Proposed),
		field("NMsIKETunRespCookie", offIKETunRespCookie, 8, FieldBytes, Proposed),
		field("NMsIKETunBytes", offIKETunBytes, 8, FieldUint, Proposed),
	}}
	IPFilterLayout = Layout{Name: "NMsecIPFilter", Size: IPFilterSize, Source: Proposed, Fields: []Field{
		field("NMsIPFltName", offIPFltName, NameLen, FieldText, Proposed),
		field("NMsIPFltNameExt", offIPFltNameExt, 4, FieldUint, Proposed),
		field("NMsIPFltGroupName", offIPFltGroupName, NameLen, FieldText, Proposed),
		field("NMsIPFltLclStartAction", offIPFltLclStartAction, NameLen, FieldText, Proposed),
		field("NMsIPFltVpnAction", offIPFltVpnAction, NameLen, FieldText, Proposed),
		field("NMsIPFltTunnelID", offIPFltTunnelID, NameLen, FieldText, Proposed),
		flags("NMsIPFltFlags", offIPFltFlags, 4, bitIPFltIPv6|bitIPFltOnDemand|bitIPFltGranProto|bitIPFltGranSrcAddr|bitIPFltGranDstAddr|bitIPFltGranSrcPort|bitIPFltGranDstPort|bitIPFltGranICMPType|bitIPFltGranICMPCode, Proposed),
		enum("NMsIPFltType", offIPFltType, 1, Proposed, FilterType.String),
		enum("NMsIPFltState", offIPFltState, 1, Proposed, FilterState.String),
		enum("NMsIPFltAction", offIPFltAction, 1, Proposed, FilterAction.String),
		enum("NMsIPFltScope", offIPFltScope, 1, Proposed, FilterScope.String),
		enum("NMsIPFltDirection", offIPFltDirection, 1, Proposed, FilterDirection.String),
		enum("NMsIPFltLogging", offIPFltLogging, 1, Proposed, FilterLogging.String),
		field("NMsIPFltSecClass", offIPFltSecClass, 1, FieldUint, Proposed),
		field("NMsIPFltProtocol", offIPFltProtocol, 1, FieldUint, Proposed),
		enum("NMsIPFltSrcAddrFmt", offIPFltSrcAddrFmt, 1, Proposed, AddrFormat.String),
		field("NMsIPFltSrcPrefixLen", offIPFltSrcPrefixLen, 1, FieldUint, Proposed),
		enum("NMsIPFltDstAddrFmt", offIPFltDstAddrFmt, 1, Proposed, AddrFormat.String),
		field("NMsIPFltDstPrefixLen", offIPFltDstPrefixLen, 1, FieldUint, Proposed),
		field("NMsIPFltSrcAddr", offIPFltSrcAddr, addrLen, FieldAddr, Proposed),
		field("NMsIPFltSrcAddr2", offIPFltSrcAddr2, addrLen, FieldAddr, Proposed),
		field("NMsIPFltDstAddr", offIPFltDstAddr, addrLen, FieldAddr, Proposed),
		field("NMsIPFltDstAddr2", offIPFltDstAddr2, addrLen, FieldAddr, Proposed),
		field("NMsIPFltSrcPortLow", offIPFltSrcPortLow, 2, FieldUint, Proposed),
		field("NMsIPFltSrcPortHigh", offIPFltSrcPortHigh, 2, FieldUint, Proposed),
		field("NMsIPFltDstPortLow", offIPFltDstPortLow, 2, FieldUint, Proposed),
		field("NMsIPFltDstPortHigh", offIPFltDstPortHigh, 2, FieldUint, Proposed),
		field("NMsIPFltICMPType", offIPFltICMPType, 1, FieldUint, Proposed),
		field("NMsIPFltICMPCode", offIPFltICMPCode, 1, FieldUint, Proposed),
		field("NMsIPFltOSPFType", offIPFltOSPFType, 1, FieldUint, Proposed),
		field("NMsIPFltTCPQualifier", offIPFltTCPQualifier, 1, FieldUint, Proposed),
		field("NMsIPFltMatchCount", offIPFltMatchCount, 8, FieldUint, Proposed),
		field("NMsIPFltCreateTime", offIPFltCreateTime, 4, FieldTime, Proposed),
		field("NMsIPFltLogLimit", offIPFltLogLimit, 4, FieldUint, Proposed),
	}}
	PortTransLayout = Layout{Name: "NMsecPortTrans", Size: PortTransSize, Source: Proposed, Fields: []Field{
		field("NMsPTTunnelID", offPTTunnelID, NameLen, FieldText, Proposed),
		field("NMsPTProtocol", offPTProtocol, 1, FieldUint, Proposed),
		rsvd("NMsPTRsvd", offPTRsvd, 3),
		field("NMsPTRmtSecEndpoint", offPTRmtSecEndpoint, addrLen, FieldAddr, Proposed),
		field("NMsPTRmtUDPEncapPort", offPTRmtUDPEncapPort, 2, FieldUint, Proposed),
		field("NMsPTRmtOrigPort", offPTRmtOrigPort, 2, FieldUint, Proposed),
		field("NMsPTTranslatedPort", offPTTranslatedPort, 2, FieldUint, Proposed),
		field("NMsPTLclPort", offPTLclPort, 2, FieldUint, Proposed),
		field("NMsPTRmtOrigAddr", offPTRmtOrigAddr, addrLen, FieldAddr, Proposed),
	}}
	// IdentityLayout is an IKE identity section: variable length.
	IdentityLayout = Layout{Name: "identity", Size: -1, Source: Proposed}
)

// ResponseLayouts lists the sections of one record of a response to t, in
// order, and whether its records carry a cascade container
// (NMsec_GET_IKETUNCASCADE, whose cascaded records have the sections of
// NMsec_GET_IPTUNDYNIKE). Nil for types without display records.
func ResponseLayouts(t MsgType) (sections []Layout, cascade bool) {
	switch t {
	case GetStackInfo:
		return []Layout{StackLayout}, false
	case GetIKENSInfo:
		return []Layout{NSSLayout}, false
	case GetClientInfo:
		return []Layout{ClientInfoLayout}, false
	case GetIPInterfaces:
		return []Layout{InterfaceLayout}, false
	case GetSummary:
		return []Layout{StatisticsLayout}, false
	case GetIPFltCurr, GetIPFltDefault, GetIPFltPolicy:
		return []Layout{IPFilterLayout}, false
	case GetPortTrans:
		return []Layout{PortTransLayout}, false
	case GetIPTunManual:
		return []Layout{IPTunnelLayout, IPManualTunnelLayout}, false
	case GetIPTunDynStack:
		return []Layout{IPTunnelLayout, IPDynTunnelLayout, IPDynamicStackLayout}, false
	case GetIPTunDynIKE:
		return []Layout{IPTunnelLayout, IPDynTunnelLayout, IPDynamicIKELayout, IdentityLayout, IdentityLayout}, false
	case GetIKETun:
		return []Layout{IKETunnelLayout, IKETunStatsLayout, IdentityLayout, IdentityLayout}, false
	case GetIKETunCascade:
		return []Layout{IKETunnelLayout, IKETunStatsLayout, IdentityLayout, IdentityLayout}, true
	}
	return nil, false
}

// InterfaceFlagReading explains NMsecInterface's flag byte (offset 33)
// under the two readings of IBM's table, which does not add up (see
// layout.go): this build's, IBM's literal bit numbers (IPv6 0x40, Active
// 0x20, DVIPA 0x10), and the other, flags from bit 0 (0x80, 0x40, 0x20).
// ipv6 is whether the address field holds an IPv6 address (12 leading
// bytes not all zero), which tells the readings apart. It returns one line
// for a report.
func InterfaceFlagReading(f byte, ipv6 bool) string {
	lit := f&bitIfIPv6 != 0
	alt := f&bitIfAltIPv6 != 0
	line := "NMsecInterface flag byte (offset 33) = " + hexByte(f) +
		"; IBM's bit numbers (this build): IPv6 " + yesNo(lit) + ", active " + yesNo(f&bitIfActive != 0) + ", DVIPA " + yesNo(f&bitIfDVIPA != 0) +
		"; flags from bit 0: IPv6 " + yesNo(alt) + ", active " + yesNo(f&bitIfAltActive != 0) + ", DVIPA " + yesNo(f&bitIfAltDVIPA != 0) +
		"; the address is IPv" + map[bool]string{true: "6", false: "4"}[ipv6] + ": "
	switch {
	case lit == ipv6 && alt != ipv6:
		return line + "IBM's bit numbers match"
	case alt == ipv6 && lit != ipv6:
		return line + "flags from bit 0 match (this build reads the byte wrongly)"
	case f&bitIfAltIPv6 != 0:
		return line + "neither reading settles it, and bit 0 (not described by IBM) is set"
	}
	return line + "both readings agree on this byte; an IPv6 or inactive interface would tell them apart"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return "X'" + string([]byte{digits[b>>4], digits[b&0xF]}) + "'"
}
