package metrics

import (
	"context"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// snapshot is what one NMI round found, ready to be exported.
type snapshot struct {
	start    time.Time
	duration time.Duration
	up       bool
	stacks   []*stackData
	families []*family // every tunnel, until the selection
	tunnels  []*family // the tunnels with series of their own
	dropped  int       // selected tunnels the series cap left out
	limit    int       // the series cap
}

// State label values, in wire order (state N is index N-1).
var (
	ikeStates = stateNames(nmi.IKETunPending, nmi.IKETunExpired)
	ipStates  = stateNames(nmi.IPTunInactive, nmi.IPTunExpired)
)

func stateNames[S interface {
	~uint8
	String() string
}](first, last S) []string {
	var names []string
	for s := first; s <= last; s++ {
		names = append(names, s.String())
	}
	return names
}

const stateUnknown = "unknown"

// stateCounts counts security associations by state; unknown holds the
// states this build does not know.
type stateCounts struct {
	n       []int
	unknown int
}

func newStateCounts(names []string) stateCounts { return stateCounts{n: make([]int, len(names))} }

func (c *stateCounts) add(state uint8) {
	if i := int(state) - 1; i >= 0 && i < len(c.n) {
		c.n[i]++
	} else {
		c.unknown++
	}
}

// stateLabel is the label of a state: its name, or "unknown".
func stateLabel(names []string, state uint8) string {
	if i := int(state) - 1; i >= 0 && i < len(names) {
		return names[i]
	}
	return stateUnknown
}

// stackData is one stack's share of a round.
type stackData struct {
	name          string
	ok            bool // every request about it was answered
	filterSet     nmi.FilterSet
	filters       int
	ike, dyn, man stateCounts
	summary       nmi.Statistics
}

// tunnelType is the kind of a tunnel, as label value.
type tunnelType uint8

const (
	typeIKE tunnelType = iota
	typeDynamic
	typeManual
)

func (t tunnelType) String() string {
	switch t {
	case typeIKE:
		return "ike"
	case typeDynamic:
		return "dynamic"
	}
	return "manual"
}

// states are the state label values of the type.
func (t tunnelType) states() []string {
	if t == typeIKE {
		return ikeStates
	}
	return ipStates
}

// traffic reports whether tunnels of the type have byte and packet
// counters by direction (IKE tunnels do not).
func (t tunnelType) traffic() bool { return t != typeIKE }

type tunnelKey struct {
	stack string
	typ   tunnelType
	id    string
}

// family is one tunnel: every generation (security association) listed
// under its tunnel ID.
type family struct {
	tunnelKey
	name string // LocalDynVpnRule, KeyExchangeRule, or VpnAction

	missing bool // no longer listed by IKED (kept for KeepDown)

	active      bool   // a generation is active
	newestGen   uint32 // the highest generation seen
	newestState string // its state
	expires     uint32 // the latest expiry of an active generation; 0 = none
	bytes       [2]uint64
	packets     [2]uint64 // in, out
	total       uint64    // bytes, for the top N
}

// state is the tunnel's state label: active when a generation is, else
// that of the newest generation.
func (f *family) state() string {
	if f.active {
		return "active"
	}
	return f.newestState
}

// addGen merges one generation of the tunnel.
func (f *family) addGen(gen uint32, state string, active bool, expires uint32) {
	if active {
		f.active = true
		f.expires = max(f.expires, expires)
	}
	if gen >= f.newestGen || f.newestState == "" {
		f.newestGen, f.newestState = gen, state
	}
}

// addTraffic merges one generation's counters by direction. Every sum
// saturates: a sum that wrapped would make a counter go backwards.
func (f *family) addTraffic(inBytes, outBytes, inPackets, outPackets uint64) {
	addSat(&f.bytes[0], inBytes)
	addSat(&f.bytes[1], outBytes)
	addSat(&f.packets[0], inPackets)
	addSat(&f.packets[1], outPackets)
	f.addTotal(inBytes)
	f.addTotal(outBytes)
}

// addTotal adds n bytes to the total the top N ranks by.
func (f *family) addTotal(n uint64) { addSat(&f.total, n) }

// addSat adds n to *sum; the sum stops at the largest uint64 instead of
// wrapping round to a small number.
func addSat(sum *uint64, n uint64) {
	s, carry := bits.Add64(*sum, n, 0)
	if carry != 0 {
		s = math.MaxUint64
	}
	*sum = s
}

// series is the number of series the tunnel gets.
func (f *family) series() int {
	n := len(f.typ.states())
	if f.missing {
		return n
	}
	if f.state() == stateUnknown {
		n++
	}
	if f.typ != typeManual {
		n++ // time to expiry
	}
	if f.typ.traffic() {
		n += 4
	}
	return n
}

// fetchStacks lists the stacks (NMsec_GET_STACKINFO).
func fetchStacks(ctx context.Context, n NMI) ([]*stackData, error) {
	var out []*stackData
	var r nmi.StackRecord
	_, err := n.Do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(rec nmi.Record) error {
		if err := r.Decode(rec); err != nil {
			return err
		}
		out = append(out, &stackData{name: r.Stack.Name.String(), filterSet: r.Stack.FilterSet,
			ike: newStateCounts(ikeStates), dyn: newStateCounts(ipStates), man: newStateCounts(ipStates)})
		return nil
	})
	return out, err
}

// fetchStack asks for one stack's summary, current filter count and
// tunnels. A return code (no access, stack gone) marks the stack not ok
// and is no error; any other failure is.
func fetchStack(ctx context.Context, n NMI, st *stackData) ([]*family, error) {
	fams := map[tunnelKey]*family{}
	var order []*family
	fam := func(typ tunnelType, id, name string) *family {
		k := tunnelKey{st.name, typ, id}
		f := fams[k]
		if f == nil {
			f = &family{tunnelKey: k, name: name}
			fams[k] = f
			order = append(order, f)
		}
		return f
	}
	var (
		sum nmi.SummaryRecord
		ike nmi.IKETunnelRecord
		dyn nmi.DynStackRecord
		man nmi.ManualTunnelRecord
	)
	steps := []struct {
		t  nmi.MsgType
		fn func(nmi.Record) error
	}{
		{nmi.GetSummary, func(rec nmi.Record) error {
			if err := sum.Decode(rec); err != nil {
				return err
			}
			st.summary = sum.Statistics
			return nil
		}},
		{nmi.GetIPFltCurr, func(nmi.Record) error { st.filters++; return nil }},
		{nmi.GetIKETun, func(rec nmi.Record) error {
			if err := ike.Decode(rec); err != nil {
				return err
			}
			t := &ike.Tunnel
			st.ike.add(uint8(t.State))
			f := fam(typeIKE, t.ID.String(), t.KeyExchRule.String())
			f.addGen(t.Generation, stateLabel(ikeStates, uint8(t.State)), t.State == nmi.IKETunActive, t.ExpireTime)
			f.addTotal(t.Bytes)
			return nil
		}},
		{nmi.GetIPTunDynStack, func(rec nmi.Record) error {
			if err := dyn.Decode(rec); err != nil {
				return err
			}
			st.dyn.add(uint8(dyn.Tunnel.State))
			f := fam(typeDynamic, dyn.Tunnel.ID.String(), dyn.Dyn.LocalDynVpnRule.String())
			f.addGen(dyn.Dyn.Generation, stateLabel(ipStates, uint8(dyn.Tunnel.State)), dyn.Tunnel.State == nmi.IPTunActive, dyn.Dyn.ExpireTime)
			f.addTraffic(dyn.Stack.InBytes, dyn.Stack.OutBytes, dyn.Stack.InPackets, dyn.Stack.OutPackets)
			return nil
		}},
		{nmi.GetIPTunManual, func(rec nmi.Record) error {
			if err := man.Decode(rec); err != nil {
				return err
			}
			st.man.add(uint8(man.Tunnel.State))
			f := fam(typeManual, man.Tunnel.ID.String(), man.Tunnel.VPNAction.String())
			f.addGen(0, stateLabel(ipStates, uint8(man.Tunnel.State)), man.Tunnel.State == nmi.IPTunActive, 0)
			f.addTraffic(man.Manual.InBytes, man.Manual.OutBytes, man.Manual.InPackets, man.Manual.OutPackets)
			return nil
		}},
	}
	for _, s := range steps {
		if _, err := n.Do(ctx, &nmi.Request{Type: s.t, Target: st.name}, s.fn); err != nil {
			if stackDown(err) {
				return nil, nil
			}
			return nil, err
		}
	}
	st.ok = true
	return order, nil
}

func upper(s string) string { return strings.ToUpper(s) }
