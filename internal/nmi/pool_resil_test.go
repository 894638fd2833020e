package nmi

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds; the test fails after a generous
// bound, which only a broken pool reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// refusing makes s refuse every client with TERM (EAGAIN) while on is
// set, and serve them normally otherwise.
func refusing(s *testServer, on *atomic.Bool) {
	s.onAccept = func(c *net.UnixConn) bool {
		if on.Load() {
			c.Write(AppendTerm(nil, Version, EAGAIN, 0))
			return false
		}
		_, err := c.Write(AppendInit(nil, Version))
		return err == nil
	}
}

// TestPoolBackoffAdvancesOncePerPeriod: 16 dials that fail together move
// the backoff once, not 16 times.
func TestPoolBackoffAdvancesOncePerPeriod(t *testing.T) {
	const n = 16
	s := newTestServer(t)
	s.onAccept = func(c *net.UnixConn) bool { c.Write(AppendTerm(nil, Version, EAGAIN, 0)); return false }
	var entered sync.WaitGroup
	entered.Add(n)
	release := make(chan struct{})
	dial := DialUnix(s.addr())
	p := NewPool(PoolConfig{Addr: s.addr(), Size: n, BackoffMin: time.Hour, BackoffMax: 1000 * time.Hour,
		Dial: func(ctx context.Context) (net.Conn, error) {
			entered.Done()
			<-release // every dial is under way before any fails
			return dial(ctx)
		}})
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Do(context.Background(), stackReq, nil)
			errs <- err
		}()
	}
	entered.Wait()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if f := Classify(err); f.Class != ClassRefused {
			t.Fatalf("a dial ended with %v (%v), want the refusal", err, f.Class)
		}
	}
	st := p.Stats()
	if st.DialFailures != n || !st.Down || st.Backoff > time.Hour {
		t.Fatalf("after %d refusals together: stats %+v; the backoff must not pass its first step (1h)", n, st)
	}
	p.mu.Lock()
	failures := p.failures
	p.mu.Unlock()
	if failures != 1 {
		t.Fatalf("backoff advanced %d times for one period of failures", failures)
	}
}

// TestPoolCallerDeadlineLeavesPoolUp: a request whose own deadline runs
// out while the pool dials or waits for INIT does not mark the endpoint
// down; the next request succeeds.
func TestPoolCallerDeadlineLeavesPoolUp(t *testing.T) {
	t.Run("during the dial", func(t *testing.T) {
		s := newTestServer(t)
		dial := DialUnix(s.addr())
		p := NewPool(PoolConfig{Addr: s.addr(), Dial: func(ctx context.Context) (net.Conn, error) {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Second {
				// Past the deadline, before the context's timer
				// may have fired: a dialer says "i/o timeout".
				time.Sleep(time.Until(dl) + time.Millisecond)
				return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.ErrDeadlineExceeded}
			}
			return dial(ctx)
		}})
		defer p.Close()
		checkDeadlineLeavesUp(t, p)
	})
	t.Run("waiting for INIT", func(t *testing.T) {
		s := newTestServer(t)
		var slow atomic.Bool
		slow.Store(true)
		s.onAccept = func(c *net.UnixConn) bool {
			if slow.Load() {
				<-s.block
				return false
			}
			_, err := c.Write(AppendInit(nil, Version))
			return err == nil
		}
		p := unixPool(s.addr(), PoolConfig{})
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
		_, err := p.Do(ctx, stackReq, nil)
		cancel()
		if f := Classify(err); f.Class != ClassDeadline {
			t.Fatalf("got %v (%v), want the caller's deadline", err, f.Class)
		}
		slow.Store(false)
		if st := p.Stats(); st.Down || st.DialFailures != 0 {
			t.Fatalf("the caller's deadline moved the pool: %+v", st)
		}
		if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
			t.Fatalf("after the deadline: %v", err)
		}
	})
}

func checkDeadlineLeavesUp(t *testing.T, p *Pool) {
	t.Helper()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
		_, err := p.Do(ctx, stackReq, nil)
		cancel()
		if f := Classify(err); f.Class != ClassDeadline {
			t.Fatalf("got %v (%v), want the caller's deadline", err, f.Class)
		}
	}
	if st := p.Stats(); st.Down || st.DialFailures != 0 || st.Backoff != 0 {
		t.Fatalf("the caller's deadline moved the pool: %+v", st)
	}
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatalf("after the deadlines: %v", err)
	}
}

// TestPoolProberRecoversWithoutRequests: after a refusal the prober dials
// by itself; once the endpoint serves again the pool is up before any
// request comes, and the probe's connection serves the next one.
func TestPoolProberRecoversWithoutRequests(t *testing.T) {
	s := newTestServer(t)
	var refuse atomic.Bool
	refuse.Store(true)
	refusing(s, &refuse)
	sr := &stateRecorder{}
	p := unixPool(s.addr(), PoolConfig{BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Observer: sr})
	defer p.Close()
	if _, err := p.Do(context.Background(), stackReq, nil); Classify(err).Class != ClassRefused {
		t.Fatalf("first: %v", err)
	}
	// The prober keeps dialing while refused, its waits capped.
	waitFor(t, "three probes", func() bool { return p.Stats().Probes >= 3 })
	_, err := p.Do(context.Background(), stackReq, nil)
	var ue *UnavailableError
	if !errors.As(err, &ue) || Classify(ue.Last).Class != ClassRefused {
		t.Fatalf("while down: %v", err)
	}
	if wait := time.Until(ue.RetryAt); wait > 5*time.Millisecond {
		t.Fatalf("next probe in %v, more than BackoffMax", wait)
	}
	reqs := s.requests()
	refuse.Store(false)
	waitFor(t, "the pool up again", func() bool { return !p.Stats().Down })
	if s.requests() != reqs+1 {
		t.Fatalf("the probe sent %d requests, want 1", s.requests()-reqs)
	}
	st := p.Stats()
	if st.Idle != 1 || st.Backoff != 0 {
		t.Fatalf("after the probe: %+v", st)
	}
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Opened; got != st.Opened {
		t.Fatalf("the request dialed again (%d connections opened, %d before)", got, st.Opened)
	}
	waitFor(t, "the pool to tell it is up", func() bool { _, ups := sr.counts(); return ups == 1 })
	if downs, _ := sr.counts(); downs != 1 || Classify(sr.cause).Class != ClassRefused {
		t.Fatalf("told down %d times, cause %v", downs, sr.cause)
	}
}

// stateRecorder is an Observer that also implements StateObserver.
type stateRecorder struct {
	recorder
	downs, ups int
	cause      error
}

func (r *stateRecorder) ObserveDown(cause error) {
	r.mu.Lock()
	r.downs++
	r.cause = cause
	r.mu.Unlock()
}

func (r *stateRecorder) ObserveUp(time.Duration) {
	r.mu.Lock()
	r.ups++
	r.mu.Unlock()
}

func (r *stateRecorder) counts() (downs, ups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downs, r.ups
}

// TestPoolProberAfterHang: a server that accepts but sends no INIT marks
// the endpoint down after DialTimeout (the endpoint's own timeout); the
// probe waiting for INIT succeeds as soon as the server answers.
func TestPoolProberAfterHang(t *testing.T) {
	s := newTestServer(t)
	resume := make(chan struct{})
	s.onAccept = func(c *net.UnixConn) bool {
		select {
		case <-resume:
		case <-s.block:
			return false
		}
		_, err := c.Write(AppendInit(nil, Version))
		return err == nil
	}
	p := unixPool(s.addr(), PoolConfig{DialTimeout: 20 * time.Millisecond, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	defer p.Close()
	_, err := p.Do(context.Background(), stackReq, nil)
	var oe *OpError
	if f := Classify(err); f.Class != ClassTimeout || !errors.As(err, &oe) || oe.Op != OpInit {
		t.Fatalf("got %v (%v), want an INIT timeout", err, f.Class)
	}
	if !p.Stats().Down {
		t.Fatal("an INIT timeout left the endpoint up")
	}
	close(resume)
	waitFor(t, "the pool up again", func() bool { return !p.Stats().Down })
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPoolExchangeTimeout: an exchange left unanswered is abandoned after
// ExchangeTimeout and its connection destroyed, so a request of another
// type waiting for the only connection gets it; the endpoint is not
// marked down.
func TestPoolExchangeTimeout(t *testing.T) {
	s := newTestServer(t)
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool {
		if req.Type == GetIKETun {
			<-s.block
			return false
		}
		return s.answer(c, h, req, err)
	}
	p := unixPool(s.addr(), PoolConfig{Size: 1, ExchangeTimeout: 50 * time.Millisecond})
	defer p.Close()
	hung := make(chan error, 1)
	go func() {
		_, err := p.Do(context.Background(), &Request{Type: GetIKETun, Target: "TCPIP"}, nil)
		hung <- err
	}()
	waitFor(t, "the hung exchange to hold the connection", func() bool { return p.Stats().InUse == 1 })
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatalf("the other request type: %v", err)
	}
	err := <-hung
	var oe *OpError
	if f := Classify(err); f.Class != ClassTimeout || !errors.As(err, &oe) || !oe.Timeout() {
		t.Fatalf("hung exchange: %v (%v), want the exchange timeout", err, f.Class)
	}
	st := p.Stats()
	if st.Abandoned != 1 || st.Opened != 2 || st.Down {
		t.Fatalf("stats %+v", st)
	}
}

// TestPoolCloseStopsProber: Close ends a prober waiting or dialing.
func TestPoolCloseStopsProber(t *testing.T) {
	p := unixPool(t.TempDir()+"/nobody", PoolConfig{BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	if _, err := p.Do(context.Background(), stackReq, nil); Classify(err).Class != ClassUnavailable {
		t.Fatalf("got %v", err)
	}
	waitFor(t, "probes", func() bool { return p.Stats().Probes >= 2 })
	p.Close()
	if st := p.Stats(); st.Down {
		t.Fatalf("down after Close: %+v", st)
	}
}
