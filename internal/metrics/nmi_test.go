package metrics

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
)

// TestNMIMetrics runs exchanges with every kind of outcome against a real
// simulator and reads the observer's and the pool collector's series.
func TestNMIMetrics(t *testing.T) {
	faults := ikedsim.NewFaults()
	s := startSim(t, "", ikedsim.Config{Faults: faults})
	g := newGateway(t, s.path)
	ctx := context.Background()
	do := func(req *nmi.Request) error {
		_, err := g.pool.Do(ctx, req, func(nmi.Record) error { return nil })
		return err
	}
	if err := do(&nmi.Request{Type: nmi.GetStackInfo}); err != nil {
		t.Fatal(err)
	}
	if err := do(&nmi.Request{Type: nmi.GetStackInfo}); err != nil {
		t.Fatal(err)
	}
	var se *nmi.StatusError
	if err := do(&nmi.Request{Type: nmi.GetSummary, Target: "NOSUCH"}); !errors.As(err, &se) || se.Rc != nmi.ENXIO {
		t.Fatalf("unknown stack: %v, want ENXIO", err)
	}
	faults.Set(nmi.GetIKETun, ikedsim.Fault{TermClose: true, Rc: nmi.EAGAIN, Rsn: nmi.RsnNone, Times: 1})
	if err := do(&nmi.Request{Type: nmi.GetIKETun, Target: "TCPIP"}); !errors.As(err, &se) || !se.Term {
		t.Fatalf("TERM fault: %v", err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.pool.Do(ctx2, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}

	e := scrape(t, g.reg)
	want := []struct {
		typ, outcome string
		n            float64
	}{
		{"NMsec_GET_STACKINFO", "ok", 2},
		{"NMsec_GET_SUMMARY", "status", 1},
		{"NMsec_GET_IKETUN", "term", 1},
		{"NMsec_GET_SUMMARY", "canceled", 1},
		{"NMsec_ACT_DYNTUN", "ok", 0}, // present before its first use
	}
	for _, w := range want {
		if v := e.mustValue(t, "nmigw_nmi_exchanges_total", "system", "SYS1", "type", w.typ, "outcome", w.outcome); v != w.n {
			t.Errorf("exchanges %s %s: %v, want %v", w.typ, w.outcome, v, w.n)
		}
	}
	if v := e.mustValue(t, "nmigw_nmi_exchange_duration_seconds", "system", "SYS1", "type", "NMsec_GET_STACKINFO"); v != 2 {
		t.Errorf("latency observations: %v, want 2", v)
	}
	if v := e.mustValue(t, "nmigw_nmi_status_codes_total", "system", "SYS1", "type", "NMsec_GET_SUMMARY", "rc", "ENXIO", "rsn", "none"); v != 1 {
		t.Errorf("ENXIO seen %v times", v)
	}
	if v := e.mustValue(t, "nmigw_nmi_status_codes_total", "system", "SYS1", "type", "NMsec_GET_IKETUN", "rc", "EAGAIN", "rsn", "none"); v != 1 {
		t.Errorf("TERM codes seen %v times", v)
	}
	if v := e.mustValue(t, "nmigw_nmi_terms_total", "system", "SYS1", "rc", "EAGAIN", "rsn", "none"); v != 1 {
		t.Errorf("TERM by cause: %v", v)
	}
	st := g.pool.Stats()
	for name, want := range map[string]float64{
		"nmigw_nmi_pool_max_connections":          float64(st.MaxSize),
		"nmigw_nmi_pool_open_connections":         float64(st.Open),
		"nmigw_nmi_pool_idle_connections":         float64(st.Idle),
		"nmigw_nmi_pool_in_use_connections":       0,
		"nmigw_nmi_pool_connections_opened_total": float64(st.Opened),
		"nmigw_nmi_pool_connections_closed_total": float64(st.Closed),
		"nmigw_nmi_pool_connections_failed_total": 0,
	} {
		if v := e.mustValue(t, name, "system", "SYS1"); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if st.Opened < 1 || st.Closed < 1 {
		t.Errorf("the TERM should have cost a connection: %+v", st)
	}

	// IKED gone: dials fail and are counted.
	s.stop(t)
	if err := do(&nmi.Request{Type: nmi.GetStackInfo}); err == nil {
		t.Fatal("exchange without IKED succeeded")
	}
	e = scrape(t, g.reg)
	if v := e.mustValue(t, "nmigw_nmi_exchanges_total", "system", "SYS1", "type", "NMsec_GET_STACKINFO", "outcome", "unavailable"); v != 1 {
		t.Errorf("unavailable: %v, want 1", v)
	}
	if v := e.mustValue(t, "nmigw_nmi_pool_connections_failed_total", "system", "SYS1"); v < 1 {
		t.Errorf("failed dials: %v", v)
	}
}

// TestNMIObserverInit checks the INIT wait histogram, fed through
// ObserveInit.
func TestNMIObserverInit(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := NewNMIObserver(reg)
	if err != nil {
		t.Fatal(err)
	}
	o := obs.System("SYS1")
	o.ObserveInit(20*time.Millisecond, nil)
	o.ObserveInit(time.Millisecond, &nmi.StatusError{Type: nmi.MsgTerm, Rc: nmi.EAGAIN, Term: true, Refused: true})
	o.ObserveInit(time.Second, context.DeadlineExceeded)
	e := scrape(t, reg)
	for _, r := range []string{"ok", "refused", "error"} {
		if v := e.mustValue(t, "nmigw_nmi_init_wait_seconds", "system", "SYS1", "result", r); v != 1 {
			t.Errorf("INIT wait %s: %v observations", r, v)
		}
	}
}

// A refusal counts as refused even when a caller wrapped it.
func TestNMIObserverInitWrappedRefusal(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := NewNMIObserver(reg)
	if err != nil {
		t.Fatal(err)
	}
	o := obs.System("SYS1")
	refused := &nmi.StatusError{Type: nmi.MsgTerm, Rc: nmi.EAGAIN, Term: true, Refused: true}
	o.ObserveInit(time.Millisecond, fmt.Errorf("dial: %w", refused))
	if v := scrape(t, reg).mustValue(t, "nmigw_nmi_init_wait_seconds", "system", "SYS1", "result", "refused"); v != 1 {
		t.Errorf("wrapped refusal: %v refused observations, want 1", v)
	}
}

// TestExchangeOutcome: every class of nmi.Classify has an outcome label,
// and the labels are the ones the metric's help names.
func TestExchangeOutcome(t *testing.T) {
	want := map[nmi.Class]string{
		nmi.ClassOK: "ok", nmi.ClassStatus: "status", nmi.ClassTerm: "term",
		nmi.ClassRefused: "unavailable", nmi.ClassUnavailable: "unavailable",
		nmi.ClassTimeout: "timeout", nmi.ClassDeadline: "timeout", nmi.ClassCanceled: "canceled",
		nmi.ClassProtocol: "error", nmi.ClassTransport: "error", nmi.ClassExhausted: "exhausted",
		nmi.ClassOther: "error",
	}
	for c := nmi.ClassOK; c <= nmi.ClassOther; c++ {
		if got := exchangeOutcome(nmi.Failure{Class: c}); got != want[c] {
			t.Errorf("class %v: outcome %q, want %q", c, got, want[c])
		}
	}
	if len(want) != int(nmi.ClassOther)+1 {
		t.Errorf("%d classes in the table", len(want))
	}
}
