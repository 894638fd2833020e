package authn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// Zowe API Mediation Layer JWTs, as the Zowe documentation and the API ML's
// sources (github.com/zowe/api-layer) describe them:
//   - the API ML publishes the public key that currently signs its tokens as
//     a JWK set at /gateway/api/v1/auth/keys/public/current (z/OSMF's keys
//     when z/OSMF produces the tokens, else the API ML's own);
//   - a token names the user ID in sub, the producer in iss ("APIML" for the
//     API ML's own tokens, "zOSMF" for z/OSMF's), and carries iat, exp, jti
//     and dom; there is no aud; the signature is RS256;
//   - with the zoweJwt scheme the API ML gateway passes the token on to the
//     service, in the apimlAuthenticationToken cookie or as a Bearer token.
//
// None of this has been tried against a live API ML: the tests serve the
// JWK set from an in-process server and sign the tokens themselves.

// zoweCookie is the cookie in which the API ML passes its JWT.
const zoweCookie = "apimlAuthenticationToken"

// zoweRefetch is the least time between two fetches of the JWK set. A
// token signed by a key not in the set held fetches the set again (the API
// ML's key rotated), but no more often than this, so that tokens signed by
// unknown keys cannot make the gateway hammer the API ML. It is also the
// pause after a failed fetch.
const zoweRefetch = 30 * time.Second

// zoweLeeway is the clock skew allowed between the API ML and the gateway.
const zoweLeeway = time.Minute

// zoweAlgorithms are the signature algorithms accepted; "none" and the
// HMAC algorithms are not among them.
var zoweAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// zoweKeys holds the API ML's JWK set: fetched on first use, and again
// when a token names a key the set does not hold, at most once per
// zoweRefetch. Concurrent requests that need a fetch share one.
type zoweKeys struct {
	client *http.Client // the Authenticator's; its transport when no CA file is configured
	now    func() time.Time
	group  singleflight.Group

	mu      sync.Mutex
	cfg     policy.ZoweJWT
	http    *http.Client // for cfg
	keys    []jose.JSONWebKey
	fetched time.Time // of the last fetch, good or bad; zero = never
	err     error     // of the last fetch, when it failed
}

// state returns the keys held for cfg, and whether a fetch is allowed
// now. A cfg other than the one held forgets what was known of the old.
func (z *zoweKeys) state(cfg *policy.ZoweJWT) (keys []jose.JSONWebKey, due bool, err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cfg != *cfg {
		z.cfg, z.keys, z.fetched, z.err = *cfg, nil, time.Time{}, nil
		z.http = z.client
		if cfg.RootCAs != nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
			z.http = &http.Client{Timeout: z.client.Timeout, Transport: tr}
		}
	}
	due = z.fetched.IsZero() || z.now().Sub(z.fetched) >= zoweRefetch
	return z.keys, due, z.err
}

// refetch fetches the JWK set of cfg unless a fetch happened less than
// zoweRefetch ago; it returns the keys held afterwards and whether they
// are new. The wait ends early when ctx does.
func (z *zoweKeys) refetch(ctx context.Context, cfg *policy.ZoweJWT) ([]jose.JSONWebKey, bool, error) {
	keys, due, err := z.state(cfg)
	if !due {
		return keys, false, err
	}
	want := *cfg
	ch := z.group.DoChan(want.JWKSURL, func() (any, error) { return z.fetch(want) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return keys, false, r.Err
		}
		return r.Val.([]jose.JSONWebKey), true, nil
	case <-ctx.Done():
		return keys, false, ctx.Err()
	}
}

// fetch reads the JWK set of cfg (at most 10 s) and records the result,
// unless a reload has named another key set meanwhile. A failed fetch
// keeps the keys held before.
func (z *zoweKeys) fetch(cfg policy.ZoweJWT) ([]jose.JSONWebKey, error) {
	z.mu.Lock()
	if z.cfg == cfg && !z.fetched.IsZero() && z.now().Sub(z.fetched) < zoweRefetch {
		// A fetch that ended between the caller's look and this call
		// has already answered.
		keys, err := z.keys, z.err
		z.mu.Unlock()
		return keys, err
	}
	client := z.http
	z.mu.Unlock()

	keys, err := fetchKeySet(client, cfg.JWKSURL)

	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cfg == cfg {
		z.fetched, z.err = z.now(), err
		if err == nil {
			z.keys = keys
		}
	}
	return keys, err
}

// fetchKeySet GETs a JWK set and keeps its public signing keys; a set
// without one is an error.
func fetchKeySet(client *http.Client, url string) ([]jose.JSONWebKey, error) {
	keys, err := fetchKeys(client, url)
	if err == nil && len(keys) == 0 {
		err = fmt.Errorf("key set %s: no public signing key", url)
	}
	return keys, err
}

// claimsWith verifies tok's signature with the keys that may have signed
// it (those of its key ID, or every key when either side names none) and
// decodes its claims.
func claimsWith(tok *jwt.JSONWebToken, keys []jose.JSONWebKey) (jwt.Claims, bool) {
	kid := tok.Headers[0].KeyID
	for _, k := range keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		var c jwt.Claims
		if err := tok.Claims(k.Key, &c); err == nil {
			return c, true
		}
	}
	return jwt.Claims{}, false
}

// verify checks a Zowe JWT and returns its principal: the signature
// against the API ML's current keys, then issuer and times, then sub as a
// user ID. The reasons given are short; what the gateway saw goes to the
// log only.
func (z *zoweKeys) verify(ctx context.Context, cfg *policy.ZoweJWT, raw string) (authz.Principal, *Error) {
	tok, err := jwt.ParseSigned(raw, zoweAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		e := unauthorized("invalid_token", "the token is not a JWT signed with an accepted algorithm")
		if err != nil {
			e.cause = redact(err.Error(), raw)
		}
		return authz.Principal{}, e
	}
	keys, _, fetchErr := z.state(cfg)
	claims, ok := claimsWith(tok, keys)
	if !ok {
		// An unknown key: the API ML may have rotated its key.
		var fresh bool
		keys, fresh, fetchErr = z.refetch(ctx, cfg)
		if fresh {
			claims, ok = claimsWith(tok, keys)
		}
	}
	if !ok {
		if len(keys) == 0 {
			cause := "no JWK set has been fetched yet"
			if fetchErr != nil {
				cause = fetchErr.Error()
			}
			return authz.Principal{}, &Error{Status: http.StatusServiceUnavailable,
				Detail: "the Zowe API Mediation Layer's keys cannot be fetched", cause: cause, retry: zoweRefetch}
		}
		e := unauthorized("invalid_token", "the token's signature does not verify")
		e.cause = "key ID " + fmt.Sprintf("%q", tok.Headers[0].KeyID) + " not among the API ML's current keys, or a bad signature"
		return authz.Principal{}, e
	}
	if claims.Expiry == nil {
		return authz.Principal{}, unauthorized("invalid_token", "the token has no expiry time")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: cfg.Issuer, Time: z.now()}, zoweLeeway); err != nil {
		var e *Error
		switch {
		case errors.Is(err, jwt.ErrExpired):
			e = unauthorized("invalid_token", "the token has expired")
		case errors.Is(err, jwt.ErrInvalidIssuer):
			e = unauthorized("invalid_token", "the token is from another issuer")
			e.cause = fmt.Sprintf("iss %q, want %q", claims.Issuer, cfg.Issuer)
		default:
			e = unauthorized("invalid_token", "the token is not valid yet")
		}
		if e.cause == "" {
			e.cause = err.Error()
		}
		return authz.Principal{}, e
	}
	user, err := authz.NormalizeID(claims.Subject)
	if err != nil {
		e := unauthorized("invalid_token", "the token's subject is not a user ID of 1 to 8 characters A-Z, 0-9, #, $, @")
		e.cause = err.Error()
		return authz.Principal{}, e
	}
	return authz.Principal{User: user}, nil
}

// zoweIssued reports whether the unverified payload of a compact JWT names
// issuer as its iss: which of two configured JWT sources should verify it.
// Nothing is trusted from it beyond that choice.
func zoweIssued(raw, issuer string) bool {
	tok, err := jwt.ParseSigned(raw, zoweAlgorithms)
	if err != nil {
		return false
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return false
	}
	return c.Issuer == issuer
}

// isJWT reports whether a credential has the shape of a compact JWS.
func isJWT(s string) bool { return strings.Count(s, ".") == 2 }
