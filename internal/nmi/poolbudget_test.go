package nmi_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// The NMI connection budget: IKED serves at most 50 clients and refuses
// the 51st for everyone, so a pool must never hold more than its Size
// open at once. The tests count on both sides of a real AF_UNIX socket:
// the connections the pool's dial function handed out and whose Close has
// not returned (what the pool holds), and the connections the simulator
// holds (accepted and not yet closed by it).

// openCount counts connections open now and the peak of those open at
// once.
type openCount struct {
	mu                 sync.Mutex
	open, peak, opened int
}

func (c *openCount) add(d int) {
	c.mu.Lock()
	c.open += d
	c.peak = max(c.peak, c.open)
	if d > 0 {
		c.opened++
	}
	c.mu.Unlock()
}

// get returns the connections open now, the peak and how many were
// opened in all.
func (c *openCount) get() (open, peak, opened int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.peak, c.opened
}

// countedConn leaves its count once its Close has returned.
type countedConn struct {
	net.Conn
	n    *openCount
	once sync.Once
}

// SyscallConn offers the socket, as a *net.UnixConn does, so that the
// pool looks at idle connections as it does in production.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.n.add(-1) })
	return err
}

// countedListener counts the connections the simulator holds. Its
// connections are not *net.UnixConn, so the simulator runs without a SAF
// policy.
type countedListener struct {
	net.Listener
	n *openCount
}

func (l countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.add(1)
	return &countedConn{Conn: c, n: l.n}, nil
}

// budgetSim is a simulator on a real AF_UNIX socket, counting the
// connections it holds.
type budgetSim struct {
	path   string
	srv    *ikedsim.Server
	faults *ikedsim.Faults
	server openCount
}

func startBudgetSim(t *testing.T, cfg ikedsim.Config) *budgetSim {
	t.Helper()
	s := &budgetSim{path: filepath.Join(t.TempDir(), "ipsecmgmt"), faults: ikedsim.NewFaults()}
	cfg.Faults = s.faults
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	ln, err := ikedsim.Listen(s.path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(countedListener{Listener: ln, n: &s.server}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	return s
}

// pool returns a pool on the simulator whose dial function counts the
// connections it hands out into held.
func (s *budgetSim) pool(cfg nmi.PoolConfig, held *openCount) *nmi.Pool {
	dial := nmi.DialUnix(s.path)
	cfg.Addr = s.path
	cfg.Dial = func(ctx context.Context) (net.Conn, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		held.add(1)
		return &countedConn{Conn: c, n: held}, nil
	}
	return nmi.NewPool(cfg)
}

var ikeReq = &nmi.Request{Type: nmi.GetIKETun, Target: "TCPIP"}

// TestPoolIdlePastExchangeTimeout: a connection left idle for longer than
// ExchangeTimeout is still good and is used again, not replaced. (The
// deadline of its last exchange stayed on the socket; the look at an
// idle connection before lending it took that deadline for a failure and
// the pool redialed, so that a server noticing the close late briefly
// saw twice the pool's size.)
func TestPoolIdlePastExchangeTimeout(t *testing.T) {
	const size = 4
	s := startBudgetSim(t, ikedsim.Config{})
	var held openCount
	const timeout = 20 * time.Millisecond
	p := s.pool(nmi.PoolConfig{Size: size, ExchangeTimeout: timeout}, &held)
	defer p.Close()
	ctx := t.Context()
	burst := func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range size {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := p.Do(ctx, ikeReq, nil); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	for i := range 4 {
		if i > 0 {
			time.Sleep(3 * timeout) // every socket deadline of the last burst has passed
		}
		burst()
	}
	st := p.Stats()
	if st.Closed != 0 || st.Opened > size {
		t.Errorf("after idling past ExchangeTimeout: opened %d, closed %d; want the idle connections used again", st.Opened, st.Closed)
	}
	if _, peak, n := s.server.get(); peak > size || uint64(n) != st.Opened {
		t.Errorf("the simulator saw %d connections, at most %d at once (pool size %d, the pool opened %d)", n, peak, size, st.Opened)
	}
}

// TestPoolConnectionBudget drives a pool of 4 with 64 callers whose
// exchanges end every way that destroys a connection: canceled while the
// answer is awaited, the caller's deadline, the exchange timeout (no
// answer), TERM at random, and refusals by a simulator whose client limit
// is the pool's size, so that a connection the simulator has not yet seen
// closed makes the pool's next dial fail and the prober run. The pool
// never holds more than its size open at once, counted by its dial
// function up to the return of Close, and holds none after Close.
func TestPoolConnectionBudget(t *testing.T) {
	const size, callers, rounds = 4, 64, 20
	s := startBudgetSim(t, ikedsim.Config{MaxClients: size + 1})
	if err := s.faults.SetTermRate(0.05, 7); err != nil {
		t.Fatal(err)
	}
	s.faults.Set(nmi.GetIKETun, ikedsim.Fault{Delay: 2 * time.Millisecond})
	s.faults.Set(nmi.GetSummary, ikedsim.Fault{NoReply: true})
	var held openCount
	p := s.pool(nmi.PoolConfig{Size: size, ExchangeTimeout: 10 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond}, &held)
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[nmi.Class]int{}
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds; {
				req := ikeReq
				cctx, cancel := context.WithCancel(ctx)
				switch (i + j) % 4 {
				case 0: // canceled while the answer is awaited
					time.AfterFunc(time.Millisecond, cancel)
				case 1: // the caller's deadline
					cctx, cancel = context.WithTimeout(ctx, time.Millisecond)
				case 2: // never answered: the exchange timeout
					req = &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}
				}
				_, err := p.Do(cctx, req, nil)
				cancel()
				class := nmi.Classify(err).Class
				mu.Lock()
				outcomes[class]++
				mu.Unlock()
				if errors.Is(err, nmi.ErrClosed) {
					t.Error(err)
					return
				}
				if class == nmi.ClassUnavailable {
					// Refused meanwhile: the prober runs; try again
					// in a while, as a client honouring Retry-After.
					time.Sleep(time.Millisecond)
					continue
				}
				j++
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	_, heldPeak, heldOpened := held.get()
	_, srvPeak, srvOpened := s.server.get()
	t.Logf("outcomes %v; pool: opened %d, closed %d, abandoned %d, probes %d, dial failures %d; held at once %d of %d dialed; simulator: at once %d of %d accepted",
		outcomes, st.Opened, st.Closed, st.Abandoned, st.Probes, st.DialFailures, heldPeak, heldOpened, srvPeak, srvOpened)
	if heldPeak > size {
		t.Errorf("the pool held %d connections at once, more than its size %d", heldPeak, size)
	}
	// Every way of ending was taken, or the test proves less than it says.
	if outcomes[nmi.ClassOK] == 0 || outcomes[nmi.ClassCanceled] == 0 || outcomes[nmi.ClassDeadline] == 0 ||
		outcomes[nmi.ClassTimeout] == 0 || st.Abandoned == 0 || st.Closed == 0 {
		t.Errorf("not every ending was exercised: outcomes %v, stats %+v", outcomes, st)
	}
	p.Close()
	if open, _, _ := held.get(); open != 0 {
		t.Errorf("%d connections still open after Close", open)
	}
	nmi.WaitFor(t, "the simulator to see every connection closed", func() bool { open, _, _ := s.server.get(); return open == 0 })
}
