package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// oidcRetry is how long a failed issuer discovery is remembered before the
// next request tries again.
const oidcRetry = 10 * time.Second

// oidcVerifiers holds the verifier of the policy's issuer, discovered on
// first use and again when a reload names another issuer or audience. The
// library fetches the issuer's keys and refetches them when a token names
// a key it does not know (key rotation).
type oidcVerifiers struct {
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	cfg      policy.OIDC
	verifier *oidc.IDTokenVerifier
	failed   time.Time // of the last failed discovery
	err      error
}

func (o *oidcVerifiers) get(cfg *policy.OIDC) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg != *cfg {
		o.cfg, o.verifier, o.failed, o.err = *cfg, nil, time.Time{}, nil
	}
	if o.verifier != nil {
		return o.verifier, nil
	}
	if o.err != nil && o.now().Sub(o.failed) < oidcRetry {
		return nil, o.err
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), o.client), 10*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		o.failed, o.err = o.now(), err
		return nil, err
	}
	o.verifier = prov.Verifier(&oidc.Config{ClientID: cfg.Audience, Now: o.now})
	return o.verifier, nil
}

func (o *oidcVerifiers) verify(ctx context.Context, cfg *policy.OIDC, raw string) (authz.Principal, *Error) {
	v, err := o.get(cfg)
	if err != nil {
		// The cause names the issuer's addresses and the network's
		// answer: the log gets it, the unauthenticated caller does not.
		return authz.Principal{}, &Error{Status: http.StatusServiceUnavailable,
			Detail: "the OpenID Connect issuer cannot be reached", cause: redact(err.Error(), raw)}
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return authz.Principal{}, unauthorized("invalid_token", "the token has expired")
		}
		return authz.Principal{}, unauthorized("invalid_token", "the token does not verify: "+redact(err.Error(), raw))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return authz.Principal{}, unauthorized("invalid_token", "the token's claims do not decode")
	}
	name, _ := claims[cfg.UserClaim].(string)
	user, err := authz.NormalizeID(name)
	if err != nil {
		return authz.Principal{}, unauthorized("invalid_token",
			fmt.Sprintf("claim %s is not a user ID of 1 to 8 characters A-Z, 0-9, #, $, @", cfg.UserClaim))
	}
	p := authz.Principal{User: user}
	if cfg.GroupsClaim != "" {
		switch g := claims[cfg.GroupsClaim].(type) {
		case string:
			p.Groups = []string{g}
		case []any:
			for _, v := range g {
				if s, ok := v.(string); ok {
					p.Groups = append(p.Groups, s)
				}
			}
		}
	}
	return p, nil
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
