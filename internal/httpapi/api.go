// Package httpapi is the gateway's REST API: chi routes (routes.go),
// OpenAPI request validation, JSON views of NMI records streamed as they
// arrive, pagination, ETags and problem+json errors.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nmigw/nmigw/internal/audit"
	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// NMI is the gateway's view of the IKE daemon: one request, its records
// one by one (each valid only during fn), the response header. *nmi.Pool
// satisfies it.
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Deps is what the handler needs. NMI is required; the rest has defaults.
type Deps struct {
	// Fleet is the systems the gateway reaches; nil: one IKED, NMI, named
	// System (default SYS1), whose SAF resources name the authorizer's
	// own system.
	Fleet  *fleet.Fleet
	NMI    NMI
	System string
	Logger *slog.Logger
	// CORSOrigins are the origins allowed to call the API from a browser
	// ("*" for any). Empty: CORS is off.
	CORSOrigins []string
	// RequestTimeout bounds the NMI work of one request (default 30s): one
	// deadline for all its exchanges, set when the handler starts; a
	// control request's ?wait adds its own length.
	RequestTimeout time.Duration
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// Authenticate, if set, wraps the API routes: it puts the caller's
	// authz.Principal in the request context or answers 401 itself.
	Authenticate func(http.Handler) http.Handler
	// Authorizer decides SAF DISPLAY/CONTROL access per stack; it is
	// required. authz.AllowAll lets every caller do everything. When it
	// cannot decide, the request is refused with 503.
	Authorizer authz.Authorizer
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
	// PartialRecords, if set, is told of every NMI record that arrived with
	// a section holding IBM's prefix only (its PROPOSED remainder absent):
	// the section's IBM name and the number of such records.
	PartialRecords func(system, section string, n int)
	// PolicyChanged, if set, returns a channel that is closed when the
	// policy in force changes (policy.Store.Changed): open event streams
	// then decide their caller's access again.
	PolicyChanged func() <-chan struct{}
	// Reauthenticate, if set, identifies the caller of a request again
	// under the policy in force (authn.Authenticator.Reauthenticate); an
	// event stream whose caller it no longer accepts ends with a 401.
	Reauthenticate func(r *http.Request) (authz.Principal, error)
	// CredentialExpiry, if set, returns when the credentials of the
	// request in ctx expire (authn.ExpiryFrom; zero: never); an event
	// stream ends then with a 401.
	CredentialExpiry func(ctx context.Context) time.Time
	// MaxConcurrent bounds the API requests served at once (event streams,
	// /healthz and /readyz apart); past it a request waits up to
	// QueueWait for a turn, then gets 503 with Retry-After. 0: 64; < 0:
	// no limit.
	MaxConcurrent int
	QueueWait     time.Duration // default 2s; < 0: refuse at once
}

type api struct {
	fleet      *fleet.Fleet
	defaultSAF string    // SAF system of the default system's resources
	nmi        loggedNMI // routes by the request's stack (routedNMI)
	log        *slog.Logger
	timeout    time.Duration
	maxBody    int64
	cors       map[string]bool
	corsAny    bool
	authn      func(http.Handler) http.Handler
	authz      authz.Authorizer
	authMethod func(ctx context.Context) string
	audit      audit.Sink
	lastOK     func() time.Time
	readyWin   time.Duration
	ready      readyLog
	validator  *validator
	spec       []byte
	events     *eventHub
	mux        *chi.Mux // the routes, for Allow

	policyChanged func() <-chan struct{}
	reauth        func(r *http.Request) (authz.Principal, error)
	credExpiry    func(ctx context.Context) time.Time
	limiter       *limiter
	views         *views // rendered answers shared by concurrent requests
}

// NewHandler builds the gateway's HTTP handler. It fails if the embedded
// OpenAPI document does not load or validate.
func NewHandler(d Deps) (http.Handler, error) {
	if d.Fleet == nil {
		if d.NMI == nil {
			return nil, errors.New("httpapi: Deps.Fleet or Deps.NMI is required")
		}
		name := d.System
		if name == "" {
			name = "SYS1"
		}
		f, err := fleet.New([]fleet.Endpoint{{Name: name, Kind: fleet.IKED, NMI: d.NMI, PolicySystem: true}}, "", fleet.Options{})
		if err != nil {
			return nil, fmt.Errorf("httpapi: %w", err)
		}
		d.Fleet = f
	}
	if d.Authorizer == nil {
		return nil, errors.New("httpapi: Deps.Authorizer is required (authz.AllowAll serves without authorization)")
	}
	def, _ := d.Fleet.Endpoint(d.Fleet.Default())
	routed := routedNMI{d.Fleet}
	a := &api{
		fleet:      d.Fleet,
		defaultSAF: def.SAFSystem,
		nmi:        loggedNMI{NMI: routed, busy: &episodeLog{log: d.Logger}},
		views:      newViews(d.Fleet),
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

		policyChanged: d.PolicyChanged,
		reauth:        d.Reauthenticate,
		credExpiry:    d.CredentialExpiry,
	}
	if d.PartialRecords != nil {
		a.nmi.NMI = partialNMI{routed, d.Fleet.Default(), d.PartialRecords}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
		a.nmi.busy.log = a.log
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
	a.limiter = newLimiter(d.MaxConcurrent, d.QueueWait, a.log)
	a.events = newEventHub(a, d.Events)
	v, spec, err := newValidator()
	if err != nil {
		return nil, err
	}
	a.validator, a.spec = v, spec
	return a.routes(), nil
}

// principal returns the caller: the principal that authentication put in
// the request's context. Without authentication (Deps.Authenticate nil) it
// is the zero Principal, which only authz.AllowAll grants anything.
func (a *api) principal(r *http.Request) (authz.Principal, error) {
	p, ok := authz.PrincipalFrom(r.Context())
	if !ok && a.authn != nil {
		return p, &UnauthorizedError{Reason: "no credentials"}
	}
	return p, nil
}

// checkStack enforces SAF access to a stack for the request's principal.
func (a *api) checkStack(r *http.Request, stack string, k authz.Kind) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	_, err = a.authorize(r.Context(), p, stack, k)
	return err
}

// authorize asks the authorizer whether p may make requests of kind k on
// stack. The error is the refusal: 403 when denied, 503 when the
// authorizer could not decide.
func (a *api) authorize(ctx context.Context, p authz.Principal, stack string, k authz.Kind) (authz.Decision, error) {
	res := a.resource(ctx, stack, k)
	d, err := a.authz.Authorize(ctx, p, res)
	if err != nil {
		return authz.Decision{Resource: res, Reason: reasonUndecided}, &authzUnavailableError{Resource: res, Err: err}
	}
	if !d.Allowed {
		return d, forbidden(d)
	}
	return d, nil
}

// reasonUndecided is the reason of a decision the authorizer could not
// make, for the audit record.
const reasonUndecided = "not decided: the authorizer could not answer"

// refusalOutcome is the audit outcome of a control request refused before
// the NMI was asked: undecided when the authorizer could not decide,
// denied otherwise.
func refusalOutcome(err error) string {
	var aue *authzUnavailableError
	if errors.As(err, &aue) {
		return audit.OutcomeUndecided
	}
	return audit.OutcomeDenied
}

// mayDisplay decides, in one batch, which of the stacks of the request's
// system (the default system outside a stack's routes) the caller may
// display (for lists of stacks, which show only those).
func (a *api) mayDisplay(r *http.Request, stacks []string) ([]bool, error) {
	p, err := a.principal(r)
	if err != nil {
		return nil, err
	}
	res := make([]string, len(stacks))
	for i, s := range stacks {
		res[i] = a.resource(r.Context(), s, authz.Display)
	}
	ds, err := a.authorizeBatch(r.Context(), p, res)
	if err != nil {
		return nil, err
	}
	ok := make([]bool, len(ds))
	for i, d := range ds {
		ok[i] = d.Allowed
	}
	return ok, nil
}

// authorizeBatch asks the authorizer about several resources at once; an
// error is the 503 of an authorizer that could not decide (or gave a
// wrong number of decisions).
func (a *api) authorizeBatch(ctx context.Context, p authz.Principal, resources []string) ([]authz.Decision, error) {
	if len(resources) == 0 {
		return nil, nil
	}
	ds, err := a.authz.AuthorizeBatch(ctx, p, resources)
	if err == nil && len(ds) != len(resources) {
		err = fmt.Errorf("%d decisions for %d resources", len(ds), len(resources))
	}
	if err != nil {
		return nil, &authzUnavailableError{Err: err}
	}
	return ds, nil
}
