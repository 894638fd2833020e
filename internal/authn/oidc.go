package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// oidcRetry is how long a failed issuer discovery is remembered before the
// next request tries again.
const oidcRetry = 10 * time.Second

// oidcVerifiers holds the verifier of the policy's issuer, discovered on
// first use and again when a reload names another issuer or audience. Its
// keySet fetches the issuer's keys and refetches them, at most once per
// keySetRefetch, when no key held verifies a token (key rotation).
//
// Discovery runs outside mu, so a slow issuer holds up only the requests
// that need its verifier; concurrent requests share one discovery.
type oidcVerifiers struct {
	client *http.Client
	now    func() time.Time
	group  singleflight.Group

	mu       sync.Mutex
	cfg      issuerKey
	verifier *oidc.IDTokenVerifier
	failed   time.Time // of the last failed discovery
	err      error
}

// issuerKey is what a verifier depends on: the issuer and the audience.
type issuerKey struct{ issuer, audience string }

// cached returns the verifier of cfg, or the error of a discovery that
// failed less than oidcRetry ago; neither means discovery is due. A cfg
// other than the one held forgets what was known of the old one.
func (o *oidcVerifiers) cached(cfg issuerKey) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg != cfg {
		o.cfg, o.verifier, o.failed, o.err = cfg, nil, time.Time{}, nil
	}
	if o.verifier == nil && o.err != nil && o.now().Sub(o.failed) < oidcRetry {
		return nil, o.err
	}
	return o.verifier, nil
}

// get returns the verifier of cfg, discovering the issuer when due; the
// wait for a discovery ends early when ctx does.
func (o *oidcVerifiers) get(ctx context.Context, cfg *policy.OIDC) (*oidc.IDTokenVerifier, error) {
	want := issuerKey{cfg.Issuer, cfg.Audience}
	if v, err := o.cached(want); v != nil || err != nil {
		return v, err
	}
	ch := o.group.DoChan(want.issuer+"\x00"+want.audience, func() (any, error) { return o.discover(want) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oidc.IDTokenVerifier), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// discover fetches cfg's discovery document (at most 10 s) and records
// the verifier or the failure, unless a reload has named another issuer
// meanwhile.
func (o *oidcVerifiers) discover(cfg issuerKey) (*oidc.IDTokenVerifier, error) {
	// A discovery that ended between the caller's look and this call
	// has already answered.
	if v, err := o.cached(cfg); v != nil || err != nil {
		return v, err
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), o.client), 10*time.Second)
	defer cancel()
	var v *oidc.IDTokenVerifier
	prov, err := oidc.NewProvider(ctx, cfg.issuer)
	if err == nil {
		// The issuer's keys through a keySet, which rate-limits
		// refetches (the library's own refetches on every token that
		// names a key it does not know).
		var meta struct {
			JWKS string   `json:"jwks_uri"`
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		if err = prov.Claims(&meta); err == nil {
			v = oidc.NewVerifier(cfg.issuer, newKeySet(meta.JWKS, o.client, o.now),
				&oidc.Config{ClientID: cfg.audience, Now: o.now, SupportedSigningAlgs: acceptedAlgs(meta.Algs)})
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg == cfg {
		if err != nil {
			o.failed, o.err = o.now(), err
		} else {
			o.verifier = v
		}
	}
	return v, err
}

// acceptedAlgs are the algorithms of algs that signingAlgs accepts (nil:
// the library's default, RS256).
func acceptedAlgs(algs []string) []string {
	var out []string
	for _, a := range algs {
		if slices.Contains(signingAlgs, jose.SignatureAlgorithm(a)) {
			out = append(out, a)
		}
	}
	return out
}

// verify verifies the JWT raw against the issuer of pol's OIDC, and maps
// its names to the principal through pol's mappings (policy.NameMap); it
// also returns the token's expiry.
func (o *oidcVerifiers) verify(ctx context.Context, pol *policy.Policy, raw string) (authz.Principal, time.Time, *Error) {
	cfg := pol.OIDC
	v, err := o.get(ctx, cfg)
	if err != nil {
		// The cause names the issuer's addresses and the network's
		// answer: the log gets it, the unauthenticated caller does not.
		return authz.Principal{}, time.Time{}, &Error{Status: http.StatusServiceUnavailable,
			Detail: "the OpenID Connect issuer cannot be reached", cause: redact(err.Error(), raw)}
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return authz.Principal{}, time.Time{}, unauthorizedCause("invalid_token", reasonExpired, redact(err.Error(), raw))
		}
		// The library's text names the audience expected, the token's
		// algorithm, the server's time: the log gets it, the caller a
		// fixed reason.
		return authz.Principal{}, time.Time{}, unauthorizedCause("invalid_token", reasonNotVerified, redact(err.Error(), raw))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return authz.Principal{}, time.Time{}, unauthorizedCause("invalid_token", reasonNotVerified, "the claims do not decode: "+err.Error())
	}
	name, _ := claims[cfg.UserClaim].(string)
	user, err := pol.MapUser(&cfg.Names, name)
	if err != nil {
		return authz.Principal{}, time.Time{}, unauthorizedCause("invalid_token", reasonNoUser,
			fmt.Sprintf("claim %s: %v", cfg.UserClaim, err))
	}
	p := authz.Principal{User: user}
	if cfg.GroupsClaim != "" {
		var names []string
		switch g := claims[cfg.GroupsClaim].(type) {
		case string:
			names = []string{g}
		case []any:
			for _, v := range g {
				if s, ok := v.(string); ok {
					names = append(names, s)
				}
			}
		}
		// Only the IdP groups the policy maps.
		p.Groups = policy.MapGroups(cfg.Groups, names)
	}
	return p, tok.Expiry, nil
}

// redact removes a token and each of its parts from a message, in case a
// library quotes them.
func redact(msg, token string) string {
	msg = strings.ReplaceAll(msg, token, "[redacted]")
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 {
			msg = strings.ReplaceAll(msg, part, "[redacted]")
		}
	}
	return msg
}
