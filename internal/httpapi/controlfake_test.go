package httpapi_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/nmi"
)

// ctlFake stands in for *nmi.Pool at the httpapi->nmi boundary with state
// that control requests change. As with the IKE daemon, a control answer
// only starts the change: it takes effect after lag more display
// requests (never, when lag < 0).
type ctlFake struct {
	t *testing.T

	mu        sync.Mutex
	calls     []nmi.Request
	lag       int
	pending   []pendingChange
	filterSet nmi.FilterSet
	ike       []*fakeTun
	dyn       []*fakeTun
	man       []*fakeTun
	rules     map[string]nmi.TunStatus // LocalDynVpnRule -> activation status
	filters   []nmi.IPFilter
	nextY     int
	failCtl   error // answered to control requests
}

type pendingChange struct {
	after int
	apply func()
}

// fakeTun is one generation of a tunnel. For IKE tunnels state holds
// IKETunState values, for the others IPTunState values.
type fakeTun struct {
	id, name string
	gen      uint32
	state    uint8
}

const fakeStack = "TCPIP"

func newCtlFake(t *testing.T) *ctlFake {
	return &ctlFake{t: t, lag: 1, filterSet: nmi.FilterSetPolicy,
		ike: []*fakeTun{
			{"K1", "KER1", 1, uint8(nmi.IKETunActive)},
			{"K2", "KER2", 1, uint8(nmi.IKETunExpired)},
		},
		dyn: []*fakeTun{{"Y1", "RULE1", 1, uint8(nmi.IPTunActive)}},
		man: []*fakeTun{
			{"M1", "MANVPN1", 0, uint8(nmi.IPTunInactive)},
			{"M2", "MANVPN2", 0, uint8(nmi.IPTunActive)},
		},
		rules: map[string]nmi.TunStatus{"RULE1": nmi.TunStatusStateUpdated, "RULE2": nmi.TunStatusStateUpdated,
			"NOKER": nmi.TunStatusNoKER, "NOFLT": nmi.TunStatusNoFilter, "NODATA": nmi.TunStatusNoDataOffer},
		nextY: 2,
	}
}

// controlCalls returns the control requests the fake has seen.
func (f *ctlFake) controlCalls() []nmi.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []nmi.Request
	for _, c := range f.calls {
		if c.Type.IsControl() {
			out = append(out, c)
		}
	}
	return out
}

func (f *ctlFake) later(fn func()) {
	if f.lag < 0 {
		return
	}
	f.pending = append(f.pending, pendingChange{f.lag, fn})
}

// tick counts one display request: changes whose time has come apply.
func (f *ctlFake) tick() {
	var keep []pendingChange
	for _, p := range f.pending {
		if p.after <= 0 {
			p.apply()
			continue
		}
		p.after--
		keep = append(keep, p)
	}
	f.pending = keep
}

func (f *ctlFake) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	f.mu.Lock()
	f.calls = append(f.calls, *req)
	recs, err := f.answer(req)
	f.mu.Unlock()
	h := nmi.Header{Version: 1, Type: req.Type}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return h, err
	}
	for _, b := range recs {
		rec, err := nmi.ParseRecord(b)
		if err != nil {
			f.t.Errorf("fake: encoded record does not parse: %v", err)
			return h, err
		}
		if err := fn(rec); err != nil {
			return h, err
		}
	}
	return h, nil
}

type appendRec interface{ Append([]byte) ([]byte, error) }

func (f *ctlFake) answer(req *nmi.Request) ([][]byte, error) {
	var out [][]byte
	add := func(r appendRec) {
		b, err := r.Append(nil)
		if err != nil {
			f.t.Fatalf("fake: encode: %v", err)
		}
		out = append(out, b)
	}
	if !req.Type.SystemWide() && req.Target != fakeStack {
		return nil, &nmi.StatusError{Type: req.Type, Rc: nmi.ENXIO}
	}
	if req.Type.IsControl() {
		if f.failCtl != nil {
			return nil, f.failCtl
		}
		if req.Type == nmi.LoadPolicy {
			set := req.Policy.Source
			f.later(func() { f.filterSet = set })
			add(&nmi.PolicySourceRecord{PolicySource: *req.Policy})
			return out, nil
		}
		for _, t := range f.control(req) {
			add(&nmi.TunnelRecord{Tunnel: t})
		}
		return out, nil
	}
	f.tick()
	switch req.Type {
	case nmi.GetIKENSInfo:
	case nmi.GetStackInfo:
		var st nmi.Stack
		_ = st.Name.Set(fakeStack)
		st.FilterSet, st.IPSecurity = f.filterSet, true
		add(&nmi.StackRecord{Stack: st})
	case nmi.GetIKETun:
		for _, t := range f.ike {
			if selected(req, t) {
				var r nmi.IKETunnelRecord
				_ = r.Tunnel.ID.Set(t.id)
				_ = r.Tunnel.KeyExchRule.Set(t.name)
				r.Tunnel.Generation, r.Tunnel.State = t.gen, nmi.IKETunState(t.state)
				r.Tunnel.LclEndpoint, r.Tunnel.RmtEndpoint = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.7")
				add(&r)
			}
		}
	case nmi.GetIPTunDynStack:
		for _, t := range f.dyn {
			if selected(req, t) {
				var r nmi.DynStackRecord
				_ = r.Tunnel.ID.Set(t.id)
				_ = r.Dyn.LocalDynVpnRule.Set(t.name)
				r.Tunnel.Type, r.Tunnel.State, r.Dyn.Generation = nmi.IPTunStack, nmi.IPTunState(t.state), t.gen
				add(&r)
			}
		}
	case nmi.GetIPTunManual:
		for _, t := range f.man {
			if selected(req, t) {
				var r nmi.ManualTunnelRecord
				_ = r.Tunnel.ID.Set(t.id)
				_ = r.Tunnel.VPNAction.Set(t.name)
				r.Tunnel.Type, r.Tunnel.State = nmi.IPTunManual, nmi.IPTunState(t.state)
				add(&r)
			}
		}
	case nmi.GetIPFltCurr:
		for i := range f.filters {
			add(&nmi.FilterRecord{Filter: f.filters[i]})
		}
	default:
		return nil, &nmi.StatusError{Type: req.Type, Rc: nmi.EINVAL, Rsn: nmi.RsnBadType}
	}
	return out, nil
}

// selected applies name and tunnel ID criteria.
func selected(req *nmi.Request, t *fakeTun) bool {
	if len(req.Filters) == 0 {
		return true
	}
	for _, f := range req.Filters {
		if (!f.HasName || f.Name.Equal(t.name)) && (!f.HasTunnelID || f.TunnelID.Equal(t.id)) {
			return true
		}
	}
	return false
}

func ikeLive(t *fakeTun) bool { return nmi.IKETunState(t.state) != nmi.IKETunExpired }
func ipLive(t *fakeTun) bool {
	s := nmi.IPTunState(t.state)
	return s == nmi.IPTunPending || s == nmi.IPTunIncomplete || s == nmi.IPTunActive
}

// family returns the generations of id, newest first.
func family(ts []*fakeTun, id string) []*fakeTun {
	var out []*fakeTun
	for _, t := range ts {
		if t.id == id {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *fakeTun) int { return int(b.gen) - int(a.gen) })
	return out
}

// control applies one control request and returns the answer records.
func (f *ctlFake) control(req *nmi.Request) []nmi.Tunnel {
	tunnels := req.Tunnels
	if len(tunnels) == 0 { // all eligible objects
		var pool []*fakeTun
		switch req.Type {
		case nmi.RefreshIKETun, nmi.DeactIKETun:
			pool = f.ike
		case nmi.RefreshDynTun, nmi.DeactDynTun:
			pool = f.dyn
		default:
			pool = f.man
		}
		seen := map[string]bool{}
		for _, t := range pool {
			if !seen[t.id] {
				seen[t.id] = true
				var nt nmi.Tunnel
				_ = nt.TunnelID.Set(t.id)
				_ = nt.Name.Set(t.name)
				tunnels = append(tunnels, nt)
			}
		}
	}
	out := make([]nmi.Tunnel, len(tunnels))
	for i, in := range tunnels {
		out[i] = in
		out[i].Status = f.act(req.Type, &out[i])
	}
	return out
}

func (f *ctlFake) act(t nmi.MsgType, nt *nmi.Tunnel) nmi.TunStatus {
	id, name := nt.TunnelID.String(), nt.Name.String()
	switch t {
	case nmi.RefreshIKETun, nmi.RefreshDynTun:
		ts, active, pending := &f.ike, uint8(nmi.IKETunActive), uint8(nmi.IKETunNegotiating)
		if t == nmi.RefreshDynTun {
			ts, active, pending = &f.dyn, uint8(nmi.IPTunActive), uint8(nmi.IPTunPending)
		}
		fam := family(*ts, id)
		if len(fam) == 0 || fam[0].state != active {
			return nmi.TunStatusNotFound
		}
		_ = nt.Name.Set(fam[0].name)
		old := fam[0]
		next := &fakeTun{id, old.name, old.gen + 1, pending}
		*ts = append(*ts, next)
		f.later(func() { next.state = active })
		return nmi.TunStatusStateUpdated
	case nmi.DeactIKETun, nmi.DeactDynTun:
		ts, live := &f.ike, ikeLive
		if t == nmi.DeactDynTun {
			ts, live = &f.dyn, ipLive
		}
		fam := family(*ts, id)
		if len(fam) == 0 {
			return nmi.TunStatusNotFound
		}
		_ = nt.Name.Set(fam[0].name)
		if !slices.ContainsFunc(fam, live) {
			return nmi.TunStatusStateAlreadySet
		}
		f.later(func() { *ts = slices.DeleteFunc(*ts, func(x *fakeTun) bool { return x.id == id }) })
		return nmi.TunStatusStateUpdated
	case nmi.ActDynTun:
		st, ok := f.rules[name]
		if !ok || id != "" && name == "" {
			return nmi.TunStatusNotFound
		}
		if st != nmi.TunStatusStateUpdated {
			return st
		}
		for _, x := range f.dyn {
			if x.name == name && ipLive(x) {
				_ = nt.TunnelID.Set(x.id)
				return nmi.TunStatusStateAlreadySet
			}
		}
		y := &fakeTun{"Y" + string(rune('0'+f.nextY)), name, 1, uint8(nmi.IPTunPending)}
		f.nextY++
		f.dyn = append(f.dyn, y)
		_ = nt.TunnelID.Set(y.id)
		f.later(func() { y.state = uint8(nmi.IPTunActive) })
		return nmi.TunStatusStateUpdated
	case nmi.ActManTun, nmi.DeactManTun:
		var m *fakeTun
		for _, x := range f.man {
			if name != "" && x.name == name || name == "" && t == nmi.DeactManTun && x.id == id {
				m = x
			}
		}
		if m == nil {
			return nmi.TunStatusNotFound
		}
		want := nmi.IPTunActive
		if t == nmi.DeactManTun {
			want = nmi.IPTunInactive
		}
		if nmi.IPTunState(m.state) == want {
			return nmi.TunStatusStateAlreadySet
		}
		f.later(func() { m.state = uint8(want) })
		return nmi.TunStatusStateUpdated
	}
	return nmi.TunStatusNotFound
}

// memSink is an audit sink in memory; it fails the stage named in failAt.
type memSink struct {
	mu     sync.Mutex
	recs   []audit.Record
	failAt string
}

var errSinkDown = errors.New("audit device gone")

func (m *memSink) Write(r *audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAt == r.Stage {
		return errSinkDown
	}
	m.recs = append(m.recs, *r)
	return nil
}

func (m *memSink) records() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Record(nil), m.recs...)
}
