package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/authz/safauth"
	"github.com/nmigw/nmigw/internal/policy"
)

// backend is the authorizer of the gateway: the backend the policy in
// force chooses (authorization.backend), the policy model of the store or
// a client of ZSS's saf-auth endpoint. A reload (SIGHUP) makes a new
// client from the reloaded policy, so the decision cache starts empty and
// changed settings (credentials, certificates) take effect; a reload that
// fails keeps the client but still empties its cache.
type backend struct {
	store *policy.Store
	log   *slog.Logger
	saf   atomic.Pointer[safauth.Client] // nil: the policy model decides
}

// Compile-time check.
var _ authz.Authorizer = (*backend)(nil)

// newBackend makes the authorizer of the store's current policy.
func newBackend(store *policy.Store, log *slog.Logger) (*backend, error) {
	b := &backend{store: store, log: log}
	if err := b.use(store.Current()); err != nil {
		return nil, err
	}
	return b, nil
}

// use switches to the backend policy p chooses.
func (b *backend) use(p *policy.Policy) error {
	var c *safauth.Client
	if p.Authorization.Backend == policy.BackendSAFEndpoint {
		var err error
		if c, err = newSAFClient(p); err != nil {
			return err
		}
		b.log.Info("authorization by RACF through the saf-auth endpoint", slog.String("url", p.Authorization.SAF.URL))
	}
	if old := b.saf.Swap(c); old != nil {
		old.CloseIdleConnections()
	}
	return nil
}

// reloaded follows a reload of the policy; err is the reload's.
func (b *backend) reloaded(err error) {
	if err == nil {
		err = b.use(b.store.Current())
		if err == nil {
			return
		}
		b.log.Error("authorization backend not changed", slog.String("error", err.Error()))
	}
	if c := b.saf.Load(); c != nil {
		c.Clear()
	}
}

// newSAFClient makes the saf-auth client of authorization.safEndpoint.
func newSAFClient(p *policy.Policy) (*safauth.Client, error) {
	s := p.Authorization.SAF
	t := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
	if s.Certificate != nil {
		t.Certificates = []tls.Certificate{*s.Certificate}
	}
	c, err := safauth.New(safauth.Config{
		URL:           s.URL,
		System:        p.Authz.System,
		TLS:           t,
		Username:      s.User,
		Password:      s.Password,
		Token:         s.Token,
		Timeout:       s.Timeout,
		CacheTTL:      s.CacheTTL,
		DenialTTL:     s.DenialCacheTTL,
		MaxConcurrent: s.MaxConcurrent,
	})
	if err != nil {
		return nil, fmt.Errorf("authorization.safEndpoint: %w", err)
	}
	return c, nil
}

func (b *backend) Authorize(ctx context.Context, p authz.Principal, resource string) (authz.Decision, error) {
	if c := b.saf.Load(); c != nil {
		return c.Authorize(ctx, p, resource)
	}
	return b.store.Authorize(ctx, p, resource)
}

func (b *backend) AuthorizeBatch(ctx context.Context, p authz.Principal, resources []string) ([]authz.Decision, error) {
	if c := b.saf.Load(); c != nil {
		return c.AuthorizeBatch(ctx, p, resources)
	}
	return b.store.AuthorizeBatch(ctx, p, resources)
}

func (b *backend) Resource(system, stack string, k authz.Kind) string {
	if c := b.saf.Load(); c != nil {
		return c.Resource(system, stack, k)
	}
	return b.store.Resource(system, stack, k)
}
