package coalesce_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/coalesce"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// sim is ikedsim's demo on a real AF_UNIX socket, reached through a pool.
type sim struct {
	srv    *ikedsim.Server
	pool   *nmi.Pool
	faults *ikedsim.Faults
}

func newSim(t *testing.T) *sim {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nmi.sock")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &sim{faults: ikedsim.NewFaults()}
	s.srv, err = ikedsim.NewServer(ikedsim.Config{Faults: s.faults})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ln) }()
	s.pool = nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, Size: 16})
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

var dynReq = nmi.Request{Type: nmi.GetIPTunDynStack, Target: "TCPIP"}

// count reads req through n and counts its records.
func count(ctx context.Context, n coalesce.NMI, req nmi.Request) (int, error) {
	c := 0
	_, err := n.Do(ctx, &req, func(nmi.Record) error { c++; return nil })
	return c, err
}

// waitFor polls cond until it holds (the test's deadline bounds it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestJoinInFlight: reads of the same question that arrive while the
// exchange is on its way share it; IKED sees one request.
func TestJoinInFlight(t *testing.T) {
	s := newSim(t)
	r := coalesce.New(s.pool, coalesce.Config{})
	want, err := count(t.Context(), s.pool, dynReq)
	if err != nil || want == 0 {
		t.Fatalf("direct read: %d records, %v", want, err)
	}
	base := s.srv.Requests(nmi.GetIPTunDynStack)
	// IKED holds the answer until every reader has joined.
	s.faults.Set(nmi.GetIPTunDynStack, ikedsim.Fault{Delay: 2 * time.Second, Times: 1})
	const n = 8
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	read := func(i int) {
		defer wg.Done()
		got[i], errs[i] = count(t.Context(), r, dynReq)
	}
	wg.Add(1)
	go read(0)
	waitFor(t, "the first request at IKED", func() bool { return s.srv.Requests(nmi.GetIPTunDynStack) == base+1 })
	for i := 1; i < n; i++ {
		wg.Add(1)
		go read(i)
	}
	waitFor(t, "the others to join", func() bool { return r.Stats().Shared == n-1 })
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != want {
			t.Errorf("reader %d: %d records, %v; want %d", i, got[i], errs[i], want)
		}
	}
	if d := s.srv.Requests(nmi.GetIPTunDynStack) - base; d != 1 {
		t.Errorf("IKED saw %d requests for %d readers, want 1", d, n)
	}
}

// TestNeverPredates: a read that arrives once an exchange has begun
// answering does not join it: it gets an exchange of its own, which shows
// what changed just before it.
func TestNeverPredates(t *testing.T) {
	s := newSim(t)
	r := coalesce.New(s.pool, coalesce.Config{MaxStaleness: 0})
	base := s.srv.Requests(nmi.GetIPTunDynStack)

	// The first reader holds its exchange open on its first record.
	hold, release := make(chan struct{}), make(chan struct{})
	first := make(chan int, 1)
	go func() {
		c := 0
		_, err := r.Do(t.Context(), &dynReq, func(nmi.Record) error {
			if c == 0 {
				close(hold)
				<-release
			}
			c++
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		first <- c
	}()
	<-hold
	// The state changes, then the second read arrives.
	if !s.srv.Model().RestartStack("TCPIP") {
		t.Fatal("restart")
	}
	after, err := count(t.Context(), r, dynReq)
	close(release)
	before := <-first
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || after == before {
		t.Errorf("dynamic tunnels before the restart %d, after %d: the second read did not see the restart", before, after)
	}
	if d := s.srv.Requests(nmi.GetIPTunDynStack) - base; d != 2 {
		t.Errorf("IKED saw %d requests, want 2", d)
	}
	// A completed exchange is never reused without MaxStaleness.
	if _, err := count(t.Context(), r, dynReq); err != nil {
		t.Fatal(err)
	}
	if d := s.srv.Requests(nmi.GetIPTunDynStack) - base; d != 3 {
		t.Errorf("IKED saw %d requests after a third read, want 3", d)
	}
}

// TestMemberLeaves: a reader whose context ends leaves at once; the
// exchange goes on for the others.
func TestMemberLeaves(t *testing.T) {
	s := newSim(t)
	r := coalesce.New(s.pool, coalesce.Config{})
	want, err := count(t.Context(), s.pool, dynReq)
	if err != nil {
		t.Fatal(err)
	}
	s.faults.Set(nmi.GetIPTunDynStack, ikedsim.Fault{Delay: 2 * time.Second, Times: 1})
	base := s.srv.Requests(nmi.GetIPTunDynStack)
	ctx, cancel := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() { _, err := count(ctx, r, dynReq); leaderErr <- err }()
	waitFor(t, "the first request at IKED", func() bool { return s.srv.Requests(nmi.GetIPTunDynStack) == base+1 })
	other := make(chan int, 1)
	go func() {
		c, err := count(t.Context(), r, dynReq)
		if err != nil {
			t.Error(err)
		}
		other <- c
	}()
	waitFor(t, "the second to join", func() bool { return r.Stats().Shared == 1 })
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled reader: %v, want context.Canceled", err)
	}
	if c := <-other; c != want {
		t.Errorf("the other reader got %d records, want %d", c, want)
	}
}

// TestStaleness: with MaxStaleness a read reuses a young answer and says
// how old it is; Fresh and Invalidate force an exchange.
func TestStaleness(t *testing.T) {
	s := newSim(t)
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := coalesce.New(s.pool, coalesce.Config{MaxStaleness: time.Minute, Now: clock})
	base := s.srv.Requests(nmi.GetIPTunDynStack)
	exchanges := func() uint64 { return s.srv.Requests(nmi.GetIPTunDynStack) - base }
	want, err := count(t.Context(), r, dynReq)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	ctx, info := coalesce.WithInfo(t.Context())
	if got, err := count(ctx, r, dynReq); err != nil || got != want {
		t.Fatalf("reused read: %d records, %v; want %d", got, err, want)
	}
	if age, old := info.Age(); !old || age != 20*time.Second {
		t.Errorf("age %v (reused %v), want 20s", age, old)
	}
	if n := exchanges(); n != 1 {
		t.Errorf("IKED saw %d requests, want 1", n)
	}
	ctx, info = coalesce.WithInfo(coalesce.Fresh(t.Context()))
	if _, err := count(ctx, r, dynReq); err != nil {
		t.Fatal(err)
	}
	if _, old := info.Age(); old {
		t.Error("a fresh read was answered from a kept answer")
	}
	if n := exchanges(); n != 2 {
		t.Errorf("IKED saw %d requests after a fresh read, want 2", n)
	}
	// Kept again by the fresh read; another stack's control action keeps
	// it, this stack's forgets it.
	r.Invalidate("TCPIPB")
	if _, err := count(t.Context(), r, dynReq); err != nil {
		t.Fatal(err)
	}
	if n := exchanges(); n != 2 {
		t.Errorf("IKED saw %d requests after another stack's invalidation, want 2", n)
	}
	r.Invalidate("TCPIP")
	if _, err := count(t.Context(), r, dynReq); err != nil {
		t.Fatal(err)
	}
	if n := exchanges(); n != 3 {
		t.Errorf("IKED saw %d requests after an invalidation, want 3", n)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := count(t.Context(), r, dynReq); err != nil {
		t.Fatal(err)
	}
	if n := exchanges(); n != 4 {
		t.Errorf("IKED saw %d requests after the answer aged, want 4", n)
	}
}

// TestDifferentQuestions: other filters or another stack are other
// questions; control requests are never shared.
func TestDifferentQuestions(t *testing.T) {
	s := newSim(t)
	r := coalesce.New(s.pool, coalesce.Config{MaxStaleness: time.Hour})
	base := s.srv.Requests()
	var f nmi.InFilter
	f.HasTunnelID = true
	if err := f.TunnelID.Set("Y1"); err != nil {
		t.Fatal(err)
	}
	reqs := []nmi.Request{dynReq, {Type: nmi.GetIPTunDynStack, Target: "TCPIPB"},
		{Type: nmi.GetIPTunDynStack, Target: "TCPIP", Filters: []nmi.InFilter{f}}}
	for _, q := range reqs {
		if _, err := count(t.Context(), r, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.srv.Requests() - base; n != 3 {
		t.Errorf("IKED saw %d requests for 3 questions, want 3", n)
	}
	ctl := nmi.Request{Type: nmi.RefreshIKETun, Target: "TCPIP"}
	for range 2 {
		_, _ = r.Do(t.Context(), &ctl, func(nmi.Record) error { return nil })
	}
	if n := s.srv.Requests(nmi.RefreshIKETun); n != 2 {
		t.Errorf("IKED saw %d control requests, want 2", n)
	}
}
