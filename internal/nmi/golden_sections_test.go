package nmi

import (
	"bytes"
	"encoding"
	"reflect"
	"testing"
)

// section is what every section type implements.
type section interface {
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

// sectionGolden is one section value with its expected bytes, one field
// per line (reserved bytes included), laid out independently of layout.go.
type sectionGolden struct {
	name   string
	size   int
	val    section
	fresh  func() section // a zero value of the same type, to decode into
	fields []fld
}

func sectionGoldens() []sectionGolden {
	return []sectionGolden{
		{
			name: "NMsecStack", size: 32,
			val: &Stack{IPSecurity: true, IPv6Security: true, Logging: true, FilterSet: FilterSetPolicy, FIPS140: true,
				Name: t24("TCPIP"), NATKeepAlive: 20},
			fresh: func() section { return new(Stack) },
			fields: []fld{
				{0, "D6000000", "flags: IPSecurity, IPv6Security, Logging, FilterSet=policy, FIPS140 (bits 0,1,3,5,6)"},
				{4, eb("TCPIP", 24), "NMsStackName = C'TCPIP'"},
				{28, u32(20), "NMsStackNATKeepAlive = 20 s"},
			},
		},
		{
			name: "NMsecStatistics", size: 104,
			val: &Statistics{
				P1: StatsBlock{Active: 3, InProgress: 1, Expired: 2, LclActSuccess: 10, RmtActSuccess: 11, LclActFailure: 12, RmtActFailure: 13, Retransmit: 14},
				P2: StatsBlock{Active: 5, InProgress: 6, Expired: 7, LclActSuccess: 1 << 40, RmtActSuccess: 21, LclActFailure: 22, RmtActFailure: 23, Retransmit: 24},
			},
			fresh: func() section { return new(Statistics) },
			fields: []fld{
				{0, u32(3), "NMsStatP1Active"},
				{4, u32(1), "NMsStatP1InProgress"},
				{8, u32(2), "NMsStatP1Expired"},
				{12, u64(10), "NMsStatP1LclActSuccess"},
				{20, u64(11), "NMsStatP1RmtActSuccess"},
				{28, u64(12), "NMsStatP1LclActFailure"},
				{36, u64(13), "NMsStatP1RmtActFailure"},
				{44, u64(14), "NMsStatP1Retransmit"},
				{52, u32(5), "NMsStatP2Active"},
				{56, u32(6), "NMsStatP2InProgress"},
				{60, u32(7), "NMsStatP2Expired"},
				{64, u64(1 << 40), "NMsStatP2LclActSuccess"},
				{72, u64(21), "NMsStatP2RmtActSuccess"},
				{80, u64(22), "NMsStatP2LclActFailure"},
				{88, u64(23), "NMsStatP2RmtActFailure"},
				{96, u64(24), "NMsStatP2Retransmit"},
			},
		},
		{
			name: "NMsecNSS", size: 52,
			val: &NSS{ClientName: t24("SYS1_TCPIP"), StackName: t8("TCPIP"), Userid: t8("NSSUSER"), ServerSysName: t8("SYS2"),
				Configured: true, SvcSelCert: true, Connected: true},
			fresh: func() section { return new(NSS) },
			fields: []fld{
				{0, eb("SYS1_TCPIP", 24), "NMsIKENSClientName"},
				{24, eb("TCPIP", 8), "NMsIKENSStackName"},
				{32, eb("NSSUSER", 8), "NMsIKENSUserid"},
				{40, eb("SYS2", 8), "NMsIKENSServerSysName"},
				{48, "D0000000", "flags: Configured, SvcSelCert, Connected (bits 0,1,3)"},
			},
		},
		{
			name: "NMsecInterface", size: 36,
			val:   &Interface{Name: t16("ETH1"), Addr: ip("10.1.1.1"), SecClass: 7, Active: true, DVIPA: true},
			fresh: func() section { return new(Interface) },
			fields: []fld{
				{0, eb("ETH1", 16), "NMsInterfaceName"},
				{16, a16("10.1.1.1"), "NMsInterfaceAddr = 10.1.1.1 (last 4 bytes)"},
				{32, u8(7), "NMsInterfaceSecClass"},
				{33, "30", "flags: Active, DVIPA (bits 2,3); IPv6 (bit 1) off"},
				{34, zero(2), "reserved"},
			},
		},
		{
			name: "NMsecInterface IPv6", size: 36,
			val:   &Interface{Name: t16("OSA2"), Addr: ip("2001:db8::5"), IPv6: true},
			fresh: func() section { return new(Interface) },
			fields: []fld{
				{0, eb("OSA2", 16), "NMsInterfaceName"},
				{16, a16("2001:db8::5"), "NMsInterfaceAddr = 2001:db8::5"},
				{32, u8(0), "NMsInterfaceSecClass"},
				{33, "40", "flags: IPv6 (bit 1)"},
				{34, zero(2), "reserved"},
			},
		},
		{
			name: "NMsecIPTunnel", size: 160,
			val: &IPTunnel{ID: t48("M1"), VPNAction: t48("MANACT1"), FIPS140: true, Type: IPTunManual, State: IPTunActive,
				EncapMode: EncapTunnel, AuthProto: AuthProtoESP, AuthAlg: AuthAlgHMACSHA1, EncryptAlg: EncryptAESCBC,
				EncryptKeyLen: 256, LclSecEndpoint: ip("192.0.2.1"), RmtSecEndpoint: ip("198.51.100.7"),
				AuthInSPI: 0x1001, AuthOutSPI: 0x1002, EncryptInSPI: 0x2001, EncryptOutSPI: 0x2002},
			fresh: func() section { return new(IPTunnel) },
			fields: []fld{
				{0, eb("M1", 48), "NMsIPTunID"},
				{48, eb("MANACT1", 48), "NMsIPTunVPNAction"},
				{96, "40000000", "flags: FIPS140 (bit 1); IPv6 (bit 0) off"},
				{100, u8(1), "NMsIPTunType = manual"},
				{101, u8(4), "NMsIPTunState = active"},
				{102, u8(1), "NMsIPTunEncapMode = tunnel"},
				{103, u8(50), "NMsIPTunAuthProto = ESP"},
				{104, u8(39), "NMsIPTunAuthAlg = HMAC-SHA1"},
				{105, u8(12), "NMsIPTunEncryptAlg = AES-CBC"},
				{106, u16(256), "NMsIPTunEncryptKeyLen"},
				{108, a16("192.0.2.1"), "NMsIPTunLclSecEndpoint"},
				{124, a16("198.51.100.7"), "NMsIPTunRmtSecEndpoint"},
				{140, u32(0x1001), "NMsIPTunAuthInSPI"},
				{144, u32(0x1002), "NMsIPTunAuthOutSPI"},
				{148, u32(0x2001), "NMsIPTunEncryptInSPI"},
				{152, u32(0x2002), "NMsIPTunEncryptOutSPI"},
				{156, zero(4), "NMsIPTunRsvd2"},
			},
		},
		{
			name: "NMsecIPManualTunnel", size: 40,
			val:   &IPManualTunnel{ActivateTime: 1700000000, OutBytes: 1000, InBytes: 2000, OutPackets: 10, InPackets: 20},
			fresh: func() section { return new(IPManualTunnel) },
			fields: []fld{
				{0, u32(1700000000), "NMsIPManActivateTime"},
				{4, zero(4), "reserved"},
				{8, u64(1000), "NMsIPManOutBytes"},
				{16, u64(2000), "NMsIPManInBytes"},
				{24, u64(10), "NMsIPManOutPackets"},
				{32, u64(20), "NMsIPManInPackets"},
			},
		},
		{
			name: "NMsecIPDynTunnel IPv6", size: 236,
			val: &IPDynTunnel{IPv6: true, UDPEncap: true, ClearDF: true, LocalDynVpnRule: t48("DYNRULE1"), Generation: 2,
				IKETunnelID: t48("K5"), ActivationMethod: ActivationOnDemand, PFSGroup: DHGroup14, Protocol: 6,
				SrcAddr: ip("2001:db8::1"), SrcAddr2: ip("::"), DstAddr: ip("2001:db8:1::"), DstAddr2: ip("::"),
				SrcAddrFmt: AddrHost, DstAddrFmt: AddrPrefix, SrcPrefixLen: 0, DstPrefixLen: 48, SrcPort: 0, DstPort: 443,
				Lifesize: 1 << 30, Lifetime: 28800, ExpireTime: 1700028800, RefreshTime: 1700025000,
				RmtUDPPort: 4500, LclUDPPort: 4500, SrcNATOA: ip("::"), DstNATOA: ip("::")},
			fresh: func() section { return &IPDynTunnel{IPv6: true} },
			fields: []fld{
				{0, "A0000000", "flags: UDP-encapsulated, clear DF (bits 0,2)"},
				{4, eb("DYNRULE1", 48), "NMsIPDynLocalDynVpnRule"},
				{52, u32(2), "NMsIPDynGeneration"},
				{56, eb("K5", 48), "NMsIPDynIKETunnelID"},
				{104, u8(3), "NMsIPDynActivationMethod = on-demand"},
				{105, u8(14), "NMsIPDynPFSGroup = 14"},
				{106, u8(6), "NMsIPDynProtocol = TCP"},
				{107, zero(1), "reserved"},
				{108, a16("2001:db8::1"), "NMsIPDynSrcAddr"},
				{124, a16("::"), "NMsIPDynSrcAddr2"},
				{140, a16("2001:db8:1::"), "NMsIPDynDstAddr"},
				{156, a16("::"), "NMsIPDynDstAddr2"},
				{172, u8(1), "NMsIPDynSrcAddrFmt = host"},
				{173, u8(2), "NMsIPDynDstAddrFmt = prefix"},
				{174, u8(0), "NMsIPDynSrcPrefixLen"},
				{175, u8(48), "NMsIPDynDstPrefixLen"},
				{176, u16(0), "NMsIPDynSrcPort = any"},
				{178, u16(443), "NMsIPDynDstPort"},
				{180, u64(1 << 30), "NMsIPDynLifesize (bytes)"},
				{188, u32(28800), "NMsIPDynLifetime (s)"},
				{192, u32(1700028800), "NMsIPDynExpireTime"},
				{196, u32(1700025000), "NMsIPDynRefreshTime"},
				{200, u16(4500), "NMsIPDynRmtUDPPort"},
				{202, u16(4500), "NMsIPDynLclUDPPort"},
				{204, a16("::"), "NMsIPDynSrcNATOA"},
				{220, a16("::"), "NMsIPDynDstNATOA"},
			},
		},
		{
			name: "NMsecIPDynamicStack", size: 48,
			val:   &IPDynamicStack{OutBytes: 5000, InBytes: 6000, OutPackets: 50, InPackets: 60, CurrentLifesize: 11000, InstallTime: 1700000100},
			fresh: func() section { return new(IPDynamicStack) },
			fields: []fld{
				{0, u64(5000), "OutBytes"},
				{8, u64(6000), "InBytes"},
				{16, u64(50), "OutPackets"},
				{24, u64(60), "InPackets"},
				{32, u64(11000), "NMsIPDynStkCurrentLifesize"},
				{40, u32(1700000100), "InstallTime"},
				{44, zero(4), "reserved"},
			},
		},
		{
			name: "NMsecIPDynamicIKE", size: 16,
			val:   &IPDynamicIKE{LocallyInitiated: true, ExtState: 3, LclIDType: IDIPv4Addr, RmtIDType: IDFQDN, Retransmits: 4},
			fresh: func() section { return new(IPDynamicIKE) },
			fields: []fld{
				{0, "80000000", "flags: locally initiated (bit 0)"},
				{4, u8(3), "extended state"},
				{5, zero(3), "reserved"},
				{8, u8(1), "local client ID type = ID_IPV4_ADDR"},
				{9, u8(2), "remote client ID type = ID_FQDN"},
				{10, zero(2), "reserved"},
				{12, u32(4), "retransmit count"},
			},
		},
		{
			name: "NMsecIKETunnel", size: 248,
			val: &IKETunnel{NATAllowed: true, RmtNAT: true, CanInitP1: true, ID: t48("K5"), Generation: 3,
				KeyExchRule: t48("KEYRULE1"), KeyExchAction: t48("KEYACT1"), LclEndpoint: ip("192.0.2.1"), RmtEndpoint: ip("203.0.113.9"),
				State: IKETunActive, ExchangeMode: ExchangeMain, Role: RoleInitiator, AuthMethod: AuthMethodPSK,
				EncryptAlg: EncryptAESCBC, AuthAlg: AuthAlgHMACSHA1, DHGroup: DHGroup14, LclIDType: IDIPv4Addr, RmtIDType: IDFQDN,
				MajorVer: 1, MinorVer: 0, EncryptKeyLen: 128, LclUDPPort: 4500, RmtUDPPort: 4500, Lifesize: 0, Lifetime: 86400,
				ActivateTime: 1700000000, ExpireTime: 1700086400, InitCookie: 0x0102030405060708, RespCookie: 0x1112131415161718,
				Bytes: 123456789},
			fresh: func() section { return new(IKETunnel) },
			fields: []fld{
				{0, "54000000", "flags: NATAllowed, RmtNAT, CanInitP1 (bits 1,3,5)"},
				{4, eb("K5", 48), "NMsIKETunID"},
				{52, u32(3), "NMsIKETunGeneration"},
				{56, eb("KEYRULE1", 48), "NMsIKETunKeyExchRule"},
				{104, eb("KEYACT1", 48), "NMsIKETunKeyExchAction"},
				{152, a16("192.0.2.1"), "NMsIKETunLclEndpoint"},
				{168, a16("203.0.113.9"), "NMsIKETunRmtEndpoint"},
				{184, u8(3), "NMsIKETunState = active"},
				{185, u8(2), "NMsIKETunExchangeMode = main"},
				{186, u8(1), "NMsIKETunRole = initiator"},
				{187, u8(1), "NMsIKETunAuthMethod = pre-shared key"},
				{188, u8(12), "NMsIKETunEncryptAlg = AES"},
				{189, u8(39), "NMsIKETunAuthAlg = HMAC-SHA1"},
				{190, u8(14), "NMsIKETunDHGroup = 14"},
				{191, u8(1), "NMsIKETunLclIDType = ID_IPV4_ADDR"},
				{192, u8(2), "NMsIKETunRmtIDType = ID_FQDN"},
				{193, u8(1), "NMsIKETunMajorVer"},
				{194, u8(0), "NMsIKETunMinorVer"},
				{195, zero(1), "reserved"},
				{196, u16(128), "NMsIKETunEncryptKeyLen"},
				{198, u16(4500), "NMsIKETunLclUDPPort"},
				{200, u16(4500), "NMsIKETunRmtUDPPort"},
				{202, zero(2), "reserved"},
				{204, u32(0), "NMsIKETunLifesize (KB)"},
				{208, u32(86400), "NMsIKETunLifetime (s)"},
				{212, u32(1700000000), "NMsIKETunActivateTime"},
				{216, u32(1700086400), "NMsIKETunExpireTime"},
				{220, zero(4), "reserved"},
				{224, u64(0x0102030405060708), "NMsIKETunInitCookie"},
				{232, u64(0x1112131415161718), "NMsIKETunRespCookie"},
				{240, u64(123456789), "NMsIKETunBytes"},
			},
		},
		{
			name: "NMsecIKETunStats", size: 52,
			val:   &IKETunStats{StatsBlock{Active: 2, InProgress: 0, Expired: 1, LclActSuccess: 7, RmtActSuccess: 8, LclActFailure: 9, RmtActFailure: 10, Retransmit: 11}},
			fresh: func() section { return new(IKETunStats) },
			fields: []fld{
				{0, u32(2), "NMsIKEStatP2Active"},
				{4, u32(0), "NMsIKEStatP2InProgress"},
				{8, u32(1), "NMsIKEStatP2Expired"},
				{12, u64(7), "NMsIKEStatP2LclActSuccess"},
				{20, u64(8), "NMsIKEStatP2RmtActSuccess"},
				{28, u64(9), "NMsIKEStatP2LclActFailure"},
				{36, u64(10), "NMsIKEStatP2RmtActFailure"},
				{44, u64(11), "NMsIKEStatP2Retransmit"},
			},
		},
		{
			name: "NMsecIPFilter", size: 352,
			val: &IPFilter{Name: t48("FLT1"), NameExt: 1, GroupName: t48(""), LclStartAction: t48(""), VpnAction: t48("DYNACT1"),
				TunnelID: t48("Y12"), OnDemand: true, GranSrcAddr: true, GranICMPCode: true, Type: FilterDynamicAnchor,
				State: FilterActive, Action: ActionIPSec, Scope: ScopeBoth, Direction: DirectionOutbound, Logging: LoggingAll,
				SecClass: 0, Protocol: 17, SrcAddrFmt: AddrPrefix, SrcPrefixLen: 24, DstAddrFmt: AddrRange, DstPrefixLen: 0,
				SrcAddr: ip("10.0.0.0"), SrcAddr2: ip("0.0.0.0"), DstAddr: ip("10.1.0.1"), DstAddr2: ip("10.1.0.9"),
				DstPortLow: 500, DstPortHigh: 500, ICMPType: 255, ICMPCode: 255, MatchCount: 99, CreateTime: 1700000000},
			fresh: func() section { return new(IPFilter) },
			fields: []fld{
				{0, eb("FLT1", 48), "NMsIPFltName"},
				{48, u32(1), "NMsIPFltNameExt"},
				{52, eb("", 48), "NMsIPFltGroupName (blank)"},
				{100, eb("", 48), "NMsIPFltLclStartAction (blank)"},
				{148, eb("DYNACT1", 48), "NMsIPFltVpnAction"},
				{196, eb("Y12", 48), "NMsIPFltTunnelID"},
				{244, "50800000", "flags: on-demand, source address and ICMP code from the packet (bits 1,3,8)"},
				{248, u8(2), "NMsIPFltType = dynamic anchor"},
				{249, u8(1), "NMsIPFltState = active"},
				{250, u8(3), "NMsIPFltAction = IPSec"},
				{251, u8(3), "NMsIPFltScope = both"},
				{252, u8(2), "NMsIPFltDirection = outbound"},
				{253, u8(3), "NMsIPFltLogging = all"},
				{254, u8(0), "NMsIPFltSecClass = any"},
				{255, u8(17), "NMsIPFltProtocol = UDP"},
				{256, u8(2), "NMsIPFltSrcAddrFmt = prefix"},
				{257, u8(24), "NMsIPFltSrcPrefixLen"},
				{258, u8(3), "NMsIPFltDstAddrFmt = range"},
				{259, u8(0), "NMsIPFltDstPrefixLen"},
				{260, a16("10.0.0.0"), "NMsIPFltSrcAddr"},
				{276, a16("0.0.0.0"), "NMsIPFltSrcAddr2"},
				{292, a16("10.1.0.1"), "NMsIPFltDstAddr"},
				{308, a16("10.1.0.9"), "NMsIPFltDstAddr2"},
				{324, u16(0), "NMsIPFltSrcPortLow"},
				{326, u16(0), "NMsIPFltSrcPortHigh"},
				{328, u16(500), "NMsIPFltDstPortLow"},
				{330, u16(500), "NMsIPFltDstPortHigh"},
				{332, u8(255), "NMsIPFltICMPType = any"},
				{333, u8(255), "NMsIPFltICMPCode = any"},
				{334, u8(0), "NMsIPFltOSPFType = any"},
				{335, u8(0), "NMsIPFltTCPQualifier = none"},
				{336, u64(99), "NMsIPFltMatchCount"},
				{344, u32(1700000000), "NMsIPFltCreateTime"},
				{348, u32(0), "NMsIPFltLogLimit"},
			},
		},
		{
			name: "NMsecPortTrans", size: 92,
			val: &PortTrans{TunnelID: t48("Y7"), Protocol: 17, RmtSecEndpoint: ip("203.0.113.5"), RmtUDPEncapPort: 4500,
				RmtOrigPort: 1701, TranslatedPort: 61000, LclPort: 1701, RmtOrigAddr: ip("192.168.1.20")},
			fresh: func() section { return new(PortTrans) },
			fields: []fld{
				{0, eb("Y7", 48), "tunnel ID"},
				{48, u8(17), "protocol = UDP"},
				{49, zero(3), "reserved"},
				{52, a16("203.0.113.5"), "remote security endpoint (public NAPT address)"},
				{68, u16(4500), "remote UDP encapsulation port"},
				{70, u16(1701), "remote original (client) port"},
				{72, u16(61000), "translated port"},
				{74, u16(1701), "local port"},
				{76, a16("192.168.1.20"), "remote original address (NAT-OA)"},
			},
		},
		{
			name: "NMsecTunnel response", size: 100,
			val:   &Tunnel{Name: t48("DYNRULE1"), TunnelID: t48("Y1"), Status: TunStatusStateAlreadySet},
			fresh: func() section { return new(Tunnel) },
			fields: []fld{
				{0, eb("DYNRULE1", 48), "NMsTunName"},
				{48, eb("Y1", 48), "NMsTunTunnelID"},
				{96, u8(3), "NMsTunStatus = STATEALREADYSET"},
				{97, zero(3), "NMsTunRsvd"},
			},
		},
		{
			name: "NMsecPolicySource", size: 4,
			val:   &PolicySource{Source: FilterSetPolicy},
			fresh: func() section { return new(PolicySource) },
			fields: []fld{
				{0, u8(1), "NMsPolicySource = NMsec_FLT_POLICY"},
				{1, zero(3), "NMsPolicySourceRsvd"},
			},
		},
		{
			name: "NMsecInFilter IPv6", size: 144,
			val: &InFilter{HasTunnelID: true, HasLclAddr: true, HasRmtAddr: true, HasProtocol: true, HasLclPort: true, HasRmtPort: true,
				IPv6: true, Name: t48(""), TunnelID: t48("Y12"), LclAddr: ip("2001:db8::"), LclPrefix: 32, RmtPrefix: 0,
				Protocol: 6, RmtAddr: ip("2001:db8:ffff::1"), LclPort: 443, RmtPort: 50000},
			fresh: func() section { return new(InFilter) },
			fields: []fld{
				{0, "7F000000", "NMsFltFlags: tunnel ID, local, remote, protocol, local port, remote port, IPv6 (bits 1-7)"},
				{4, eb("", 48), "NMsFltName (blank)"},
				{52, eb("Y12", 48), "NMsFltTunnelID"},
				{100, a16("2001:db8::"), "NMsFltLclAddr"},
				{116, u8(32), "NMsFltLclPrefix"},
				{117, u8(0), "NMsFltRmtPrefix = exact"},
				{118, u8(6), "NMsFltProto = TCP"},
				{119, zero(1), "reserved"},
				{120, a16("2001:db8:ffff::1"), "NMsFltRmtAddr"},
				{136, u16(443), "NMsFltLclPort"},
				{138, u16(50000), "NMsFltRmtPort"},
				{140, zero(4), "reserved"},
			},
		},
		{
			name: "NMsecClientInfo", size: 64,
			val: &ClientInfo{ClientName: t24("SYSB_TCPIP"), SysName: t8("SYSB"), StackName: t8("TCPIP"), Userid: t8("NSSCLNT"),
				Discipline: DisciplineIPSec, RemoteMgmt: true, ConnectTime: 1_700_000_000},
			fresh: func() section { return new(ClientInfo) },
			fields: []fld{
				{0, eb("SYSB_TCPIP", 24), "NMsCIClientName"},
				{24, eb("SYSB", 8), "NMsCISysName"},
				{32, eb("TCPIP", 8), "NMsCIStackName"},
				{40, eb("NSSCLNT", 8), "NMsCIUserid"},
				{48, u8(1), "NMsCIDiscipline = IPSec"},
				{49, zero(3), "reserved"},
				{52, "80000000", "NMsCIFlags: remote management (bit 0)"},
				{56, u32(1_700_000_000), "NMsCIConnectTime"},
				{60, zero(4), "reserved"},
			},
		},
	}
}

func TestSectionGoldens(t *testing.T) {
	for _, g := range sectionGoldens() {
		t.Run(g.name, func(t *testing.T) {
			want := assemble(t, g.size, g.fields)
			got, err := g.val.AppendBinary([]byte{0xEE})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[1:], want) {
				t.Fatalf("encoding differs\n got %X\nwant %X", got[1:], want)
			}
			v := g.fresh()
			if err := v.UnmarshalBinary(want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, g.val) {
				t.Fatalf("decoded\n got %+v\nwant %+v", v, g.val)
			}
			// A longer section (a later version) decodes to the same value.
			v = g.fresh()
			if err := v.UnmarshalBinary(append(bytes.Clone(want), 1, 2, 3, 4, 5, 6, 7, 8)); err != nil || !reflect.DeepEqual(v, g.val) {
				t.Fatalf("longer section: %v", err)
			}
			// Truncation at every field boundary, and one byte short.
			cuts := []int{g.size - 1}
			for _, f := range g.fields {
				cuts = append(cuts, f.off)
			}
			ibm := ibmPrefixOf(g.fresh())
			for _, n := range cuts {
				v := g.fresh()
				err := v.UnmarshalBinary(want[:n])
				if n < ibm {
					wantRsn(t, err, RsnBadSection)
					continue
				}
				// From IBM's prefix on, the IBM fields decode and the
				// PROPOSED remainder is absent; written again, the section
				// is IBM's prefix.
				if err != nil {
					t.Fatalf("%d bytes (IBM prefix %d): %v", n, ibm, err)
				}
				enc, err := v.AppendBinary(nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, want[:len(enc)]) || (len(enc) != ibm && len(enc) != g.size) {
					t.Fatalf("%d bytes: re-encoded %X, want a prefix of %X of %d or %d bytes", n, enc, want, ibm, g.size)
				}
			}
		})
	}
}

// ibmPrefixOf is the length of IBM's published prefix of a section, or
// its whole size where it has no shorter fallback.
func ibmPrefixOf(s section) int {
	switch s.(type) {
	case *Stack:
		return StackIBMSize
	case *Statistics:
		return StatisticsIBMSize
	case *Interface:
		return InterfaceIBMSize
	case *NSS:
		return NSSIBMSize
	case *IPTunnel:
		return IPTunnelIBMSize
	}
	return 1 << 30
}

// TestPartialSections: a section cut to IBM's prefix decodes IBM's fields,
// says Partial, and zeroes the PROPOSED fields even in a reused value.
func TestPartialSections(t *testing.T) {
	full := &Statistics{P1: StatsBlock{Active: 3, Retransmit: 9}, P2: StatsBlock{Active: 5, Retransmit: 7}}
	b, _ := full.AppendBinary(nil)
	v := *full
	if err := v.UnmarshalBinary(b[:StatisticsIBMSize]); err != nil {
		t.Fatal(err)
	}
	if want := (Statistics{P1: full.P1, Partial: true}); v != want {
		t.Fatalf("got %+v, want %+v", v, want)
	}
	if err := v.UnmarshalBinary(b[:StatisticsIBMSize-1]); err == nil {
		t.Fatal("a section shorter than IBM's prefix decoded")
	}

	tun := &IPTunnel{ID: t48("Y1"), VPNAction: t48("VPN"), IPv6: true, Type: IPTunIKE, State: IPTunActive,
		EncapMode: EncapTunnel, AuthProto: AuthProtoESP, AuthInSPI: 1, EncryptOutSPI: 2,
		LclSecEndpoint: ip("2001:db8::1"), RmtSecEndpoint: ip("2001:db8::2")}
	b, err := tun.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := *tun
	if err := u.UnmarshalBinary(b[:IPTunnelIBMSize+3]); err != nil {
		t.Fatal(err)
	}
	want := IPTunnel{ID: tun.ID, VPNAction: tun.VPNAction, IPv6: true, Type: IPTunIKE, State: IPTunActive, Partial: true}
	if u != want {
		t.Fatalf("got %+v, want %+v", u, want)
	}
	if err := u.UnmarshalBinary(b); err != nil || u.Partial || u != *tun {
		t.Fatalf("full section after a partial one: %v %+v", err, u)
	}

	st := &Stack{Name: t24("TCPIP"), IPSecurity: true, NATKeepAlive: 20}
	b, _ = st.AppendBinary(nil)
	var sv Stack
	if err := sv.UnmarshalBinary(b[:StackIBMSize]); err != nil || !sv.Partial || sv.NATKeepAlive != 0 || sv.Name != st.Name || !sv.IPSecurity {
		t.Fatalf("stack prefix: %v %+v", err, sv)
	}
}
