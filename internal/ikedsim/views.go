package ikedsim

import (
	"slices"
	"time"
)

// Snapshots of the model, taken under its lock and safe to read after it
// is released: slices that the model never changes in place are shared,
// everything else is copied.

// Stacks returns the stacks in data set order, each with its interfaces and
// NSS settings (the filter and tunnel slices are nil).
func (m *Model) Stacks() []Stack {
	m.lock()
	defer m.mu.Unlock()
	out := make([]Stack, len(m.stacks))
	for i, s := range m.stacks {
		out[i] = s.hdr
		out[i].Interfaces = s.ifaces
	}
	return out
}

// Stack returns one stack as Stacks does.
func (m *Model) Stack(name string) (Stack, bool) {
	m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return Stack{}, false
	}
	st := s.hdr
	st.Interfaces = s.ifaces
	return st, true
}

// Statistics is one stack's NMsecStatistics: gauges computed now and the
// cumulative counters.
type Statistics struct {
	P1Active, P1InProgress, P1Expired uint32
	P2Active, P2InProgress, P2Expired uint32
	Counters
}

// Summary returns the stack's statistics.
func (m *Model) Summary(name string) (Statistics, bool) {
	m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return Statistics{}, false
	}
	st := Statistics{Counters: s.hdr.Counters}
	for _, t := range s.ike {
		switch t.State {
		case IKEActive:
			st.P1Active++
		case IKEPending, IKENegotiating:
			st.P1InProgress++
		case IKEExpired:
			st.P1Expired++
		}
	}
	for _, t := range s.dyn {
		st.P2Active, st.P2InProgress, st.P2Expired = gauge(t.State, st.P2Active, st.P2InProgress, st.P2Expired)
	}
	return st, true
}

func gauge(s IPTunState, active, progress, expired uint32) (uint32, uint32, uint32) {
	switch s {
	case TunActive:
		active++
	case TunPending, TunNegotiating:
		progress++
	case TunExpired:
		expired++
	}
	return active, progress, expired
}

// FilterSource selects the filter set a display request reads.
type FilterSource uint8

// Filter sources of NMsec_GET_IPFLTCURR, _IPFLTDEFAULT and _IPFLTPOLICY.
const (
	SourceCurrent FilterSource = iota
	SourceDefault
	SourcePolicy
)

// FilterList is a snapshot of one filter set. The current set of a stack
// whose policy filters are in effect also holds the dynamic filters of its
// active dynamic tunnels, in the place of the dynamic anchor filter of the
// tunnel's LocalDynVpnRule: right before the anchor, which catches what
// none of them takes (at the end when there is no anchor).
type FilterList struct {
	static  []Filter
	inSet   time.Duration       // how long the set has been in effect: match counts grow by it
	dynamic map[string][]Filter // anchor filter name -> dynamic filters
	tail    []Filter
}

// Filters returns a snapshot of one of the stack's filter sets.
func (m *Model) Filters(name string, src FilterSource) (*FilterList, bool) {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, false
	}
	set := FilterSetDefault
	switch src {
	case SourceCurrent:
		set = s.hdr.FilterSet
	case SourcePolicy:
		set = FilterSetPolicy
	}
	l := &FilterList{static: s.deflt, inSet: s.setSeconds(set, now)}
	if set == FilterSetPolicy {
		l.static = s.policy
	}
	if src == SourceCurrent && set == FilterSetPolicy {
		l.dynamic, l.tail = s.dynamicFilters(now)
	}
	return l, true
}

// dynamicFilters builds the dynamic filters of the active dynamic tunnels.
func (s *stackState) dynamicFilters(now time.Time) (map[string][]Filter, []Filter) {
	anchors := map[string]bool{}
	for i := range s.policy {
		if s.policy[i].Type == fltDynamicAnchor {
			anchors[s.policy[i].Name] = true
		}
	}
	dyn := map[string][]Filter{}
	var tail []Filter
	for _, d := range s.dyn {
		if d.State != TunActive {
			continue
		}
		anchor := d.LocalDynVpnRule
		if r := s.rule(d.LocalDynVpnRule); r != nil && r.AnchorFilter != "" {
			anchor = r.AnchorFilter
		}
		tr := d.Traffic.at(d.flowing, now)
		out := Filter{Name: anchor, VpnAction: d.VpnAction, TunnelID: d.ID, IPv6: d.LocalEndpoint.Is6(),
			Type: fltDynamic, State: fltActive, Action: actIPSec, Scope: scopeLocal, Direction: dirOutbound,
			Protocol: d.Protocol, Src: d.Src, Dst: d.Dst, SrcPorts: PortRange{d.SrcPort, d.SrcPort},
			DstPorts: PortRange{d.DstPort, d.DstPort}, ICMPType: 255, ICMPCode: 255,
			MatchCount: tr.OutPackets, Created: d.Installed}
		in := out
		in.Direction = dirInbound
		in.Src, in.Dst, in.SrcPorts, in.DstPorts = out.Dst, out.Src, out.DstPorts, out.SrcPorts
		in.MatchCount = tr.InPackets
		if anchors[anchor] {
			n := uint32(len(dyn[anchor]))
			out.NameExt, in.NameExt = n+1, n+2
			dyn[anchor] = append(dyn[anchor], out, in)
		} else {
			n := uint32(len(tail))
			out.NameExt, in.NameExt = n+1, n+2
			tail = append(tail, out, in)
		}
	}
	return dyn, tail
}

func (s *stackState) rule(name string) *DynVpnRule {
	for i := range s.rules {
		if s.rules[i].Name == name {
			return &s.rules[i]
		}
	}
	return nil
}

// Each calls fn with every filter in order, its match count as of the
// snapshot. f is valid only during the call. An error from fn stops it.
func (l *FilterList) Each(fn func(f *Filter) error) error {
	var cur Filter
	done := map[string]bool{}
	for i := range l.static {
		// The dynamic filters stand in their anchor's place: the stack
		// tries them first, and the anchor catches what none of them takes.
		if name := l.static[i].Name; l.static[i].Type == fltDynamicAnchor && !done[name] {
			done[name] = true
			for j := range l.dynamic[name] {
				cur = l.dynamic[name][j]
				if err := fn(&cur); err != nil {
					return err
				}
			}
		}
		cur = l.static[i]
		cur.MatchCount += grown(cur.MatchRate, l.inSet)
		if err := fn(&cur); err != nil {
			return err
		}
	}
	for i := range l.tail {
		cur = l.tail[i]
		if err := fn(&cur); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of filters Each yields.
func (l *FilterList) Len() int {
	n := len(l.static) + len(l.tail)
	for _, d := range l.dynamic {
		n += len(d)
	}
	return n
}

// ManualTunnels returns the stack's manual tunnels with their counters now.
func (m *Model) ManualTunnels(name string) ([]ManualTunnel, bool) {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, false
	}
	out := make([]ManualTunnel, len(s.man))
	for i, t := range s.man {
		out[i] = t.ManualTunnel
		out[i].Traffic = t.Traffic.at(t.flowing, now)
	}
	return out, true
}

// DynTunnels returns the stack's dynamic tunnels (every state), families
// together and newest generation first, with their counters now.
func (m *Model) DynTunnels(name string) ([]DynTunnel, bool) {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, false
	}
	return s.dynCopies(now), true
}

func (s *stackState) dynCopies(now time.Time) []DynTunnel {
	out := make([]DynTunnel, len(s.dyn))
	for i, t := range s.dyn {
		out[i] = t.DynTunnel
		out[i].Traffic = t.Traffic.at(t.flowing, now)
	}
	return out
}

// IKEView is one IKE tunnel generation as NMsec_GET_IKETUN shows it: the
// phase 2 gauges and bytes count the family's dynamic tunnels on its
// newest generation, and Dyn holds them there when cascading.
type IKEView struct {
	IKETunnel
	P2Active, P2InProgress, P2Expired uint32
	Dyn                               []DynTunnel
}

// IKETunnels returns the stack's IKE tunnels, families together and newest
// generation first. With cascade, the newest generation of each family
// carries the family's dynamic tunnels.
func (m *Model) IKETunnels(name string, cascade bool) ([]IKEView, bool) {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, false
	}
	byFamily := map[string][]DynTunnel{}
	for _, d := range s.dynCopies(now) {
		byFamily[d.IKETunnelID] = append(byFamily[d.IKETunnelID], d)
	}
	out := make([]IKEView, len(s.ike))
	for i, t := range s.ike {
		v := IKEView{IKETunnel: t.IKETunnel}
		if i == 0 || s.ike[i-1].ID != t.ID { // newest of its family
			var family uint64
			for _, d := range byFamily[t.ID] {
				v.P2Active, v.P2InProgress, v.P2Expired = gauge(d.State, v.P2Active, v.P2InProgress, v.P2Expired)
				family += d.Traffic.InBytes + d.Traffic.OutBytes
			}
			v.Bytes = t.shownBytes(family)
			if cascade {
				v.Dyn = byFamily[t.ID]
			}
		}
		out[i] = v
	}
	return out, true
}

// PortTranslations returns the stack's NAT traversal port translations.
func (m *Model) PortTranslations(name string) ([]PortTranslation, bool) {
	m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, false
	}
	return slices.Clip(s.porttr), true
}

// Rules returns the stack's LocalDynVpnRules with what activating each
// would answer now (StatusStateUpdated when it would start).
func (m *Model) Rules(name string) ([]DynVpnRule, []TunStatus, bool) {
	m.lock()
	defer m.mu.Unlock()
	s := m.stack(name)
	if s == nil {
		return nil, nil, false
	}
	st := make([]TunStatus, len(s.rules))
	for i := range s.rules {
		st[i] = s.activationAnswer(&s.rules[i])
	}
	return slices.Clip(s.rules), st, true
}

// activationAnswer is what NMsec_ACT_DYNTUN answers for r, before looking
// at tunnels already active.
func (s *stackState) activationAnswer(r *DynVpnRule) TunStatus {
	if r.KeyExchangeRule == "" {
		return StatusNoKER
	}
	found := false
	if s.policyInEffect() {
		for i := range s.policy {
			if s.policy[i].Type == fltDynamicAnchor && s.policy[i].Name == r.AnchorFilter {
				found = true
				break
			}
		}
	}
	if !found {
		return StatusNoFilter
	}
	if r.VpnAction == "" {
		return StatusNoDataOffer
	}
	return StatusStateUpdated
}
