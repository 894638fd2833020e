package nmi

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type recorder struct {
	mu     sync.Mutex
	events []ExchangeEvent
}

func (r *recorder) ObserveExchange(e ExchangeEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) outcomes() map[Class]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[Class]int{}
	for _, e := range r.events {
		m[e.Failure.Class]++
	}
	return m
}

func TestPoolReuse(t *testing.T) {
	s := newTestServer(t)
	rec := &recorder{}
	p := unixPool(s.addr(), PoolConfig{Observer: rec})
	defer p.Close()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				n := 0
				if _, err := p.Do(context.Background(), stackReq, func(Record) error { n++; return nil }); err != nil || n != 2 {
					t.Errorf("%v, %d records", err, n)
				}
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	if st.MaxSize != 4 || st.Opened > 4 || st.Opened == 0 || st.InUse != 0 || st.Idle != int(st.Opened) || st.Exchanges != 80 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
	if o := rec.outcomes(); o[ClassOK] != 80 {
		t.Fatalf("outcomes %v", o)
	}
	for _, e := range rec.events {
		if e.Records != 2 || e.Type != GetStackInfo {
			t.Fatalf("event %+v", e)
		}
	}
}

func TestPoolSizeBounds(t *testing.T) {
	if unixPool("x", PoolConfig{Size: 500}).cfg.Size != MaxPoolSize || unixPool("x", PoolConfig{}).cfg.Size != DefaultPoolSize {
		t.Fatal("pool size not bounded")
	}
}

func TestPoolExhaustionAndCancel(t *testing.T) {
	s := newTestServer(t)
	hang(s)
	p := unixPool(s.addr(), PoolConfig{Size: 1, MaxWait: 20 * time.Millisecond})
	defer p.Close()
	busy, cancelBusy := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := p.Do(busy, stackReq, nil); done <- err }()
	for s.requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Do(context.Background(), stackReq, nil); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("exhausted pool: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for p.Stats().Waits < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	p.cfg.MaxWait = 0
	if _, err := p.Do(ctx, stackReq, nil); err != context.Canceled {
		t.Fatalf("cancelled acquire: %v", err)
	}
	cancelBusy()
	if err := <-done; err != context.Canceled {
		t.Fatalf("busy exchange: %v", err)
	}
	st := p.Stats()
	if st.Waits != 2 || st.Exhausted != 1 || st.InUse != 0 || st.Idle != 0 || st.Closed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPoolDestroysAfterErrors(t *testing.T) {
	s := newTestServer(t)
	calls := 0
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool {
		calls++
		switch calls {
		case 1:
			c.Write(AppendError(nil, h, Version, EACCES, 0)) // clean: kept
			return true
		case 2:
			c.Write(AppendError(nil, h, Version, EINVAL, RsnBadFilter)) // our bytes were bad: destroyed
			return true
		case 3:
			c.Write(AppendTerm(nil, Version, 0, 0))
			return false
		}
		return s.answer(c, h, req, err)
	}
	rec := &recorder{}
	p := unixPool(s.addr(), PoolConfig{Size: 1, Observer: rec})
	defer p.Close()
	for i := 0; i < 4; i++ {
		p.Do(context.Background(), stackReq, nil)
	}
	st := p.Stats()
	if st.Opened != 3 || st.Closed != 2 || st.Idle != 1 || st.Terms[TermCause{}] != 1 || st.Errors != 3 {
		t.Fatalf("stats %+v", st)
	}
	if o := rec.outcomes(); o[ClassStatus] != 2 || o[ClassTerm] != 1 || o[ClassOK] != 1 {
		t.Fatalf("outcomes %v", o)
	}
}

func TestPoolLastSuccess(t *testing.T) {
	s := newTestServer(t)
	var failing atomic.Bool
	s.handle = func(c *net.UnixConn, h Header, req Request, err error) bool {
		if failing.Load() {
			c.Write(AppendError(nil, h, Version, EACCES, 0))
			return true
		}
		return s.answer(c, h, req, err)
	}
	p := unixPool(s.addr(), PoolConfig{Size: 1})
	defer p.Close()
	if !p.LastSuccess().IsZero() {
		t.Fatal("a success before any exchange")
	}
	before := time.Now()
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatal(err)
	}
	ok := p.LastSuccess()
	if ok.Before(before) || ok.After(time.Now()) {
		t.Fatalf("last success %v, exchange started %v", ok, before)
	}
	failing.Store(true)
	if _, err := p.Do(context.Background(), stackReq, nil); err == nil {
		t.Fatal("EACCES answer succeeded")
	}
	if got := p.LastSuccess(); !got.Equal(ok) {
		t.Fatalf("a failed exchange moved the last success from %v to %v", ok, got)
	}
}

func TestPoolIdleConnectionGetsTerm(t *testing.T) {
	s := newTestServer(t)
	p := unixPool(s.addr(), PoolConfig{Size: 1})
	defer p.Close()
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatal(err)
	}
	// The server shuts the idle connection down with a TERM.
	termIdle(s)
	if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
		t.Fatalf("exchange after the idle connection was terminated: %v", err)
	}
	if st := p.Stats(); st.Opened != 2 || st.Terms[TermCause{}] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBackoffDoublesUpToItsMaximum(t *testing.T) {
	const ns = time.Nanosecond
	odd := (1<<34 + 1) * ns // shifted left 30 times, it wraps to 1<<30 ns
	for _, c := range []struct {
		lo, hi time.Duration
		n      int
		want   time.Duration
	}{
		{100 * time.Millisecond, 10 * time.Second, 1, 100 * time.Millisecond},
		{100 * time.Millisecond, 10 * time.Second, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, 10 * time.Second, 7, 6400 * time.Millisecond},
		{100 * time.Millisecond, 10 * time.Second, 8, 10 * time.Second},
		{100 * time.Millisecond, 10 * time.Second, 1000, 10 * time.Second},
		{odd, 2 * odd, 31, 2 * odd},
		{odd, 2 * odd, 40, 2 * odd},
		{time.Hour, time.Hour, 1, time.Hour},
		{time.Hour, time.Hour, 64, time.Hour},
	} {
		if got := backoff(c.lo, c.hi, c.n); got != c.want {
			t.Errorf("backoff(%v, %v, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
		}
	}
}

func TestPoolBackoff(t *testing.T) {
	s := newTestServer(t)
	s.onAccept = func(c *net.UnixConn) bool { c.Write(AppendTerm(nil, Version, EAGAIN, 0)); return false }
	rec := &recorder{}
	p := unixPool(s.addr(), PoolConfig{BackoffMin: time.Hour, Observer: rec})
	defer p.Close()
	_, err := p.Do(context.Background(), stackReq, nil)
	var se *StatusError
	if !errors.As(err, &se) || !se.Refused {
		t.Fatalf("first: %v", err)
	}
	_, err = p.Do(context.Background(), stackReq, nil)
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || !errors.Is(ue.Last, se) || ue.RetryAt.Before(time.Now().Add(time.Minute)) {
		t.Fatalf("during backoff: %v", err)
	}
	if f := Classify(err); f.Class != ClassUnavailable || !f.RetryAt.Equal(ue.RetryAt) {
		t.Fatalf("during backoff: classified %+v", f)
	}
	st := p.Stats()
	if st.DialFailures != 1 || st.Backoff <= 0 || !st.Down || st.Terms[TermCause{Rc: EAGAIN}] != 1 || st.InUse != 0 {
		t.Fatalf("stats %+v", st)
	}
	if o := rec.outcomes(); o[ClassRefused] != 1 || o[ClassUnavailable] != 1 {
		t.Fatalf("outcomes %v", o)
	}
}

func TestPoolClose(t *testing.T) {
	s := newTestServer(t)
	p := unixPool(s.addr(), PoolConfig{})
	p.Do(context.Background(), stackReq, nil)
	p.Close()
	if _, err := p.Do(context.Background(), stackReq, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if st := p.Stats(); st.Idle != 0 || st.Closed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNoGoroutineLeak runs the client and pool through success, errors,
// cancellation and a dying server, closes everything, and checks that the
// goroutines started are gone.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		s := newTestServer(t)
		defer s.close()
		p := unixPool(s.addr(), PoolConfig{Size: 2})
		defer p.Close()
		for i := 0; i < 5; i++ {
			p.Do(context.Background(), stackReq, nil)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p.Do(ctx, stackReq, nil)
		c, err := dialUnix(context.Background(), s.addr())
		if err != nil {
			t.Fatal(err)
		}
		dl, cancel2 := context.WithTimeout(context.Background(), time.Second)
		c.Do(dl, stackReq, nil)
		cancel2()
		s.kill()
		c.Do(context.Background(), stackReq, nil)
		c.Close()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// initRecorder is an Observer that also implements InitObserver.
type initRecorder struct {
	recorder
	inits []error
}

func (r *initRecorder) ObserveInit(d time.Duration, err error) {
	r.mu.Lock()
	r.inits = append(r.inits, err)
	r.mu.Unlock()
	if d < 0 {
		panic("negative INIT wait")
	}
}

func (r *initRecorder) initErrs() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.inits...)
}

func TestPoolObservesInit(t *testing.T) {
	t.Run("ok once per connection", func(t *testing.T) {
		s := newTestServer(t)
		rec := &initRecorder{}
		p := unixPool(s.addr(), PoolConfig{Size: 1, Observer: rec})
		defer p.Close()
		for range 3 {
			if _, err := p.Do(context.Background(), stackReq, nil); err != nil {
				t.Fatal(err)
			}
		}
		if errs := rec.initErrs(); len(errs) != 1 || errs[0] != nil {
			t.Fatalf("INIT observations %v, want one success", errs)
		}
	})
	t.Run("refused", func(t *testing.T) {
		s := newTestServer(t)
		s.onAccept = func(c *net.UnixConn) bool { c.Write(AppendTerm(nil, Version, EAGAIN, 0)); return false }
		rec := &initRecorder{}
		p := unixPool(s.addr(), PoolConfig{BackoffMin: time.Hour, Observer: rec})
		defer p.Close()
		p.Do(context.Background(), stackReq, nil)
		p.Do(context.Background(), stackReq, nil) // in backoff: no dial, no observation
		errs := rec.initErrs()
		var se *StatusError
		if len(errs) != 1 || !errors.As(errs[0], &se) || !se.Refused {
			t.Fatalf("INIT observations %v, want one refusal", errs)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		rec := &initRecorder{}
		p := unixPool(t.TempDir()+"/nobody", PoolConfig{Observer: rec})
		defer p.Close()
		p.Do(context.Background(), stackReq, nil)
		var oe *OpError
		if errs := rec.initErrs(); len(errs) != 1 || !errors.As(errs[0], &oe) {
			t.Fatalf("INIT observations %v, want one dial error", errs)
		}
	})
	t.Run("abandoned by the caller", func(t *testing.T) {
		s := newTestServer(t)
		accepted := make(chan struct{})
		s.onAccept = func(c *net.UnixConn) bool { close(accepted); <-s.block; return false }
		rec := &initRecorder{}
		p := unixPool(s.addr(), PoolConfig{Observer: rec})
		defer p.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-accepted; cancel() }()
		if _, err := p.Do(ctx, stackReq, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned dial: %v", err)
		}
		if errs := rec.initErrs(); len(errs) != 0 {
			t.Fatalf("INIT observations %v for a dial the caller abandoned", errs)
		}
	})
}
