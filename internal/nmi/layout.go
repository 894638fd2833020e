package nmi

// This file holds every number of the wire contract: offsets, lengths,
// eyecatchers, type codes and flag bits. Names follow IBM's fields in
// EZBNMSEC where IBM's name is known.
//
// Each constant is marked:
//   - IBM: copied from IBM's published layout (exact);
//   - PROPOSED: the project's own layout (shared/nmi, Appendix A of
//     protocol-core.md and Appendix P of protocol-records.md) that fills what
//     IBM's public pages do not show.
//
// When the real EZBNMSEC header is available, correcting the layout is a
// change to this file (checklist: protocol-core.md, Appendix B). Enumeration
// values live in codes.go.

// Interface version and size limits.
const (
	// Version is the highest NMI interface version this build speaks. PROPOSED.
	Version = 1
	// MaxRequestSize is the largest request message a server accepts
	// (NMsRsnExcessiveSize beyond it). PROPOSED (A.2).
	MaxRequestSize = 1 << 20
	// DefaultMaxResponseSize is the largest response message a Client
	// accepts unless configured otherwise. PROPOSED (README, framing).
	DefaultMaxResponseSize = 64 << 20
	// MaxConnections is the number of concurrent clients IKED serves. IBM
	// (stated in the V1R9 material); the behaviour beyond it is PROPOSED (A.7).
	MaxConnections = 50
)

// Eyecatchers. PROPOSED values (IBM confirms that identifiers exist and are
// checked, not their values).
const (
	MIdent uint32 = 0xD5D4E2D4 // NMsMIdent C'NMSM'. PROPOSED (A.2).
	RIdent uint32 = 0xD5D4E2D9 // NMsRIdent C'NMSR'. PROPOSED (A.5).
)

// NMsecMessageHdr: 64 bytes. Layout PROPOSED (A.2); the names NMsMRc,
// NMsMRsn and NMsMTarget are IBM's, the others are working names.
const (
	HdrSize        = 64 // NMsMHdrSize value. PROPOSED.
	offMIdent      = 0  // NMsMIdent, 4 bytes. PROPOSED.
	offMHdrSize    = 4  // NMsMHdrSize, uint32. PROPOSED.
	offMVersion    = 8  // NMsMVersion, uint16. PROPOSED.
	offMType       = 10 // NMsMType, uint16. PROPOSED.
	offMMsgSize    = 12 // NMsMMsgSize, uint32. PROPOSED.
	offMCorrelator = 16 // NMsMCorrelator, uint32. PROPOSED.
	offMRc         = 20 // NMsMRc, int32. Name IBM, offset PROPOSED.
	offMRsn        = 24 // NMsMRsn, int32. Name IBM, offset PROPOSED.
	offMTarget     = 28 // NMsMTarget, EBCDIC. Name IBM, offset PROPOSED.
	TargetLen      = 24 // NMsMTarget length. DERIVED from IBM (24-character NSS client names).
	offMRecOff     = 52 // NMsMRecOff, uint32. PROPOSED.
	offMRecCount   = 56 // NMsMRecCount, uint32. PROPOSED.
	offMRsvd1      = 60 // NMsMRsvd1, 4 reserved bytes. PROPOSED.
)

// NMsecRecordHdr: 16 bytes followed by the descriptors. PROPOSED (A.5).
const (
	RecHdrSize    = 16 // PROPOSED.
	offRIdent     = 0  // NMsRIdent, 4 bytes. PROPOSED.
	offRRecLen    = 4  // NMsRRecLen, uint32: the whole record. PROPOSED.
	offRSecCount  = 8  // NMsRSecCount, uint16: section descriptors (>= 1). PROPOSED.
	offRCascCount = 10 // NMsRCascCount, uint16: cascade descriptors (0 or 1). PROPOSED.
	offRRsvd      = 12 // NMsRRsvd, 4 reserved bytes. PROPOSED.

	SecDescSize = 8 // section descriptor: offset, length. PROPOSED.
	offSDOff    = 0 // uint32 offset from the record start. PROPOSED.
	offSDLen    = 4 // uint32 section length (padding not counted). PROPOSED.

	CascDescSize = 12 // cascade descriptor: offset, length, count. PROPOSED.
	offCDOff     = 0  // uint32 offset from the record start. PROPOSED.
	offCDLen     = 4  // uint32 total length of the contained records. PROPOSED.
	offCDCount   = 8  // uint32 number of contained records. PROPOSED.

	maxCascades = 1 // a record has zero or one cascade container. IBM.
	recAlign    = 4 // records and sections start on 4-byte boundaries. PROPOSED (A.1).
)

// NMsecInFilter: input filter section of display requests, 144 bytes. PROPOSED (A.4).
const (
	InFilterSize           = 144
	offFltFlags            = 0   // NMsFltFlags, 4 bytes.
	offFltName             = 4   // NMsFltName, 48 EBCDIC.
	offFltTunnelID         = 52  // NMsFltTunnelID, 48 EBCDIC.
	offFltLclAddr          = 100 // NMsFltLclAddr, 16.
	offFltLclPrefix        = 116 // NMsFltLclPrefix, 1.
	offFltRmtPrefix        = 117 // NMsFltRmtPrefix, 1.
	offFltProto            = 118 // NMsFltProto, 1.
	offFltRsvd1            = 119 // reserved, 1.
	offFltRmtAddr          = 120 // NMsFltRmtAddr, 16.
	offFltLclPort          = 136 // NMsFltLclPort, 2.
	offFltRmtPort          = 138 // NMsFltRmtPort, 2.
	offFltRsvd2            = 140 // reserved, 4.
	bitFltName             = 0x80000000
	bitFltTunnelID         = 0x40000000
	bitFltLclAddr          = 0x20000000
	bitFltRmtAddr          = 0x10000000
	bitFltProto            = 0x08000000
	bitFltLclPort          = 0x04000000
	bitFltRmtPort          = 0x02000000
	bitFltIPv6             = 0x01000000
	maskFltRsvd     uint32 = 0x00FFFFFF // bits 8-31 reserved.
)

// NMsecTunnel: control record section. Offsets 0-96 IBM; padded length 100 PROPOSED (A.5).
const (
	TunnelSize        = 100 // PROPOSED (IBM's 97 bytes + 3 reserved).
	offTunName        = 0   // NMsTunName, 48 EBCDIC. IBM.
	offTunTunnelID    = 48  // NMsTunTunnelID, 48 EBCDIC. IBM.
	offTunStatus      = 96  // NMsTunStatus, 1. IBM.
	offTunRsvd        = 97  // NMsTunRsvd, 3 reserved. PROPOSED.
	NameLen           = 48  // length of every 48-byte name and tunnel ID field. IBM.
	PolicySourceSize  = 4   // NMsecPolicySource. PROPOSED (README).
	offPolicySource   = 0   // NMsPolicySource, 1: NMsec_FLT_DEFAULT 0 / NMsec_FLT_POLICY 1. PROPOSED.
	offPolicySrcRsvd  = 1   // NMsPolicySourceRsvd, 3 reserved. PROPOSED.
	lenPolicySrcRsvd  = 3   // PROPOSED.
	lenTunRsvd        = 3   // PROPOSED.
	lenFltRsvd2       = 4   // PROPOSED.
	addrLen           = 16  // every address field; IPv4 in the last 4 bytes. IBM for NMsInterfaceAddr only; PROPOSED for the others.
	addrV4Off         = 12  // IPv4 address offset inside an address field. IBM for NMsInterfaceAddr only; PROPOSED for the others.
	maxPrefixV4       = 32  // PROPOSED (A.4).
	maxPrefixV6       = 128 // PROPOSED (A.4).
	identityMaxLength = 1 << 16
)

// IBM prefixes: how many leading bytes of a response section IBM publishes
// (protocol-records.md section 4). A section shorter than its IBM prefix is
// a format error. A section at least that long but shorter than this
// build's PROPOSED size decodes the IBM fields and marks the PROPOSED
// remainder absent (the section's Partial field); so does a section whose
// length lies between the two, since the PROPOSED layout then does not
// match. Sections of which IBM publishes nothing (P.6-P.9, P.11-P.13) have
// no prefix to fall back to and must have their PROPOSED size; so must
// NMsecIKETunnel, whose IBM prefix (one flag word) holds no tunnel ID.
const (
	StackIBMSize      = offStackNATKeepAlive // NMsecStack: flag word and NMsStackName. IBM (4.1).
	StatisticsIBMSize = offStatP2Active      // NMsecStatistics: NMsStatP1Active..NMsStatP1Retransmit. IBM (4.2).
	InterfaceIBMSize  = offIfFlags + 1       // NMsecInterface: through the flag byte at 33. IBM (4.3).
	NSSIBMSize        = offNSSFlags + 1      // NMsecNSS: through the flag byte at 48. IBM (4.4).
	IPTunnelIBMSize   = offIPTunEncapMode    // NMsecIPTunnel: NMsIPTunID..NMsIPTunState. IBM (4.6).
)

// NMsecStack (P.2, 32 bytes). Flags and name IBM (4.1); NATKeepAlive offset
// inferred from IBM, its length PROPOSED.
const (
	StackSize                   = 32
	offStackFlags               = 0 // IBM.
	bitStackIPSecurity          = 0x80000000
	bitStackIPv6Security        = 0x40000000
	bitStackDVIPSec             = 0x20000000
	bitStackLogging             = 0x10000000
	bitStackPreDecap            = 0x08000000
	bitStackFilterSet           = 0x04000000
	bitStackFIPS140             = 0x02000000
	offStackName                = 4  // NMsStackName, 24 EBCDIC. IBM.
	lenStackName                = 24 // IBM.
	offStackNATKeepAlive        = 28 // NMsStackNATKeepAlive, 4. Offset IBM (inferred), length PROPOSED.
	maskStackKnown       uint32 = bitStackIPSecurity | bitStackIPv6Security | bitStackDVIPSec | bitStackLogging | bitStackPreDecap | bitStackFilterSet | bitStackFIPS140
)

// NMsecStatistics (P.3, 104 bytes). Offsets 0-51 IBM (4.2); 52-103 PROPOSED.
const (
	StatisticsSize     = 104
	offStatP1Active    = 0  // IBM.
	offStatP1InProg    = 4  // IBM.
	offStatP1Expired   = 8  // IBM.
	offStatP1LclActOK  = 12 // IBM.
	offStatP1RmtActOK  = 20 // IBM.
	offStatP1LclActErr = 28 // IBM.
	offStatP1RmtActErr = 36 // IBM.
	offStatP1Retrans   = 44 // IBM.
	offStatP2Active    = 52 // PROPOSED.
	offStatP2InProg    = 56 // PROPOSED.
	offStatP2Expired   = 60 // PROPOSED.
	offStatP2LclActOK  = 64 // PROPOSED.
	offStatP2RmtActOK  = 72 // PROPOSED.
	offStatP2LclActErr = 80 // PROPOSED.
	offStatP2RmtActErr = 88 // PROPOSED.
	offStatP2Retrans   = 96 // PROPOSED.
)

// NMsecIKETunStats (P.11, 52 bytes). PROPOSED. Same shape as the phase 1
// block of NMsecStatistics.
const (
	IKETunStatsSize = 52
)

// NMsecNSS (P.4, 52 bytes). 0-48 bits 0-2 IBM (4.4); bit 3 PROPOSED. The
// masks are of the flag word at 48 read big-endian; every known bit lies in
// its first byte, the one IBM publishes.
const (
	NSSSize                    = 52
	offNSSClientName           = 0          // NMsIKENSClientName, 24. IBM.
	lenNSSClientName           = 24         // IBM.
	offNSSStackName            = 24         // NMsIKENSStackName, 8. IBM.
	offNSSUserid               = 32         // NMsIKENSUserid, 8. IBM.
	offNSSServerSysName        = 40         // NMsIKENSServerSysName, 8. IBM.
	lenNSSShort                = 8          // IBM.
	offNSSFlags                = 48         // IBM.
	bitNSSConfigured           = 0x80000000 // IBM.
	bitNSSSvcSelCert           = 0x40000000 // IBM.
	bitNSSSvcEnblCert          = 0x20000000 // IBM.
	bitNSSConnected            = 0x10000000 // PROPOSED.
	maskNSSKnown        uint32 = bitNSSConfigured | bitNSSSvcSelCert | bitNSSSvcEnblCert | bitNSSConnected
)

// NMsecClientInfo (64 bytes): one NSS client in the answer to
// NMsec_GET_CLIENTINFO. IBM says only that the request returns "summary
// information about each client" connected to the NSS server, selected by
// discipline; the name, the layout and every field are PROPOSED. The
// client name is 24 characters like NMsIKENSClientName; the system and
// stack names are MVS and TCP/IP job names (8); times are seconds since
// 1970 like the other sections' times.
const (
	ClientInfoSize          = 64
	offCIClientName         = 0          // NMsCIClientName, 24.
	offCISysName            = 24         // NMsCISysName, 8: the client's MVS system name.
	offCIStackName          = 32         // NMsCIStackName, 8: TCP/IP job name (IPSec discipline), else blank.
	offCIUserid             = 40         // NMsCIUserid, 8: user ID the client registered with.
	offCIDiscipline         = 48         // NMsCIDiscipline, 1: ClientDiscipline.
	offCIRsvd1              = 49         // 3 reserved bytes.
	lenCIRsvd1              = 3          //
	offCIFlags              = 52         // NMsCIFlags, 4.
	bitCIRemoteMgmt         = 0x80000000 // The client takes IPSec NMI requests routed by the server (else EOPNOTSUPP).
	bitCICertSvc            = 0x40000000 // The client uses the server's certificate services.
	maskCIKnown      uint32 = bitCIRemoteMgmt | bitCICertSvc
	offCIConnectTime        = 56 // NMsCIConnectTime, 4: when the client connected.
	offCIRsvd2              = 60 // 4 reserved bytes.
	lenCIRsvd2              = 4  //
)

// NMsCIDiscipline values (PROPOSED). The names are IBM's discipline names
// (NssConfig's Discipline statement); a GET_CLIENTINFO input filter names
// the discipline in NMsFltName.
const (
	DisciplineIPSec        ClientDiscipline = 1 // IPSec.
	DisciplineXMLAppliance ClientDiscipline = 2 // XMLAppliance.
)

// NMsecInterface (36 bytes). Offsets IBM (4.3, complete table); length 36 PROPOSED.
//
// IBM's flag table at offset 33 does not add up: it describes bits 1-3 and
// 21 reserved bits from bit 4, which would run past a 36-byte section, and
// it does not describe bit 0. The masks below follow IBM's literal bit
// numbers within byte 33 (bit 1 = 0x40); bit 0 (0x80) and the rest are read
// as reserved. The other reading, that the flags start at bit 0 (IPv6 =
// 0x80, Active = 0x40, DVIPA = 0x20), is shown by gateway doctor beside
// this one (bitIfAltIPv6..bitIfAltDVIPA) so that a real IKED's byte settles it.
const (
	InterfaceSize       = 36
	offIfName           = 0    // NMsInterfaceName, 16. IBM.
	lenIfName           = 16   // IBM.
	offIfAddr           = 16   // NMsInterfaceAddr, 16. IBM.
	offIfSecClass       = 32   // NMsInterfaceSecClass, 1. IBM.
	offIfFlags          = 33   // flag byte. IBM.
	bitIfIPv6           = 0x40 // NMsIPv6, bit 1. IBM.
	bitIfActive         = 0x20 // NMsInterfaceActive, bit 2. IBM.
	bitIfDVIPA          = 0x10 // NMsInterfaceDVIPA, bit 3. IBM.
	maskIfKnown    byte = bitIfIPv6 | bitIfActive | bitIfDVIPA
	bitIfAltIPv6   byte = 0x80 // the other reading: flags from bit 0. Not IBM's numbering.
	bitIfAltActive byte = 0x40
	bitIfAltDVIPA  byte = 0x20
)

// NMsecIPTunnel (P.5, 160 bytes). Offsets 0-101 IBM (4.6); 102-159 PROPOSED.
const (
	IPTunnelSize          = 160
	offIPTunID            = 0          // NMsIPTunID, 48. IBM.
	offIPTunVPNAction     = 48         // NMsIPTunVPNAction, 48. IBM.
	offIPTunFlags         = 96         // IBM.
	bitIPTunIPv6          = 0x80000000 // NMsIPTunFlagIPv6. IBM.
	bitIPTunFIPS140       = 0x40000000 // NMsIPTunFIPS140. IBM.
	offIPTunType          = 100        // NMsIPTunType, 1. IBM.
	offIPTunState         = 101        // NMsIPTunState, 1. IBM.
	offIPTunEncapMode     = 102        // PROPOSED.
	offIPTunAuthProto     = 103        // PROPOSED.
	offIPTunAuthAlg       = 104        // PROPOSED.
	offIPTunEncryptAlg    = 105        // PROPOSED.
	offIPTunEncryptKeyLen = 106        // 2. PROPOSED.
	offIPTunLclSecEndpt   = 108        // 16. PROPOSED.
	offIPTunRmtSecEndpt   = 124        // 16. PROPOSED.
	offIPTunAuthInSPI     = 140        // PROPOSED.
	offIPTunAuthOutSPI    = 144        // PROPOSED.
	offIPTunEncInSPI      = 148        // PROPOSED.
	offIPTunEncOutSPI     = 152        // PROPOSED.
	offIPTunRsvd2         = 156        // 4 reserved. PROPOSED.
)

// NMsecIPManualTunnel (P.6, 40 bytes). PROPOSED.
const (
	IPManualTunnelSize = 40
	offIPManActivate   = 0  // NMsIPManActivateTime, 4.
	offIPManRsvd       = 4  // 4 reserved.
	offIPManOutBytes   = 8  // 8.
	offIPManInBytes    = 16 // 8.
	offIPManOutPackets = 24 // 8.
	offIPManInPackets  = 32 // 8.
)

// NMsecIPDynTunnel (P.7, 236 bytes). PROPOSED.
const (
	IPDynTunnelSize      = 236
	offIPDynFlags        = 0
	bitIPDynUDPEncap     = 0x80000000
	bitIPDynSWSAShadow   = 0x40000000
	bitIPDynClearDF      = 0x20000000
	bitIPDynClearDSCP    = 0x10000000
	offIPDynLocalDynVpn  = 4   // NMsIPDynLocalDynVpnRule, 48.
	offIPDynGeneration   = 52  // 4.
	offIPDynIKETunnelID  = 56  // NMsIPDynIKETunnelID, 48.
	offIPDynActMethod    = 104 // 1.
	offIPDynPFSGroup     = 105 // 1.
	offIPDynProtocol     = 106 // 1.
	offIPDynRsvd1        = 107 // 1 reserved.
	offIPDynSrcAddr      = 108 // 16.
	offIPDynSrcAddr2     = 124 // 16.
	offIPDynDstAddr      = 140 // 16.
	offIPDynDstAddr2     = 156 // 16.
	offIPDynSrcAddrFmt   = 172 // 1 (framing rule 4: listed order).
	offIPDynDstAddrFmt   = 173 // 1.
	offIPDynSrcPrefixLen = 174 // 1.
	offIPDynDstPrefixLen = 175 // 1.
	offIPDynSrcPort      = 176 // 2.
	offIPDynDstPort      = 178 // 2.
	offIPDynLifesize     = 180 // 8, bytes.
	offIPDynLifetime     = 188 // 4, seconds.
	offIPDynExpireTime   = 192 // 4, time.
	offIPDynRefreshTime  = 196 // 4, time.
	offIPDynRmtUDPPort   = 200 // 2.
	offIPDynLclUDPPort   = 202 // 2.
	offIPDynSrcNATOA     = 204 // 16.
	offIPDynDstNATOA     = 220 // 16.
)

// NMsecIPDynamicStack (P.8, 48 bytes). PROPOSED.
const (
	IPDynamicStackSize  = 48
	offIPDynStkOutBytes = 0  // 8.
	offIPDynStkInBytes  = 8  // 8.
	offIPDynStkOutPkts  = 16 // 8.
	offIPDynStkInPkts   = 24 // 8.
	offIPDynStkCurLife  = 32 // NMsIPDynStkCurrentLifesize, 8.
	offIPDynStkInstall  = 40 // 4, time.
	offIPDynStkRsvd     = 44 // 4 reserved.
)

// NMsecIPDynamicIKE (P.9, 16 bytes). PROPOSED.
const (
	IPDynamicIKESize     = 16
	offIPDynIKEFlags     = 0 // 4.
	bitIPDynIKELocalInit = 0x80000000
	offIPDynIKEExtState  = 4  // 1.
	offIPDynIKERsvd1     = 5  // 3 reserved.
	offIPDynIKELclIDType = 8  // 1.
	offIPDynIKERmtIDType = 9  // 1.
	offIPDynIKERsvd2     = 10 // 2 reserved.
	offIPDynIKERetrans   = 12 // 4.
)

// NMsecIKETunnel (P.10, 248 bytes). Flag bits 0-5 IBM (4.5); the rest PROPOSED.
const (
	IKETunnelSize          = 248
	offIKETunFlags         = 0          // IBM.
	bitIKETunIPv6          = 0x80000000 // IBM.
	bitIKETunNATAllowed    = 0x40000000 // IBM.
	bitIKETunLclNAT        = 0x20000000 // IBM.
	bitIKETunRmtNAT        = 0x10000000 // IBM.
	bitIKETunRmtNAPT       = 0x08000000 // IBM.
	bitIKETunCanInitP1     = 0x04000000 // IBM.
	offIKETunID            = 4          // 48. PROPOSED from here on.
	offIKETunGeneration    = 52         // 4.
	offIKETunKeyExchRule   = 56         // 48.
	offIKETunKeyExchAction = 104        // 48.
	offIKETunLclEndpoint   = 152        // 16.
	offIKETunRmtEndpoint   = 168        // 16.
	offIKETunState         = 184
	offIKETunExchangeMode  = 185
	offIKETunRole          = 186
	offIKETunAuthMethod    = 187
	offIKETunEncryptAlg    = 188
	offIKETunAuthAlg       = 189
	offIKETunDHGroup       = 190
	offIKETunLclIDType     = 191
	offIKETunRmtIDType     = 192
	offIKETunMajorVer      = 193
	offIKETunMinorVer      = 194
	offIKETunRsvd1         = 195 // 1 reserved.
	offIKETunEncryptKeyLen = 196 // 2.
	offIKETunLclUDPPort    = 198 // 2.
	offIKETunRmtUDPPort    = 200 // 2.
	offIKETunRsvd2         = 202 // 2 reserved.
	offIKETunLifesize      = 204 // 4, kilobytes.
	offIKETunLifetime      = 208 // 4, seconds.
	offIKETunActivateTime  = 212 // 4.
	offIKETunExpireTime    = 216 // 4.
	offIKETunRsvd3         = 220 // 4 reserved.
	offIKETunInitCookie    = 224 // 8.
	offIKETunRespCookie    = 232 // 8.
	offIKETunBytes         = 240 // 8.
)

// Statistics block shared by NMsecStatistics (phase 1 at 0, phase 2 at 52)
// and NMsecIKETunStats (phase 2 at 0): offsets relative to the block. The
// phase 1 block of NMsecStatistics is IBM; the others PROPOSED.
const (
	statsBlockSize   = 52
	offBlkActive     = 0  // 4.
	offBlkInProgress = 4  // 4.
	offBlkExpired    = 8  // 4.
	offBlkLclActOK   = 12 // 8.
	offBlkRmtActOK   = 20 // 8.
	offBlkLclActErr  = 28 // 8.
	offBlkRmtActErr  = 36 // 8.
	offBlkRetransmit = 44 // 8.
)

// IP filter section, working name NMsecIPFilter (P.12, 352 bytes). PROPOSED.
const (
	IPFilterSize           = 352
	offIPFltName           = 0   // 48.
	offIPFltNameExt        = 48  // 4.
	offIPFltGroupName      = 52  // 48.
	offIPFltLclStartAction = 100 // 48.
	offIPFltVpnAction      = 148 // 48.
	offIPFltTunnelID       = 196 // 48.
	offIPFltFlags          = 244 // 4.
	bitIPFltIPv6           = 0x80000000
	bitIPFltOnDemand       = 0x40000000
	bitIPFltGranProto      = 0x20000000
	bitIPFltGranSrcAddr    = 0x10000000
	bitIPFltGranDstAddr    = 0x08000000
	bitIPFltGranSrcPort    = 0x04000000
	bitIPFltGranDstPort    = 0x02000000
	bitIPFltGranICMPType   = 0x01000000
	bitIPFltGranICMPCode   = 0x00800000
	offIPFltType           = 248 // framing rule 4: listed order.
	offIPFltState          = 249
	offIPFltAction         = 250
	offIPFltScope          = 251
	offIPFltDirection      = 252
	offIPFltLogging        = 253
	offIPFltSecClass       = 254
	offIPFltProtocol       = 255
	offIPFltSrcAddrFmt     = 256
	offIPFltSrcPrefixLen   = 257
	offIPFltDstAddrFmt     = 258
	offIPFltDstPrefixLen   = 259
	offIPFltSrcAddr        = 260 // 16.
	offIPFltSrcAddr2       = 276 // 16.
	offIPFltDstAddr        = 292 // 16.
	offIPFltDstAddr2       = 308 // 16.
	offIPFltSrcPortLow     = 324 // 2.
	offIPFltSrcPortHigh    = 326 // 2.
	offIPFltDstPortLow     = 328 // 2.
	offIPFltDstPortHigh    = 330 // 2.
	offIPFltICMPType       = 332
	offIPFltICMPCode       = 333
	offIPFltOSPFType       = 334
	offIPFltTCPQualifier   = 335
	offIPFltMatchCount     = 336 // 8.
	offIPFltCreateTime     = 344 // 4.
	offIPFltLogLimit       = 348 // 4.
)

// Port translation section (P.13, 92 bytes). PROPOSED.
const (
	PortTransSize        = 92
	offPTTunnelID        = 0  // 48.
	offPTProtocol        = 48 // 1.
	offPTRsvd            = 49 // 3 reserved.
	offPTRmtSecEndpoint  = 52 // 16 (IPv4: the section has no IPv6 bit).
	offPTRmtUDPEncapPort = 68 // 2.
	offPTRmtOrigPort     = 70 // 2.
	offPTTranslatedPort  = 72 // 2.
	offPTLclPort         = 74 // 2.
	offPTRmtOrigAddr     = 76 // 16.
)

// Message and request types (NMsMType). The names are IBM's where an IBM
// page shows them; every numeric value is PROPOSED (A.3).
const (
	MsgInit          MsgType = 1   // NMsec_INIT. Name IBM.
	MsgTerm          MsgType = 2   // NMsec_TERM. Name IBM.
	GetStackInfo     MsgType = 101 // NMsec_GET_STACKINFO. Name IBM.
	GetIPFltCurr     MsgType = 102 // NMsec_GET_IPFLTCURR. Working name.
	GetIPFltDefault  MsgType = 103 // NMsec_GET_IPFLTDEFAULT. Working name.
	GetIPFltPolicy   MsgType = 104 // NMsec_GET_IPFLTPOLICY. Working name.
	GetIPInterfaces  MsgType = 105 // NMsec_GET_IPINTERFACES. Name IBM.
	GetIPTunManual   MsgType = 106 // NMsec_GET_IPTUNMANUAL. Name IBM.
	GetIPTunDynStack MsgType = 107 // NMsec_GET_IPTUNDYNSTACK. Working name.
	GetIPTunDynIKE   MsgType = 108 // NMsec_GET_IPTUNDYNIKE. Name IBM.
	GetIKETun        MsgType = 109 // NMsec_GET_IKETUN. Name IBM.
	GetIKETunCascade MsgType = 110 // NMsec_GET_IKETUNCASCADE. Name IBM.
	GetPortTrans     MsgType = 111 // NMsec_GET_PORTTRANS. Working name.
	GetSummary       MsgType = 112 // NMsec_GET_SUMMARY. Name IBM.
	GetIKENSInfo     MsgType = 113 // NMsec_GET_IKENSINFO. Name IBM.
	GetClientInfo    MsgType = 114 // NMsec_GET_CLIENTINFO. Name IBM; NSS server only (IBM), 114 PROPOSED.
	ActManTun        MsgType = 201 // NMsec_ACT_MANTUN. Working name.
	DeactManTun      MsgType = 202 // NMsec_DEACT_MANTUN. Working name.
	ActDynTun        MsgType = 203 // NMsec_ACT_DYNTUN. Working name.
	DeactDynTun      MsgType = 204 // NMsec_DEACT_DYNTUN. Working name.
	RefreshDynTun    MsgType = 205 // NMsec_REFRESH_DYNTUN. Working name.
	DeactIKETun      MsgType = 206 // NMsec_DEACT_IKETUN. Working name.
	RefreshIKETun    MsgType = 207 // NMsec_REFRESH_IKETUN. Working name.
	LoadPolicy       MsgType = 208 // NMsec_LOAD_POLICY. Name IBM; the number 208 PROPOSED, like every number here.
)

// Return codes (NMsMRc): z/OS UNIX errno values. IBM (errno table), their
// use on this interface PROPOSED unless protocol-core.md 6.2 says otherwise.
const (
	RcOK       ReturnCode = 0
	EACCES     ReturnCode = 111   // IBM value; use for SAF failures PROPOSED.
	EAGAIN     ReturnCode = 112   // IBM value; client limit PROPOSED (A.7).
	EBUSY      ReturnCode = 114   // IBM value.
	EINVAL     ReturnCode = 121   // IBM: every format error.
	EIO        ReturnCode = 122   // IBM value.
	ENOENT     ReturnCode = 129   // IBM value.
	ENOMEM     ReturnCode = 132   // UNVERIFIED value.
	ENOSYS     ReturnCode = 134   // UNVERIFIED value.
	ENXIO      ReturnCode = 138   // IBM value; unknown stack PROPOSED.
	EPERM      ReturnCode = 139   // UNVERIFIED value.
	ESRCH      ReturnCode = 143   // UNVERIFIED value.
	EMVSERR    ReturnCode = 157   // UNVERIFIED value.
	EOPNOTSUPP ReturnCode = 1112  // IBM value.
	ENOBUFS    ReturnCode = 1122  // UNVERIFIED value.
	EGSKSIGN   ReturnCode = 10001 // IBM value (NSS only).
)

// Reason codes (NMsMRsn). 1-8 IBM; 9-12 PROPOSED (A.8).
const (
	RsnNone             ReasonCode = 0
	RsnBadIdent         ReasonCode = 1  // NMsRsnBadIdent. IBM.
	RsnBadVersion       ReasonCode = 2  // NMsRsnBadVersion. IBM.
	RsnBadType          ReasonCode = 3  // NMsRsnBadType. IBM.
	RsnExcessiveSize    ReasonCode = 4  // NMsRsnExcessiveSize. IBM.
	RsnHdrSize          ReasonCode = 5  // NMsRsnHdrSize. IBM.
	RsnMsgSize          ReasonCode = 6  // NMsRsnMsgSize. IBM.
	RsnReservedNonzero  ReasonCode = 7  // NMsRsnReservedNonzero. IBM.
	RsnRecordLength     ReasonCode = 8  // NMsRsnRecordLength. IBM.
	RsnBadFilter        ReasonCode = 9  // NMsRsnBadFilter. PROPOSED.
	RsnBadControlRecord ReasonCode = 10 // NMsRsnBadControlRecord. PROPOSED.
	RsnNotReady         ReasonCode = 11 // NMsRsnNotReady. PROPOSED.
	RsnBadSection       ReasonCode = 12 // NMsRsnBadSection. PROPOSED.
)

// NMsTunStatus values (NMsec_TUNSTATUS_*). IBM.
const (
	TunStatusNone            TunStatus = 0 // in requests.
	TunStatusNotFound        TunStatus = 1
	TunStatusStateUpdated    TunStatus = 2
	TunStatusStateAlreadySet TunStatus = 3
	TunStatusNoKER           TunStatus = 5
	TunStatusNoFilter        TunStatus = 6
	TunStatusNoDataOffer     TunStatus = 7
)

// Filter sets: NMsStackFilterSet and NMsPolicySource. IBM values.
const (
	FilterSetDefault FilterSet = 0 // NMsec_FLT_DEFAULT.
	FilterSetPolicy  FilterSet = 1 // NMsec_FLT_POLICY.
)

// NMsIPTunType. IBM.
const (
	IPTunManual IPTunType = 1 // NMsec_IPTUN_MANUAL.
	IPTunStack  IPTunType = 2 // NMsec_IPTUN_STACK.
	IPTunIKE    IPTunType = 3 // NMsec_IPTUN_IKE.
)

// NMsIPTunState. 1 IBM (NMsec_SASTATE_INACTIVE); 2-5 PROPOSED (P.1).
const (
	IPTunInactive   IPTunState = 1
	IPTunPending    IPTunState = 2
	IPTunIncomplete IPTunState = 3
	IPTunActive     IPTunState = 4
	IPTunExpired    IPTunState = 5
)

// NMsIKETunState. PROPOSED (P.1).
const (
	IKETunPending     IKETunState = 1
	IKETunNegotiating IKETunState = 2
	IKETunActive      IKETunState = 3
	IKETunExpired     IKETunState = 4
)

// Encapsulation mode. PROPOSED (P.1).
const (
	EncapTunnel    EncapMode = 1
	EncapTransport EncapMode = 2
)

// Authentication protocol: IP protocol numbers. IBM/B (OMEGAMON).
const (
	AuthProtoNone AuthProto = 0
	AuthProtoESP  AuthProto = 50
	AuthProtoAH   AuthProto = 51
)

// Integrity algorithms. IBM/B (OMEGAMON 5.2).
const (
	AuthAlgNone          AuthAlg = 0
	AuthAlgAESGMAC128    AuthAlg = 4
	AuthAlgAESGMAC256    AuthAlg = 6
	AuthAlgHMACSHA256128 AuthAlg = 7
	AuthAlgAESXCBC96     AuthAlg = 9
	AuthAlgHMACSHA384192 AuthAlg = 13
	AuthAlgHMACSHA512256 AuthAlg = 14
	AuthAlgHMACMD5       AuthAlg = 38
	AuthAlgHMACSHA1      AuthAlg = 39
	AuthAlgHMACMD596     AuthAlg = 40
	AuthAlgHMACSHA196    AuthAlg = 41
)

// Encryption algorithms. 3 and 12 IBM/B; the others PROPOSED (P.1).
const (
	EncryptNone     EncryptAlg = 0
	EncryptDES      EncryptAlg = 2
	Encrypt3DES     EncryptAlg = 3
	EncryptNull     EncryptAlg = 11
	EncryptAESCBC   EncryptAlg = 12
	EncryptAESGCM16 EncryptAlg = 20
)

// Diffie-Hellman groups (IANA numbers). 0-14 IBM/B; the rest PROPOSED.
const (
	DHNone    DHGroup = 0
	DHGroup1  DHGroup = 1
	DHGroup2  DHGroup = 2
	DHGroup5  DHGroup = 5
	DHGroup14 DHGroup = 14
	DHGroup19 DHGroup = 19
	DHGroup20 DHGroup = 20
	DHGroup21 DHGroup = 21
	DHGroup24 DHGroup = 24
)

// Exchange mode. PROPOSED (P.1).
const (
	ExchangeMain       ExchangeMode = 2
	ExchangeAggressive ExchangeMode = 4
	ExchangeIKEv2      ExchangeMode = 34
)

// IKE authentication method. PROPOSED (P.1).
const (
	AuthMethodPSK   AuthMethod = 1
	AuthMethodRSA   AuthMethod = 3
	AuthMethodECDSA AuthMethod = 9
)

// Identity types (IANA IPsec DOI). PROPOSED (P.1).
const (
	IDIPv4Addr  IDType = 1
	IDFQDN      IDType = 2
	IDUserFQDN  IDType = 3
	IDIPv6Addr  IDType = 5
	IDDERASN1DN IDType = 9
	IDKeyID     IDType = 11
)

// Role. PROPOSED (P.1).
const (
	RoleInitiator Role = 1
	RoleResponder Role = 2
)

// Filter rule enumerations. IBM names, PROPOSED numbers (P.1).
const (
	FilterGeneric       FilterType = 1
	FilterDynamicAnchor FilterType = 2
	FilterDynamic       FilterType = 3
	FilterNATTAnchor    FilterType = 4
	FilterNATTDynamic   FilterType = 5
	FilterNRF           FilterType = 6
	FilterDefensive     FilterType = 7

	ActionPermit         FilterAction = 1
	ActionDeny           FilterAction = 2
	ActionIPSec          FilterAction = 3
	ActionDefensiveBlock FilterAction = 4

	DirectionInbound  FilterDirection = 1
	DirectionOutbound FilterDirection = 2

	ScopeLocal  FilterScope = 1
	ScopeRouted FilterScope = 2
	ScopeBoth   FilterScope = 3

	LoggingNone   FilterLogging = 0
	LoggingPermit FilterLogging = 1
	LoggingDeny   FilterLogging = 2
	LoggingAll    FilterLogging = 3

	FilterActive   FilterState = 1
	FilterInactive FilterState = 2
)

// Activation method of dynamic tunnels. IBM/B (OMEGAMON 5.2).
const (
	ActivationUser     ActivationMethod = 1
	ActivationRemote   ActivationMethod = 2
	ActivationOnDemand ActivationMethod = 3
	ActivationTakeover ActivationMethod = 5
	ActivationAutoAct  ActivationMethod = 6
)

// Address format bytes. PROPOSED (Appendix P conventions).
const (
	AddrAny    AddrFormat = 0
	AddrHost   AddrFormat = 1
	AddrPrefix AddrFormat = 2
	AddrRange  AddrFormat = 3
)
