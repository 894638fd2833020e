package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// A stack's routes answer for one stack of one system: resolveStack puts
// the fleet.Stack in the request's context, and every NMI exchange of the
// request goes through routedNMI, which sends it where that stack lives
// (its endpoint, with its NMsMTarget). /v1/stacks/{stack} is a stack of
// the default system.

type stackKey struct{}

// withStack returns ctx carrying st: the NMI exchanges made with it go to
// st's endpoint.
func withStack(ctx context.Context, st *fleet.Stack) context.Context {
	return context.WithValue(ctx, stackKey{}, st)
}

// stackFrom returns the stack of ctx, nil outside a stack's routes.
func stackFrom(ctx context.Context) *fleet.Stack {
	st, _ := ctx.Value(stackKey{}).(*fleet.Stack)
	return st
}

// systemParam is the {system} path parameter, or the default system.
func (a *api) systemParam(r *http.Request) string {
	if s := pathParam(r, "system"); s != "" {
		return s
	}
	return a.fleet.Default()
}

// resolveStack finds the stack of {system} (or the default system) and
// {stack}: 404 naming an unknown system, or a stack that a system behind
// an NSS server does not have. For control operation op (nil: a display
// route) the refusal is audited.
func (a *api) resolveStack(op *controlOp) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, err := a.lookupStack(r)
			if err != nil {
				if op != nil {
					a.refuseInvalidControl(w, r, op, err)
					return
				}
				a.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(withStack(r.Context(), &st)))
		})
	}
}

// lookupStack finds the stack the request's path names. Behind an NSS
// server the lookup may ask it for its clients: bounded like the
// request's own NMI work (an event stream's request has no other
// deadline).
func (a *api) lookupStack(r *http.Request) (fleet.Stack, error) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	return a.fleet.Lookup(ctx, a.systemParam(r), pathParam(r, "stack"))
}

// resource is the SAF resource guarding requests of kind k on stack, on
// the system of ctx's stack (the default system outside a stack's
// routes). Behind an NSS server only the stack of ctx has a resource, its
// client's; another name there gets "", which no authorizer but AllowAll
// grants.
func (a *api) resource(ctx context.Context, stack string, k authz.Kind) string {
	st := stackFrom(ctx)
	switch {
	case st == nil:
		return a.authz.Resource(a.defaultSAF, stack, k)
	case st.Name == stack:
		return st.Resource(a.authz, k)
	case st.Kind == fleet.IKED:
		return a.authz.Resource(st.SAFSystem, stack, k)
	}
	return ""
}

// errNotRouted: the NSS server routes neither NMsec_GET_STACKINFO nor
// NMsec_GET_IKENSINFO to its clients.
var errNotRouted = errors.New("the NSS server does not route system-wide requests to its clients")

// routedNMI sends each exchange to the endpoint of the stack in its
// context, or to the default system's endpoint.
type routedNMI struct{ f *fleet.Fleet }

func (n routedNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	st := stackFrom(ctx)
	if st == nil {
		return n.f.EndpointNMI(n.f.Default()).Do(ctx, req, fn)
	}
	if req.Type.SystemWide() {
		if st.Kind == fleet.NSS {
			return nmi.Header{}, errNotRouted
		}
		return n.f.EndpointNMI(st.Endpoint).Do(ctx, req, fn)
	}
	return st.Do(ctx, req, fn)
}

// unknownSystemError is fleet's: 404 naming the system.
func unknownSystemProblem(e *fleet.UnknownSystemError) problem {
	return problem{Type: probUnknownSystem, Title: "Unknown system", Status: http.StatusNotFound,
		Detail: "the gateway reaches no system " + e.System}
}
