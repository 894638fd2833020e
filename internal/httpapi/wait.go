package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// ?wait: after a control action, poll the display requests until the
// targets are in the action's goal state, the wait has passed or the client
// has gone.

// Polling interval of ?wait: it starts short and grows to the cap.
const (
	pollFirst = 100 * time.Millisecond
	pollMax   = time.Second
)

// goal is the state ?wait waits for.
type goal uint8

const (
	goalActive    goal = iota // a generation is active
	goalRefreshed             // a generation newer than before the request is active
	goalInactive              // no generation is pending, negotiating or active
)

// waitFor polls check until it reports true, wait has passed or the
// client has gone. It moves the write deadline past the wait.
func (a *api) waitFor(w http.ResponseWriter, r *http.Request, wait time.Duration, check func(context.Context) (bool, error)) bool {
	deadline := time.Now().Add(wait)
	_ = http.NewResponseController(w).SetWriteDeadline(deadline.Add(a.timeout + streamWriteIdle))
	ctx := r.Context()
	interval := pollFirst
	for {
		ok, err := check(ctx)
		if ok {
			return true
		}
		if err != nil && ctx.Err() == nil {
			a.log.LogAttrs(ctx, slog.LevelDebug, "wait: display request failed", attrRequestID(r), attrError(err))
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return false
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		interval = min(interval*3/2, pollMax)
	}
}

// observe reads the tunnels of kind on stack, folded by tunnel ID (or
// rule name), limited to keys when given.
func (a *api) observe(ctx context.Context, stack string, kind ipsec.Kind, byName bool, keys []string) (map[string]*ipsec.Family, error) {
	out := map[string]*ipsec.Family{}
	err := ipsec.Walk(ctx, a.nmi, stack, kind, keyFilters(keys, byName), func(t *ipsec.Tunnel) error {
		k := t.ID
		if byName {
			k = t.Name
		}
		ipsec.Fold(out, k, t)
		return nil
	})
	return out, err
}

// tunnelsReached reports whether every target the action started is in
// the goal state of p's operation.
func (a *api) tunnelsReached(ctx context.Context, p *controlPlan) (bool, error) {
	var keys []string
	for _, res := range p.results {
		if res.started() {
			keys = append(keys, res.key(p.op.byName))
		}
	}
	if len(keys) == 0 {
		return true, nil
	}
	now, err := a.observe(ctx, p.stack, p.op.kind, p.op.byName, keys)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		var o, was ipsec.Family
		if f := now[k]; f != nil {
			o = *f
		}
		if f := p.before[k]; f != nil {
			was = *f
		}
		var ok bool
		switch p.op.goal {
		case goalActive:
			ok = o.Active
		case goalRefreshed:
			ok = o.Active && o.ActiveGen > was.Newest
		case goalInactive:
			ok = !o.Live
		}
		if k == "" || !ok {
			return false, nil
		}
	}
	return true, nil
}

// filterSetIs reports whether NMsec_GET_STACKINFO shows set in effect on
// stack. Not for a stack behind an NSS server, which does not route
// NMsec_GET_STACKINFO (control does not wait there).
func (a *api) filterSetIs(ctx context.Context, stack string, set nmi.FilterSet) (bool, error) {
	found := false
	var rec nmi.StackRecord
	err := a.do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(raw nmi.Record) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		if rec.Stack.Name.Equal(stack) && rec.Stack.FilterSet == set {
			found = true
		}
		return nil
	})
	return found, err
}
