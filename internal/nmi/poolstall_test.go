package nmi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// ExchangeTimeout bounds the endpoint's silence, not the whole answer:
// the wait for the answer to start and each wait for more of it. The
// simulator's pace fault sends an answer in pieces with a pause before
// each, as a slow link to z/OS does; its stall and no-reply faults stop
// an answer midway or never start it.

var policyReq = &nmi.Request{Type: nmi.GetIPFltPolicy, Target: "TCPIP"}

// policyAnswer returns the size in bytes and the record count of the
// simulator's answer to policyReq, read without faults.
func policyAnswer(t *testing.T, p *nmi.Pool) (size, records int) {
	t.Helper()
	h, err := p.Do(t.Context(), policyReq, func(nmi.Record) error { records++; return nil })
	if err != nil || records == 0 {
		t.Fatalf("plain answer: %v, %d records", err, records)
	}
	return int(h.MsgSize), records
}

// TestPoolSlowAnswerCompletes: an answer that keeps coming completes
// although it takes longer as a whole than ExchangeTimeout.
func TestPoolSlowAnswerCompletes(t *testing.T) {
	s := startBudgetSim(t, ikedsim.Config{})
	var held openCount
	const timeout, pace, pieces = time.Second, 200 * time.Millisecond, 8
	p := s.pool(nmi.PoolConfig{Size: 1, ExchangeTimeout: timeout}, &held)
	defer p.Close()
	size, want := policyAnswer(t, p)
	s.faults.Set(nmi.GetIPFltPolicy, ikedsim.Fault{Pace: pace, PaceBytes: max(1, size/pieces), Times: 1})
	start := time.Now()
	got := 0
	_, err := p.Do(t.Context(), policyReq, func(nmi.Record) error { got++; return nil })
	took := time.Since(start)
	if err != nil || got != want {
		t.Fatalf("slow answer: %v, %d of %d records", err, got, want)
	}
	// The premise: at least pieces-1 pauses of pace, longer than the
	// timeout by construction.
	if took <= timeout {
		t.Fatalf("the answer took %v, not longer than ExchangeTimeout %v: the test proves nothing", took, timeout)
	}
	if st := p.Stats(); st.Abandoned != 0 || st.Closed != 0 || st.Opened != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPoolSilentEndpointAbandoned: an exchange never answered, and one
// whose answer stops midway, are abandoned after ExchangeTimeout with a
// timeout naming which; the connection is destroyed, the endpoint not
// marked down, and the next exchange is served.
func TestPoolSilentEndpointAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault ikedsim.Fault
		want  string
	}{
		{"never answered", ikedsim.Fault{NoReply: true, Times: 1}, "no answer to NMsec_GET_IPFLTPOLICY within 50ms"},
		{"stopped midway", ikedsim.Fault{Stall: true, Times: 1}, "the answer to NMsec_GET_IPFLTPOLICY stalled: nothing more within 50ms"},
		{"paced, then stopped", ikedsim.Fault{Stall: true, Pace: 5 * time.Millisecond, PaceBytes: 512, Times: 1},
			"the answer to NMsec_GET_IPFLTPOLICY stalled: nothing more within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startBudgetSim(t, ikedsim.Config{})
			var held openCount
			p := s.pool(nmi.PoolConfig{Size: 1, ExchangeTimeout: 50 * time.Millisecond}, &held)
			defer p.Close()
			_, want := policyAnswer(t, p)
			s.faults.Set(nmi.GetIPFltPolicy, tc.fault)
			_, err := p.Do(t.Context(), policyReq, nil)
			var oe *nmi.OpError
			if f := nmi.Classify(err); f.Class != nmi.ClassTimeout || !errors.As(err, &oe) || !oe.Timeout() ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (%v), want a timeout saying %q", err, f.Class, tc.want)
			}
			st := p.Stats()
			if st.Abandoned != 1 || st.Closed != 1 || st.Down {
				t.Fatalf("stats %+v", st)
			}
			if open, _, _ := held.get(); open != 0 {
				t.Fatalf("%d connections open after the abandoned exchange", open)
			}
			got := 0
			if _, err := p.Do(t.Context(), policyReq, func(nmi.Record) error { got++; return nil }); err != nil || got != want {
				t.Fatalf("next exchange: %v, %d of %d records", err, got, want)
			}
		})
	}
}

// TestPoolCallerBoundsSlowAnswer: the caller's deadline still bounds the
// whole answer, and canceling it stops an answer that keeps coming; in
// neither case is the exchange counted as abandoned by the pool.
func TestPoolCallerBoundsSlowAnswer(t *testing.T) {
	s := startBudgetSim(t, ikedsim.Config{})
	var held openCount
	p := s.pool(nmi.PoolConfig{Size: 1, ExchangeTimeout: time.Minute}, &held)
	defer p.Close()
	size, _ := policyAnswer(t, p)
	slow := ikedsim.Fault{Pace: 20 * time.Millisecond, PaceBytes: max(1, size/50)} // a second at least

	s.faults.Set(nmi.GetIPFltPolicy, slow)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err := p.Do(ctx, policyReq, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	_, err = p.Do(ctx, policyReq, func(nmi.Record) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled midway: %v, want context.Canceled", err)
	}
	if st := p.Stats(); st.Abandoned != 0 || st.Closed != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.faults.Clear()
	if _, err := p.Do(t.Context(), policyReq, nil); err != nil {
		t.Fatal(err)
	}
}
