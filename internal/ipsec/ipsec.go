// Package ipsec is the gateway's knowledge of IKED's tunnels, kept once
// for the REST handlers, the event poller and the Prometheus exporter: the
// three tunnel display requests, the generations of a tunnel folded into
// one family, and the names of tunnel states as api/openapi.yaml spells
// them. It imports neither net/http nor Prometheus.
package ipsec

import (
	"context"
	"math"
	"math/bits"

	"github.com/nmigw/nmigw/internal/nmi"
)

// NMI runs one exchange; *nmi.Pool satisfies it.
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Kind is a kind of tunnel.
type Kind uint8

const (
	KindIKE     Kind = iota // IKE (phase 1) tunnels: NMsec_GET_IKETUN
	KindDynamic             // dynamic IPsec tunnels, the stack's view: NMsec_GET_IPTUNDYNSTACK
	KindManual              // manual IPsec tunnels: NMsec_GET_IPTUNMANUAL
)

// Kinds are the tunnel kinds in the order Snapshot walks them.
var Kinds = [...]Kind{KindIKE, KindDynamic, KindManual}

// String is the API's name of the kind (and the metrics' type label).
func (k Kind) String() string {
	switch k {
	case KindIKE:
		return "ike"
	case KindDynamic:
		return "dynamic"
	case KindManual:
		return "manual"
	}
	return "unknown"
}

// Request is the display request that lists the tunnels of the kind.
func (k Kind) Request() nmi.MsgType {
	switch k {
	case KindIKE:
		return nmi.GetIKETun
	case KindDynamic:
		return nmi.GetIPTunDynStack
	}
	return nmi.GetIPTunManual
}

// Traffic reports whether tunnels of the kind count bytes and packets by
// direction (IKE tunnels count bytes only, both ways together).
func (k Kind) Traffic() bool { return k != KindIKE }

// Generations reports whether tunnels of the kind have generations
// (manual tunnels do not).
func (k Kind) Generations() bool { return k != KindManual }

// State names: the API's, in wire order (state N at index N-1).
var (
	ikeStates = states(nmi.IKETunPending, nmi.IKETunExpired, IKEStateName)
	ipStates  = states(nmi.IPTunInactive, nmi.IPTunExpired, IPStateName)
)

func states[S ~uint8](first, last S, name func(S) string) []string {
	var out []string
	for s := first; s <= last; s++ {
		out = append(out, name(s))
	}
	return out
}

// IKEStateName is the API's name of an IKE tunnel state.
func IKEStateName(s nmi.IKETunState) string { return s.String() }

// IPStateName is the API's name of an IP (manual or dynamic) tunnel
// state. The codec calls code 3 "incomplete" (the `ipsec` command's word);
// the API says "negotiating" for IP and IKE tunnels alike
// (shared/DESIGN.md §3), and so do the metrics.
func IPStateName(s nmi.IPTunState) string {
	if s == nmi.IPTunIncomplete {
		return "negotiating"
	}
	return s.String()
}

// States are the API's names of the kind's known states in wire order:
// state code N is at index N-1. The slice is shared: do not modify it.
func (k Kind) States() []string {
	if k == KindIKE {
		return ikeStates
	}
	return ipStates
}

// StateName is the API's name of state code of the kind; a code this
// build does not know is "unknown(N)".
func (k Kind) StateName(code uint8) string {
	if k == KindIKE {
		return IKEStateName(nmi.IKETunState(code))
	}
	return IPStateName(nmi.IPTunState(code))
}

// Traffic is what an IP tunnel carried, by direction.
type Traffic struct {
	InBytes, OutBytes, InPackets, OutPackets uint64
}

// Tunnel is one generation (security association) of a tunnel, as a
// display request shows it.
type Tunnel struct {
	Kind Kind
	ID   string
	// Name is the rule or action the tunnel comes from: KeyExchangeRule
	// (IKE), LocalDynVpnRule (dynamic) or VpnAction (manual).
	Name       string
	Generation uint32 // 0 for manual tunnels
	Code       uint8  // the state on the wire
	State      string // the state's API name
	Active     bool   // the state is active
	Live       bool   // pending, negotiating or active
	Expires    uint32 // NMI time of expiry; 0 for manual tunnels
	Bytes      uint64 // IKE tunnels: bytes both ways
	Traffic    Traffic
}

func (t *Tunnel) setIKE(s nmi.IKETunState) {
	t.Code, t.State = uint8(s), IKEStateName(s)
	t.Active = s == nmi.IKETunActive
	t.Live = s == nmi.IKETunPending || s == nmi.IKETunNegotiating || t.Active
}

func (t *Tunnel) setIP(s nmi.IPTunState) {
	t.Code, t.State = uint8(s), IPStateName(s)
	t.Active = s == nmi.IPTunActive
	t.Live = s == nmi.IPTunPending || s == nmi.IPTunIncomplete || t.Active
}

// Walk sends the display request of kind on stack, limited by filters
// (nil: every tunnel), and calls fn with every generation it lists. The
// Tunnel is reused: fn must copy what it keeps. Errors are the exchange's
// or fn's, unwrapped.
func Walk(ctx context.Context, n NMI, stack string, k Kind, filters []nmi.InFilter, fn func(*Tunnel) error) error {
	req := &nmi.Request{Type: k.Request(), Target: stack, Filters: filters}
	var t Tunnel
	var decode func(nmi.Record) error
	switch k {
	case KindIKE:
		var rec nmi.IKETunnelRecord
		decode = func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			r := &rec.Tunnel
			t = Tunnel{Kind: k, ID: r.ID.String(), Name: r.KeyExchRule.String(), Generation: r.Generation,
				Expires: r.ExpireTime, Bytes: r.Bytes}
			t.setIKE(r.State)
			return fn(&t)
		}
	case KindDynamic:
		var rec nmi.DynStackRecord
		decode = func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			s := &rec.Stack
			t = Tunnel{Kind: k, ID: rec.Tunnel.ID.String(), Name: rec.Dyn.LocalDynVpnRule.String(),
				Generation: rec.Dyn.Generation, Expires: rec.Dyn.ExpireTime,
				Traffic: Traffic{s.InBytes, s.OutBytes, s.InPackets, s.OutPackets}}
			t.setIP(rec.Tunnel.State)
			return fn(&t)
		}
	default:
		var rec nmi.ManualTunnelRecord
		decode = func(raw nmi.Record) error {
			if err := rec.Decode(raw); err != nil {
				return err
			}
			m := &rec.Manual
			t = Tunnel{Kind: KindManual, ID: rec.Tunnel.ID.String(), Name: rec.Tunnel.VPNAction.String(),
				Traffic: Traffic{m.InBytes, m.OutBytes, m.InPackets, m.OutPackets}}
			t.setIP(rec.Tunnel.State)
			return fn(&t)
		}
	}
	_, err := n.Do(ctx, req, decode)
	return err
}

// Snapshot walks every tunnel of stack, kind by kind (Kinds), and calls fn
// with every generation. It stops at the first error.
func Snapshot(ctx context.Context, n NMI, stack string, fn func(*Tunnel) error) error {
	for _, k := range Kinds {
		if err := Walk(ctx, n, stack, k, nil, fn); err != nil {
			return err
		}
	}
	return nil
}

// Family is one tunnel: its generations folded together.
type Family struct {
	Kind     Kind
	ID, Name string

	Newest      uint32 // the highest generation
	NewestState string // its state (of the last listed, among equals)
	Active      bool   // a generation is active
	ActiveGen   uint32 // the highest active generation
	Live        bool   // a generation is pending, negotiating or active
	Expires     uint32 // the latest expiry of an active generation; 0 = none

	// Bytes and Packets are in and out, summed over the generations; Total
	// is every byte (IKE tunnels count only that). Sums saturate: a sum
	// that wrapped would make a counter go backwards.
	Bytes, Packets [2]uint64
	Total          uint64
}

// Add folds one generation into the family.
func (f *Family) Add(t *Tunnel) {
	if f.NewestState == "" {
		f.Kind, f.ID, f.Name = t.Kind, t.ID, t.Name
	}
	if t.Generation >= f.Newest || f.NewestState == "" {
		f.Newest, f.NewestState = t.Generation, t.State
	}
	if t.Active {
		f.Active = true
		f.ActiveGen = max(f.ActiveGen, t.Generation)
		f.Expires = max(f.Expires, t.Expires)
	}
	f.Live = f.Live || t.Live
	addSat(&f.Bytes[0], t.Traffic.InBytes)
	addSat(&f.Bytes[1], t.Traffic.OutBytes)
	addSat(&f.Packets[0], t.Traffic.InPackets)
	addSat(&f.Packets[1], t.Traffic.OutPackets)
	addSat(&f.Total, t.Traffic.InBytes)
	addSat(&f.Total, t.Traffic.OutBytes)
	addSat(&f.Total, t.Bytes)
}

// Fold adds t to the family of key in m, starting the family when m has
// none.
func Fold[K comparable](m map[K]*Family, key K, t *Tunnel) {
	f := m[key]
	if f == nil {
		f = &Family{}
		m[key] = f
	}
	f.Add(t)
}

// State is the family's state: active when a generation is, else that of
// the newest generation.
func (f *Family) State() string {
	if f.Active {
		return "active"
	}
	return f.NewestState
}

// addSat adds n to *sum; the sum stops at the largest uint64 instead of
// wrapping round to a small number.
func addSat(sum *uint64, n uint64) {
	s, carry := bits.Add64(*sum, n, 0)
	if carry != 0 {
		s = math.MaxUint64
	}
	*sum = s
}
