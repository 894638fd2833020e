package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The chaos mode measures how the gateway lives through IKED's outages.
// iked-sim and the gateway run as processes on loopback; load workers
// send GET /v1/stacks/TCPIP/summary without pause. Each fault runs
// --rounds times and the median is reported:
//
//   - kill -9: iked-sim killed, started again after --outage;
//   - SIGTERM: iked-sim shut down (TERM to every client), started again
//     after --outage;
//   - hang: iked-sim stopped (SIGSTOP) for --hang, then continued;
//
// with the time from IKED's return (the new process's ready line, or
// SIGCONT) to the first 200, and to steady 200s (the first 200 after the
// last answer that was not one). Then the bytes the gateway logs (at
// info) during a 10 s outage under the same load, and the gateway's RSS
// at peak under --conns connections listing IKE tunnels for --conn-time,
// and 60 s after they end; the same again with no concurrency limit
// (--max-concurrent-requests 1000000) as the baseline of the same run.
// Every loop ends by itself.

const chaosCmd = "chaos"

type chaosOptions struct {
	gatewayBin, simBin string
	workers, rounds    int
	outage, hang       time.Duration
	settle             time.Duration
	logOutage          time.Duration
	conns              int
	connTime, rssAfter time.Duration
	tunnels            int
	skipRSS            bool
}

func runChaos(ctx context.Context, args []string, out io.Writer) error {
	var o chaosOptions
	fs := flag.NewFlagSet("nmigw-bench chaos", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "gateway binary (default: go build ./cmd/gateway)")
	fs.StringVar(&o.simBin, "sim-bin", "", "iked-sim binary (default: go build ./cmd/iked-sim)")
	fs.IntVar(&o.workers, "workers", 8, "load workers during the faults")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds of each fault (the median is reported)")
	fs.DurationVar(&o.outage, "outage", time.Second, "time iked-sim stays dead after kill -9 or SIGTERM")
	fs.DurationVar(&o.hang, "hang", 5*time.Second, "time iked-sim stays stopped")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "load kept after IKED returns, to see steady 200s")
	fs.DurationVar(&o.logOutage, "log-outage", 10*time.Second, "outage during which the log is measured")
	fs.IntVar(&o.conns, "conns", 2000, "connections of the memory measurement")
	fs.DurationVar(&o.connTime, "conn-time", 10*time.Second, "load time of the memory measurement")
	fs.DurationVar(&o.rssAfter, "rss-after", 60*time.Second, "wait after the load before the second RSS reading")
	fs.IntVar(&o.tunnels, "tunnels", 100, "IKE tunnel records of the stack")
	fs.BoolVar(&o.skipRSS, "skip-rss", false, "skip the memory measurement")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.workers < 1 || o.rounds < 1 || o.conns < 1 || o.outage <= 0 || o.hang <= 0 {
		return errors.New("chaos: workers, rounds and conns must be positive, outage and hang too")
	}
	dir, err := os.MkdirTemp("", "nmigw-chaos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.gatewayBin == "" {
		if o.gatewayBin, err = goBuild(ctx, dir, "gateway"); err != nil {
			return err
		}
	}
	if o.simBin == "" {
		if o.simBin, err = goBuild(ctx, dir, "iked-sim"); err != nil {
			return err
		}
	}
	socket := filepath.Join(dir, "ipsecmgmt")
	simArgs := []string{"--socket", socket, "--generate", "stacks=1,filters=10,tunnels=" + strconv.Itoa(o.tunnels) + ",seed=1"}
	sim, err := startSimChild(o.simBin, simArgs)
	if err != nil {
		return err
	}
	defer func() { sim.kill(syscall.SIGKILL) }()
	pol, token, err := writePolicy(dir)
	if err != nil {
		return err
	}
	gw, err := startLoggedChild(o.gatewayBin, []string{"--listen", "127.0.0.1:0", "--nmi-socket", socket,
		"--policy", pol, "--log-level", "info"}, "Bearer "+token)
	if err != nil {
		return err
	}
	defer gw.stop()
	fmt.Fprintf(out, "chaos: gateway pid %d, iked-sim %s, %d workers on GET /v1/stacks/%s/summary, %d rounds\n",
		gw.pid, filepath.Base(o.simBin), o.workers, stack, o.rounds)

	restart := func(sig syscall.Signal) func() (time.Time, error) {
		return func() (time.Time, error) {
			sim.kill(sig)
			time.Sleep(o.outage)
			s, err := startSimChild(o.simBin, simArgs)
			if err != nil {
				return time.Time{}, err
			}
			sim = s
			return time.Now(), nil
		}
	}
	hang := func() (time.Time, error) {
		if err := sim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			return time.Time{}, err
		}
		time.Sleep(o.hang)
		err := sim.cmd.Process.Signal(syscall.SIGCONT)
		return time.Now(), err
	}
	for _, f := range []struct {
		name  string
		fault func() (time.Time, error)
	}{{"kill -9", restart(syscall.SIGKILL)}, {"SIGTERM", restart(syscall.SIGTERM)}, {"hang " + o.hang.String(), hang}} {
		var first, steady []time.Duration
		refused := 0
		for range o.rounds {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := chaosRound(gw, o, f.fault)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			first, steady = append(first, r.first), append(steady, r.steady)
			refused += r.refused
		}
		fmt.Fprintf(out, "%-9s IKED back -> first 200: median %s (min %s, max %s); -> steady 200s: median %s (max %s); %d refusals in all\n",
			f.name, ms(median(first)), ms(slices.Min(first)), ms(slices.Max(first)), ms(median(steady)), ms(slices.Max(steady)), refused)
	}

	// The log of a 10 s outage under load.
	logStart := gw.logBytes.Load()
	stopLoad, stats := startLoad(gw, o.workers, "/v1/stacks/"+stack+"/summary")
	time.Sleep(time.Second)
	before := gw.logBytes.Load()
	sim.kill(syscall.SIGKILL)
	time.Sleep(o.logOutage)
	during := gw.logBytes.Load() - before
	if sim, err = startSimChild(o.simBin, simArgs); err != nil {
		stopLoad()
		return err
	}
	time.Sleep(o.settle)
	stopLoad()
	fmt.Fprintf(out, "log during a %s outage under load: %d bytes (%d requests answered meanwhile, %d refused in all); %d bytes over the whole phase\n",
		o.logOutage, during, stats.total.Load(), stats.refused.Load(), gw.logBytes.Load()-logStart)
	gw.stop()

	if o.skipRSS {
		return nil
	}
	for _, limit := range []string{"", "1000000"} {
		args := []string{"--listen", "127.0.0.1:0", "--nmi-socket", socket, "--policy", pol, "--log-level", "warn"}
		what := "default limit"
		if limit != "" {
			args = append(args, "--max-concurrent-requests", limit)
			what = "no limit (baseline)"
		}
		g, err := startLoggedChild(o.gatewayBin, args, "Bearer "+token)
		if err != nil {
			return err
		}
		r, err := rssUnderConns(g, o)
		g.stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "RSS, %d connections on GET .../ike/tunnels (%d tunnels) for %s, %s: start %.0f MiB, peak %.0f MiB, %s after %.0f MiB; %d 200s, %d 503s\n",
			o.conns, o.tunnels, o.connTime, what, mib(r.start), mib(r.peak), o.rssAfter, mib(r.after), r.ok, r.refused)
	}
	return nil
}

// goBuild builds ./cmd/name into dir.
func goBuild(ctx context.Context, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/"+name)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building %s (run from the repository root, or give its binary): %w", name, err)
	}
	return bin, nil
}

// simChild is an iked-sim process.
type simChild struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startSimChild starts iked-sim and waits for its ready line.
func startSimChild(bin string, args []string) (*simChild, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &simChild{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "iked-sim ready") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.exited:
		return nil, errors.New("iked-sim exited before it was ready")
	case <-time.After(30 * time.Second):
		s.kill(syscall.SIGKILL)
		return nil, errors.New("iked-sim not ready after 30s")
	}
}

// kill sends sig (continuing a stopped process first) and waits for the
// exit.
func (s *simChild) kill(sig syscall.Signal) {
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// loggedChild is a gateway process whose log bytes are counted.
type loggedChild struct {
	gateway
	logBytes *atomic.Int64
}

func startLoggedChild(bin string, args []string, auth string) (*loggedChild, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &loggedChild{logBytes: &atomic.Int64{}}
	found := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		r := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := r.ReadSlice('\n')
			c.logBytes.Add(int64(len(line)))
			if m := listenRe.FindSubmatch(line); m != nil {
				select {
				case found <- string(m[1]):
				default:
				}
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	stopped := sync.OnceFunc(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	select {
	case base := <-found:
		c.gateway = gateway{base: base, auth: auth, pid: cmd.Process.Pid, stop: stopped}
		return c, nil
	case <-exited:
		return nil, fmt.Errorf("%s exited before printing its address", bin)
	case <-time.After(30 * time.Second):
		stopped()
		return nil, fmt.Errorf("%s did not print its address", bin)
	}
}

// loadStats counts the answers of a load.
type loadStats struct {
	total, ok, refused, other atomic.Int64

	mu     sync.Mutex
	from   time.Time // completions at or after it are kept
	events []completion
}

type completion struct {
	at time.Time
	ok bool
}

// maxEvents bounds the completions kept in a round.
const maxEvents = 1 << 20

// startLoad runs workers that GET path until the returned stop is called.
func startLoad(gw *loggedChild, workers int, path string) (stop func(), s *loadStats) {
	s = &loadStats{}
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var done atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				status := 0
				if req, err := http.NewRequest(http.MethodGet, gw.base+path, nil); err == nil {
					req.Header.Set("Authorization", gw.auth)
					if resp, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						status = resp.StatusCode
					}
				}
				s.add(status)
				if status == 0 {
					time.Sleep(10 * time.Millisecond) // the gateway itself gone: do not spin
				}
			}
		}()
	}
	return func() { done.Store(true); wg.Wait(); tr.CloseIdleConnections() }, s
}

func (s *loadStats) add(status int) {
	now := time.Now()
	s.total.Add(1)
	switch status {
	case http.StatusOK:
		s.ok.Add(1)
	case http.StatusServiceUnavailable:
		s.refused.Add(1)
	default:
		s.other.Add(1)
	}
	s.mu.Lock()
	if !s.from.IsZero() && !now.Before(s.from) && len(s.events) < maxEvents {
		s.events = append(s.events, completion{at: now, ok: status == http.StatusOK})
	}
	s.mu.Unlock()
}

// keepFrom starts keeping completions at t.
func (s *loadStats) keepFrom(t time.Time) {
	s.mu.Lock()
	s.from, s.events = t, s.events[:0]
	s.mu.Unlock()
}

type roundResult struct {
	first, steady time.Duration
	refused       int
}

// chaosRound runs the load, waits for 200s, makes the fault (which
// returns when IKED is back), keeps the load for --settle and measures.
func chaosRound(gw *loggedChild, o chaosOptions, fault func() (time.Time, error)) (roundResult, error) {
	stop, s := startLoad(gw, o.workers, "/v1/stacks/"+stack+"/summary")
	defer stop()
	deadline := time.Now().Add(30 * time.Second)
	for s.ok.Load() < 10 {
		if time.Now().After(deadline) {
			return roundResult{}, errors.New("no 200s before the fault")
		}
		time.Sleep(10 * time.Millisecond)
	}
	back, err := fault()
	if err != nil {
		return roundResult{}, err
	}
	s.keepFrom(back)
	time.Sleep(o.settle)
	stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var r roundResult
	r.refused = int(s.refused.Load())
	lastBad := -1
	firstOK := -1
	for i, e := range s.events {
		if e.ok && firstOK < 0 {
			firstOK = i
		}
		if !e.ok {
			lastBad = i
		}
	}
	if firstOK < 0 {
		return r, fmt.Errorf("no 200 within %s after IKED returned", o.settle)
	}
	r.first = s.events[firstOK].at.Sub(back)
	r.steady = r.first
	if lastBad >= 0 {
		if lastBad+1 >= len(s.events) {
			return r, fmt.Errorf("no steady 200s within %s after IKED returned", o.settle)
		}
		r.steady = s.events[lastBad+1].at.Sub(back)
	}
	return r, nil
}

type rssResult struct {
	start, peak, after int64
	ok, refused        int64
}

// rssUnderConns opens o.conns connections listing IKE tunnels for
// o.connTime, samples the gateway's RSS, then waits o.rssAfter.
func rssUnderConns(g *loggedChild, o chaosOptions) (rssResult, error) {
	var r rssResult
	var err error
	if r.start, err = procStatus(g.pid, "VmRSS"); err != nil {
		return r, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.conns, MaxConnsPerHost: o.conns}
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	var done atomic.Bool
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				req, err := http.NewRequest(http.MethodGet, g.base+"/v1/stacks/"+stack+"/ike/tunnels", nil)
				if err != nil {
					return
				}
				req.Header.Set("Authorization", g.auth)
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusServiceUnavailable:
					refused.Add(1)
				}
			}
		}()
	}
	end := time.Now().Add(o.connTime)
	for time.Now().Before(end) {
		if v, err := procStatus(g.pid, "VmRSS"); err == nil {
			r.peak = max(r.peak, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	tr.CloseIdleConnections()
	if v, err := procStatus(g.pid, "VmHWM"); err == nil {
		r.peak = max(r.peak, v)
	}
	time.Sleep(o.rssAfter)
	r.after, err = procStatus(g.pid, "VmRSS")
	r.ok, r.refused = ok.Load(), refused.Load()
	return r, err
}
