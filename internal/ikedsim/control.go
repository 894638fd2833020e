package ikedsim

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// ControlRecord is one NMsecTunnel of a control request and its answer.
// Name is the IpManVpnAction (manual), LocalDynVpnRule (dynamic) or
// KeyExchangeRule (IKE) name.
type ControlRecord struct {
	Name, TunnelID string
	Status         TunStatus
}

// Control carries out control request t (201-207) on a stack and answers
// one record per request record, in order. No records act on every
// eligible object: those not in the requested state already. ok is false
// for an unknown stack. A successful answer means the action has started:
// activations go through pending and negotiation over Timing.
func (m *Model) Control(stack string, t nmi.MsgType, recs []ControlRecord) (out []ControlRecord, ok bool) {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(stack)
	if s == nil {
		return nil, false
	}
	if len(recs) == 0 {
		recs = s.eligible(t)
	}
	out = make([]ControlRecord, len(recs))
	for i, r := range recs {
		out[i] = r
		switch t {
		case nmi.ActManTun, nmi.DeactManTun:
			out[i] = m.manual(s, r, t == nmi.ActManTun, now)
		case nmi.ActDynTun:
			out[i] = m.activateDyn(s, r, now)
		case nmi.DeactDynTun:
			out[i] = m.deactivateDyn(s, r, now)
		case nmi.RefreshDynTun:
			out[i] = m.refreshDynFamily(s, r, now)
		case nmi.DeactIKETun:
			out[i] = m.deactivateIKE(s, r, now)
		case nmi.RefreshIKETun:
			out[i] = m.refreshIKEFamily(s, r, now)
		default:
			out[i].Status = StatusNotFound
		}
	}
	return out, true
}

// eligible lists the objects a control request without records acts on.
func (s *stackState) eligible(t nmi.MsgType) []ControlRecord {
	var out []ControlRecord
	switch t {
	case nmi.ActManTun, nmi.DeactManTun:
		for _, mt := range s.man {
			if (mt.State == TunActive) == (t == nmi.DeactManTun) {
				out = append(out, ControlRecord{Name: mt.VpnAction, TunnelID: mt.ID})
			}
		}
	case nmi.ActDynTun:
		for _, r := range s.rules {
			if s.liveDynOfRule(r.Name) == nil {
				out = append(out, ControlRecord{Name: r.Name})
			}
		}
	case nmi.DeactDynTun, nmi.RefreshDynTun:
		for _, d := range newestOf(s.dyn, dynID, func(d *dynSA) bool {
			return d.State == TunActive || t == nmi.DeactDynTun && d.State != TunExpired
		}) {
			out = append(out, ControlRecord{Name: d.LocalDynVpnRule, TunnelID: d.ID})
		}
	case nmi.DeactIKETun, nmi.RefreshIKETun:
		for _, k := range newestOf(s.ike, ikeID, func(k *ikeSA) bool {
			return k.State == IKEActive || t == nmi.DeactIKETun && k.State != IKEExpired
		}) {
			out = append(out, ControlRecord{Name: k.KeyExchangeRule, TunnelID: k.ID})
		}
	}
	return out
}

// selects tells whether an object with this name and tunnel ID is the one
// a control record names: every field given must match.
func selects(r ControlRecord, name, id string) bool {
	return (r.Name != "" || r.TunnelID != "") && (r.Name == "" || r.Name == name) && (r.TunnelID == "" || r.TunnelID == id)
}

func (m *Model) manual(s *stackState, r ControlRecord, activate bool, now time.Time) ControlRecord {
	r.Status = StatusNotFound
	if activate && r.Name == "" {
		return r // activation needs the IpManVpnAction name
	}
	for _, mt := range s.man {
		if !selects(r, mt.VpnAction, mt.ID) {
			continue
		}
		r.Name, r.TunnelID = mt.VpnAction, mt.ID
		if (mt.State == TunActive) == activate {
			r.Status = StatusStateAlreadySet
			return r
		}
		mt.setFlow(now, false)
		if activate {
			mt.State, mt.Activated = TunActive, now
			mt.Traffic = Traffic{OutRate: mt.Traffic.OutRate, InRate: mt.Traffic.InRate, PacketSize: mt.Traffic.PacketSize}
		} else {
			mt.State = TunInactive
		}
		mt.setFlow(now, s.policyInEffect())
		r.Status = StatusStateUpdated
		return r
	}
	return r
}

// liveDynOfRule is the newest dynamic tunnel of the rule that is active
// or on its way there.
func (s *stackState) liveDynOfRule(rule string) *dynSA {
	for _, d := range s.dyn {
		if d.LocalDynVpnRule == rule && d.State != TunExpired {
			return d
		}
	}
	return nil
}

// activateDyn starts a dynamic tunnel for a LocalDynVpnRule, and its IKE
// tunnel when the rule's KeyExchangeRule has none that is usable.
func (m *Model) activateDyn(s *stackState, r ControlRecord, now time.Time) ControlRecord {
	rule := s.rule(r.Name)
	if rule == nil || r.TunnelID != "" && s.newestDyn(r.TunnelID) == nil {
		r.Status = StatusNotFound
		return r
	}
	if st := s.activationAnswer(rule); st != StatusStateUpdated {
		r.Status = st
		return r
	}
	if d := s.liveDynOfRule(rule.Name); d != nil {
		r.TunnelID, r.Status = d.ID, StatusStateAlreadySet
		return r
	}
	ike := s.usableIKE(rule.KeyExchangeRule)
	if ike == nil {
		ike = m.startIKE(s, rule, now)
	}
	life := rule.Lifetime
	if life <= 0 {
		life = time.Hour
	}
	d := &dynSA{DynTunnel: DynTunnel{ID: "Y" + strconv.Itoa(s.nextY), Generation: 1, VpnAction: rule.VpnAction,
		LocalDynVpnRule: rule.Name, IKETunnelID: ike.ID, State: TunPending, Encap: rule.Encap,
		AuthProto: rule.AuthProto, AuthAlg: rule.AuthAlg, EncryptAlg: rule.EncryptAlg, EncryptKeyLen: rule.EncryptKeyLen,
		LocalEndpoint: rule.Local, RemoteEndpoint: rule.Remote, Activation: activUser, PFSGroup: rule.PFSGroup,
		Protocol: rule.Protocol, Src: rule.Src, Dst: rule.Dst, SrcPort: rule.SrcPort, DstPort: rule.DstPort,
		Lifetime: life, LocallyInitiated: true, AutoRefresh: true,
		Traffic: Traffic{OutRate: 50, InRate: 60, PacketSize: 700}}}
	s.nextY++
	s.newSPIs(&d.DynTunnel)
	if ike.State == IKEActive {
		d.Next = now.Add(m.timing.Pending)
	}
	s.dyn = append(s.dyn, d)
	m.scheduleDyn(s, d)
	r.Name, r.TunnelID, r.Status = rule.Name, d.ID, StatusStateUpdated
	return r
}

// usableIKE is the newest IKE tunnel of the key exchange rule that is
// active or being negotiated.
func (s *stackState) usableIKE(ker string) *ikeSA {
	for _, k := range s.ike {
		if k.KeyExchangeRule == ker && k.State != IKEExpired && s.newestIKE(k.ID) == k {
			return k
		}
	}
	return nil
}

func idTypeOf(id string) uint8 {
	if a, err := netip.ParseAddr(id); err == nil {
		if a.Is4() {
			return idIPv4
		}
		return idIPv6
	}
	return idFQDN
}

func (m *Model) startIKE(s *stackState, r *DynVpnRule, now time.Time) *ikeSA {
	life := r.IKELifetime
	if life <= 0 {
		life = 8 * time.Hour
	}
	k := &ikeSA{IKETunnel: IKETunnel{ID: "K" + strconv.Itoa(s.nextK), Generation: 1, KeyExchangeRule: r.KeyExchangeRule,
		KeyExchangeAction: r.KeyExchangeAction, Local: r.Local, Remote: r.Remote, CanInitP1: true, State: IKEPending,
		ExchangeMode: modeMain, Role: roleInitiator, AuthMethod: authPSK, EncryptAlg: encAESCBC, AuthAlg: authHMACSHA1,
		DHGroup: 14, EncryptKeyLen: 256, LocalID: r.LocalID, RemoteID: r.RemoteID, MajorVer: 1,
		LocalUDPPort: 500, RemoteUDPPort: 500, Lifetime: life, AutoRefresh: true, Next: now.Add(m.timing.Pending)}}
	if k.LocalID != "" {
		k.LocalIDType = idTypeOf(k.LocalID)
	}
	if k.RemoteID != "" {
		k.RemoteIDType = idTypeOf(k.RemoteID)
	}
	s.nextK++
	k.InitCookie, k.RespCookie = s.cookie(k.ID, 1, 1), s.cookie(k.ID, 1, 2)
	s.ike = append(s.ike, k)
	m.scheduleIKE(s, k)
	return k
}

// newestOf returns the newest SA of each family (families are kept
// together, newest first) for which keep holds.
func newestOf[T any](ts []T, id func(T) string, keep func(T) bool) []T {
	var out []T
	for i, t := range ts {
		if (i == 0 || id(ts[i-1]) != id(t)) && keep(t) {
			out = append(out, t)
		}
	}
	return out
}

func dynID(d *dynSA) string { return d.ID }
func ikeID(k *ikeSA) string { return k.ID }

// dynFamilies are the newest SAs of the dynamic tunnel families r names.
func (s *stackState) dynFamilies(r ControlRecord) []*dynSA {
	return newestOf(s.dyn, dynID, func(d *dynSA) bool { return selects(r, d.LocalDynVpnRule, d.ID) })
}

// deactivateDyn removes the SAs of the named tunnels (their dynamic
// filters go with them). Tunnels that have only expired SAs are already
// inactive.
func (m *Model) deactivateDyn(s *stackState, r ControlRecord, now time.Time) ControlRecord {
	fams := s.dynFamilies(r)
	r.Status = StatusNotFound
	for _, d := range fams {
		if r.TunnelID == "" && len(fams) == 1 {
			r.TunnelID = d.ID
		}
		if d.State == TunExpired {
			if r.Status == StatusNotFound {
				r.Status = StatusStateAlreadySet
			}
			continue
		}
		r.Status = StatusStateUpdated
		id := d.ID
		s.dyn = slices.DeleteFunc(s.dyn, func(x *dynSA) bool {
			if x.ID != id {
				return false
			}
			x.Traffic.settle(x.flowing, now)
			x.gone = true
			return true
		})
	}
	return r
}

// refreshDynFamily replaces the active SA of each named tunnel with a new
// generation; the old one expires.
func (m *Model) refreshDynFamily(s *stackState, r ControlRecord, now time.Time) ControlRecord {
	r.Status = StatusNotFound
	for _, d := range s.dynFamilies(r) {
		if d.State == TunActive {
			m.refreshDyn(s, d, now)
			r.Status, r.TunnelID = StatusStateUpdated, d.ID
		}
	}
	return r
}

// ikeFamilies are the newest SAs of the IKE tunnel families r names.
func (s *stackState) ikeFamilies(r ControlRecord) []*ikeSA {
	return newestOf(s.ike, ikeID, func(k *ikeSA) bool { return selects(r, k.KeyExchangeRule, k.ID) })
}

// deactivateIKE ends the named IKE tunnels: their SAs expire (README rule
// 15: an expired IKE tunnel counts as inactive).
func (m *Model) deactivateIKE(s *stackState, r ControlRecord, now time.Time) ControlRecord {
	r.Status = StatusNotFound
	for _, k := range s.ikeFamilies(r) {
		if r.TunnelID == "" {
			r.TunnelID = k.ID
		}
		if k.State == IKEExpired {
			if r.Status == StatusNotFound {
				r.Status = StatusStateAlreadySet
			}
			continue
		}
		m.expireIKE(s, k, now)
		r.Status = StatusStateUpdated
	}
	return r
}

func (m *Model) refreshIKEFamily(s *stackState, r ControlRecord, now time.Time) ControlRecord {
	r.Status = StatusNotFound
	for _, k := range s.ikeFamilies(r) {
		if k.State == IKEActive {
			m.refreshIKE(s, k, now)
			r.Status, r.TunnelID = StatusStateUpdated, k.ID
		}
	}
	return r
}

// LoadPolicy starts switching the stack to filter set fs; the switch is
// done Timing.Switch later (NMsec_LOAD_POLICY). ok is false for an unknown
// stack.
func (m *Model) LoadPolicy(stack string, fs FilterSet) bool {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(stack)
	if s == nil {
		return false
	}
	s.pendingSet++
	gen := s.pendingSet
	m.schedule(now.Add(m.timing.Switch), func(at time.Time) {
		if s.pendingSet == gen { // a later request wins
			s.switchSet(fs, at)
		}
	})
	return true
}

// RestartStack simulates a restart of a TCP/IP stack: the stack loses its
// dynamic and manual SAs; IKED keeps its IKE tunnels, its counters and the
// filter set chosen with NMsec_LOAD_POLICY.
func (m *Model) RestartStack(stack string) bool {
	now := m.lock()
	defer m.mu.Unlock()
	s := m.stack(stack)
	if s == nil {
		return false
	}
	for _, d := range s.dyn {
		d.gone = true
	}
	s.dyn = nil
	for _, mt := range s.man {
		mt.setFlow(now, false)
		mt.State = TunInactive
	}
	return true
}
