package ikedsim

import (
	"net/netip"
	"time"
)

// demoEpoch is the Demo data set's reference time; a model moves it to the
// moment it starts.
var demoEpoch = time.Date(2024, 6, 3, 8, 0, 0, 0, time.UTC)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func spec(s string) AddrSpec {
	a, err := ParseAddrSpec(s)
	if err != nil {
		panic(err) // only fixed demo text reaches here
	}
	return a
}

func ports(s string) PortRange {
	p, err := ParsePortRange(s)
	if err != nil {
		panic(err)
	}
	return p
}

// rulePair is the outbound and inbound filter of one IpFilterRule: local
// and remote are the rule's local and remote sides.
func rulePair(f Filter, local, remote AddrSpec, lports, rports PortRange, inCount, outCount uint64) []Filter {
	out := f
	out.Direction = dirOutbound
	out.Src, out.Dst, out.SrcPorts, out.DstPorts = local, remote, lports, rports
	out.MatchCount = outCount
	in := f
	in.Direction = dirInbound
	in.Src, in.Dst, in.SrcPorts, in.DstPorts = remote, local, rports, lports
	in.MatchCount = inCount
	if f.MatchRate > 0 {
		in.MatchRate = f.MatchRate/2 + 1
	}
	if f.ICMPType == 0 && f.ICMPCode == 0 {
		out.ICMPType, out.ICMPCode, in.ICMPType, in.ICMPCode = 255, 255, 255, 255
	}
	return []Filter{out, in}
}

// traffic is a Traffic that has run at the given rates for age.
func traffic(outRate, inRate, size uint32, age time.Duration) Traffic {
	t := Traffic{OutRate: outRate, InRate: inRate, PacketSize: size}
	t.settle(demoEpoch.Add(-age), demoEpoch)
	return t
}

// Demo is a small site: system SYS1 with stacks TCPIP (policy filters in
// effect, branch offices over IKE, an IPv6 partner, a NAT-traversed branch,
// manual tunnels to a disaster-recovery site) and TCPIPB (a test stack
// running on its default filters).
func Demo() *DataSet {
	return &DataSet{System: "SYS1", Epoch: demoEpoch, Stacks: []*Stack{demoTCPIP(), demoTCPIPB()}}
}

func demoTCPIP() *Stack {
	e := demoEpoch
	created := e.Add(-72 * time.Hour)
	g := func(name, group string, action, proto, scope uint8, rate uint32) Filter {
		return Filter{Name: name, Group: group, Type: fltGeneric, State: fltActive, Action: action, Scope: scope,
			Logging: logNone, Protocol: proto, MatchRate: rate, Created: created}
	}
	any4, any6 := AddrSpec{}, AddrSpec{}
	anyP := PortRange{}
	anchor := func(name, vpn string, v6 bool) Filter {
		f := g(name, "VPN-GROUP", actIPSec, 0, scopeLocal, 0)
		f.Type, f.VpnAction, f.IPv6, f.OnDemand, f.Logging = fltDynamicAnchor, vpn, v6, true, logAll
		return f
	}
	var def []Filter
	def = append(def, rulePair(g("PROFILE-PERMIT-SSH", "", actPermit, 6, scopeLocal, 3),
		spec("192.0.2.10"), spec("198.51.100.0/24"), ports("22"), ports("1024-65535"), 41200, 39800)...)
	icmp := g("PROFILE-PERMIT-ICMP", "", actPermit, 1, scopeLocal, 1)
	def = append(def, rulePair(icmp, any4, any4, anyP, anyP, 5120, 5090)...)
	icmp6 := g("PROFILE-PERMIT-ICMPV6", "", actPermit, 58, scopeLocal, 1)
	icmp6.IPv6 = true
	def = append(def, rulePair(icmp6, any6, any6, anyP, anyP, 2210, 2207)...)
	deny := g("SYSDEFAULTDENYRULE", "", actDeny, 0, scopeBoth, 0)
	deny.Logging = logAll
	def = append(def, rulePair(deny, any4, any4, anyP, anyP, 880, 12)...)
	deny6 := deny
	deny6.Name, deny6.IPv6 = "SYSDEFAULTDENYRULE6", true
	def = append(def, rulePair(deny6, any6, any6, anyP, anyP, 75, 0)...)

	var pol []Filter
	ospf := g("PERMIT-OSPF", "INFRA", actPermit, 89, scopeLocal, 2)
	ospf.Granularity = 0x40
	pol = append(pol, rulePair(ospf, spec("192.0.2.0/24"), any4, anyP, anyP, 98200, 98150)...)
	pol = append(pol, rulePair(g("PERMIT-DNS", "INFRA", actPermit, 17, scopeLocal, 6),
		spec("192.0.2.10-192.0.2.11"), spec("198.51.100.53"), anyP, ports("53"), 410233, 410501)...)
	pol = append(pol, rulePair(g("PERMIT-SSH-ADMIN", "INFRA", actPermit, 6, scopeLocal, 1),
		spec("192.0.2.10"), spec("198.51.100.0/25"), ports("22"), ports("1024-65535"), 61234, 58877)...)
	telnet := g("DENY-TELNET", "INFRA", actDeny, 6, scopeBoth, 0)
	telnet.Logging, telnet.LogLimit = logAll, 100
	pol = append(pol, rulePair(telnet, any4, any4, ports("23"), anyP, 37, 0)...)
	// The database rule is a narrower part of BRANCH1-VPN: it comes first,
	// or the wider rule would take its traffic.
	pol = append(pol, rulePair(anchor("BRANCH1-DB-VPN", "ESP-AES256-SHA1", false),
		spec("192.0.2.20"), spec("198.51.100.20"), ports("1521"), anyP, 0, 0)...)
	pol = append(pol, rulePair(anchor("BRANCH1-VPN", "ESP-AES256-SHA1", false),
		spec("192.0.2.0/26"), spec("198.51.100.0/26"), anyP, anyP, 0, 0)...)
	pol = append(pol, rulePair(anchor("BRANCH2-VPN", "ESP-AES128-SHA1", false),
		spec("192.0.2.64/26"), spec("203.0.113.0/24"), anyP, anyP, 0, 0)...)
	pol = append(pol, rulePair(anchor("BRANCH3-VPN", "ESP-AES128-SHA1", false),
		spec("192.0.2.128/26"), spec("198.51.100.128/26"), anyP, anyP, 0, 0)...)
	pol = append(pol, rulePair(anchor("BRANCH4-VPN", "ESP-AES256-SHA1", false),
		spec("192.0.2.192/27"), spec("198.51.100.192/27"), anyP, anyP, 0, 0)...)
	pol = append(pol, rulePair(anchor("PARTNER6-VPN", "ESP-AES256-SHA1", true),
		spec("2001:db8:1::/64"), spec("2001:db8:2::/64"), anyP, anyP, 0, 0)...)
	natt := anchor("ROAMING-NATT", "ESP-AES128-SHA1", false)
	natt.Type = fltNATTAnchor
	pol = append(pol, rulePair(natt, spec("192.0.2.30"), any4, anyP, anyP, 0, 0)...)
	man := g("DR-MANUAL", "DR", actIPSec, 0, scopeLocal, 40)
	man.VpnAction, man.TunnelID = "MANUAL-DR-VPN", "M1"
	pol = append(pol, rulePair(man, spec("192.0.2.100-192.0.2.120"), spec("198.51.100.200"), anyP, anyP, 1_204_331, 1_377_002)...)
	legacy := g("LEGACY-MANUAL", "DR", actIPSec, 0, scopeLocal, 0)
	legacy.VpnAction, legacy.TunnelID, legacy.State = "MANUAL-LEGACY", "M2", fltInactive
	pol = append(pol, rulePair(legacy, spec("192.0.2.121"), spec("198.51.100.201"), anyP, anyP, 0, 0)...)
	echo6 := g("PERMIT-ICMPV6-ECHO", "INFRA", actPermit, 58, scopeLocal, 1)
	echo6.IPv6, echo6.ICMPType, echo6.ICMPCode = true, 128, 0
	pol = append(pol, rulePair(echo6, spec("2001:db8:1::10"), spec("2001:db8::/32"), anyP, anyP, 7311, 7304)...)
	pol = append(pol, rulePair(deny, any4, any4, anyP, anyP, 15230, 211)...)
	pol = append(pol, rulePair(deny6, any6, any6, anyP, anyP, 1802, 3)...)

	k := func(id string, gen uint32, rule string, local, remote string, state IKETunState, age, life time.Duration) IKETunnel {
		t := IKETunnel{ID: id, Generation: gen, KeyExchangeRule: rule, KeyExchangeAction: "KEA-AES256-SHA1-G14",
			Local: ip(local), Remote: ip(remote), CanInitP1: true, State: state, ExchangeMode: modeMain,
			Role: roleInitiator, AuthMethod: authPSK, EncryptAlg: encAESCBC, AuthAlg: authHMACSHA1, DHGroup: 14,
			EncryptKeyLen: 256, LocalIDType: idFQDN, RemoteIDType: idFQDN, LocalID: "zos1.example.com",
			MajorVer: 1, LocalUDPPort: 500, RemoteUDPPort: 500, Lifetime: life, Lifesize: 0,
			Activated: e.Add(-age), Expires: e.Add(-age + life)}
		t.InitCookie = 0x5a17c0de00000000 | uint64(idNumber(id))<<8 | uint64(gen)
		t.RespCookie = 0x0b5e7ed000000000 | uint64(idNumber(id))<<8 | uint64(gen)
		return t
	}
	k1old := k("K1", 2, "KER-BRANCH1", "192.0.2.1", "198.51.100.1", IKEExpired, 9*time.Hour, 8*time.Hour)
	k1old.RemoteID, k1old.Bytes = "branch1.example.net", 912_334_080
	k1old.Stats = IKEStats{LclActSuccess: 14, Retransmit: 2}
	k1 := k("K1", 3, "KER-BRANCH1", "192.0.2.1", "198.51.100.1", IKEActive, 1*time.Hour+48*time.Minute, 8*time.Hour)
	k1.RemoteID, k1.AutoRefresh = "branch1.example.net", true
	k1.Stats = IKEStats{LclActSuccess: 3}
	k2 := k("K2", 1, "KER-BRANCH2", "192.0.2.1", "203.0.113.5", IKEActive, 3*time.Hour, 8*time.Hour)
	k2.RemoteID, k2.NATAllowed, k2.RemoteNAT, k2.RemoteNAPT = "branch2.example.org", true, true, true
	k2.LocalUDPPort, k2.RemoteUDPPort, k2.Role, k2.AutoRefresh = 4500, 4500, roleResponder, true
	k2.EncryptKeyLen, k2.DHGroup = 128, 5
	k2.Stats = IKEStats{RmtActSuccess: 2}
	k3old := k("K3", 1, "KER-PARTNER6", "2001:db8:1::1", "2001:db8:2::1", IKEExpired, 5*time.Hour, 4*time.Hour)
	k3old.LocalIDType, k3old.RemoteIDType, k3old.LocalID, k3old.RemoteID = idIPv6, idIPv6, "2001:db8:1::1", "2001:db8:2::1"
	k3old.AuthMethod, k3old.Bytes = authRSA, 48_100_352
	k3 := k3old
	k3.Generation, k3.State, k3.Activated, k3.Expires, k3.Bytes, k3.AutoRefresh = 2, IKEActive, e.Add(-time.Hour), e.Add(3*time.Hour), 0, true
	k3.InitCookie, k3.RespCookie = k3.InitCookie+1, k3.RespCookie+1
	k4 := k("K4", 1, "KER-BRANCH3", "192.0.2.1", "198.51.100.77", IKEPending, 0, 8*time.Hour)
	k4.RemoteID, k4.Activated, k4.Expires, k4.InitCookie, k4.RespCookie = "branch3.example.net", time.Time{}, time.Time{}, 0, 0
	k4.Stats = IKEStats{LclActFailure: 4, Retransmit: 11}

	y := func(id string, gen uint32, rule, ike string, local, remote string, src, dst string, state IPTunState, age, life time.Duration, tr Traffic) DynTunnel {
		t := DynTunnel{ID: id, Generation: gen, VpnAction: "ESP-AES256-SHA1", LocalDynVpnRule: rule, IKETunnelID: ike,
			State: state, Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA1, EncryptAlg: encAESCBC,
			EncryptKeyLen: 256, LocalEndpoint: ip(local), RemoteEndpoint: ip(remote), Activation: activUser, PFSGroup: 14,
			Src: spec(src), Dst: spec(dst), Lifetime: life, Activated: e.Add(-age), Expires: e.Add(-age + life),
			Traffic: tr, LocallyInitiated: true}
		n := uint32(idNumber(id))<<8 | gen
		t.EncryptInSPI, t.EncryptOutSPI = 0x4e000000|n, 0x7a000000|n
		return t
	}
	y1old := y("Y1", 1, "BRANCH1-VPN", "K1", "192.0.2.1", "198.51.100.1", "192.0.2.0/26", "198.51.100.0/26", TunExpired, 110*time.Minute, time.Hour, traffic(120, 150, 800, time.Hour))
	y1 := y("Y1", 2, "BRANCH1-VPN", "K1", "192.0.2.1", "198.51.100.1", "192.0.2.0/26", "198.51.100.0/26", TunActive, 50*time.Minute, time.Hour, traffic(120, 150, 800, 50*time.Minute))
	y1.AutoRefresh, y1old.AutoRefresh = true, true
	y2 := y("Y2", 1, "BRANCH1-DB-VPN", "K1", "192.0.2.1", "198.51.100.1", "192.0.2.20", "198.51.100.20", TunActive, 20*time.Minute, 4*time.Hour, traffic(40, 35, 1400, 20*time.Minute))
	y2.Protocol, y2.SrcPort, y2.AutoRefresh = 6, 1521, true
	y3 := y("Y3", 1, "BRANCH2-VPN", "K2", "192.0.2.1", "203.0.113.5", "192.0.2.64/26", "203.0.113.0/24", TunActive, 2*time.Hour, 8*time.Hour, traffic(15, 22, 600, 2*time.Hour))
	y3.VpnAction, y3.EncryptKeyLen, y3.UDPEncap, y3.LocalUDPPort, y3.RemoteUDPPort = "ESP-AES128-SHA1", 128, true, 4500, 4500
	y3.DstNATOA, y3.Activation, y3.LocallyInitiated, y3.AutoRefresh = ip("203.0.113.10"), activRemote, false, true
	// The partner's tunnel is not refreshed: it is within its last tenth
	// of life, and expires 10 minutes after start.
	y4 := y("Y4", 1, "PARTNER6-VPN", "K3", "2001:db8:1::1", "2001:db8:2::1", "2001:db8:1::/64", "2001:db8:2::/64", TunActive, 110*time.Minute, 2*time.Hour, traffic(60, 58, 1200, 110*time.Minute))
	y5 := y("Y5", 1, "BRANCH3-VPN", "K4", "192.0.2.1", "198.51.100.77", "192.0.2.128/26", "198.51.100.128/26", TunPending, 0, time.Hour, Traffic{OutRate: 10, InRate: 10})
	y5.Activated, y5.Expires, y5.EncryptInSPI, y5.EncryptOutSPI = time.Time{}, time.Time{}, 0, 0
	y6 := y("Y6", 1, "BRANCH1-VPN", "K1", "192.0.2.1", "198.51.100.1", "192.0.2.40", "198.51.100.40", TunExpired, 3*time.Hour, time.Hour, traffic(5, 5, 300, time.Hour))
	y6.Protocol, y6.DstPort = 6, 21

	mt := func(id, vpn, local, remote string, state IPTunState, age time.Duration, tr Traffic) ManualTunnel {
		t := ManualTunnel{ID: id, VpnAction: vpn, State: state, Encap: encapTunnel, AuthProto: protoESP,
			AuthAlg: authHMACSHA1, EncryptAlg: enc3DES, EncryptKeyLen: 192, Local: ip(local), Remote: ip(remote),
			AuthInSPI: 0, EncryptInSPI: 0x1001 + uint32(len(id)), EncryptOutSPI: 0x2001 + uint32(len(id)), Traffic: tr}
		if state == TunActive {
			t.Activated = e.Add(-age)
		}
		return t
	}
	m1 := mt("M1", "MANUAL-DR-VPN", "192.0.2.1", "198.51.100.200", TunActive, 30*time.Hour, traffic(300, 280, 1000, 30*time.Hour))
	m2 := mt("M2", "MANUAL-LEGACY", "192.0.2.1", "198.51.100.201", TunInactive, 0, Traffic{OutRate: 5, InRate: 5})
	m2.EncryptInSPI, m2.EncryptOutSPI = 0x3001, 0x3002
	m3 := mt("M6-DR", "MANUAL-DR6-VPN", "2001:db8:1::1", "2001:db8:3::1", TunInactive, 0, Traffic{OutRate: 20, InRate: 20})
	m3.EncryptAlg, m3.EncryptKeyLen, m3.EncryptInSPI, m3.EncryptOutSPI = encAESCBC, 128, 0x6001, 0x6002

	rule := func(name, ker, vpn, remote, src, dst string) DynVpnRule {
		r := DynVpnRule{Name: name, KeyExchangeRule: ker, KeyExchangeAction: "KEA-AES256-SHA1-G14", AnchorFilter: name,
			VpnAction: vpn, Local: ip("192.0.2.1"), Remote: ip(remote), LocalID: "zos1.example.com",
			Src: spec(src), Dst: spec(dst), Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA1,
			EncryptAlg: encAESCBC, EncryptKeyLen: 256, PFSGroup: 14, Lifetime: time.Hour, IKELifetime: 8 * time.Hour}
		return r
	}
	r6 := rule("PARTNER6-VPN", "KER-PARTNER6", "ESP-AES256-SHA1", "2001:db8:2::1", "2001:db8:1::/64", "2001:db8:2::/64")
	r6.Local, r6.LocalID, r6.RemoteID = ip("2001:db8:1::1"), "2001:db8:1::1", "2001:db8:2::1"
	rules := []DynVpnRule{
		rule("BRANCH1-VPN", "KER-BRANCH1", "ESP-AES256-SHA1", "198.51.100.1", "192.0.2.0/26", "198.51.100.0/26"),
		rule("BRANCH1-DB-VPN", "KER-BRANCH1", "ESP-AES256-SHA1", "198.51.100.1", "192.0.2.20", "198.51.100.20"),
		rule("BRANCH2-VPN", "KER-BRANCH2", "ESP-AES128-SHA1", "203.0.113.5", "192.0.2.64/26", "203.0.113.0/24"),
		rule("BRANCH3-VPN", "KER-BRANCH3", "ESP-AES128-SHA1", "198.51.100.77", "192.0.2.128/26", "198.51.100.128/26"),
		rule("BRANCH4-VPN", "KER-BRANCH4", "ESP-AES256-SHA1", "198.51.100.44", "192.0.2.192/27", "198.51.100.192/27"),
		r6,
		rule("LEGACY-VPN", "", "ESP-3DES-MD5", "198.51.100.99", "192.0.2.99", "198.51.100.99"),
		rule("ORPHAN-VPN", "KER-ORPHAN", "ESP-AES256-SHA1", "198.51.100.98", "192.0.2.98", "198.51.100.98"),
		rule("NOOFFER-VPN", "KER-BRANCH1", "", "198.51.100.1", "192.0.2.97", "198.51.100.97"),
	}
	rules[0].RemoteID, rules[1].RemoteID, rules[2].RemoteID = "branch1.example.net", "branch1.example.net", "branch2.example.org"
	rules[3].RemoteID, rules[4].RemoteID = "branch3.example.net", "branch4.example.net"
	rules[1].Protocol, rules[1].SrcPort = 6, 1521
	rules[8].AnchorFilter = "BRANCH1-VPN"

	return &Stack{
		Name: "TCPIP", IPSecurity: true, IPv6Security: true, Logging: true, FilterSet: FilterSetPolicy, NATKeepAlive: 20,
		Interfaces: []Interface{
			{Name: "OSAQDIO1", Addr: ip("192.0.2.10"), Active: true},
			{Name: "OSAQDIO2", Addr: ip("192.0.2.11"), Active: true},
			{Name: "VIPA1", Addr: ip("192.0.2.1"), Active: true, DVIPA: true},
			{Name: "OSAQDIO6", Addr: ip("2001:db8:1::10"), Active: true},
			{Name: "VIPA6", Addr: ip("2001:db8:1::1"), Active: true, DVIPA: true},
			{Name: "OSAQDIO3", Addr: ip("192.0.2.12"), SecClass: 2},
		},
		NSS:            NSS{ClientName: "SYS1_TCPIP", Userid: "NSSCLNT", ServerSysName: "SYS2", Configured: true, CertSelected: true, CertEnabled: true, Connected: true},
		DefaultFilters: def,
		PolicyFilters:  pol,
		IKETunnels:     []IKETunnel{k1, k1old, k2, k3, k3old, k4},
		DynTunnels:     []DynTunnel{y1, y1old, y2, y3, y4, y5, y6},
		ManualTunnels:  []ManualTunnel{m1, m2, m3},
		PortTranslations: []PortTranslation{
			{TunnelID: "Y3", Protocol: 6, RemoteEndpoint: ip("203.0.113.5"), RemoteUDPPort: 4500, RemoteOrigPort: 50212, TranslatedPort: 4097, LocalPort: 443, RemoteOrigAddr: ip("203.0.113.10")},
			{TunnelID: "Y3", Protocol: 17, RemoteEndpoint: ip("203.0.113.5"), RemoteUDPPort: 4500, RemoteOrigPort: 5060, TranslatedPort: 4098, LocalPort: 5060, RemoteOrigAddr: ip("203.0.113.11")},
		},
		DynVpnRules: rules,
		Counters: Counters{
			P1: IKEStats{LclActSuccess: 41, RmtActSuccess: 12, LclActFailure: 5, RmtActFailure: 1, Retransmit: 17},
			P2: IKEStats{LclActSuccess: 388, RmtActSuccess: 97, LclActFailure: 3, RmtActFailure: 2, Retransmit: 9},
		},
	}
}

func demoTCPIPB() *Stack {
	e := demoEpoch
	created := e.Add(-24 * time.Hour)
	f := func(name string, action, proto uint8, v6 bool) Filter {
		return Filter{Name: name, Type: fltGeneric, State: fltActive, Action: action, Scope: scopeLocal,
			Protocol: proto, IPv6: v6, MatchRate: 1, Created: created}
	}
	var def, pol []Filter
	def = append(def, rulePair(f("PROFILE-PERMIT-ALL", actPermit, 0, false), AddrSpec{}, AddrSpec{}, PortRange{}, PortRange{}, 120_400, 118_311)...)
	def = append(def, rulePair(f("PROFILE-PERMIT-ALL6", actPermit, 0, true), AddrSpec{}, AddrSpec{}, PortRange{}, PortRange{}, 2_001, 1_998)...)
	test := f("TEST-VPN", actIPSec, 0, false)
	test.Type, test.VpnAction, test.MatchRate = fltDynamicAnchor, "ESP-AES128-SHA256", 0
	pol = append(pol, rulePair(test, spec("192.0.2.160/28"), spec("203.0.113.160/28"), PortRange{}, PortRange{}, 0, 0)...)
	pol = append(pol, rulePair(f("PERMIT-HTTPS", actPermit, 6, false), spec("192.0.2.161"), AddrSpec{}, ports("443"), ports("1024-65535"), 9_334, 9_120)...)
	pol = append(pol, rulePair(f("PERMIT-HTTPS6", actPermit, 6, true), spec("2001:db8:b::161"), AddrSpec{}, ports("443"), ports("1024-65535"), 1_044, 1_002)...)
	pol = append(pol, rulePair(f("DENY-ALL", actDeny, 0, false), AddrSpec{}, AddrSpec{}, PortRange{}, PortRange{}, 310, 2)...)
	pol = append(pol, rulePair(f("DENY-ALL6", actDeny, 0, true), AddrSpec{}, AddrSpec{}, PortRange{}, PortRange{}, 41, 0)...)

	ike := IKETunnel{ID: "K1", Generation: 1, KeyExchangeRule: "KER-TEST", KeyExchangeAction: "KEA-AES128-SHA256",
		Local: ip("192.0.2.161"), Remote: ip("203.0.113.161"), CanInitP1: true, State: IKEActive, ExchangeMode: modeMain,
		Role: roleInitiator, AuthMethod: authPSK, EncryptAlg: encAESCBC, AuthAlg: authHMACSHA256, DHGroup: 14,
		EncryptKeyLen: 128, LocalIDType: idIPv4, RemoteIDType: idIPv4, LocalID: "192.0.2.161", RemoteID: "203.0.113.161",
		MajorVer: 1, LocalUDPPort: 500, RemoteUDPPort: 500, Lifetime: 8 * time.Hour, Activated: e.Add(-2 * time.Hour),
		Expires: e.Add(6 * time.Hour), InitCookie: 0x1122334455667788, RespCookie: 0x8877665544332211, AutoRefresh: true}
	dyn := DynTunnel{ID: "Y1", Generation: 1, VpnAction: "ESP-AES128-SHA256", LocalDynVpnRule: "TEST-VPN", IKETunnelID: "K1",
		State: TunActive, Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA256, EncryptAlg: encAESCBC,
		EncryptKeyLen: 128, LocalEndpoint: ip("192.0.2.161"), RemoteEndpoint: ip("203.0.113.161"), Activation: activAutoAct,
		Src: spec("192.0.2.160/28"), Dst: spec("203.0.113.160/28"), Lifetime: 2 * time.Hour, Activated: e.Add(-90 * time.Minute),
		Expires: e.Add(30 * time.Minute), EncryptInSPI: 0xb0000101, EncryptOutSPI: 0xb0000102, LocallyInitiated: true,
		Traffic: traffic(8, 8, 700, 30*time.Minute), AutoRefresh: true}
	return &Stack{
		Name: "TCPIPB", IPSecurity: true, IPv6Security: true, FilterSet: FilterSetDefault, NATKeepAlive: 20,
		Interfaces: []Interface{
			{Name: "OSAQDIOB", Addr: ip("192.0.2.161"), Active: true},
			{Name: "OSAQDIOB6", Addr: ip("2001:db8:b::161"), Active: true},
			{Name: "LOOPBACK6", Addr: ip("::1"), Active: true},
		},
		DefaultFilters: def,
		PolicyFilters:  pol,
		IKETunnels:     []IKETunnel{ike},
		DynTunnels:     []DynTunnel{dyn},
		DynVpnRules: []DynVpnRule{{Name: "TEST-VPN", KeyExchangeRule: "KER-TEST", KeyExchangeAction: "KEA-AES128-SHA256",
			AnchorFilter: "TEST-VPN", VpnAction: "ESP-AES128-SHA256", Local: ip("192.0.2.161"), Remote: ip("203.0.113.161"),
			LocalID: "192.0.2.161", RemoteID: "203.0.113.161", Src: spec("192.0.2.160/28"), Dst: spec("203.0.113.160/28"),
			Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA256, EncryptAlg: encAESCBC, EncryptKeyLen: 128,
			Lifetime: 2 * time.Hour, IKELifetime: 8 * time.Hour}},
		Counters: Counters{P1: IKEStats{LclActSuccess: 2}, P2: IKEStats{LclActSuccess: 6, RmtActFailure: 1}},
	}
}
