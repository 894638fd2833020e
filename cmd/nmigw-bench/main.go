// Command nmigw-bench compares the gateway with a direct NMI client, in one
// run, at the same concurrency, against the same in-process simulator:
//
//   - GET /v1/stacks/TCPIP/ike/tunnels (a generated stack with --tunnels IKE
//     tunnel records) against NMsec_GET_IKETUN decoded by nmi.Pool:
//     requests per second, p50, p99, and the ratio gateway/direct; and,
//     as a baseline, (c) a floor: the same NMI exchange followed by the
//     gateway's answer sent from memory by a bare net/http server (see
//     floor.go), which bounds what any net/http gateway reaches here;
//   - the --filters policy filter rules: GET .../filters?set=policy against
//     NMsec_GET_IPFLTPOLICY decoded record by record: time to first byte,
//     total time, and the gateway's peak RSS (VmHWM of its process).
//
// The gateway runs as its own process (built from ./cmd/gateway unless
// --gateway-bin is given) so that its memory is measured alone; --inproc
// serves it from this process instead (no RSS figure).
//
// "nmigw-bench chaos" measures outages instead (see chaos.go): the time
// from IKED's return to the first and to steady 200s after kill -9,
// SIGTERM and a hang, the log written during an outage, and the RSS under
// 2,000 connections and after them.
//
// All of them share the machine's CPUs, so the HTTP client's work counts
// against the gateway. --pin gives the gateway process a CPU of its own
// (the last one) and runs the harness on the others, as when the gateway
// is deployed with its own CPU and its clients are elsewhere; the direct
// side then runs on fewer CPUs than the gateway side, which the output
// says.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "nmigw-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	filters     int
	tunnels     int
	repeat      int
	gatewayBin  string
	baselineBin string
	inproc      bool
	pin         bool
	cpuprofile  string
	fanIn       string
	scrapes     int
	plan        *cpuPlan // --pin
	remote      remoteOptions
}

const stack = "TCPIP"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 1 && args[1] == floorCmd {
		return runFloor(ctx, args[2:], out)
	}
	if len(args) > 1 && args[1] == chaosCmd {
		return runChaos(ctx, args[2:], out)
	}
	if len(args) > 1 && args[1] == fleetCmd {
		return runFleet(ctx, args[2:], out)
	}
	var o options
	fs := flag.NewFlagSet("nmigw-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent requests (and NMI connections of each side, at most 50)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measuring time of each side's throughput")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each throughput run")
	fs.IntVar(&o.filters, "filters", 100000, "policy filter rules of the stack")
	fs.IntVar(&o.tunnels, "tunnels", 100, "IKE tunnel records of the stack")
	fs.IntVar(&o.repeat, "repeat", 5, "listings of the filter set per side (the median is reported)")
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "gateway binary (default: go build ./cmd/gateway)")
	fs.StringVar(&o.baselineBin, "baseline-bin", "", "another gateway binary measured beside --gateway-bin at --concurrency, as (b0), in alternating slices")
	fs.BoolVar(&o.inproc, "inproc", false, "serve the gateway from this process (no RSS figure)")
	fs.BoolVar(&o.pin, "pin", false, "run the gateway on a CPU of its own and the harness on the others (Linux, 2 CPUs or more)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process to the file (with --inproc it includes the gateway)")
	fs.StringVar(&o.fanIn, "fan-in", "64,1000", "client counts of the fan-in case (many clients, one gateway, coalescing on and off); 0: none")
	fs.IntVar(&o.scrapes, "scrapes", 3, "steady scrapes of the exporter measured after the first (0: no exporter figure)")
	remoteFlags(fs, &o.remote)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.concurrency < 1 || o.concurrency > 50 || o.repeat < 1 || o.duration <= 0 || o.scrapes < 0 {
		return errors.New("concurrency must be 1-50, repeat at least 1, duration positive, scrapes not negative")
	}
	fanIn, err := parseFanIn(o.fanIn)
	if err != nil {
		return err
	}
	if o.remote.nmi != "" {
		return runRemote(ctx, o, out)
	}
	if o.pin && o.inproc {
		return errors.New("--pin needs the gateway in its own process: drop --inproc")
	}
	if o.pin {
		var err error
		if o.plan, err = planCPUs(); err != nil {
			return err
		}
	}

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "nmigw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "ipsecmgmt")
	sim, stopSim, err := startSimServer(socket, o)
	if err != nil {
		return err
	}
	defer stopSim()

	direct := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(socket), Addr: socket, Size: o.concurrency})
	defer direct.Close()

	// Each gateway process has a socket of its own, so that the simulator
	// counts its NMI connections.
	gwSocket := filepath.Join(dir, "ipsecmgmt-gateway")
	gwConns, err := serveCounted(sim, gwSocket)
	if err != nil {
		return err
	}
	gw, err := startGateway(ctx, dir, gwSocket, o)
	if err != nil {
		return err
	}
	defer gw.stop()
	if o.gatewayBin == "" && !o.inproc {
		o.gatewayBin = filepath.Join(dir, "gateway") // built by the first start
	}
	var gw0 *gateway // --baseline-bin
	if o.baselineBin != "" && !o.inproc {
		b := o
		b.gatewayBin = o.baselineBin
		bSocket := filepath.Join(dir, "ipsecmgmt-baseline")
		if _, err := serveCounted(sim, bSocket); err != nil {
			return err
		}
		if gw0, err = startGatewayAt(ctx, dir, bSocket, []string{"--nmi-socket", bSocket}, b); err != nil {
			return fmt.Errorf("baseline gateway: %w", err)
		}
		defer gw0.stop()
	}
	var gwOff *gateway // coalescing off, for the fan-in case
	var gwOffConns *countedListener
	if len(fanIn) > 0 && !o.inproc {
		offSocket := filepath.Join(dir, "ipsecmgmt-nocoalesce")
		if gwOffConns, err = serveCounted(sim, offSocket); err != nil {
			return err
		}
		if gwOff, err = startGatewayAt(ctx, dir, offSocket, []string{"--nmi-socket", offSocket, "--coalesce=false"}, o); err != nil {
			return err
		}
		defer gwOff.stop()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, DisableCompression: true,
		ReadBufferSize: 64 << 10}}
	ikeURL := gw.base + "/v1/stacks/" + stack + "/ike/tunnels"
	var floor *gateway
	if !o.inproc {
		if floor, err = startFloor(ctx, dir, socket, client, gw, ikeURL, o); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		defer floor.stop()
	}
	cpus := "shared by the harness (simulator and clients), the gateway and the floor"
	if o.plan != nil {
		if err := o.plan.pinSelf(); err != nil {
			return err
		}
		cpus = "harness " + cpusAllowed("self") + ", gateway " + cpusAllowed(strconv.Itoa(gw.pid)) +
			", floor " + cpusAllowed(strconv.Itoa(floor.pid)) + " (--pin: the direct side runs on the harness's CPUs only)"
	}

	fmt.Fprintf(out, "nmigw-bench: %d IKE tunnel records, %d policy filter rules, concurrency %d, %s per side in %d alternating slices, %d CPUs\n",
		o.tunnels, o.filters, o.concurrency, o.duration, rounds, runtime.NumCPU())
	fmt.Fprintf(out, "CPUs: %s\n\n", cpus)

	// The filter listing first, so that the gateway's peak RSS is this
	// listing's (plus its start-up).
	fl, err := filterListing(ctx, direct, gw, gw0, o)
	if err != nil {
		return err
	}
	var scrapeFirst uint64
	var scrapeSteady []uint64
	if o.scrapes > 0 && !o.inproc {
		if scrapeFirst, scrapeSteady, err = exporterCost(ctx, sim, gw, o.scrapes); err != nil {
			return fmt.Errorf("exporter: %w", err)
		}
	}
	directIKE := func(ctx context.Context) error {
		var rec nmi.IKETunnelRecord
		n := 0
		_, err := direct.Do(ctx, &nmi.Request{Type: nmi.GetIKETun, Target: stack}, func(r nmi.Record) error {
			n++
			return rec.Decode(r)
		})
		if err == nil && n != o.tunnels {
			err = fmt.Errorf("direct: %d IKE tunnel records, want %d", n, o.tunnels)
		}
		return err
	}
	gatewayIKE := func(ctx context.Context) error { _, err := fetch(ctx, client, ikeURL, gw.auth); return err }
	counted := gw.base
	if o.inproc {
		counted = "" // no /metrics
	}
	sides := []side{{name: "direct NMI", op: directIKE}, {name: "gateway", op: gatewayIKE, pid: gw.pid, counted: counted}}
	if floor != nil {
		floorIKE := func(ctx context.Context) error { _, err := fetch(ctx, client, floor.base, ""); return err }
		sides = append(sides, side{name: "floor", op: floorIKE, pid: floor.pid})
	}
	if gw0 != nil {
		url0 := gw0.base + "/v1/stacks/" + stack + "/ike/tunnels"
		op := func(ctx context.Context) error { _, err := fetch(ctx, client, url0, gw0.auth); return err }
		sides = append(sides, side{name: "(b0) baseline gateway", op: op, pid: gw0.pid, counted: gw0.base})
	}
	nBase := len(sides)
	if gwOff != nil {
		for _, n := range fanIn {
			for _, g := range []*gateway{gw, gwOff} {
				c := fanInClient(n)
				defer c.CloseIdleConnections()
				url := g.base + "/v1/stacks/" + stack + "/ike/tunnels"
				op := func(ctx context.Context) error { _, err := fetch(ctx, c, url, g.auth); return err }
				name := strconv.Itoa(n) + " clients, coalescing "
				if g == gw {
					name += "on"
				} else {
					name += "off"
				}
				sides = append(sides, side{name: name, op: op, pid: g.pid, workers: n, counted: g.base})
			}
		}
	}
	res, err := compare(ctx, o, sides)
	if err != nil {
		return err
	}
	a, b := res[0], res[1]

	fmt.Fprintf(out, "GET .../ike/tunnels (%d IKE tunnels), concurrency %d:\n", o.tunnels, o.concurrency)
	fmt.Fprintf(out, "  %-22s %8s %9s %9s  %s\n", "", "req/s", "p50", "p99", "CPU per request: this process (simulator, client), server")
	names := []string{"(a) direct NMI client", "(b) gateway over HTTP", "(c) floor over HTTP"}[:min(3, len(sides))]
	if floor == nil {
		names = names[:2]
	}
	for i, r := range res {
		server := "-"
		if sides[i].pid > 0 {
			server = us(r.cpuServerProc)
		} else if i > 0 {
			server = "(in this process)"
		}
		if i >= len(names) {
			break
		}
		fmt.Fprintf(out, "  %-22s %8.0f %9s %9s  %s, %s\n", names[i], r.rate, ms(r.p50), ms(r.p99), us(r.cpuSelf), server)
	}
	if b.perRequest >= 0 {
		fmt.Fprintf(out, "  (b) NMI exchanges per HTTP request (gateway's /metrics): %.3f\n", b.perRequest)
	}
	if b.refused > 0 {
		fmt.Fprintf(out, "  (b) refused (503): %d\n", b.refused)
	}
	if gw0 != nil {
		b0 := res[nBase-1]
		fmt.Fprintf(out, "  (b0) baseline gateway (%s): %.0f req/s, p50 %s, p99 %s, CPU per request %s, %.3f NMI exchanges per request\n",
			o.baselineBin, b0.rate, ms(b0.p50), ms(b0.p99), us(b0.cpuServerProc), b0.perRequest)
		fmt.Fprintf(out, "  ratio (b)/(b0): throughput %.2f, gateway CPU per request %.2f\n",
			b.rate/b0.rate, float64(b.cpuServerProc)/float64(b0.cpuServerProc))
	}
	fmt.Fprintf(out, "  ratio (b)/(a) throughput: %.2f\n", b.rate/a.rate)
	if floor != nil {
		c := res[2]
		fmt.Fprintf(out, "  ratio (c)/(a) throughput: %.2f, (b)/(c): %.2f\n", c.rate/a.rate, b.rate/c.rate)
		fmt.Fprintf(out, "  (c) does the same NMI exchange as (a), then sends the gateway's answer from memory with a\n"+
			"  bare net/http server: no routing, validation, authentication, metrics, logging or rendering.\n")
	}
	fmt.Fprintln(out)
	if len(res) > nBase {
		fmt.Fprintf(out, "fan-in: GET .../ike/tunnels (%d IKE tunnels) from many clients, one gateway with %d NMI connections:\n",
			o.tunnels, o.concurrency)
		fmt.Fprintf(out, "  %-28s %8s %9s %9s %10s %8s %8s  %s\n", "", "req/s", "p50", "p99", "exch/req", "refused", "/(c)", "/(a) at concurrency 8")
		for i := nBase; i < len(res); i++ {
			r := res[i]
			vsFloor := "-"
			if floor != nil {
				vsFloor = strconv.FormatFloat(r.rate/res[2].rate, 'f', 2, 64)
			}
			fmt.Fprintf(out, "  %-28s %8.0f %9s %9s %10.3f %8d %8s  %.2f\n", sides[i].name, r.rate, ms(r.p50), ms(r.p99),
				r.perRequest, r.refused, vsFloor, r.rate/a.rate)
		}
		opened := func(g *gateway) string {
			c, err := scrapeCounts(ctx, http.DefaultClient, g.base)
			if err != nil {
				return err.Error()
			}
			return strconv.FormatFloat(c.opened, 'f', 0, 64)
		}
		fmt.Fprintf(out, "  peak NMI connections open at once, counted by the simulator: coalescing on %d, off %d (pool size %d);\n"+
			"  connections the pools opened in the whole run (their /metrics): on %s, off %s\n",
			gwConns.Peak(), gwOffConns.Peak(), o.concurrency, opened(gw), opened(gwOff))
		fmt.Fprintln(out)
	}
	if scrapeSteady != nil {
		fmt.Fprintf(out, "exporter, %d-filter stack: NMI bytes per scrape (simulator's count): first %s, steady %s\n\n",
			o.filters, kb(scrapeFirst), kb(medianU(scrapeSteady)))
	}
	fmt.Fprintf(out, "%d-filter listing (median of %d):\n", o.filters, o.repeat)
	fmt.Fprintf(out, "  (a) direct decode:   total %s\n", ms(fl.direct))
	fmt.Fprintf(out, "  (b) gateway:         first byte %s, total %s, %d bytes of JSON%s\n", ms(fl.ttfb), ms(fl.total), fl.bytes, listingCPU(fl))
	fmt.Fprintf(out, "  ratio (b)/(a) total time: %.2f\n", float64(fl.total)/float64(fl.direct))
	if fl.peakRSS > 0 {
		fmt.Fprintf(out, "  gateway peak RSS: %.1f MiB (%.1f MiB before the listings)\n", mib(fl.peakRSS), mib(fl.rssBefore))
	} else {
		fmt.Fprintf(out, "  gateway peak RSS: not measured (in-process gateway)\n")
	}
	if b0 := fl.baseline; b0 != nil {
		fmt.Fprintf(out, "  (b0) baseline gateway: first byte %s, total %s, %d bytes of JSON%s, peak RSS %.1f MiB\n",
			ms(b0.ttfb), ms(b0.total), b0.bytes, listingCPU(*b0), mib(b0.peakRSS))
		fmt.Fprintf(out, "  ratio (b0)/(a) total time: %.2f; (b)/(b0): total time %.2f, gateway CPU per listing %.2f\n",
			float64(b0.total)/float64(fl.direct), float64(fl.total)/float64(b0.total), float64(fl.cpu)/float64(b0.cpu))
	}
	return nil
}

// listingCPU is the gateway process's CPU time per listing, "" when it
// was not measured (an in-process gateway).
func listingCPU(r listingResult) string {
	if r.cpu <= 0 {
		return ""
	}
	return ", gateway CPU " + ms(r.cpu) + " per listing"
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }
func us(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 0, 64) + "µs" }
func mib(b int64) float64       { return float64(b) / (1 << 20) }
func kb(b uint64) string        { return strconv.FormatFloat(float64(b)/1000, 'f', 1, 64) + " KB" }

func medianU(v []uint64) uint64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func startSim(socket string, o options) (stop func(), err error) {
	_, stop, err = startSimServer(socket, o)
	return stop, err
}

// startSimServer starts the simulator on socket and returns it, so that
// more sockets may be served (serveCounted) and its counters read.
func startSimServer(socket string, o options) (srv *ikedsim.Server, stop func(), err error) {
	ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: 1, Filters: o.filters, Tunnels: o.tunnels, Seed: 1})
	if err != nil {
		return nil, nil, err
	}
	srv, err = ikedsim.NewServer(ikedsim.Config{Data: ds})
	if err != nil {
		return nil, nil, err
	}
	mode := os.FileMode(0o600)
	if o.remote.nmi != "" {
		mode = 0o666 // the SSH user, who may be another, opens it through sshd
	}
	ln, err := ikedsim.Listen(socket, mode)
	if err != nil {
		return nil, nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return srv, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// gateway is the gateway under test: a child process, or a server in this
// process.
type gateway struct {
	base string
	auth string // Authorization header of every request; "" = none
	pid  int
	stop func()
}

var listenRe = regexp.MustCompile(`listening on (http://\S+)`)

// writePolicy writes the gateway's policy file: one bearer token whose
// user may display the stack, so that the gateway is measured as it runs
// in production, authenticating and authorizing every request.
func writePolicy(dir string) (path, token string, err error) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	token = hex.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	policy := "system: SYS1\n" +
		"profiles:\n" +
		"  - name: " + authz.Resource("SYS1", stack, authz.Display) + "\n" +
		"    uacc: NONE\n" +
		"    access: [{id: BENCH, level: READ}]\n" +
		"identities:\n" +
		"  tokens: [{sha256: \"" + hex.EncodeToString(sum[:]) + "\", user: BENCH}]\n"
	path = filepath.Join(dir, "policy.yaml")
	return path, token, os.WriteFile(path, []byte(policy), 0o600)
}

func startGateway(ctx context.Context, dir, socket string, o options) (*gateway, error) {
	return startGatewayAt(ctx, dir, socket, []string{"--nmi-socket", socket}, o)
}

// startGatewayAt starts the gateway with nmiArgs naming its NMI endpoint
// (socket serves the in-process gateway of --inproc).
func startGatewayAt(ctx context.Context, dir, socket string, nmiArgs []string, o options) (*gateway, error) {
	pol, token, err := writePolicy(dir)
	if err != nil {
		return nil, err
	}
	if o.inproc {
		return inprocGateway(socket, pol, "Bearer "+token, o)
	}
	bin := o.gatewayBin
	if bin == "" {
		bin = filepath.Join(dir, "gateway")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gateway")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building the gateway (run from the repository root, or give --gateway-bin): %w", err)
		}
	}
	args := append([]string{"--listen", "127.0.0.1:0"}, nmiArgs...)
	return startChild(bin, append(args, "--policy", pol,
		"--pool-size", strconv.Itoa(o.concurrency), "--log-level", "error"), "Bearer "+token, o.plan)
}

// startChild starts a server process (the gateway, or the floor) on the
// CPUs of plan's gateway (anywhere for nil) and waits for the address it
// prints.
func startChild(bin string, args []string, auth string, plan *cpuPlan) (*gateway, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := plan.start(cmd); err != nil {
		return nil, err
	}
	// The reader waits for the child once its output ends (exec wants
	// every read of the pipe done before Wait), so an early exit is seen
	// at once instead of after the whole wait for the address.
	found := make(chan string, 1)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // a line too long for the scanner
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}
	select {
	case base := <-found:
		return &gateway{base: base, auth: auth, pid: cmd.Process.Pid, stop: stop}, nil
	case <-exited:
		if waitErr == nil {
			return nil, fmt.Errorf("%s exited before printing its address", bin)
		}
		return nil, fmt.Errorf("%s exited before printing its address: %w", bin, waitErr)
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("%s did not print its address", bin)
	}
}

// inprocGateway serves the API from this process as cmd/gateway does with
// --policy: authenticated and authorized.
func inprocGateway(socket, pol, auth string, o options) (*gateway, error) {
	store := policy.NewStore(pol)
	if err := store.Load(); err != nil {
		return nil, err
	}
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(socket), Addr: socket, Size: o.concurrency})
	h, err := httpapi.NewHandler(httpapi.Deps{NMI: pool, NMILastSuccess: pool.LastSuccess,
		Authenticate: authn.New(authn.Options{Policy: store.Current}).Middleware,
		Authorizer:   store, AuthMethod: authn.MethodName})
	if err != nil {
		pool.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &gateway{base: "http://" + ln.Addr().String(), auth: auth, stop: func() { srv.Close(); pool.Close() }}, nil
}

// get fetches url, reading and discarding the body; it returns the time to
// the first response byte and the body's size.
func get(ctx context.Context, client *http.Client, url, auth string) (ttfb time.Duration, n int64, err error) {
	start := time.Now()
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { ttfb = time.Since(start) }}
	n, err = fetch(httptrace.WithClientTrace(ctx, trace), client, url, auth)
	return ttfb, n, err
}

// readBufs holds the buffers fetch reads bodies into: 64 KiB, so that a
// 100 KB answer takes a few reads instead of the 8 KiB ones of
// io.Copy(io.Discard, ...), as a client that cares would read it.
var readBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// fetch fetches url, reading and discarding the body, and returns its size.
func fetch(ctx context.Context, client *http.Client, url, auth string) (n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf := readBufs.Get().(*[64 << 10]byte)
	defer readBufs.Put(buf)
	for {
		m, rerr := resp.Body.Read(buf[:])
		n += int64(m)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, rerr
		}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return n, nil
	case http.StatusServiceUnavailable:
		return n, fmt.Errorf("GET %s: %w", url, errRefused)
	}
	return n, fmt.Errorf("GET %s: %s", url, resp.Status)
}

type rateResult struct {
	rate     float64
	p50, p99 time.Duration
	// CPU time per request of this process and of the side's server
	// process, the gateway or the floor (0 when it is not a child).
	cpuSelf, cpuServerProc time.Duration
	// The gateway's NMI exchanges per HTTP request it answered, from its
	// own /metrics (-1 when the side has none), and the requests it
	// refused (503).
	perRequest float64
	refused    int
}

// rounds is how many alternating slices each throughput run is cut into,
// so that a change in the machine's load affects both sides alike.
const rounds = 5

// side is one way of getting the IKE tunnel list, measured by compare.
type side struct {
	name    string
	op      func(context.Context) error
	pid     int // the server process whose CPU time is counted (0: none)
	workers int // concurrent clients; 0: --concurrency
	// counted is the base URL of a gateway whose /metrics count its NMI
	// exchanges and HTTP requests ("" for none).
	counted string
}

// compare measures the sides alternately: a warm-up of each, then rounds
// slices of o.duration/rounds per side. It also adds up the CPU time that
// this process and each side's server process spend during its slices.
func compare(ctx context.Context, o options, sides []side) ([]rateResult, error) {
	lat := make([][]time.Duration, len(sides))
	cpuSelf := make([]time.Duration, len(sides))
	cpuServer := make([]time.Duration, len(sides))
	moved := make([]counts, len(sides))
	refused := make([]int, len(sides))
	workers := func(s side) int {
		if s.workers > 0 {
			return s.workers
		}
		return o.concurrency
	}
	metricsClient := &http.Client{}
	defer metricsClient.CloseIdleConnections()
	for _, s := range sides {
		if o.warmup > 0 {
			if _, _, err := load(ctx, workers(s), o.warmup, s.op); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	slice := o.duration / rounds
	for range rounds {
		for i, s := range sides {
			self0, srv0 := selfCPU(), procCPU(s.pid)
			var l []time.Duration
			var ref int
			measure := func() error {
				var err error
				l, ref, err = load(ctx, workers(s), slice, s.op)
				return err
			}
			var err error
			if s.counted != "" {
				var c counts
				c, err = sinceCounts(ctx, metricsClient, s.counted, measure)
				moved[i].exchanges += c.exchanges
				moved[i].requests += c.requests
			} else {
				err = measure()
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			cpuSelf[i] += selfCPU() - self0
			cpuServer[i] += procCPU(s.pid) - srv0
			lat[i] = append(lat[i], l...)
			refused[i] += ref
		}
	}
	res := make([]rateResult, len(sides))
	for i := range res {
		res[i] = summarize(lat[i], slice*rounds)
		if n := time.Duration(len(lat[i])); n > 0 {
			res[i].cpuSelf, res[i].cpuServerProc = cpuSelf[i]/n, cpuServer[i]/n
		}
		res[i].perRequest, res[i].refused = -1, refused[i]
		if sides[i].counted != "" && moved[i].requests > 0 {
			res[i].perRequest = moved[i].exchanges / moved[i].requests
		}
	}
	return res, nil
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid so far (0 for pid
// 0 or when /proc cannot tell), from /proc/PID/stat in clock ticks of
// 1/100 s (USER_HZ on Linux).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold blanks; the fields after its
	// closing parenthesis start with field 3 (state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func summarize(lat []time.Duration, d time.Duration) rateResult {
	slices.Sort(lat)
	res := rateResult{rate: float64(len(lat)) / d.Seconds()}
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return res
}

// load runs op from workers goroutines for d and returns the latencies
// of the operations that succeeded and the number refused (errRefused);
// any other error ends it.
func load(ctx context.Context, workers int, d time.Duration, op func(context.Context) error) ([]time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	end := time.Now().Add(d)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		refused  int
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			ref := 0
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				refused += ref
				mu.Unlock()
			}()
			for time.Now().Before(end) {
				t := time.Now()
				if err := op(ctx); errors.Is(err, errRefused) {
					ref++
					continue
				} else if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t))
			}
		}()
	}
	wg.Wait()
	return lat, refused, firstErr
}

type listingResult struct {
	direct, ttfb, total time.Duration
	cpu                 time.Duration // the gateway process's CPU time per listing
	bytes               int64
	peakRSS, rssBefore  int64
	baseline            *listingResult // the --baseline-bin gateway's listings (no direct figure)
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// filterListing lists the filter set o.repeat times from the direct
// client, from gw and, if not nil, from gw0 (the --baseline-bin gateway),
// one after the other in each round.
func filterListing(ctx context.Context, direct *nmi.Pool, gw, gw0 *gateway, o options) (listingResult, error) {
	var res listingResult
	gws := []*gateway{gw}
	sides := []*listingResult{&res}
	if gw0 != nil {
		res.baseline = &listingResult{}
		gws = append(gws, gw0)
		sides = append(sides, res.baseline)
	}
	for i, g := range gws {
		if g.pid > 0 {
			sides[i].rssBefore, _ = procStatus(g.pid, "VmRSS")
		}
	}
	var dt []time.Duration
	tt := make([][]time.Duration, len(gws))
	tot := make([][]time.Duration, len(gws))
	cpu := make([]time.Duration, len(gws))
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	// The sides alternate, so that a change in the machine's load
	// affects them alike.
	for range o.repeat {
		var rec nmi.FilterRecord
		n := 0
		start := time.Now()
		_, err := direct.Do(ctx, &nmi.Request{Type: nmi.GetIPFltPolicy, Target: stack}, func(r nmi.Record) error {
			n++
			return rec.Decode(r)
		})
		if err != nil {
			return res, fmt.Errorf("direct filter listing: %w", err)
		}
		if n != o.filters {
			return res, fmt.Errorf("direct filter listing: %d records, want %d", n, o.filters)
		}
		dt = append(dt, time.Since(start))

		for i, g := range gws {
			cpu0 := procCPU(g.pid)
			start = time.Now()
			ttfb, size, err := get(ctx, client, g.base+"/v1/stacks/"+stack+"/filters?set=policy", g.auth)
			if err != nil {
				return res, fmt.Errorf("gateway filter listing: %w", err)
			}
			tot[i] = append(tot[i], time.Since(start))
			cpu[i] += procCPU(g.pid) - cpu0
			tt[i] = append(tt[i], ttfb)
			sides[i].bytes = size
		}
	}
	res.direct = median(dt)
	for i, g := range gws {
		r := sides[i]
		r.ttfb, r.total, r.cpu = median(tt[i]), median(tot[i]), cpu[i]/time.Duration(o.repeat)
		if g.pid > 0 {
			var err error
			if r.peakRSS, err = procStatus(g.pid, "VmHWM"); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// procStatus reads a memory figure (in bytes) from /proc/PID/status.
func procStatus(pid int, key string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, key)
}
