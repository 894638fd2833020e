// Package filtermatch decides which IP filter rule of a stack a packet
// would match, as `ipsec -t` does: the rules are tried in the stack's
// order and the first that matches every selector decides. It works on
// the NMI's filter records (nmi.IPFilter) and does no I/O.
package filtermatch

import (
	"net/netip"

	"github.com/nmigw/nmigw/internal/nmi"
)

// IP protocol numbers with selectors of their own.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoOSPF   = 89
	ProtoSCTP   = 132
)

// Wire values meaning "every value" in a filter record (P.12).
const (
	anyICMP = 255 // NMsIPFltICMPType / Code
	anyOSPF = 0   // NMsIPFltOSPFType
)

// TCPQualifier value of a rule that matches connection-initiating
// segments only (P.12).
const qualifierInitiating = 1

// Packet is the traffic to test. Addresses must be of one family (IPv4
// addresses mapped into IPv6 count as IPv4).
type Packet struct {
	// Outbound is the direction: sent by this host (or routed out), else
	// received.
	Outbound bool
	// Routed marks forwarded traffic; otherwise the host is an endpoint.
	Routed bool
	// Src and Dst are the packet's source and destination addresses.
	Src, Dst netip.Addr
	// Protocol is the IP protocol number (6 TCP, 17 UDP, 1 ICMP...).
	Protocol uint8
	// SrcPort and DstPort (TCP, UDP, SCTP); 0 = not given, which matches
	// only rules that take every port.
	SrcPort, DstPort uint16
	// ICMP type and code (ICMP, ICMPv6), with whether they were given: a
	// rule naming a type or code matches only a packet that gives it.
	ICMPType, ICMPCode       uint8
	HasICMPType, HasICMPCode bool
	// OSPFType (OSPF); 0 = not given.
	OSPFType uint8
	// Initiating marks a connection-initiating TCP segment (SYN without
	// ACK), for rules restricted to those.
	Initiating bool
	// SecClass is the security class of the interface the packet uses;
	// 0 = not given, which matches only rules for every class.
	SecClass uint8
}

// Match reports whether rule f applies to p. Inactive rules never match.
func Match(f *nmi.IPFilter, p *Packet) bool {
	src, dst := p.Src.Unmap(), p.Dst.Unmap()
	switch {
	case f.State != nmi.FilterActive,
		f.Direction != direction(p.Outbound),
		!scopeMatches(f.Scope, p.Routed),
		f.IPv6 != src.Is6(),
		f.SecClass != 0 && f.SecClass != p.SecClass,
		f.Protocol != 0 && f.Protocol != p.Protocol,
		!addrMatches(f.SrcAddrFmt, f.SrcAddr, f.SrcAddr2, f.SrcPrefixLen, src),
		!addrMatches(f.DstAddrFmt, f.DstAddr, f.DstAddr2, f.DstPrefixLen, dst),
		!portMatches(f.SrcPortLow, f.SrcPortHigh, p.SrcPort),
		!portMatches(f.DstPortLow, f.DstPortHigh, p.DstPort):
		return false
	}
	switch f.Protocol {
	case ProtoICMP, ProtoICMPv6:
		if f.ICMPType != anyICMP && (!p.HasICMPType || f.ICMPType != p.ICMPType) ||
			f.ICMPCode != anyICMP && (!p.HasICMPCode || f.ICMPCode != p.ICMPCode) {
			return false
		}
	case ProtoOSPF:
		if f.OSPFType != anyOSPF && f.OSPFType != p.OSPFType {
			return false
		}
	case ProtoTCP:
		if f.TCPQualifier == qualifierInitiating && !p.Initiating {
			return false
		}
	}
	return true
}

// First returns the index of the first rule that matches p, or -1.
func First(rules []nmi.IPFilter, p *Packet) int {
	for i := range rules {
		if Match(&rules[i], p) {
			return i
		}
	}
	return -1
}

// Scan tries the rules of a set one at a time, in the set's order, as
// they arrive (an NMI answer is streamed, not held), and counts them.
type Scan struct {
	Packet *Packet
	n      int
}

// Try reports whether rule f, the next rule of the set, matches the
// packet. The first rule for which Try reports true decides.
func (s *Scan) Try(f *nmi.IPFilter) bool {
	s.n++
	return Match(f, s.Packet)
}

// Position is the position in the set of the rule last tried: 1 for the
// set's first rule, 0 before any.
func (s *Scan) Position() int { return s.n }

func direction(outbound bool) nmi.FilterDirection {
	if outbound {
		return nmi.DirectionOutbound
	}
	return nmi.DirectionInbound
}

func scopeMatches(s nmi.FilterScope, routed bool) bool {
	switch s {
	case nmi.ScopeBoth:
		return true
	case nmi.ScopeLocal:
		return !routed
	case nmi.ScopeRouted:
		return routed
	}
	return false
}

// addrMatches applies one address selector. An unknown format matches
// nothing: a rule the gateway cannot read is never reported as the match.
func addrMatches(format nmi.AddrFormat, lo, hi netip.Addr, bits uint8, a netip.Addr) bool {
	lo, hi = lo.Unmap(), hi.Unmap()
	switch format {
	case nmi.AddrAny:
		return true
	case nmi.AddrHost:
		return a == lo
	case nmi.AddrPrefix:
		p, err := lo.Prefix(int(bits))
		return err == nil && p.Contains(a)
	case nmi.AddrRange:
		return lo.IsValid() && hi.IsValid() && lo.BitLen() == a.BitLen() && hi.BitLen() == a.BitLen() &&
			lo.Compare(a) <= 0 && a.Compare(hi) <= 0
	}
	return false
}

// portMatches applies a port range; 0-0 (or 0-65535, 1-65535) is every
// port, and a port that was not given (0) matches only that.
func portMatches(low, high, port uint16) bool {
	if low == 0 && high == 0 || low <= 1 && high == 65535 {
		return true
	}
	return port != 0 && low <= port && port <= high
}

// TakesPorts reports whether packets of protocol carry ports.
func TakesPorts(protocol uint8) bool {
	return protocol == ProtoTCP || protocol == ProtoUDP || protocol == ProtoSCTP
}

// TakesICMP reports whether packets of protocol carry an ICMP type and
// code.
func TakesICMP(protocol uint8) bool { return protocol == ProtoICMP || protocol == ProtoICMPv6 }
