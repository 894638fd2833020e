// Package httpapi is the gateway's REST API: chi routes (routes.go),
// OpenAPI request validation, JSON views of NMI records streamed as they
// arrive, pagination, ETags and problem+json errors.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// NMI is the gateway's view of the IKE daemon: one request, its records
// one by one (each valid only during fn), the response header. *nmi.Pool
// satisfies it.
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Authorizer decides SAF checks for HTTP principals. *authz.Authorizer
// satisfies it.
type Authorizer interface {
	CheckStack(p authz.Principal, stack string, k authz.Kind) authz.Decision
	Resource(stack string, k authz.Kind) string
	Groups(p authz.Principal) []string
}

// Deps is what the handler needs. NMI is required; the rest has defaults.
type Deps struct {
	NMI    NMI
	Logger *slog.Logger
	// CORSOrigins are the origins allowed to call the API from a browser
	// ("*" for any). Empty: CORS is off.
	CORSOrigins []string
	// RequestTimeout bounds the NMI work of one request (default 30s).
	RequestTimeout time.Duration
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// Authenticate, if set, wraps the API routes: it puts the caller's
	// authz.Principal in the request context or answers 401 itself.
	Authenticate func(http.Handler) http.Handler
	// Authorizer, if set, checks SAF DISPLAY/CONTROL access per stack.
	// Without it every caller may do everything.
	Authorizer Authorizer
	// AuthMethod names how Authenticate identified the caller, for whoami.
	AuthMethod func(ctx context.Context) string
	// Audit records every control request (allowed or denied) before it is
	// answered. Without it control requests are refused with 503.
	Audit audit.Sink
	// NMILastSuccess, if set, tells when an NMI exchange last succeeded
	// (*nmi.Pool's LastSuccess): /readyz answers 200 without an exchange
	// of its own when that is within ReadyWindow (default 10s).
	NMILastSuccess func() time.Time
	ReadyWindow    time.Duration
	// Events tunes GET /v1/stacks/{stack}/events.
	Events EventOptions
}

type api struct {
	nmi        NMI
	log        *slog.Logger
	timeout    time.Duration
	maxBody    int64
	cors       map[string]bool
	corsAny    bool
	authn      func(http.Handler) http.Handler
	authz      Authorizer
	authMethod func(ctx context.Context) string
	audit      audit.Sink
	lastOK     func() time.Time
	readyWin   time.Duration
	ready      readyLog
	validator  *validator
	spec       []byte
	events     *eventHub
}

// NewHandler builds the gateway's HTTP handler. It fails if the embedded
// OpenAPI document does not load or validate.
func NewHandler(d Deps) (http.Handler, error) {
	if d.NMI == nil {
		return nil, errors.New("httpapi: Deps.NMI is required")
	}
	a := &api{
		nmi:        loggedNMI{d.NMI},
		log:        d.Logger,
		timeout:    d.RequestTimeout,
		maxBody:    d.MaxBodyBytes,
		cors:       map[string]bool{},
		authn:      d.Authenticate,
		authz:      d.Authorizer,
		authMethod: d.AuthMethod,
		audit:      d.Audit,
		lastOK:     d.NMILastSuccess,
		readyWin:   d.ReadyWindow,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.timeout <= 0 {
		a.timeout = 30 * time.Second
	}
	if a.readyWin <= 0 {
		a.readyWin = 10 * time.Second
	}
	if a.maxBody <= 0 {
		a.maxBody = 64 << 10
	}
	for _, o := range d.CORSOrigins {
		if o == "*" {
			a.corsAny = true
		} else if o != "" {
			a.cors[o] = true
		}
	}
	a.events = newEventHub(a, d.Events)
	v, spec, err := newValidator()
	if err != nil {
		return nil, err
	}
	a.validator, a.spec = v, spec
	return a.routes(), nil
}

// nmiCtx bounds the NMI work of a request.
func (a *api) nmiCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.timeout)
}

// checkStack enforces SAF access to a stack for the request's principal.
func (a *api) checkStack(r *http.Request, stack string, k authz.Kind) error {
	if a.authz == nil {
		return nil
	}
	p, ok := authz.PrincipalFrom(r.Context())
	if !ok {
		return &UnauthorizedError{Reason: "no credentials"}
	}
	if d := a.authz.CheckStack(p, stack, k); !d.Allowed {
		return forbidden(d)
	}
	return nil
}

// mayDisplay reports whether the caller may display stack (for lists of
// stacks, which show only those).
func (a *api) mayDisplay(r *http.Request, stack string) bool {
	return a.checkStack(r, stack, authz.Display) == nil
}
