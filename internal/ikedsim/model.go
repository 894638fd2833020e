package ikedsim

import (
	"container/heap"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Timing sets how fast simulated negotiations and filter set switches go.
type Timing struct {
	Pending     time.Duration // pending -> negotiating; default 1s
	Negotiating time.Duration // negotiating -> active; default 1s
	Switch      time.Duration // NMsec_LOAD_POLICY until the set is in effect; default 1s
}

func (t Timing) withDefaults() Timing {
	if t.Pending <= 0 {
		t.Pending = time.Second
	}
	if t.Negotiating <= 0 {
		t.Negotiating = time.Second
	}
	if t.Switch <= 0 {
		t.Switch = time.Second
	}
	return t
}

// Model is the simulated IKE daemon's state. All methods are safe for
// concurrent use; every answer is a consistent snapshot taken under one
// lock, after time has been moved to the clock's now.
type Model struct {
	mu     sync.Mutex
	clock  func() time.Time
	timing Timing
	system string
	stacks []*stackState
	at     time.Time // the time the model has been advanced to
	events eventQueue
	seq    uint64
}

type stackState struct {
	hdr        Stack // the stack's own fields; its slices are not used
	ifaces     []Interface
	deflt      []Filter // immutable once built: snapshots share them
	policy     []Filter
	porttr     []PortTranslation
	rules      []DynVpnRule
	ike        []*ikeSA // families together, newest generation first
	dyn        []*dynSA
	man        []*manSA
	setSecs    [2]time.Duration // time each filter set was in effect before setSince
	since      time.Time        // when the set in effect went into effect
	nextK      int
	nextY      int
	spi        uint32
	pendingSet int // NMsec_LOAD_POLICY requests so far; the last one wins
}

type ikeSA struct {
	IKETunnel
	base uint64 // bytes of the family's dynamic tunnels when this generation became the newest
	gone bool
}

type dynSA struct {
	DynTunnel
	flowing time.Time // traffic accrues from here; zero = not flowing
	gone    bool
}

type manSA struct {
	ManualTunnel
	flowing time.Time
}

// NewModel builds a model of ds started at clock(): every time in ds moves
// by clock()-ds.Epoch. ds is copied and can be reused. clock nil means
// time.Now.
func NewModel(ds *DataSet, clock func() time.Time, timing Timing) (*Model, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	now := clock()
	shift := now.Sub(ds.Epoch)
	mv := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(shift)
	}
	m := &Model{clock: clock, timing: timing.withDefaults(), system: ds.System, at: now}
	if m.system == "" {
		m.system = "SYS1"
	}
	for _, src := range ds.Stacks {
		s := &stackState{hdr: *src, ifaces: slices.Clone(src.Interfaces), porttr: slices.Clone(src.PortTranslations),
			rules: slices.Clone(src.DynVpnRules), since: now, nextK: 1, nextY: 1, spi: 0x1000}
		s.hdr.Interfaces, s.hdr.DefaultFilters, s.hdr.PolicyFilters = nil, nil, nil
		s.hdr.IKETunnels, s.hdr.DynTunnels, s.hdr.ManualTunnels, s.hdr.PortTranslations, s.hdr.DynVpnRules = nil, nil, nil, nil, nil
		s.deflt = moveFilters(src.DefaultFilters, mv)
		s.policy = moveFilters(src.PolicyFilters, mv)
		for _, t := range src.IKETunnels {
			sa := &ikeSA{IKETunnel: t}
			sa.Activated, sa.Expires, sa.Next = mv(t.Activated), mv(t.Expires), mv(t.Next)
			s.ike = append(s.ike, sa)
			s.nextK = max(s.nextK, idNumber(t.ID)+1)
		}
		for _, t := range src.DynTunnels {
			sa := &dynSA{DynTunnel: t}
			sa.Activated, sa.Expires, sa.Next, sa.Installed = mv(t.Activated), mv(t.Expires), mv(t.Next), mv(t.Installed)
			if sa.State == TunActive && sa.Installed.IsZero() {
				sa.Installed = sa.Activated
			}
			if sa.ExtState == ExtNone {
				sa.ExtState = extState(sa.State, sa.LocallyInitiated)
			}
			s.dyn = append(s.dyn, sa)
			s.nextY = max(s.nextY, idNumber(t.ID)+1)
		}
		for _, t := range src.ManualTunnels {
			sa := &manSA{ManualTunnel: t}
			sa.Activated = mv(t.Activated)
			s.man = append(s.man, sa)
		}
		sortFamilies(s.ike, func(t *ikeSA) (string, uint32) { return t.ID, t.Generation })
		sortFamilies(s.dyn, func(t *dynSA) (string, uint32) { return t.ID, t.Generation })
		m.stacks = append(m.stacks, s)
	}
	for _, s := range m.stacks {
		s.startFlows(now)
		for _, t := range s.ike {
			m.scheduleIKE(s, t)
		}
		for _, t := range s.dyn {
			m.scheduleDyn(s, t)
		}
	}
	return m, nil
}

func moveFilters(src []Filter, mv func(time.Time) time.Time) []Filter {
	out := slices.Clone(src)
	for i := range out {
		out[i].Created = mv(out[i].Created)
	}
	return out
}

// idNumber is n of K<n> or Y<n> (0 if it is not a number).
func idNumber(id string) int {
	n, err := strconv.Atoi(id[1:])
	if err != nil {
		return 0
	}
	return n
}

// sortFamilies orders tunnels by tunnel number, newest generation first,
// keeping the data set's order otherwise.
func sortFamilies[T any](ts []T, key func(T) (string, uint32)) {
	first := map[string]int{}
	for i, t := range ts {
		id, _ := key(t)
		if _, ok := first[id]; !ok {
			first[id] = i
		}
	}
	slices.SortStableFunc(ts, func(a, b T) int {
		ia, ga := key(a)
		ib, gb := key(b)
		if ia != ib {
			return first[ia] - first[ib]
		}
		return int(gb) - int(ga)
	})
}

// System is the MVS system name the model serves.
func (m *Model) System() string { return m.system }

// lock takes the model's lock and moves time to the clock's now. The
// clock never runs backwards for the model.
func (m *Model) lock() time.Time {
	m.mu.Lock()
	now := m.clock()
	if now.Before(m.at) {
		now = m.at
	}
	m.advance(now)
	return now
}

func (m *Model) stack(name string) *stackState {
	for _, s := range m.stacks {
		if s.hdr.Name == name {
			return s
		}
	}
	return nil
}

// HasStack tells whether the model knows the stack.
func (m *Model) HasStack(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stack(name) != nil
}

// ---- flows and counters ----

func (s *stackState) policyInEffect() bool { return s.hdr.FilterSet == FilterSetPolicy }

// startFlows sets which SAs carry traffic from t on.
func (s *stackState) startFlows(t time.Time) {
	for _, d := range s.dyn {
		d.setFlow(t, s.policyInEffect())
	}
	for _, mt := range s.man {
		mt.setFlow(t, s.policyInEffect())
	}
}

func (d *dynSA) setFlow(t time.Time, policy bool) {
	d.Traffic.settle(d.flowing, t)
	d.flowing = time.Time{}
	if policy && d.State == TunActive {
		d.flowing = t
	}
}

func (mt *manSA) setFlow(t time.Time, policy bool) {
	mt.Traffic.settle(mt.flowing, t)
	mt.flowing = time.Time{}
	if policy && mt.State == TunActive {
		mt.flowing = t
	}
}

// grown is the number of units a rate per second produces in d.
func grown(rate uint32, d time.Duration) uint64 {
	if d <= 0 || rate == 0 {
		return 0
	}
	return uint64(d/time.Millisecond) * uint64(rate) / 1000
}

// settle folds the traffic since from into the counters, up to t.
func (tr *Traffic) settle(from, t time.Time) {
	*tr = tr.at(from, t)
}

// at is tr as it stands at t when it has been flowing since from (zero:
// not flowing).
func (tr Traffic) at(from, t time.Time) Traffic {
	if from.IsZero() || !t.After(from) {
		return tr
	}
	size := uint64(tr.PacketSize)
	if size == 0 {
		size = 512
	}
	d := t.Sub(from)
	op, ip := grown(tr.OutRate, d), grown(tr.InRate, d)
	tr.OutPackets += op
	tr.InPackets += ip
	tr.OutBytes += op * size
	tr.InBytes += ip * size
	return tr
}

// setSeconds is how long filter set fs has been in effect up to t.
func (s *stackState) setSeconds(fs FilterSet, t time.Time) time.Duration {
	d := s.setSecs[fs]
	if s.hdr.FilterSet == fs {
		d += t.Sub(s.since)
	}
	return d
}

// switchSet puts filter set fs in effect at t.
func (s *stackState) switchSet(fs FilterSet, t time.Time) {
	if s.hdr.FilterSet == fs {
		return
	}
	s.setSecs[s.hdr.FilterSet] += t.Sub(s.since)
	s.since = t
	s.hdr.FilterSet = fs
	s.startFlows(t)
}

// ---- events ----

type event struct {
	at  time.Time
	seq uint64
	fn  func(t time.Time)
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (m *Model) schedule(at time.Time, fn func(t time.Time)) {
	m.seq++
	heap.Push(&m.events, event{at: at, seq: m.seq, fn: fn})
}

// advance runs every event due up to now, each at its own time.
func (m *Model) advance(now time.Time) {
	for len(m.events) > 0 && !m.events[0].at.After(now) {
		e := heap.Pop(&m.events).(event)
		if e.at.After(m.at) {
			m.at = e.at
		}
		e.fn(m.at)
	}
	if now.After(m.at) {
		m.at = now
	}
}

// refreshAt is when an SA of lifetime l activated at a is refreshed: at
// nine tenths of its life.
func refreshAt(a time.Time, l time.Duration) time.Time {
	return a.Add(l - l/10)
}

// scheduleLife schedules the refresh (with auto) and the expiry of an SA
// active since activated; each happens only if still(the expiry time) holds
// then, so a later change of the SA cancels them.
func (m *Model) scheduleLife(activated time.Time, life time.Duration, expires *time.Time, auto bool,
	still func(exp time.Time) bool, refresh, expire func(at time.Time)) {
	if life <= 0 {
		return
	}
	if expires.IsZero() {
		*expires = activated.Add(life)
	}
	exp := *expires
	if auto {
		m.schedule(refreshAt(activated, life), func(at time.Time) {
			if still(exp) {
				refresh(at)
			}
		})
	}
	m.schedule(exp, func(at time.Time) {
		if still(exp) {
			expire(at)
		}
	})
}

// scheduleIKE schedules what happens next to t by itself.
func (m *Model) scheduleIKE(s *stackState, t *ikeSA) {
	switch t.State {
	case IKEPending, IKENegotiating:
		if t.Next.IsZero() {
			return
		}
		next := t.Next
		m.schedule(next, func(at time.Time) {
			if !t.gone && t.Next.Equal(next) {
				m.ikeStep(s, t, at)
			}
		})
	case IKEActive:
		m.scheduleLife(t.Activated, t.Lifetime, &t.Expires, t.AutoRefresh,
			func(exp time.Time) bool { return !t.gone && t.State == IKEActive && t.Expires.Equal(exp) },
			func(at time.Time) { m.refreshIKE(s, t, at) }, func(at time.Time) { m.expireIKE(s, t, at) })
	}
}

// ikeStep moves a pending or negotiating IKE tunnel one state on.
func (m *Model) ikeStep(s *stackState, t *ikeSA, at time.Time) {
	switch t.State {
	case IKEPending:
		t.State = IKENegotiating
		t.Next = at.Add(m.timing.Negotiating)
	case IKENegotiating:
		t.State = IKEActive
		t.Next = time.Time{}
		t.Activated = at
		t.Expires = at.Add(t.Lifetime)
		s.countIKEActivation(t)
		// Dynamic tunnels waiting for this IKE tunnel start negotiating.
		for _, d := range s.dyn {
			if d.IKETunnelID == t.ID && d.State == TunPending && d.Next.IsZero() && !d.gone {
				d.Next = at
				m.scheduleDyn(s, d)
			}
		}
	default:
		return
	}
	m.scheduleIKE(s, t)
}

// countIKEActivation counts a successful activation (or refresh) of IKE
// tunnel t in the stack's phase 1 counters.
func (s *stackState) countIKEActivation(t *ikeSA) {
	if t.Role == roleResponder {
		s.hdr.Counters.P1.RmtActSuccess++
	} else {
		s.hdr.Counters.P1.LclActSuccess++
	}
}

// expireIKE expires t at at: its expiry time is then, if that is earlier
// than the end of its lifetime (a refresh or a deactivation ends it early).
func (m *Model) expireIKE(s *stackState, t *ikeSA, at time.Time) {
	t.State = IKEExpired
	t.Next = time.Time{}
	if t.Expires.IsZero() || at.Before(t.Expires) {
		t.Expires = at
	}
	m.scheduleIKE(s, t)
}

// refreshIKE replaces active IKE tunnel t with a new generation at once;
// t expires.
func (m *Model) refreshIKE(s *stackState, t *ikeSA, at time.Time) *ikeSA {
	newest := s.newestIKE(t.ID)
	// The generation it replaces keeps the bytes it counted until now; the
	// new one counts from zero.
	family := s.familyBytes(t.ID, at)
	newest.Bytes = newest.shownBytes(family)
	newest.base = family
	n := &ikeSA{IKETunnel: t.IKETunnel, base: family}
	n.Generation = newest.Generation + 1
	n.Activated, n.Expires, n.Next = at, at.Add(t.Lifetime), time.Time{}
	n.State = IKEActive
	n.Bytes = 0
	n.Stats = IKEStats{}
	n.InitCookie = s.cookie(n.ID, n.Generation, 1)
	n.RespCookie = s.cookie(n.ID, n.Generation, 2)
	s.countIKEActivation(n)
	idx := slices.Index(s.ike, newest)
	s.ike = slices.Insert(s.ike, idx, n)
	s.ike = pruneFamily(s.ike, n.ID, func(x *ikeSA) string { return x.ID }, func(x *ikeSA) { x.gone = true })
	if t.State == IKEActive {
		m.expireIKE(s, t, at)
	}
	m.scheduleIKE(s, n)
	return n
}

// familyBytes is what the dynamic tunnels of IKE tunnel family id have
// carried by now.
func (s *stackState) familyBytes(id string, now time.Time) uint64 {
	var n uint64
	for _, d := range s.dyn {
		if d.IKETunnelID == id {
			tr := d.Traffic.at(d.flowing, now)
			n += tr.InBytes + tr.OutBytes
		}
	}
	return n
}

// shownBytes is the bytes the newest generation t shows when its family's
// dynamic tunnels have carried family bytes: its own, and what the family
// carried since it became the newest (dynamic tunnels that went away can
// leave that below the base: then nothing).
func (t *ikeSA) shownBytes(family uint64) uint64 {
	if family < t.base {
		return t.Bytes
	}
	return t.Bytes + family - t.base
}

func (s *stackState) newestIKE(id string) *ikeSA {
	for _, t := range s.ike {
		if t.ID == id && !t.gone {
			return t
		}
	}
	return nil
}

func (s *stackState) newestDyn(id string) *dynSA {
	for _, t := range s.dyn {
		if t.ID == id && !t.gone {
			return t
		}
	}
	return nil
}

// cookie is a deterministic ISAKMP SPI.
func (s *stackState) cookie(id string, gen uint32, which uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s.hdr.Name); i++ {
		h = (h ^ uint64(s.hdr.Name[i])) * 1099511628211
	}
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	h = (h ^ uint64(gen)) * 1099511628211
	return (h ^ which) * 1099511628211
}

// pruneFamily keeps the newest two generations of a family: after a
// refresh, the new one and the one it replaced.
func pruneFamily[T any](ts []T, id string, key func(T) string, drop func(T)) []T {
	n := 0
	return slices.DeleteFunc(ts, func(t T) bool {
		if key(t) != id {
			return false
		}
		n++
		if n > 2 {
			drop(t)
			return true
		}
		return false
	})
}

func (m *Model) scheduleDyn(s *stackState, d *dynSA) {
	switch d.State {
	case TunPending, TunNegotiating:
		if d.Next.IsZero() {
			return
		}
		next := d.Next
		m.schedule(next, func(at time.Time) {
			if !d.gone && d.Next.Equal(next) {
				m.dynStep(s, d, at)
			}
		})
	case TunActive:
		m.scheduleLife(d.Activated, d.Lifetime, &d.Expires, d.AutoRefresh,
			func(exp time.Time) bool { return !d.gone && d.State == TunActive && d.Expires.Equal(exp) },
			func(at time.Time) { m.refreshDyn(s, d, at) }, func(at time.Time) { m.expireDyn(s, d, at) })
	}
}

// dynStep moves a pending or negotiating dynamic tunnel one state on. A
// pending tunnel whose IKE tunnel is not active yet waits for it.
func (m *Model) dynStep(s *stackState, d *dynSA, at time.Time) {
	switch d.State {
	case TunPending:
		if ike := s.newestIKE(d.IKETunnelID); d.IKETunnelID != "" && (ike == nil || ike.State != IKEActive) {
			d.Next = time.Time{} // ikeStep restarts it
			return
		}
		d.State = TunNegotiating
		d.ExtState = extState(d.State, d.LocallyInitiated)
		d.Next = at.Add(m.timing.Negotiating)
	case TunNegotiating:
		d.State = TunActive
		d.ExtState = ExtDone
		d.Next = time.Time{}
		d.Activated, d.Installed = at, at
		d.Expires = at.Add(d.Lifetime)
		s.countDynActivation(d)
		d.setFlow(at, s.policyInEffect())
	default:
		return
	}
	m.scheduleDyn(s, d)
}

// countDynActivation counts a successful activation (or refresh) of
// dynamic tunnel d in the stack's phase 2 counters and its IKE tunnel's.
func (s *stackState) countDynActivation(d *dynSA) {
	if d.LocallyInitiated {
		s.hdr.Counters.P2.LclActSuccess++
	} else {
		s.hdr.Counters.P2.RmtActSuccess++
	}
	if ike := s.newestIKE(d.IKETunnelID); ike != nil {
		if d.LocallyInitiated {
			ike.Stats.LclActSuccess++
		} else {
			ike.Stats.RmtActSuccess++
		}
	}
}

// expireDyn expires d at at, as expireIKE does.
func (m *Model) expireDyn(s *stackState, d *dynSA, at time.Time) {
	d.State = TunExpired
	d.ExtState = ExtDeleted
	d.Next = time.Time{}
	if d.Expires.IsZero() || at.Before(d.Expires) {
		d.Expires = at
	}
	d.setFlow(at, false)
	m.scheduleDyn(s, d)
}

// refreshDyn replaces active dynamic tunnel d with a new generation; d
// expires.
func (m *Model) refreshDyn(s *stackState, d *dynSA, at time.Time) *dynSA {
	n := &dynSA{DynTunnel: d.DynTunnel}
	n.Generation = s.newestDyn(d.ID).Generation + 1
	n.State, n.ExtState = TunActive, ExtDone
	n.Activated, n.Installed, n.Expires, n.Next = at, at, at.Add(d.Lifetime), time.Time{}
	n.Traffic = Traffic{OutRate: d.Traffic.OutRate, InRate: d.Traffic.InRate, PacketSize: d.Traffic.PacketSize}
	s.newSPIs(&n.DynTunnel)
	idx := slices.Index(s.dyn, s.newestDyn(d.ID))
	s.dyn = slices.Insert(s.dyn, idx, n)
	s.dyn = pruneFamily(s.dyn, n.ID, func(x *dynSA) string { return x.ID }, func(x *dynSA) { x.gone = true })
	n.setFlow(at, s.policyInEffect())
	s.countDynActivation(n)
	if d.State == TunActive {
		m.expireDyn(s, d, at)
	}
	m.scheduleDyn(s, n)
	return n
}

// newSPIs gives t fresh SPIs for the protocol it uses.
func (s *stackState) newSPIs(t *DynTunnel) {
	next := func() uint32 { s.spi++; return s.spi }
	t.AuthInSPI, t.AuthOutSPI, t.EncryptInSPI, t.EncryptOutSPI = 0, 0, 0, 0
	if t.AuthProto == protoAH {
		t.AuthInSPI, t.AuthOutSPI = next(), next()
	} else {
		t.EncryptInSPI, t.EncryptOutSPI = next(), next()
	}
}
