package httpapi

import (
	"context"
	"sync"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// FakeTunnel is one generation of a tunnel of eventsNMI: Kind is ike,
// dynamic or manual; State one of the API's state names.
type FakeTunnel struct {
	Kind  string
	ID    string
	Gen   uint32
	State string
}

// eventsNMI is an NMI whose one stack, TCPIP, changes between polls: tests
// set its tunnels, its filter set or a failure. The traffic counters of
// dynamic tunnels grow with every request, so every poll differs in
// counters.
type eventsNMI struct {
	f *fakeNMI

	mu      sync.Mutex
	policy  bool
	tunnels []FakeTunnel
	err     error
	n       uint64
}

// NewEventsFake is an eventsNMI with the policy filter set and no tunnels.
func NewEventsFake(t *testing.T) *eventsNMI { return &eventsNMI{f: newFake(t), policy: true} }

// Set replaces the tunnels.
func (e *eventsNMI) Set(ts ...FakeTunnel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tunnels = append([]FakeTunnel(nil), ts...)
}

// SetPolicy selects the policy (true) or default filter set.
func (e *eventsNMI) SetPolicy(p bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policy = p
}

// SetErr makes every request fail with err (nil: answer again).
func (e *eventsNMI) SetErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
}

var (
	fakeIKEStates = map[string]nmi.IKETunState{"pending": nmi.IKETunPending, "negotiating": nmi.IKETunNegotiating,
		"active": nmi.IKETunActive, "expired": nmi.IKETunExpired}
	fakeIPStates = map[string]nmi.IPTunState{"inactive": nmi.IPTunInactive, "pending": nmi.IPTunPending,
		"negotiating": nmi.IPTunIncomplete, "active": nmi.IPTunActive, "expired": nmi.IPTunExpired}
)

func (e *eventsNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	h := nmi.Header{Version: 1, Type: req.Type}
	if err := ctx.Err(); err != nil {
		return h, err
	}
	e.mu.Lock()
	e.n++
	n, err, policy, ts := e.n, e.err, e.policy, e.tunnels
	e.mu.Unlock()
	if err != nil {
		return h, err
	}
	var recs []appender
	switch req.Type {
	case nmi.GetStackInfo:
		fs := nmi.FilterSetDefault
		if policy {
			fs = nmi.FilterSetPolicy
		}
		recs = append(recs, &nmi.StackRecord{Stack: nmi.Stack{IPSecurity: true, FilterSet: fs, Name: t24("TCPIP")}})
	case nmi.GetIKETun, nmi.GetIPTunDynStack, nmi.GetIPTunManual:
		if req.Target != "TCPIP" {
			return h, &nmi.StatusError{Type: req.Type, Rc: nmi.ENXIO}
		}
		for _, t := range ts {
			switch {
			case t.Kind == "ike" && req.Type == nmi.GetIKETun:
				r := e.f.ike(t.ID, t.Gen, nil, false)
				r.Tunnel.State = fakeIKEStates[t.State]
				recs = append(recs, &r)
			case t.Kind == "dynamic" && req.Type == nmi.GetIPTunDynStack:
				tun, d := e.f.dyn(t.ID, t.Gen)
				tun.State = fakeIPStates[t.State]
				recs = append(recs, &nmi.DynStackRecord{Tunnel: tun, Dyn: d, Stack: nmi.IPDynamicStack{InBytes: n, OutBytes: 2 * n}})
			case t.Kind == "manual" && req.Type == nmi.GetIPTunManual:
				tun, _ := e.f.dyn(t.ID, 1)
				tun.Type, tun.State = nmi.IPTunManual, fakeIPStates[t.State]
				recs = append(recs, &nmi.ManualTunnelRecord{Tunnel: tun, Manual: nmi.IPManualTunnel{InBytes: n}})
			}
		}
	default:
		return h, &nmi.StatusError{Type: req.Type, Rc: nmi.EINVAL}
	}
	for _, a := range recs {
		rec, err := nmi.ParseRecord(e.f.must(a.Append(nil)))
		if err != nil {
			e.f.t.Errorf("fake: encoded record does not parse: %v", err)
			return h, err
		}
		if err := fn(rec); err != nil {
			return h, err
		}
	}
	h.RecCount = uint32(len(recs))
	return h, nil
}
