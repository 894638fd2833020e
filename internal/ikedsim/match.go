package ikedsim

import (
	"net/netip"

	"github.com/nmigw/nmigw/internal/nmi"
)

// subject is what input filters compare for one object (README framing
// rule 7): each request type fills the fields its column names.
type subject struct {
	name, tunnelID string
	v6             bool
	local, remote  AddrSpec
	protocol       uint8
	lport, rport   PortRange
}

// matches applies the contract's rules: no filter records select
// everything; inside one record every criterion present must match (AND);
// an object is selected when any record matches (OR).
func matches(fs []nmi.InFilter, s *subject) bool {
	if len(fs) == 0 {
		return true
	}
	for i := range fs {
		if matchOne(&fs[i], s) {
			return true
		}
	}
	return false
}

func matchOne(f *nmi.InFilter, s *subject) bool {
	switch {
	case f.HasName && !f.Name.Equal(s.name),
		f.HasTunnelID && !f.TunnelID.Equal(s.tunnelID),
		(f.HasLclAddr || f.HasRmtAddr) && f.IPv6 != s.v6,
		f.HasLclAddr && !overlaps(s.local, f.LclAddr, f.LclPrefix),
		f.HasRmtAddr && !overlaps(s.remote, f.RmtAddr, f.RmtPrefix),
		f.HasProtocol && s.protocol != 0 && s.protocol != f.Protocol,
		f.HasLclPort && !inPorts(s.lport, f.LclPort),
		f.HasRmtPort && !inPorts(s.rport, f.RmtPort):
		return false
	}
	return true
}

// overlaps tells whether the object's addresses overlap the filter's
// prefix (prefix length 0: the full address alone). "Any" overlaps all.
func overlaps(a AddrSpec, addr netip.Addr, prefix uint8) bool {
	lo, hi, ok := a.bounds()
	if !ok {
		return true
	}
	bits := int(prefix)
	if bits == 0 {
		bits = addr.BitLen()
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return false
	}
	plo, phi := p.Addr(), lastAddr(p)
	return !hi.Less(plo) && !phi.Less(lo)
}

func inPorts(r PortRange, port uint16) bool {
	if r.Low == 0 && r.High == 0 {
		return true
	}
	return r.Low <= port && port <= r.High
}

func host(a netip.Addr) AddrSpec { return AddrSpec{Format: AddrSingle, Addr: a} }

func onePort(p uint16) PortRange { return PortRange{p, p} }

func filterSubject(f *Filter) subject {
	s := subject{name: f.Name, tunnelID: f.TunnelID, v6: f.IPv6, protocol: f.Protocol,
		local: f.Src, remote: f.Dst, lport: f.SrcPorts, rport: f.DstPorts}
	if f.Direction == dirInbound {
		s.local, s.remote, s.lport, s.rport = f.Dst, f.Src, f.DstPorts, f.SrcPorts
	}
	return s
}

func manualSubject(t *ManualTunnel) subject {
	return subject{name: t.VpnAction, tunnelID: t.ID, v6: t.Local.Is6(), local: host(t.Local), remote: host(t.Remote)}
}

func dynSubject(t *DynTunnel) subject {
	return subject{name: t.LocalDynVpnRule, tunnelID: t.ID, v6: t.LocalEndpoint.Is6(), local: t.Src, remote: t.Dst,
		protocol: t.Protocol, lport: onePort(t.SrcPort), rport: onePort(t.DstPort)}
}

func ikeSubject(t *IKETunnel) subject {
	return subject{name: t.KeyExchangeRule, tunnelID: t.ID, v6: t.Local.Is6(), local: host(t.Local), remote: host(t.Remote)}
}

func portTransSubject(p *PortTranslation) subject {
	return subject{tunnelID: p.TunnelID, remote: host(p.RemoteEndpoint), protocol: p.Protocol,
		lport: onePort(p.LocalPort), rport: onePort(p.RemoteOrigPort)}
}
