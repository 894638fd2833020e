// Command gateway serves the REST API of nmigw in front of the IKE daemon's
// NMI socket (or, with -sim, in front of an in-process simulator).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authn"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/metrics"
	"github.com/nmigw/nmigw/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// version is the release, set at build time with -ldflags "-X main.version=...".
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// HTTP server limits. WriteTimeout covers answers built in memory (at most
// the NMI request timeout plus writing 1 MiB); streamed lists move their
// write deadline forward with every chunk, so a long list is bounded by
// its progress, not by WriteTimeout. Event streams also move their write
// deadline with every event and heartbeat, and lift the read deadline of
// ReadTimeout once the stream starts.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 120 * time.Second
	writeMargin       = 30 * time.Second
	shutdownTimeout   = 20 * time.Second
	maxHeaderBytes    = 64 << 10
	poolMaxWait       = 5 * time.Second
)

// run is the whole gateway: it returns when ctx is done (after a graceful
// shutdown) or when it cannot start.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "doctor" {
		return runDoctor(ctx, args[2:], getenv, stdout)
	}
	cfg, err := parseConfig(args[1:], getenv, stdout)
	if err != nil {
		return err
	}
	level, _ := parseLevel(cfg.LogLevel)
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.Level(level)}))

	store, demoTokens, err := loadPolicy(cfg)
	if err != nil {
		return err
	}

	var simSocket string
	if cfg.Sim {
		var simPolicy func() *policy.Policy
		if store != nil {
			simPolicy = store.Current
		}
		sim, err := startSim(log, simPolicy)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := sim.Stop(sctx); err != nil {
				log.Warn("simulator shutdown", slog.String("error", err.Error()))
			}
		}()
		simSocket = sim.Socket
	}
	systems := cfg.systems(policySystem(store), simSocket)

	// The Prometheus registry is made here and passed down.
	reg := prometheus.NewRegistry()
	if err := metrics.RegisterStandard(reg, metrics.BuildInfo{Version: version}); err != nil {
		return err
	}
	observer, err := metrics.NewNMIObserver(reg)
	if err != nil {
		return err
	}
	httpMetrics, err := metrics.NewHTTP(reg)
	if err != nil {
		return err
	}
	// Each system has its own transport, pool and Reader: every reader of
	// a system's NMI (handlers, event poller, exporter) shares exchanges
	// through its Reader.
	fl, err := openSystems(cfg, systems, log, observer, reg)
	if err != nil {
		fl.Close() // what was opened before the failure
		return err
	}
	defer fl.Close()
	stopTrim := trimMemory(memTrimEvery, memTrimSlack)
	defer stopTrim()
	def := fl.byName[fl.fleet.Default()]
	var exp *metrics.Exporter // served by metricsHandler, per scraper
	if cfg.Exporter {
		exp, err = metrics.NewExporter(metrics.ExporterConfig{
			Fleet:          fl.fleet,
			ScrapeTimeout:  cfg.ExporterTimeout,
			MaxAge:         cfg.ExporterMaxAge,
			FilterInterval: cfg.ExporterFilterInt,
			Tunnels: metrics.TunnelSelection{
				Allow:     cfg.ExporterTunnels,
				TopN:      cfg.ExporterTopN,
				MaxSeries: cfg.ExporterMaxSeries,
			},
		})
		if err != nil {
			return err
		}
	}

	auditLog, err := openAuditLog(cfg.AuditLog, stdout)
	if err != nil {
		return err
	}
	defer auditLog.Close()

	// Event streams end when the server shuts down: Shutdown waits for
	// active requests, and a stream never ends by itself.
	endStreams := make(chan struct{})
	deps := httpapi.Deps{
		Events:         httpapi.EventOptions{Done: endStreams, MaxLifetime: cfg.EventStreamLifetime},
		Fleet:          fl.fleet,
		NMI:            def.reader,
		System:         def.name,
		PartialRecords: observer.ObservePartial,
		Logger:         log,
		CORSOrigins:    cfg.CORSOrigins,
		RequestTimeout: cfg.RequestTimeout,
		MaxConcurrent:  cfg.MaxConcurrent,
		QueueWait:      queueWait(cfg.QueueWait),
		Audit:          auditLog,
		NMILastSuccess: def.pool.LastSuccess, // /readyz: the default system
	}
	az, err := accessControl(&deps, store, log)
	if err != nil {
		return err
	}
	api, err := httpapi.NewHandler(deps)
	if err != nil {
		return err
	}
	// /metrics beside the REST API on the one listener, outside the
	// API's authentication and OpenAPI validation: open for the process
	// and HTTP metrics, the IPsec series only for an authenticated
	// scraper's stacks (metricsHandler). The HTTP metrics see every
	// request, labelled with the route patterns of the router that served
	// it ("/metrics", or the REST router's).
	mux := chi.NewRouter()
	mux.Use(httpMetrics.Middleware)
	scrape := newMetricsHandler(log, reg, exp, &deps)
	mux.Method(http.MethodGet, "/metrics", scrape)
	mux.Method(http.MethodHead, "/metrics", scrape) // as every GET resource; OPTIONS and 405 are the API's
	mux.Mount("/", api)

	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      cfg.RequestTimeout + writeMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(sync.OnceFunc(func() { close(endStreams) }))
	// SIGHUP is handled from before the gateway says where it listens.
	var policyFile *policy.Store // nil: no policy file to re-read
	if store != nil && cfg.Policy != "" {
		policyFile = store
	}
	var reloads *metrics.PolicyReload
	if policyFile != nil {
		if reloads, err = metrics.NewPolicyReload(reg, time.Now()); err != nil {
			return err
		}
	}
	stopHUP := onHUP(log, auditLog, policyFile, az, reloads)
	defer stopHUP()
	printURLs(stdout, ln.Addr(), tlsConfig != nil, cfg, fl.addrs(), demoTokens)

	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// queueWait is --queue-wait for httpapi.Deps, where 0 means the default:
// 0 on the command line refuses at once.
func queueWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// accessControl sets how the API authenticates and authorizes: by the
// policy of store (its identities, and the authorization backend it
// chooses), or, without one (--insecure-no-auth), not at all: no
// authentication and authz.AllowAll. It returns the backend (nil without
// a policy).
func accessControl(deps *httpapi.Deps, store *policy.Store, log *slog.Logger) (*backend, error) {
	if store == nil {
		log.Warn("--insecure-no-auth: authentication and authorization are off; every caller may display and control every stack")
		deps.Authenticate, deps.Authorizer, deps.AuthMethod = nil, authz.AllowAll, nil
		return nil, nil
	}
	az, err := newBackend(store, log)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", store.Path(), err)
	}
	a := authn.New(authn.Options{Policy: store.Current, Logger: log, RequestID: httpapi.RequestID,
		// 401 and 503 as the API's other problems, with the request ID.
		WriteError: func(w http.ResponseWriter, r *http.Request, e *authn.Error) {
			httpapi.WriteAuthProblem(w, r, e.Status, e.Detail)
		}})
	deps.Authenticate = a.Middleware
	// Open event streams decide again on every policy change, and end
	// when their credentials expire.
	deps.PolicyChanged, deps.Reauthenticate, deps.CredentialExpiry = store.Changed, a.Reauthenticate, authn.ExpiryFrom
	deps.Authorizer = az
	deps.AuthMethod = authn.MethodName
	return az, nil
}

// demoTokens are the bearer tokens of the -sim demo policy.
type demoTokens struct{ viewer, operator string }

// loadPolicy reads --policy; with -sim and no --policy it makes the demo
// policy. --insecure-no-auth: nil, no policy at all. Anonymous access is
// off unless configured, so without a policy the gateway does not start
// unless told so.
func loadPolicy(cfg *config) (*policy.Store, *demoTokens, error) {
	switch {
	case cfg.Policy != "" && cfg.InsecureNoAuth:
		return nil, nil, errors.New("--policy and --insecure-no-auth: give one or the other")
	case cfg.Policy == "" && !cfg.Sim && !cfg.InsecureNoAuth:
		return nil, nil, errors.New("--policy FILE is required (it says who may display and control which stack); " +
			"-sim uses a demo policy, and --insecure-no-auth serves without authentication and authorization")
	case cfg.Policy != "":
		s := policy.NewStore(cfg.Policy)
		if err := s.Load(); err != nil {
			return nil, nil, err
		}
		return s, nil, nil
	case cfg.InsecureNoAuth:
		return nil, nil, nil
	case cfg.Sim:
		p, viewer, operator, err := authn.DemoPolicy("SYS1", nil)
		if err != nil {
			return nil, nil, err
		}
		return policy.NewStaticStore(p), &demoTokens{viewer, operator}, nil
	}
	return nil, nil, nil
}

// onHUP, on SIGHUP, re-reads the policy file (when store is not nil),
// tells the authorization backend (when az is not nil: it empties its
// decision cache), and then reopens the audit log, so that a log rotator
// can rename the audit file and signal. A bad policy file keeps the
// policy in force; an audit file that cannot be reopened leaves the log
// writing to the file it has. reloads (when store is not nil) exports the
// outcome of each reload.
func onHUP(log *slog.Logger, auditLog *audit.Log, store *policy.Store, az *backend, reloads *metrics.PolicyReload) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				if store != nil {
					err := store.Reload()
					reloads.Observe(err, time.Now())
					if err != nil {
						log.Error("policy reload failed; keeping the policy in force", reloadErrorAttrs(store.Path(), err)...)
					} else {
						log.Info("policy reloaded", slog.String("file", store.Path()))
					}
					if az != nil {
						az.reloaded(err)
					}
				}
				if auditLog.Path() == "" {
					continue // standard output: nothing to reopen
				}
				file := slog.String("file", auditLog.Path())
				if err := auditLog.Reopen(); err != nil {
					log.Error("audit log reopen failed; writing to the file it had", file, slog.String("error", err.Error()))
				} else {
					log.Info("audit log reopened", file)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// reloadErrorAttrs are the log attributes of a failed policy reload: the
// file (the policy, or the tokens file it names), and the line and key
// when the error names them.
func reloadErrorAttrs(path string, err error) []any {
	file, line, key := path, 0, ""
	var pe *policy.Error
	if errors.As(err, &pe) {
		if pe.File != "" {
			file = pe.File
		}
		line, key = pe.Line, pe.Key
	}
	attrs := []any{slog.String("file", file)}
	if line > 0 {
		attrs = append(attrs, slog.Int("line", line))
	}
	if key != "" {
		attrs = append(attrs, slog.String("key", key))
	}
	return append(attrs, slog.String("error", err.Error()))
}

// serverTLS is the TLS configuration of --tls-*, or nil for plain HTTP.
func serverTLS(cfg *config) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-client-ca: %s holds no PEM certificate", cfg.TLSClientCA)
		}
		t.ClientCAs = pool
		// Certificates are optional: bearer tokens work too.
		t.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return t, nil
}

// printURLs tells a person where the gateway is, and which NMI endpoints
// it reaches (one line per system).
func printURLs(w io.Writer, addr net.Addr, https bool, cfg *config, endpoints []string, tokens *demoTokens) {
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		host = net.JoinHostPort("localhost", fmt.Sprint(ta.Port))
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	base := scheme + "://" + host
	fmt.Fprintf(w, "nmigw gateway listening on %s\n", base)
	for _, endpoint := range endpoints {
		if cfg.Sim {
			fmt.Fprintf(w, "  simulator (demo data set) on %s\n", endpoint)
		} else {
			fmt.Fprintf(w, "  NMI endpoint %s\n", endpoint)
		}
	}
	fmt.Fprintf(w, "  dashboard:    %s/\n", base)
	fmt.Fprintf(w, "  stacks:       %s/v1/stacks\n", base)
	fmt.Fprintf(w, "  API document: %s/openapi.yaml\n", base)
	fmt.Fprintf(w, "  reference:    %s/docs\n", base)
	fmt.Fprintf(w, "  metrics:      %s/metrics\n", base)
	if tokens != nil {
		fmt.Fprintf(w, "  demo policy: anonymous callers and the viewer may display, the operator may also act;\n")
		fmt.Fprintf(w, "  bearer tokens of this run (Authorization: Bearer <token>):\n")
		// Lines of their own, in these words, for people and scripts alike.
		fmt.Fprintf(w, "viewer token: %s\n", tokens.viewer)
		fmt.Fprintf(w, "operator token: %s\n", tokens.operator)
	}
}

// openAuditLog opens --audit-log: "-" is the gateway's standard output,
// anything else a file appended to and synced after each record, and
// reopened on SIGHUP (onHUP).
func openAuditLog(path string, stdout io.Writer) (*audit.Log, error) {
	if path == "-" {
		return audit.New(stdout), nil
	}
	l, err := audit.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit-log: %w", err)
	}
	return l, nil
}
