// Command iked-sim serves the z/OS IPSec network management interface
// (NMI) on an AF_UNIX socket from a simulated IKE daemon, with the
// built-in demo data set, a YAML data set, or a generated one.
//
// Signals:
//
//	SIGHUP           re-read the --policy file (a bad file leaves the old policy in force)
//	SIGUSR1          restart every TCP/IP stack: dynamic SAs are lost, manual tunnels
//	                 become inactive; IKE tunnels and the filter set chosen with
//	                 NMsec_LOAD_POLICY stay
//	SIGINT, SIGTERM  shut down: TERM (return code 0) to every client, then exit
//
// --faults injects faults, groups separated by ";": term-rate=R,seed=N
// ends a share R of exchanges with TERM, as an IKE daemon going away at
// random would (the same seed repeats the same choices);
// hang-after=D,hang-for=D hangs the whole daemon for a while, as SIGSTOP
// and SIGCONT would; type=T,... gives request type T (or any) a delay,
// no reply, TERM and close, an error return code, an oversized or
// truncated answer or a wrong correlator (see ikedsim.ParseFaults). --pending-time, --negotiate-time and --switch-time set how long
// activations and filter set switches take.
//
// --nss plays the NSS server (IBM's /var/sock/nss) instead of IKED: its
// clients are the stacks of several systems, from a YAML file
// (ikedsim.LoadNSSDataSet) or --generate systems=N,...; --system is then
// the NSS server's system name (default NSS1). --nss-churn D connects or
// disconnects one client every D, the same ones for the same
// --nss-churn-seed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nmigw/nmigw/internal/flagenv"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/policy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "iked-sim:", err)
		}
		os.Exit(2)
	}
}

// options are the command line; each flag may also come from the
// environment as IKED_SIM_<NAME> (for example IKED_SIM_SOCKET).
type options struct {
	socket     string
	data       string
	generate   string
	policy     string
	initDelay  time.Duration
	system     string
	socketMode string
	faults     string
	replay     string
	timing     ikedsim.Timing

	nss          bool
	nssChurn     time.Duration
	nssChurnSeed uint64
}

// defaultNSSSystem is the NSS server's system name without --system.
const defaultNSSSystem = "NSS1"

func parseFlags(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("iked-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.socket, "socket", "/var/sock/ipsecmgmt", "AF_UNIX socket path to serve the NMI on")
	fs.StringVar(&o.data, "data", "", "YAML data set (default: the built-in demo data set)")
	fs.StringVar(&o.generate, "generate", "", "generate a data set: stacks=N,filters=N,tunnels=N,seed=N")
	fs.StringVar(&o.policy, "policy", "", "policy file for SAF checks of peers (default: allow every peer); re-read on SIGHUP")
	fs.DurationVar(&o.initDelay, "init-delay", 0, "delay before IKED is connected to the Policy Agent and sends INIT")
	fs.StringVar(&o.system, "system", "SYS1", "MVS system name in SAF resource names")
	fs.StringVar(&o.socketMode, "socket-mode", "0660", "permissions of the socket file (octal)")
	fs.StringVar(&o.faults, "faults", "", "fault injection, groups separated by ';': term-rate=R,seed=N (TERM and close a share R, 0-1, of requests; same seed, same choices); "+
		"hang-after=D,hang-for=D (the whole daemon hangs D after start, for D); "+
		"type=NMsec_GET_IKETUN|NUMBER|any,delay=D,no-reply=true,term-close=true,rc=EAGAIN|N,rsn=N,oversize=true,truncate=true,stall=true,wrong-correlator=true,pace=D,pace-bytes=N,times=N")
	fs.StringVar(&o.replay, "replay", "", "answer every request from this capture file (gateway --nmi-capture, gateway doctor --out) instead of a data set; requests it holds no answer for get EOPNOTSUPP")
	fs.DurationVar(&o.timing.Pending, "pending-time", time.Second, "how long an activated tunnel stays pending before negotiation")
	fs.DurationVar(&o.timing.Negotiating, "negotiate-time", time.Second, "how long each negotiation (IKE, then IPSec) of an activation takes")
	fs.DurationVar(&o.timing.Switch, "switch-time", time.Second, "how long NMsec_LOAD_POLICY takes to put the chosen filter set in effect")
	fs.BoolVar(&o.nss, "nss", false, "play the NSS server (/var/sock/nss) for several client systems instead of IKED; --data is then an NSS data set, --generate takes systems=N")
	fs.DurationVar(&o.nssChurn, "nss-churn", 0, "with --nss: every D one NSS client connects or disconnects (0: never)")
	fs.Uint64Var(&o.nssChurnSeed, "nss-churn-seed", 1, "with --nss-churn: the seed of the choice of clients (same seed, same clients)")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: iked-sim [flags]   (each flag also from IKED_SIM_<FLAG>, e.g. IKED_SIM_SOCKET)")
		fs.PrintDefaults()
		fmt.Fprintln(out, "signals: SIGHUP re-reads --policy; SIGUSR1 restarts every stack (dynamic SAs lost, manual tunnels")
		fmt.Fprintln(out, "  inactive, the LOAD_POLICY filter set kept); SIGINT or SIGTERM shut down with TERM to every client")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set, err := flagenv.Apply(fs, "IKED_SIM_", getenv)
	if err != nil {
		return nil, err
	}
	if o.nss && !set["system"] {
		o.system = defaultNSSSystem
	}
	if o.data != "" && o.generate != "" {
		return nil, errors.New("--data and --generate exclude each other")
	}
	if o.replay != "" && (o.data != "" || o.generate != "") {
		return nil, errors.New("--replay excludes --data and --generate")
	}
	if o.nss && o.replay != "" {
		return nil, errors.New("--nss excludes --replay")
	}
	if (set["nss-churn"] || set["nss-churn-seed"]) && !o.nss {
		return nil, errors.New("--nss-churn and --nss-churn-seed need --nss")
	}
	if o.nssChurn < 0 {
		return nil, fmt.Errorf("--nss-churn %v: want a positive duration, or 0 for none", o.nssChurn)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"pending-time", o.timing.Pending}, {"negotiate-time", o.timing.Negotiating}, {"switch-time", o.timing.Switch}} {
		if d.v <= 0 {
			return nil, fmt.Errorf("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	return o, nil
}

func dataSet(o *options) (ds *ikedsim.DataSet, what string, err error) {
	switch {
	case o.data != "":
		ds, err = ikedsim.LoadDataSet(o.data)
		return ds, o.data, err
	case o.generate != "":
		spec, err := ikedsim.ParseGenSpec(o.generate)
		if err != nil {
			return nil, "", err
		}
		start := time.Now()
		ds, err = ikedsim.Generate(spec)
		return ds, fmt.Sprintf("generated %s in %v", o.generate, time.Since(start).Round(time.Millisecond)), err
	}
	return ikedsim.Demo(), "demo", nil
}

// nssDataSet is the NSS server's data set: a YAML file, generated, or by
// default generated with the generator's defaults (two systems).
func nssDataSet(o *options) (d *ikedsim.NSSDataSet, what string, err error) {
	if o.data != "" {
		d, err = ikedsim.LoadNSSDataSet(o.data)
		return d, o.data, err
	}
	spec, err := ikedsim.ParseNSSGenSpec(o.generate)
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	d, err = ikedsim.GenerateNSS(spec)
	return d, fmt.Sprintf("generated %q in %v", o.generate, time.Since(start).Round(time.Millisecond)), err
}

func loadReplay(path string) (*ikedsim.Replay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--replay: %w", err)
	}
	defer f.Close()
	rp, err := ikedsim.LoadReplay(f)
	if err != nil {
		return nil, fmt.Errorf("--replay %s: %w", path, err)
	}
	return rp, nil
}

// shutdownTimeout bounds how long shutdown waits for clients to take TERM
// before their connections are closed.
const shutdownTimeout = 10 * time.Second

// listen makes the socket run serves on; tests replace it to make the
// listener fail.
var listen = ikedsim.Listen

// run is the whole program: it serves until ctx ends, then shuts down
// gracefully (TERM to every client).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	mode, err := strconv.ParseUint(o.socketMode, 8, 32)
	if err != nil || mode > 0o777 || mode == 0 {
		return fmt.Errorf("--socket-mode %q: want octal permissions such as 0660", o.socketMode)
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	faults, err := ikedsim.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	cfg := ikedsim.Config{System: o.system, InitDelay: o.initDelay, Logger: log, Faults: faults, Timing: o.timing}
	var what string
	if o.nss {
		cfg.NSS, what, err = nssDataSet(o)
		cfg.NSSChurn, cfg.NSSChurnSeed = o.nssChurn, o.nssChurnSeed
	} else {
		cfg.Data, what, err = dataSet(o)
	}
	if err != nil {
		return err
	}
	if o.replay != "" {
		if cfg.Replay, err = loadReplay(o.replay); err != nil {
			return err
		}
		what = fmt.Sprintf("replay of %s (%d requests)", o.replay, cfg.Replay.Requests())
	}
	var store *policy.Store
	if o.policy != "" {
		// Peers are known by uid: the token hashes (identities.tokensFile)
		// are not needed, and need not be readable here.
		store = policy.NewStoreWith(o.policy, policy.LoadOptions{NoTokensFile: true, NoAuthorizationFiles: true})
		if err := store.Load(); err != nil {
			return err
		}
		cfg.Policy = store.Current
	}
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.socket), 0o755); err != nil {
		return err
	}
	ln, err := listen(o.socket, os.FileMode(mode))
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	var names []string // system/stack with --nss, else stack
	for _, m := range srv.Models() {
		for _, s := range m.Stacks() {
			if o.nss {
				names = append(names, m.System()+"/"+s.Name)
			} else {
				names = append(names, s.Name)
			}
		}
	}
	ready := []any{"socket", o.socket, "system", srv.System(), "stacks", strings.Join(names, ","),
		"data", what, "policy", o.policy, "initDelay", o.initDelay, "faults", o.faults}
	if o.nss {
		var clients []string
		for _, c := range srv.NSSClients() {
			clients = append(clients, c.Name)
		}
		ready = append(ready, "nss", true, "clients", strings.Join(clients, ","), "nssChurn", o.nssChurn)
	}
	log.Info("iked-sim ready", ready...)
	for {
		select {
		case err := <-served:
			// Serve stopped on its own (an accept error): clients that
			// are still connected get TERM and are closed all the same.
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			serr := srv.Shutdown(sctx)
			cancel()
			if serr != nil {
				log.Error("shutdown after the listener failed", "err", serr)
			}
			return err
		case <-hup:
			if store == nil {
				log.Info("SIGHUP: no policy file to reload")
				continue
			}
			if err := store.Reload(); err != nil {
				log.Error("policy reload failed; the previous policy stays in force", "err", err)
			} else {
				log.Info("policy reloaded", "file", o.policy)
			}
		case <-usr1:
			for _, m := range srv.Models() {
				for _, s := range m.Stacks() {
					m.RestartStack(s.Name)
				}
			}
			log.Info("SIGUSR1: stacks restarted", "stacks", strings.Join(names, ","))
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			<-served
			log.Info("iked-sim stopped")
			return err
		}
	}
}
