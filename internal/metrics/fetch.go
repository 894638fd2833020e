package metrics

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// snapshot is what one NMI round found, ready to be exported.
type snapshot struct {
	start   time.Time
	systems []*systemData
	stacks  []*stackData   // of the systems that are up
	tunnels []*family      // the tunnels with series of their own
	dropped map[string]int // by system: selected tunnels the series cap left out
	limit   int            // the series cap
}

// systemData is one system's share of a round.
type systemData struct {
	name     string
	kind     fleet.Kind
	up       bool // every answer about it was read
	duration time.Duration
	// stacks and families, until the round gathers them.
	stacks   []*stackData
	families []*family
}

const stateUnknown = "unknown"

// stateCounts counts security associations by state code; unknown holds
// the states this build does not know.
type stateCounts struct {
	n       []int
	unknown int
}

func newStateCounts(k ipsec.Kind) stateCounts { return stateCounts{n: make([]int, len(k.States()))} }

func (c *stateCounts) add(code uint8) {
	if i := int(code) - 1; i >= 0 && i < len(c.n) {
		c.n[i]++
	} else {
		c.unknown++
	}
}

// stateLabel is the label value of a state of kind k: its API name, or
// "unknown" for a state this build does not know.
func stateLabel(k ipsec.Kind, state string) string {
	if slices.Contains(k.States(), state) {
		return state
	}
	return stateUnknown
}

// stackData is one stack's share of a round.
type stackData struct {
	system    string
	name      string
	ref       fleet.Stack // where its requests go, and its SAF resource
	ok        bool        // every request about it was answered
	filterSet nmi.FilterSet
	// setUnknown: the filter set is not known (behind an NSS server,
	// which does not route NMsec_GET_STACKINFO).
	setUnknown bool
	filters    int
	states     [len(ipsec.Kinds)]stateCounts // by kind
	summary    nmi.Statistics
}

func newStackData(name string, set nmi.FilterSet) *stackData {
	st := &stackData{name: name, filterSet: set}
	for _, k := range ipsec.Kinds {
		st.states[k] = newStateCounts(k)
	}
	return st
}

// stackKey names a stack of the fleet: a stack name on two systems is
// two stacks.
type stackKey struct{ system, stack string }

func (st *stackData) key() stackKey { return stackKey{st.system, st.name} }

type tunnelKey struct {
	stackKey
	typ ipsec.Kind
	id  string
}

// family is one tunnel: every generation (security association) listed
// under its tunnel ID.
type family struct {
	tunnelKey
	name string // LocalDynVpnRule, KeyExchangeRule, or VpnAction

	missing bool // no longer listed by IKED (kept for KeepDown)

	fold ipsec.Family
}

// state is the tunnel's state label: active when a generation is, else
// that of the newest generation.
func (f *family) state() string { return stateLabel(f.typ, f.fold.State()) }

// series is the number of series the tunnel gets.
func (f *family) series() int {
	n := len(f.typ.States())
	if f.missing {
		return n
	}
	if f.state() == stateUnknown {
		n++
	}
	if f.typ.Generations() {
		n++ // time to expiry
	}
	if f.typ.Traffic() {
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
		out = append(out, newStackData(r.Stack.Name.String(), r.Stack.FilterSet))
		return nil
	})
	return out, err
}

// fetchStack asks for one stack's summary, current filter count and
// tunnels. The filter count is read only when counted(st, false) does not
// fill it in from an earlier read; counted(st, true) records a new one. A
// return code (no access, stack gone) marks the stack not ok and is no
// error; any other failure is.
func fetchStack(ctx context.Context, n NMI, st *stackData, counted func(st *stackData, read bool) bool) ([]*family, error) {
	fams := map[tunnelKey]*family{}
	var order []*family
	var sum nmi.SummaryRecord
	_, err := n.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: st.name}, func(rec nmi.Record) error {
		if err := sum.Decode(rec); err != nil {
			return err
		}
		st.summary = sum.Statistics
		return nil
	})
	if err == nil && !counted(st, false) {
		_, err = n.Do(ctx, &nmi.Request{Type: nmi.GetIPFltCurr, Target: st.name}, func(nmi.Record) error { st.filters++; return nil })
		if err == nil {
			counted(st, true)
		}
	}
	if err == nil {
		err = ipsec.Snapshot(ctx, n, st.name, func(t *ipsec.Tunnel) error {
			st.states[t.Kind].add(t.Code)
			k := tunnelKey{st.key(), t.Kind, t.ID}
			f := fams[k]
			if f == nil {
				f = &family{tunnelKey: k, name: t.Name}
				fams[k] = f
				order = append(order, f)
			}
			f.fold.Add(t)
			return nil
		})
	}
	if err != nil {
		if stackDown(err) {
			return nil, nil
		}
		return nil, err
	}
	st.ok = true
	return order, nil
}

func upper(s string) string { return strings.ToUpper(s) }
