package httpapi

import (
	"net/netip"
	"testing"

	"github.com/nmigw/nmigw/internal/filtermatch"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestRuleSearchOrders checks ruleSearch on a set whose dynamic filters
// stand before their anchor (as the simulator lists them) and on the same
// set listed with them after the anchor: the same deciding rule and
// anchor either way, and the places they have in each list.
func TestRuleSearchOrders(t *testing.T) {
	rule := func(name string, typ nmi.FilterType, dir nmi.FilterDirection, tunnel, dst string) nmi.IPFilter {
		var f nmi.IPFilter
		_ = f.Name.Set(name)
		_ = f.TunnelID.Set(tunnel)
		f.Type, f.State, f.Action, f.Direction, f.Scope = typ, nmi.FilterActive, nmi.ActionIPSec, dir, nmi.ScopeLocal
		f.ICMPType, f.ICMPCode = 255, 255
		if dst != "" {
			f.DstAddrFmt, f.DstAddr, f.DstPrefixLen = nmi.AddrPrefix, netip.MustParseAddr(dst), 24
		}
		return f
	}
	out, in := nmi.DirectionOutbound, nmi.DirectionInbound
	permit := rule("PERMIT-DNS", nmi.FilterGeneric, out, "", "198.51.100.0")
	permit.Protocol, permit.Action = 17, nmi.ActionPermit
	anchorOut := rule("VPN", nmi.FilterDynamicAnchor, out, "", "10.1.0.0")
	anchorIn := rule("VPN", nmi.FilterDynamicAnchor, in, "", "")
	dynOut := rule("VPN", nmi.FilterDynamic, out, "Y1", "10.1.0.0")
	dynOut.DstPrefixLen = 25
	dynIn := rule("VPN", nmi.FilterDynamic, in, "Y1", "")
	deny := rule("DENY-ALL", nmi.FilterGeneric, out, "", "")
	deny.Action = nmi.ActionDeny
	before := []nmi.IPFilter{permit, dynOut, dynIn, anchorOut, anchorIn, deny}
	after := []nmi.IPFilter{permit, anchorOut, anchorIn, dynOut, dynIn, deny}
	packet := func(dst string, proto uint8) *filtermatch.Packet {
		return &filtermatch.Packet{Outbound: true, Src: netip.MustParseAddr("192.0.2.10"), Dst: netip.MustParseAddr(dst), Protocol: proto}
	}
	for _, c := range []struct {
		name       string
		set        []nmi.IPFilter
		p          *filtermatch.Packet
		rule       string
		typ        nmi.FilterType
		pos, apos  int
		anchorType nmi.FilterType
	}{
		{"tunnel traffic, dynamic filters first", before, packet("10.1.0.5", 6), "VPN", nmi.FilterDynamic, 2, 4, nmi.FilterDynamicAnchor},
		{"tunnel traffic, anchor first", after, packet("10.1.0.5", 6), "VPN", nmi.FilterDynamic, 4, 2, nmi.FilterDynamicAnchor},
		{"anchor's range beyond the tunnel, dynamic first", before, packet("10.1.0.200", 6), "VPN", nmi.FilterDynamicAnchor, 4, 0, 0},
		{"anchor's range beyond the tunnel, anchor first", after, packet("10.1.0.200", 6), "VPN", nmi.FilterDynamicAnchor, 2, 0, 0},
		{"a static rule before them", before, packet("198.51.100.53", 17), "PERMIT-DNS", nmi.FilterGeneric, 1, 0, 0},
		{"the catch-all after them", after, packet("203.0.113.9", 17), "DENY-ALL", nmi.FilterGeneric, 6, 0, 0},
	} {
		s := ruleSearch{scan: filtermatch.Scan{Packet: c.p}}
		for i := range c.set {
			if s.next(&c.set[i]) {
				break
			}
		}
		got := s.rule.Name.String()
		if !s.found || got != c.rule || s.rule.Type != c.typ || s.position != c.pos {
			t.Errorf("%s: found %v %s type %v at %d, want %s type %v at %d", c.name, s.found, got, s.rule.Type, s.position, c.rule, c.typ, c.pos)
		}
		if c.apos == 0 && isDynamic(s.rule.Type) || c.apos != 0 && (s.anchorPos != c.apos || s.anchor.Type != c.anchorType || s.anchor.Direction != s.rule.Direction) {
			t.Errorf("%s: anchor %v at %d, want at %d", c.name, s.anchor.Type, s.anchorPos, c.apos)
		}
	}
	// Nothing matches: no rule, no anchor.
	s := ruleSearch{scan: filtermatch.Scan{Packet: &filtermatch.Packet{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Protocol: 6}}}
	for i := range before {
		if s.next(&before[i]) {
			break
		}
	}
	if s.found || s.anchorPos != 0 {
		t.Errorf("an IPv6 packet against IPv4 rules: %+v", s)
	}
}
