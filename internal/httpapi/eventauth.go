package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
)

// An event stream outlives the decisions that let it start: a policy
// reload may take the caller's DISPLAY away or delete its token, and an
// OIDC token expires. So a stream decides again when the policy changes
// (before it sends anything more), ends when its credentials expire, and
// lives at most EventOptions.MaxLifetime (the client reconnects with
// Last-Event-ID, and is authenticated and authorized afresh). A stream
// that is ended for its caller's sake sends a final error event with the
// problem (401 or 403; 503 when the authorizer cannot decide) first.
//
// The fleet stream (eventfleet.go) decides the same way, for every stack
// it covers: a stack whose DISPLAY is gone is no longer told of.

// streamGuard keeps one stream's caller in check.
type streamGuard struct {
	a      *api
	r      *http.Request
	decide func(ctx context.Context, p authz.Principal) error
	// p is the caller as last identified.
	p authz.Principal

	changed <-chan struct{}  // closed when the policy changes; nil: never
	expires time.Time        // zero: the credentials do not expire
	timer   *time.Timer      // fires at expires
	expired <-chan time.Time // timer's channel; nil without expiry
}

// newStreamGuard watches the caller of r; decide tells whether the
// caller may go on receiving the stream's events.
func (a *api) newStreamGuard(r *http.Request, decide func(ctx context.Context, p authz.Principal) error) *streamGuard {
	g := &streamGuard{a: a, r: r, decide: decide}
	g.p, _ = a.principal(r) // the stream has been authorized with it
	if a.policyChanged != nil {
		g.changed = a.policyChanged()
	}
	if a.credExpiry != nil {
		if g.expires = a.credExpiry(r.Context()); !g.expires.IsZero() {
			g.timer = time.NewTimer(time.Until(g.expires))
			g.expired = g.timer.C
		}
	}
	return g
}

func (g *streamGuard) stop() {
	if g.timer != nil {
		g.timer.Stop()
	}
}

// errExpired is the end of a stream whose credentials expired.
var errExpired = &UnauthorizedError{Reason: "the credentials have expired"}

// check returns the error that ends the stream, or nil: the credentials
// expired, or the policy changed since the last decision and, under the
// policy in force, the caller is no longer authenticated (401), or decide
// refuses it (403: no longer may display the stack; 503: cannot be
// decided).
func (g *streamGuard) check() error {
	if !g.expires.IsZero() && !time.Now().Before(g.expires) {
		return errExpired
	}
	select {
	case <-g.changed:
	default:
		return nil
	}
	// Armed again before deciding: a change during the decision is seen.
	g.changed = g.a.policyChanged()
	p, err := g.a.principal(g.r)
	if err != nil {
		return err
	}
	if g.a.reauth != nil {
		if p, err = g.a.reauth(g.r); err != nil {
			return &UnauthorizedError{Reason: "the credentials are no longer accepted"}
		}
	}
	g.p = p
	return g.decide(g.r.Context(), p)
}
