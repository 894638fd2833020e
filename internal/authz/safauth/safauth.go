// Package safauth is the authorization backend that asks RACF (or another
// SAF security manager) itself, through the saf-auth REST service of
// Zowe's ZSS, instead of deciding from the profiles of the policy file.
//
// # The interface relied on
//
// This client is written against the documented interface only; it has
// not run against a live ZSS or RACF. What it relies on, and where it was
// read:
//
//   - zowe/zss c/authService.c: the service is installed at /saf-auth/**;
//     a check is GET .../saf-auth/<USERID>/<CLASS>/<ENTITY>/<ACCESS> with
//     ACCESS one of READ, UPDATE, CONTROL, ALTER; it answers HTTP 200 with
//     {"authorized": true}, {"authorized": false, "message": "..."} (the
//     SAF return code was not 0: no access, or no profile covers the
//     entity), or {"error": true, "message": "..."} (the check could not
//     be made), and 400 for a malformed query. The service's authType is
//     SERVICE_AUTH_NATIVE_WITH_SESSION_TOKEN.
//   - zowe/zowe-common-c c/httpserver.c: that authType takes HTTP Basic
//     credentials (a user ID and password checked by SAF), ZSS's session
//     cookie, or, where ZSS is set up for JWTs, the API ML's JWT in the
//     apimlAuthenticationToken cookie; without valid credentials ZSS
//     answers 401 (428 for an expired password).
//   - zowe/api-layer SafResourceAccessEndpoint.java and
//     docs/saf-authorized-endpoints.md: the API ML's "endpoint"
//     authorization provider calls the same URL shape under a configured
//     base (default http://localhost:8542/saf-auth; through the gateway,
//     https://<host>:7554/zss/api/v1/saf-auth), sends the caller's JWT as
//     the apimlAuthenticationToken cookie, and treats "error": true as a
//     misconfigured endpoint.
//
// The gateway asks for READ access in class SERVAUTH, the access the NMI
// requires for both EZB.NETMGMT.<system>.<stack>.IPSEC.DISPLAY and
// .CONTROL. The transport may be TLS with a client certificate (as an
// AT-TLS rule or the API ML gateway may require), and the service
// authenticates to ZSS with Basic credentials or a token sent as the
// apimlAuthenticationToken cookie.
//
// # Failing closed
//
// Only an answer of one of the two deciding shapes decides. An endpoint
// out of reach, a timeout, a status other than 200, {"error": true}, or a
// body that is neither shape is an error: the caller answers 503, grants
// nothing, and does not pretend RACF denied.
//
// # User IDs
//
// A user ID RACF cannot hold never reaches the endpoint: RACF user IDs are
// 1 to 8 characters from A-Z, 0-9, #, $ and @, and (as TSO and MVS
// require) do not start with a digit. Such a principal is denied here,
// with the reason authz.ReasonBadUser; so is a resource name that is not
// valid (authz.ReasonBadResource). Superusers of the policy file get no
// bypass: RACF decides for them as for anyone.
//
// # Cache
//
// Decisions are cached per user ID and resource for a bounded time (a
// denial never longer than a grant), cleared by Clear; concurrent
// identical lookups share one request.
package safauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/nmigw/nmigw/internal/authz"
)

// Defaults and bounds of Config.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultCacheTTL      = 60 * time.Second
	DefaultMaxConcurrent = 8
	MaxCacheTTL          = 10 * time.Minute
	MaxTimeout           = time.Minute
	MaxConcurrentLimit   = 64
	// MaxCacheEntries bounds the cache; when it is full, expired entries
	// go, and if that frees nothing, all of them.
	MaxCacheEntries = 10000
)

// Class is the SAF class of the resources the gateway checks.
const Class = "SERVAUTH"

// Access is the access level asked for: what the NMI requires.
const Access = "READ"

// CookieName is the cookie that carries Config.Token, as the API ML's
// endpoint provider sends its JWT.
const CookieName = "apimlAuthenticationToken"

// Config configures a Client.
type Config struct {
	// URL is the base of the service, up to and including saf-auth, e.g.
	// https://zos.example:7557/saf-auth or
	// https://zos.example:7554/zss/api/v1/saf-auth. http or https.
	URL string
	// System is the <system> qualifier of the resources
	// (EZB.NETMGMT.<system>.<stack>.IPSEC.<kind>).
	System string
	// TLS configures https: the CA bundle that verifies the endpoint and
	// the client certificate, if any. nil: the system's roots.
	TLS *tls.Config
	// Username and Password, when Username is not "", are sent as HTTP
	// Basic credentials.
	Username, Password string
	// Token, when not "", is sent as the apimlAuthenticationToken cookie.
	Token string
	// Timeout bounds one request to the endpoint (0: DefaultTimeout).
	Timeout time.Duration
	// CacheTTL is how long a grant is cached (0: no cache). At most
	// MaxCacheTTL.
	CacheTTL time.Duration
	// DenialTTL is how long a denial is cached; at most CacheTTL.
	DenialTTL time.Duration
	// MaxConcurrent bounds the requests of one batch (0:
	// DefaultMaxConcurrent).
	MaxConcurrent int
	// Transport replaces the HTTP transport (tests); nil: one built from
	// TLS.
	Transport http.RoundTripper
	// Now replaces time.Now (tests of the cache).
	Now func() time.Time
}

// Client is an authz.Authorizer that asks the saf-auth endpoint. It is
// safe for concurrent use.
type Client struct {
	base     *url.URL
	system   string
	hc       *http.Client
	user     string
	password string
	token    string
	grantTTL time.Duration
	denyTTL  time.Duration
	limit    int
	now      func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[string]entry
	gen   uint64 // bumped by Clear: lookups begun before do not fill the cache

	onWait func() // tests: a caller waits for a lookup (shared or its own)
}

type entry struct {
	allowed bool
	reason  string
	expires time.Time
}

// Compile-time check.
var _ authz.Authorizer = (*Client)(nil)

// New checks cfg and makes a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("safauth: url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("safauth: url: %q is not an http or https URL without user, query or fragment", cfg.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	system, err := authz.NormalizeSystem(cfg.System)
	if err != nil {
		return nil, fmt.Errorf("safauth: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case cfg.Timeout < 0 || cfg.Timeout > MaxTimeout:
		return nil, fmt.Errorf("safauth: timeout %s is not between 0 and %s", cfg.Timeout, MaxTimeout)
	case cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL:
		return nil, fmt.Errorf("safauth: cache TTL %s is not between 0 and %s", cfg.CacheTTL, MaxCacheTTL)
	case cfg.DenialTTL < 0 || cfg.DenialTTL > cfg.CacheTTL:
		return nil, fmt.Errorf("safauth: denial cache TTL %s is not between 0 and the cache TTL %s", cfg.DenialTTL, cfg.CacheTTL)
	case cfg.MaxConcurrent < 0 || cfg.MaxConcurrent > MaxConcurrentLimit:
		return nil, fmt.Errorf("safauth: max concurrent %d is not between 1 and %d", cfg.MaxConcurrent, MaxConcurrentLimit)
	case strings.ContainsAny(cfg.Username, ":\r\n"):
		return nil, errors.New("safauth: the user name holds ':' or a line break")
	case strings.ContainsAny(cfg.Token, ";, \t\r\n\""):
		return nil, errors.New("safauth: the token holds a character a cookie cannot carry")
	}
	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // the endpoint is reached directly, never through an environment proxy
		if cfg.TLS != nil {
			t.TLSClientConfig = cfg.TLS.Clone()
		}
		rt = t
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		base:     u,
		system:   system,
		hc:       &http.Client{Transport: rt, Timeout: cfg.Timeout, CheckRedirect: noRedirects},
		user:     cfg.Username,
		password: cfg.Password,
		token:    cfg.Token,
		grantTTL: cfg.CacheTTL,
		denyTTL:  cfg.DenialTTL,
		limit:    cfg.MaxConcurrent,
		now:      now,
		cache:    map[string]entry{},
	}, nil
}

// noRedirects keeps credentials from following a redirect elsewhere: a
// redirect is answered as it is (not 200, so an error).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Resource returns EZB.NETMGMT.<system>.<stack>.IPSEC.<kind>; system ""
// is the client's configured system.
func (c *Client) Resource(system, stack string, k authz.Kind) string {
	if system == "" {
		system = c.system
	}
	return authz.Resource(system, stack, k)
}

// Clear empties the cache (on SIGHUP, with the policy reload). Lookups in
// flight when it is called do not fill the cache with their answers.
func (c *Client) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.cache)
	c.gen++
}

// CloseIdleConnections closes the client's idle connections to the
// endpoint (when a reload replaces the client).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Authorize asks whether p has READ access to resource in SERVAUTH.
func (c *Client) Authorize(ctx context.Context, p authz.Principal, resource string) (authz.Decision, error) {
	user, ok := UserID(p.User)
	if !ok {
		return authz.Decision{Resource: resource, Reason: authz.ReasonBadUser}, nil
	}
	res, err := authz.NormalizeResource(resource)
	if err != nil {
		return authz.Decision{Resource: resource, Reason: authz.ReasonBadResource}, nil
	}
	key := user + " " + res
	if d, ok := c.cached(key, res); ok {
		return d, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		c.mu.Lock()
		gen := c.gen
		c.mu.Unlock()
		// The shared lookup does not end with the first caller's
		// context: each caller waits for it only as long as its own
		// context lets it; the client's timeout bounds it.
		a, err := c.ask(context.WithoutCancel(ctx), user, res)
		if err != nil {
			return nil, err
		}
		c.store(key, a, gen)
		return a, nil
	})
	if c.onWait != nil {
		c.onWait()
	}
	select {
	case <-ctx.Done():
		return authz.Decision{}, fmt.Errorf("saf-auth %s for %s: %w", res, user, context.Cause(ctx))
	case r := <-ch:
		if r.Err != nil {
			return authz.Decision{}, r.Err
		}
		return decision(res, r.Val.(Answer)), nil
	}
}

// AuthorizeBatch decides every resource, asking the endpoint about those
// not cached concurrently (at most MaxConcurrent at a time). An error of
// any of them is the error of the batch.
func (c *Client) AuthorizeBatch(ctx context.Context, p authz.Principal, resources []string) ([]authz.Decision, error) {
	out := make([]authz.Decision, len(resources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.limit)
	for i, r := range resources {
		g.Go(func() error {
			d, err := c.Authorize(gctx, p, r)
			out[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// decision is the Decision of an answer.
func decision(res string, a Answer) authz.Decision {
	reason := "RACF via saf-auth: "
	if a.Authorized {
		reason += "authorized"
	} else {
		reason += "not authorized"
	}
	if a.Message != "" {
		reason += " (" + a.Message + ")"
	}
	return authz.Decision{Allowed: a.Authorized, Resource: res, Reason: reason}
}

func (c *Client) cached(key, res string) (authz.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok {
		return authz.Decision{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.cache, key)
		return authz.Decision{}, false
	}
	return decision(res, Answer{Authorized: e.allowed, Message: e.reason}), true
}

func (c *Client) store(key string, a Answer, gen uint64) {
	ttl := c.grantTTL
	if !a.Authorized {
		ttl = c.denyTTL
	}
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // cleared while the lookup ran
	}
	now := c.now()
	if len(c.cache) >= MaxCacheEntries {
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= MaxCacheEntries {
			clear(c.cache)
		}
	}
	c.cache[key] = entry{allowed: a.Authorized, reason: a.Message, expires: now.Add(ttl)}
}

// URL returns the request URL of a check: the base, then the user ID,
// the class, the resource and the access, each escaped as a path segment.
func (c *Client) URL(user, resource string) string {
	u := *c.base
	u.Path = c.base.Path + "/" + user + "/" + Class + "/" + resource + "/" + Access
	u.RawPath = c.base.EscapedPath() + "/" + url.PathEscape(user) + "/" + Class + "/" + url.PathEscape(resource) + "/" + Access
	return u.String()
}

// ask makes one request. Every failure is an error naming the endpoint's
// host, never its credentials.
func (c *Client) ask(ctx context.Context, user, res string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(user, res), nil)
	if err != nil {
		return Answer{}, fmt.Errorf("saf-auth: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	if c.token != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: c.token})
	}
	what := "saf-auth " + c.base.Host + " " + res + " for " + user
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in what already
		}
		return Answer{}, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerSize+1))
	if err != nil {
		return Answer{}, fmt.Errorf("%s: reading the answer: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Answer{}, fmt.Errorf("%s: HTTP status %d", what, resp.StatusCode)
	}
	if len(body) > MaxAnswerSize {
		return Answer{}, fmt.Errorf("%s: %w: longer than %d bytes", what, ErrMalformed, MaxAnswerSize)
	}
	a, err := DecodeAnswer(body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s: %w", what, err)
	}
	return a, nil
}

// UserID upper-cases a user ID and reports whether RACF can hold it: 1 to
// 8 characters from A-Z, 0-9, #, $ and @, not starting with a digit.
func UserID(id string) (string, bool) {
	u, err := authz.NormalizeID(id)
	if err != nil || u[0] >= '0' && u[0] <= '9' {
		return "", false
	}
	return u, true
}
