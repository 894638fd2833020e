package httpapi_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// simNMI is the IKE daemon of the behaviour tests: ikedsim's model of the
// demo data set, served on a real AF_UNIX socket and reached through
// nmi.Pool, with a clock that moves only when the test lets it. Each
// display request the gateway sends moves the clock on by step after its
// answer, so what a control request started (a negotiation, a filter set
// switch, each over simTiming) is done at the next poll; with step 0 the
// clock stands still and nothing started ever completes.
//
// It records the requests and injects what the daemon cannot be made to
// produce on demand: failCtl, answered to control requests instead of
// sending them, failAll, answered to every request, and drop, which hides
// the records it matches from the gateway.
type simNMI struct {
	pool   *nmi.Pool
	srv    *ikedsim.Server
	ds     *ikedsim.DataSet
	clock  *ikedsim.Clock
	faults *ikedsim.Faults // what the daemon does wrong on the socket

	mu      sync.Mutex
	step    time.Duration
	calls   []nmi.Request
	failCtl error
	failAll error
	drop    func(*nmi.Request, nmi.Record) bool
}

// simTiming is the speed of the simulated negotiations and switches: well
// within one step.
var simTiming = ikedsim.Timing{Pending: time.Millisecond, Negotiating: time.Millisecond, Switch: time.Millisecond}

// newSim serves the demo data set (stacks TCPIP and TCPIPB) from its
// epoch, the clock moving one second per display request.
func newSim(t testing.TB) *simNMI {
	t.Helper()
	return newSimData(t, ikedsim.Demo())
}

// newSimData serves ds from its epoch (now when ds has none).
func newSimData(t testing.TB, ds *ikedsim.DataSet) *simNMI {
	t.Helper()
	if ds.Epoch.IsZero() {
		ds.Epoch = time.Now()
	}
	return newSimConfig(t, ikedsim.Config{Data: ds}, ds.Epoch)
}

// newSimConfig serves cfg (with the test's clock from epoch, timing and
// faults) on a real AF_UNIX socket.
func newSimConfig(t testing.TB, cfg ikedsim.Config, epoch time.Time) *simNMI {
	t.Helper()
	s := &simNMI{ds: cfg.Data, clock: ikedsim.NewClock(epoch), faults: ikedsim.NewFaults(), step: time.Second}
	path := filepath.Join(t.TempDir(), "nmi.sock")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Now, cfg.Timing, cfg.Faults = s.clock.Now, simTiming, s.faults
	s.srv, err = ikedsim.NewServer(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ln) }()
	s.pool = nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path})
	t.Cleanup(func() {
		s.pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, ikedsim.ErrServerClosed) {
			t.Errorf("simulator: %v", err)
		}
	})
	return s
}

// displayData is the data set of the display tests (stacks TCPIP and
// TCPIP2), with n more rules GEN0, GEN1, ... after the three policy filter
// rules of TCPIP.
func displayData(t testing.TB, n int) *ikedsim.DataSet {
	t.Helper()
	ds, err := ikedsim.LoadDataSet(filepath.Join("testdata", "display-dataset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st := ds.Stack("TCPIP")
	rule := st.PolicyFilters[len(st.PolicyFilters)-1] // DENYALL
	for i := range n {
		rule.Name = "GEN" + strconv.Itoa(i)
		st.PolicyFilters = append(st.PolicyFilters, rule)
	}
	return ds
}

// newDisplaySim serves displayData(n) on a clock that stands still, so
// that every value the data set pins is the value shown.
func newDisplaySim(t testing.TB, n int) *simNMI {
	t.Helper()
	s := newSimData(t, displayData(t, n))
	s.setStep(0)
	return s
}

// setStep sets how far the clock moves after each display request.
func (s *simNMI) setStep(d time.Duration) {
	s.mu.Lock()
	s.step = d
	s.mu.Unlock()
}

// setErr makes every request fail with err (nil: answer again).
func (s *simNMI) setErr(err error) {
	s.mu.Lock()
	s.failAll = err
	s.mu.Unlock()
}

// setDrop hides the records for which drop is true (nil: none).
func (s *simNMI) setDrop(drop func(*nmi.Request, nmi.Record) bool) {
	s.mu.Lock()
	s.drop = drop
	s.mu.Unlock()
}

func (s *simNMI) setFailCtl(err error) {
	s.mu.Lock()
	s.failCtl = err
	s.mu.Unlock()
}

func (s *simNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	s.mu.Lock()
	s.calls = append(s.calls, *req)
	fail, step, drop := s.failCtl, s.step, s.drop
	if !req.Type.IsControl() {
		fail = nil
	}
	if s.failAll != nil {
		fail = s.failAll
	}
	s.mu.Unlock()
	if fail != nil {
		return nmi.Header{Version: 1, Type: req.Type}, fail
	}
	if drop != nil {
		next := fn
		fn = func(r nmi.Record) error {
			if drop(req, r) {
				return nil
			}
			return next(r)
		}
	}
	h, err := s.pool.Do(ctx, req, fn)
	if !req.Type.IsControl() {
		s.clock.Advance(step)
	}
	return h, err
}

// controlCalls returns the control requests sent so far.
func (s *simNMI) controlCalls() []nmi.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []nmi.Request
	for _, c := range s.calls {
		if c.Type.IsControl() {
			out = append(out, c)
		}
	}
	return out
}

// lastRequest is the last request sent.
func (s *simNMI) lastRequest(t testing.TB) nmi.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("no NMI request sent")
	}
	return s.calls[len(s.calls)-1]
}

// nmiCalls is how many requests of any kind were sent.
func (s *simNMI) nmiCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
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
