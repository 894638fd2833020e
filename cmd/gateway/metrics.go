package main

import (
	"log/slog"
	"net/http"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves /metrics. The registry reg (process, HTTP, NMI
// client and pool, policy reloads) is open to every scrape. The IPsec
// exporter's series are data that RACF guards per stack, so they go only
// to a scrape that authenticates (a bearer token or a client certificate,
// as Prometheus's authorization or tls_config give one), and only for the
// stacks that identity may display. A scrape without credentials gets
// reg alone; one with credentials the gateway does not accept gets 401.
//
// Without authentication (authenticate nil: --insecure-no-auth, where
// every caller may display every stack) every scrape gets everything.
type metricsHandler struct {
	reg          *prometheus.Registry
	exp          *metrics.Exporter // nil: --exporter=false
	authenticate func(r *http.Request) (authz.Principal, error)
	authorizer   authz.Authorizer
	opts         promhttp.HandlerOpts
	open         http.Handler
}

func newMetricsHandler(log *slog.Logger, reg *prometheus.Registry, exp *metrics.Exporter, deps *httpapi.Deps) *metricsHandler {
	opts := promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}
	withErrors := opts
	withErrors.Registry = reg // promhttp_metric_handler_errors_total
	return &metricsHandler{reg: reg, exp: exp, authenticate: deps.Reauthenticate, authorizer: deps.Authorizer,
		opts: opts, open: promhttp.HandlerFor(reg, withErrors)}
}

// hasCredentials reports whether r carries credentials: an Authorization
// header or a client certificate.
func hasCredentials(r *http.Request) bool {
	return len(r.Header.Values("Authorization")) > 0 || r.TLS != nil && len(r.TLS.PeerCertificates) > 0
}

func (m *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.exp == nil {
		m.open.ServeHTTP(w, r)
		return
	}
	var p authz.Principal
	if m.authenticate != nil {
		if !hasCredentials(r) {
			m.open.ServeHTTP(w, r)
			return
		}
		var err error
		if p, err = m.authenticate(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nmigw"`)
			httpapi.WriteAuthProblem(w, r, http.StatusUnauthorized, "credentials not accepted")
			return
		}
	}
	view := prometheus.NewRegistry()
	if err := view.Register(m.exp.View(m.stacksOf(r, p))); err != nil {
		http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	promhttp.HandlerFor(prometheus.Gatherers{m.reg, view}, m.opts).ServeHTTP(w, r)
}

// stacksOf is the filter of the stacks p may display, decided in one
// batch by the authorizer: each stack by the resource of its system
// (fleet.Stack.Resource: the IKED's system and the stack, or the NSS
// server's system and the client).
func (m *metricsHandler) stacksOf(r *http.Request, p authz.Principal) metrics.StackFilter {
	return func(stacks []fleet.Stack) ([]bool, error) {
		res := make([]string, len(stacks))
		for i := range stacks {
			res[i] = stacks[i].Resource(m.authorizer, authz.Display)
		}
		return authz.Allowed(r.Context(), m.authorizer, p, res)
	}
}
