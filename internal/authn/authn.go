// Package authn turns the credentials of an HTTP request into an
// authz.Principal: a bearer token known by its SHA-256, a verified TLS
// client certificate, an OpenID Connect ID token, or a JWT of a Zowe API
// Mediation Layer (as a Bearer token or in its apimlAuthenticationToken
// cookie), as the current policy says; or the policy's anonymous user when the request carries no
// credentials at all. Everything else is answered 401 with a
// WWW-Authenticate header.
//
// Secrets never leave the package: tokens and Authorization headers are
// not logged and not echoed in error bodies.
package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// Method says how a caller was identified; the values are those of the
// WhoAmI schema's authentication field.
type Method string

// The ways of identifying a caller.
const (
	MethodAnonymous   Method = "anonymous"
	MethodToken       Method = "token"
	MethodCertificate Method = "certificate"
	MethodOIDC        Method = "oidc"
	MethodZowe        Method = "zowe"
)

type methodKey struct{}

// MethodFrom returns how the caller of the request in ctx was identified.
func MethodFrom(ctx context.Context) (Method, bool) {
	m, ok := ctx.Value(methodKey{}).(Method)
	return m, ok
}

// MethodName returns how the caller of the request in ctx was identified,
// or "" (the shape of httpapi.Deps.AuthMethod).
func MethodName(ctx context.Context) string {
	m, _ := MethodFrom(ctx)
	return string(m)
}

// Error is a failed authentication, safe to show to the caller.
type Error struct {
	Status int    // 401, or 503 when the OIDC issuer or the API ML's keys cannot be reached
	Code   string // RFC 6750 error code: "", invalid_request or invalid_token
	Detail string // what went wrong; never holds a credential

	cause string        // for the log only: what the server saw (addresses, library errors)
	retry time.Duration // Retry-After of a 503; 0 = oidcRetry
}

func (e *Error) Error() string { return e.Detail }

// Options configure an Authenticator.
type Options struct {
	// Policy returns the policy in force (policy.Store.Current); it is
	// called once per request so that reloads take effect at once.
	Policy func() *policy.Policy
	// Logger receives one record per failed authentication (Info) and
	// per success (Debug). Nil discards.
	Logger *slog.Logger
	// HTTPClient fetches the OIDC discovery document and keys, and the
	// Zowe API ML's keys when the policy names no CA file for them; nil
	// means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Realm is the realm of WWW-Authenticate; default "nmigw".
	Realm string
	// WriteError writes a failure; nil writes application/problem+json.
	// The WWW-Authenticate header is set before it is called.
	WriteError func(w http.ResponseWriter, r *http.Request, e *Error)
	// Now is the clock for token expiry and issuer retries; nil is
	// time.Now.
	Now func() time.Time
	// RequestID, if set, returns the ID of the request in ctx for the log
	// record of a failure (the answer's X-Request-ID).
	RequestID func(ctx context.Context) string
}

// Authenticator authenticates requests; it is safe for concurrent use.
type Authenticator struct {
	opts Options
	oidc *oidcVerifiers
	zowe *zoweKeys
}

// New returns an Authenticator.
func New(opts Options) *Authenticator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Realm == "" {
		opts.Realm = "nmigw"
	}
	if opts.WriteError == nil {
		opts.WriteError = WriteProblem
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Authenticator{opts: opts,
		oidc: &oidcVerifiers{client: opts.HTTPClient, now: opts.Now},
		zowe: &zoweKeys{client: opts.HTTPClient, now: opts.Now}}
}

// Middleware authenticates every request before next sees it: next runs
// with the principal (authz.PrincipalFrom) and the method (MethodFrom) in
// the request's context, or does not run at all.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, m, exp, err := a.authenticate(r)
		if err != nil {
			var attrs []slog.Attr
			if a.opts.RequestID != nil {
				attrs = append(attrs, slog.String("requestId", a.opts.RequestID(r.Context())))
			}
			attrs = append(attrs, slog.String("remote", r.RemoteAddr), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Int("status", err.Status), slog.String("reason", err.Detail))
			if err.cause != "" {
				attrs = append(attrs, slog.String("cause", err.cause))
			}
			a.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "authentication failed", attrs...)
			a.fail(w, r, err)
			return
		}
		a.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "authenticated",
			slog.String("user", p.User), slog.String("by", string(m)), slog.String("path", r.URL.Path))
		ctx := context.WithValue(authz.WithPrincipal(r.Context(), p), methodKey{}, m)
		if !exp.IsZero() {
			ctx = context.WithValue(ctx, expiryKey{}, exp)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *Authenticator) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == http.StatusUnauthorized {
		v := `Bearer realm="` + quoteSafe(a.opts.Realm) + `"`
		if e.Code != "" {
			v += `, error="` + e.Code + `", error_description="` + quoteSafe(e.Detail) + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
	} else {
		// The pause after a failed discovery or key fetch.
		retry := oidcRetry
		if e.retry > 0 {
			retry = e.retry
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	}
	a.opts.WriteError(w, r, e)
}

// quoteSafe keeps the printable ASCII of s that may stand in a quoted
// string of a header.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// WriteProblem writes e as an RFC 9457 problem.
func WriteProblem(w http.ResponseWriter, r *http.Request, e *Error) {
	typ, title := "urn:nmigw:problem:unauthorized", "Unauthorized"
	if e.Status != http.StatusUnauthorized {
		typ, title = "urn:nmigw:problem:authentication-unavailable", "Authentication unavailable"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Type     string `json:"type"`
		Title    string `json:"title"`
		Status   int    `json:"status"`
		Detail   string `json:"detail"`
		Instance string `json:"instance"`
	}{typ, title, e.Status, e.Detail, r.URL.Path})
}

// The fixed reasons of a 401 for a token that was not accepted. What
// exactly was wrong (the library's words, the audience or algorithm
// expected, the server's time) goes to the log only, with the request ID.
const (
	reasonNotVerified = "the token does not verify"
	reasonExpired     = "the token has expired"
	reasonNoUser      = "the token does not name a user of this gateway"
	// reasonCertNotMapped: a verified certificate the policy maps to no
	// user.
	reasonCertNotMapped = "the client certificate is not mapped to a user"
)

func unauthorized(code, detail string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Detail: detail}
}

// unauthorizedCause is unauthorized with the detail for the log.
func unauthorizedCause(code, detail, cause string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Detail: detail, cause: cause}
}

// Authenticate identifies the caller of r. An Authorization header, when
// present, decides; otherwise the API ML's cookie, when the policy accepts
// Zowe JWTs (before the client certificate, which through the API ML is
// the API ML's own); otherwise a verified client certificate; otherwise
// the policy's anonymous user, if it names one. The principal's groups are
// resolved here, once: those its identity carries and those the policy
// configures for its user (policy.Policy.Groups).
func (a *Authenticator) Authenticate(r *http.Request) (authz.Principal, Method, *Error) {
	p, m, _, err := a.authenticate(r)
	return p, m, err
}

// authenticate is Authenticate, and the time the credentials expire (an
// OIDC token's exp; zero for credentials without one).
func (a *Authenticator) authenticate(r *http.Request) (authz.Principal, Method, time.Time, *Error) {
	pol := a.opts.Policy()
	if pol == nil {
		return authz.Principal{}, "", time.Time{}, &Error{Status: http.StatusServiceUnavailable, Detail: "no policy is loaded"}
	}
	var exp time.Time
	p, m, err := a.identify(r, pol, &exp)
	if err != nil {
		return authz.Principal{}, "", time.Time{}, err
	}
	p.Groups = pol.Groups(p)
	return p, m, exp, nil
}

type expiryKey struct{}

// ExpiryFrom returns when the credentials of the request in ctx expire
// (an OIDC token's exp), or the zero time when they do not or when the
// request was not authenticated by an Authenticator.
func ExpiryFrom(ctx context.Context) time.Time {
	t, _ := ctx.Value(expiryKey{}).(time.Time)
	return t
}

// Reauthenticate identifies the caller of r again, under the policy in
// force now (after a reload): the principal, or an error for a request
// whose credentials are no longer accepted (a deleted token, an expired
// OIDC token). Long requests (event streams) call it when the policy
// changes.
func (a *Authenticator) Reauthenticate(r *http.Request) (authz.Principal, error) {
	p, _, err := a.Authenticate(r)
	if err != nil {
		return p, err
	}
	return p, nil
}

// identify sets *exp when the credentials expire.
func (a *Authenticator) identify(r *http.Request, pol *policy.Policy, exp *time.Time) (authz.Principal, Method, *Error) {
	if hs := r.Header.Values("Authorization"); len(hs) > 0 {
		return a.bearer(r.Context(), pol, hs, exp)
	}
	if pol.Zowe != nil {
		if c, err := r.Cookie(zoweCookie); err == nil && c.Value != "" {
			p, err := a.zowe.verify(r.Context(), pol.Zowe, c.Value)
			if err != nil {
				return authz.Principal{}, "", err
			}
			return p, MethodZowe, nil
		}
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if len(r.TLS.VerifiedChains) == 0 {
			return authz.Principal{}, "", unauthorized("", "the client certificate was not verified")
		}
		return certificate(pol, r.TLS.PeerCertificates[0])
	}
	if pol.Anonymous != "" {
		return authz.Principal{User: pol.Anonymous}, MethodAnonymous, nil
	}
	return authz.Principal{}, "", unauthorized("", "credentials required")
}

func (a *Authenticator) bearer(ctx context.Context, pol *policy.Policy, hs []string, exp *time.Time) (authz.Principal, Method, *Error) {
	if len(hs) != 1 {
		return authz.Principal{}, "", unauthorized("invalid_request", "more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(hs[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return authz.Principal{}, "", unauthorized("invalid_request", "only Bearer credentials are accepted")
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return authz.Principal{}, "", unauthorized("invalid_request", "the Authorization header has no token")
	}
	if strings.ContainsAny(token, " \t") {
		return authz.Principal{}, "", unauthorized("invalid_request", "malformed Bearer credentials")
	}
	if t := findToken(pol.Tokens, token); t != nil {
		return authz.Principal{User: t.User, Groups: t.Groups}, MethodToken, nil
	}
	// A JWT goes to the Zowe API ML's keys when the policy accepts only
	// those, or when it names the API ML as its issuer; else to OIDC.
	if pol.Zowe != nil && isJWT(token) && (pol.OIDC == nil || zoweIssued(token, pol.Zowe.Issuer)) {
		p, err := a.zowe.verify(ctx, pol.Zowe, token)
		if err != nil {
			return authz.Principal{}, "", err
		}
		return p, MethodZowe, nil
	}
	if pol.OIDC != nil && isJWT(token) {
		p, expiry, err := a.oidc.verify(ctx, pol, token)
		if err != nil {
			return authz.Principal{}, "", err
		}
		*exp = expiry
		return p, MethodOIDC, nil
	}
	return authz.Principal{}, "", unauthorized("invalid_token", "unknown token")
}

// findToken compares the token's SHA-256 with every hash in constant time
// and returns the matching entry, or nil.
func findToken(tokens []policy.TokenID, token string) *policy.TokenID {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range tokens {
		eq := subtle.ConstantTimeCompare(sum[:], tokens[i].SHA256[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil
	}
	return &tokens[found]
}

// certificate maps a verified client certificate: the policy's entry for
// its subject (user and groups), else its CN through the policy's
// certificateCN mapping (prefix or domain stripped; never a superuser),
// else none. The certificate's own names (CN, OU) are never user IDs or
// groups by themselves.
func certificate(pol *policy.Policy, cert *x509.Certificate) (authz.Principal, Method, *Error) {
	if c := pol.FindCertificate(cert.Subject); c != nil {
		return authz.Principal{User: c.User, Groups: slices.Clone(c.Groups)}, MethodCertificate, nil
	}
	if pol.CertificateCN.Empty() {
		return authz.Principal{}, "", unauthorizedCause("", reasonCertNotMapped, "subject "+cert.Subject.String()+" is not in identities.certificates")
	}
	id, err := pol.MapUser(&pol.CertificateCN, cert.Subject.CommonName)
	if err != nil {
		return authz.Principal{}, "", unauthorizedCause("", reasonCertNotMapped, "CN: "+err.Error())
	}
	return authz.Principal{User: id}, MethodCertificate, nil
}
