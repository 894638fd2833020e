package filtermatch

import (
	"net/netip"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// rule is an active outbound local rule for every IPv4 packet; mod narrows
// it.
func rule(mod func(*nmi.IPFilter)) nmi.IPFilter {
	f := nmi.IPFilter{State: nmi.FilterActive, Direction: nmi.DirectionOutbound, Scope: nmi.ScopeLocal,
		Action: nmi.ActionPermit, ICMPType: anyICMP, ICMPCode: anyICMP}
	if mod != nil {
		mod(&f)
	}
	return f
}

// pkt is an outbound local TCP packet 192.0.2.10:40000 -> 10.1.0.5:443;
// mod changes it.
func pkt(mod func(*Packet)) Packet {
	p := Packet{Outbound: true, Src: ip("192.0.2.10"), Dst: ip("10.1.0.5"), Protocol: ProtoTCP,
		SrcPort: 40000, DstPort: 443}
	if mod != nil {
		mod(&p)
	}
	return p
}

func TestMatch(t *testing.T) {
	v6 := func(f *nmi.IPFilter) { f.IPv6 = true }
	v6pkt := func(p *Packet) { p.Src, p.Dst = ip("2001:db8::10"), ip("2001:db8:1::5") }
	dstPrefix := func(a string, bits uint8) func(*nmi.IPFilter) {
		return func(f *nmi.IPFilter) { f.DstAddrFmt, f.DstAddr, f.DstPrefixLen = nmi.AddrPrefix, ip(a), bits }
	}
	dstRange := func(lo, hi string) func(*nmi.IPFilter) {
		return func(f *nmi.IPFilter) { f.DstAddrFmt, f.DstAddr, f.DstAddr2 = nmi.AddrRange, ip(lo), ip(hi) }
	}
	dst := func(a string) func(*Packet) { return func(p *Packet) { p.Dst = ip(a) } }
	icmp := func(typ, code uint8) func(*nmi.IPFilter) {
		return func(f *nmi.IPFilter) { f.Protocol, f.ICMPType, f.ICMPCode = ProtoICMP, typ, code }
	}
	icmpPkt := func(typ, code int) func(*Packet) {
		return func(p *Packet) {
			p.Protocol, p.SrcPort, p.DstPort = ProtoICMP, 0, 0
			if typ >= 0 {
				p.ICMPType, p.HasICMPType = uint8(typ), true
			}
			if code >= 0 {
				p.ICMPCode, p.HasICMPCode = uint8(code), true
			}
		}
	}
	dstPorts := func(lo, hi uint16) func(*nmi.IPFilter) {
		return func(f *nmi.IPFilter) { f.Protocol, f.DstPortLow, f.DstPortHigh = ProtoTCP, lo, hi }
	}
	both := func(a, b func(*nmi.IPFilter)) func(*nmi.IPFilter) {
		return func(f *nmi.IPFilter) { a(f); b(f) }
	}

	for _, c := range []struct {
		name string
		rule func(*nmi.IPFilter)
		pkt  func(*Packet)
		want bool
	}{
		{"any rule, any IPv4 packet", nil, nil, true},
		{"any IPv4 rule, IPv6 packet", nil, v6pkt, false},
		{"IPv4-mapped IPv6 addresses count as IPv4", nil, func(p *Packet) { p.Src, p.Dst = ip("::ffff:192.0.2.10"), ip("::ffff:10.1.0.5") }, true},
		{"outbound rule, inbound packet", nil, func(p *Packet) { p.Outbound = false }, false},
		{"inbound rule, inbound packet", func(f *nmi.IPFilter) { f.Direction = nmi.DirectionInbound }, func(p *Packet) { p.Outbound = false }, true},
		{"inactive rule", func(f *nmi.IPFilter) { f.State = nmi.FilterInactive }, nil, false},
		{"unknown direction code", func(f *nmi.IPFilter) { f.Direction = 9 }, nil, false},

		{"local rule, routed packet", nil, func(p *Packet) { p.Routed = true }, false},
		{"routed rule, local packet", func(f *nmi.IPFilter) { f.Scope = nmi.ScopeRouted }, nil, false},
		{"routed rule, routed packet", func(f *nmi.IPFilter) { f.Scope = nmi.ScopeRouted }, func(p *Packet) { p.Routed = true }, true},
		{"both, routed packet", func(f *nmi.IPFilter) { f.Scope = nmi.ScopeBoth }, func(p *Packet) { p.Routed = true }, true},

		{"host source equal", func(f *nmi.IPFilter) { f.SrcAddrFmt, f.SrcAddr = nmi.AddrHost, ip("192.0.2.10") }, nil, true},
		{"host source differs", func(f *nmi.IPFilter) { f.SrcAddrFmt, f.SrcAddr = nmi.AddrHost, ip("192.0.2.11") }, nil, false},
		// 10.1.0.0/16 holds 10.1.0.0 through 10.1.255.255.
		{"prefix /16, first address", dstPrefix("10.1.0.0", 16), dst("10.1.0.0"), true},
		{"prefix /16, last address", dstPrefix("10.1.0.0", 16), dst("10.1.255.255"), true},
		{"prefix /16, one past the end", dstPrefix("10.1.0.0", 16), dst("10.2.0.0"), false},
		{"prefix /16, one before", dstPrefix("10.1.0.0", 16), dst("10.0.255.255"), false},
		{"prefix /0 holds everything", dstPrefix("0.0.0.0", 0), dst("203.0.113.9"), true},
		{"prefix /32 is one host", dstPrefix("10.1.0.5", 32), nil, true},
		{"prefix longer than the family", dstPrefix("10.1.0.5", 33), nil, false},
		// The range 10.1.0.1-10.1.0.9 includes both ends.
		{"range, low end", dstRange("10.1.0.1", "10.1.0.9"), dst("10.1.0.1"), true},
		{"range, high end", dstRange("10.1.0.1", "10.1.0.9"), dst("10.1.0.9"), true},
		{"range, above", dstRange("10.1.0.1", "10.1.0.9"), dst("10.1.0.10"), false},
		{"range, below", dstRange("10.1.0.1", "10.1.0.9"), dst("10.1.0.0"), false},
		{"range spanning octets", dstRange("10.0.255.250", "10.1.0.5"), dst("10.1.0.0"), true},
		{"unknown address format", func(f *nmi.IPFilter) { f.DstAddrFmt = 7 }, nil, false},

		{"IPv6 rule, IPv6 packet", v6, v6pkt, true},
		{"IPv6 rule, IPv4 packet", v6, nil, false},
		{"IPv6 prefix /48 holds the destination", both(v6, dstPrefix("2001:db8:1::", 48)), v6pkt, true},
		{"IPv6 prefix /48 of another site", both(v6, dstPrefix("2001:db8:2::", 48)), v6pkt, false},
		{"IPv6 range", both(v6, dstRange("2001:db8:1::1", "2001:db8:1::ff")), v6pkt, true},
		{"IPv6 range ends below", both(v6, dstRange("2001:db8:1::1", "2001:db8:1::4")), v6pkt, false},

		{"protocol any", nil, func(p *Packet) { p.Protocol = 50 }, true},
		{"protocol TCP, UDP packet", func(f *nmi.IPFilter) { f.Protocol = ProtoTCP }, func(p *Packet) { p.Protocol = ProtoUDP }, false},
		{"port 443 exactly", dstPorts(443, 443), nil, true},
		{"port 443, packet to 444", dstPorts(443, 443), func(p *Packet) { p.DstPort = 444 }, false},
		{"port range 1024-65535, 1023", func(f *nmi.IPFilter) { f.SrcPortLow, f.SrcPortHigh = 1024, 65535 }, func(p *Packet) { p.SrcPort = 1023 }, false},
		{"port range 1024-65535, 1024", func(f *nmi.IPFilter) { f.SrcPortLow, f.SrcPortHigh = 1024, 65535 }, func(p *Packet) { p.SrcPort = 1024 }, true},
		{"port range, port not given", dstPorts(443, 443), func(p *Packet) { p.DstPort = 0 }, false},
		{"port range 0-65535, port not given", dstPorts(0, 65535), func(p *Packet) { p.DstPort = 0 }, true},

		// ICMP type 8 (echo request) with any code.
		{"ICMP echo request rule, echo request", icmp(8, anyICMP), icmpPkt(8, 0), true},
		{"ICMP echo request rule, echo reply", icmp(8, anyICMP), icmpPkt(0, 0), false},
		{"ICMP type rule, type not given", icmp(8, anyICMP), icmpPkt(-1, -1), false},
		// Type 3 code 4: destination unreachable, fragmentation needed.
		{"ICMP 3/4, packet 3/4", icmp(3, 4), icmpPkt(3, 4), true},
		{"ICMP 3/4, packet 3/1", icmp(3, 4), icmpPkt(3, 1), false},
		{"ICMP 3/4, code not given", icmp(3, 4), icmpPkt(3, -1), false},
		{"ICMP any type and code, nothing given", icmp(anyICMP, anyICMP), icmpPkt(-1, -1), true},
		{"ICMP rule, TCP packet", icmp(anyICMP, anyICMP), nil, false},
		{"ICMP type 0 on a TCP rule is not a selector", func(f *nmi.IPFilter) { f.Protocol, f.ICMPType, f.ICMPCode = ProtoTCP, 0, 0 }, nil, true},
		{"ICMPv6 echo request on IPv6", func(f *nmi.IPFilter) { f.IPv6, f.Protocol, f.ICMPType = true, ProtoICMPv6, 128 },
			func(p *Packet) { v6pkt(p); icmpPkt(128, 0)(p); p.Protocol = ProtoICMPv6 }, true},

		{"OSPF type 1, packet type 1", func(f *nmi.IPFilter) { f.Protocol, f.OSPFType = ProtoOSPF, 1 }, func(p *Packet) { p.Protocol, p.OSPFType = ProtoOSPF, 1 }, true},
		{"OSPF type 1, packet type 4", func(f *nmi.IPFilter) { f.Protocol, f.OSPFType = ProtoOSPF, 1 }, func(p *Packet) { p.Protocol, p.OSPFType = ProtoOSPF, 4 }, false},
		{"TCP connection-initiating rule, other segment", func(f *nmi.IPFilter) { f.Protocol, f.TCPQualifier = ProtoTCP, 1 }, nil, false},
		{"TCP connection-initiating rule, SYN", func(f *nmi.IPFilter) { f.Protocol, f.TCPQualifier = ProtoTCP, 1 }, func(p *Packet) { p.Initiating = true }, true},
		{"security class 5, none given", func(f *nmi.IPFilter) { f.SecClass = 5 }, nil, false},
		{"security class 5, class 5", func(f *nmi.IPFilter) { f.SecClass = 5 }, func(p *Packet) { p.SecClass = 5 }, true},
	} {
		f, p := rule(c.rule), pkt(c.pkt)
		if got := Match(&f, &p); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFirstMatchOrder(t *testing.T) {
	// A stack's rules: a host denied, its /24 sent through a tunnel, a
	// catch-all deny, then a permit that nothing reaches.
	rules := []nmi.IPFilter{
		rule(func(f *nmi.IPFilter) {
			f.Action, f.DstAddrFmt, f.DstAddr = nmi.ActionDeny, nmi.AddrHost, ip("10.1.0.66")
		}),
		rule(func(f *nmi.IPFilter) {
			f.Action, f.DstAddrFmt, f.DstAddr, f.DstPrefixLen = nmi.ActionIPSec, nmi.AddrPrefix, ip("10.1.0.0"), 24
		}),
		rule(func(f *nmi.IPFilter) { f.Action = nmi.ActionDeny }),
		rule(nil),
	}
	for _, c := range []struct {
		name      string
		pkt       func(*Packet)
		want, pos int
	}{
		{"the denied host hits the first rule though the second covers it too", func(p *Packet) { p.Dst = ip("10.1.0.66") }, 0, 1},
		{"another host of the /24", nil, 1, 2},
		{"outside the /24: the catch-all, never the permit after it", func(p *Packet) { p.Dst = ip("10.9.9.9") }, 2, 3},
		{"inbound: no rule", func(p *Packet) { p.Outbound = false }, -1, 0},
	} {
		p := pkt(c.pkt)
		if got := First(rules, &p); got != c.want {
			t.Errorf("%s: First = %d, want %d", c.name, got, c.want)
		}
		// Scan, over the rules as they arrive, stops at the same rule
		// and gives its position in the set, counted from 1.
		s := Scan{Packet: &p}
		pos := 0
		for i := range rules {
			if s.Try(&rules[i]) {
				pos = s.Position()
				break
			}
		}
		if pos != c.pos {
			t.Errorf("%s: Scan position %d, want %d", c.name, pos, c.pos)
		}
	}
	if s := (Scan{Packet: &Packet{}}); s.Position() != 0 {
		t.Errorf("position before any rule: %d", s.Position())
	}
	if got := First(nil, &Packet{}); got != -1 {
		t.Errorf("no rules: %d", got)
	}
}

func TestProtocolSelectors(t *testing.T) {
	for p, want := range map[uint8][2]bool{
		ProtoTCP: {true, false}, ProtoUDP: {true, false}, ProtoSCTP: {true, false},
		ProtoICMP: {false, true}, ProtoICMPv6: {false, true}, 50: {false, false},
	} {
		if TakesPorts(p) != want[0] || TakesICMP(p) != want[1] {
			t.Errorf("protocol %d: ports %v icmp %v, want %v", p, TakesPorts(p), TakesICMP(p), want)
		}
	}
}
