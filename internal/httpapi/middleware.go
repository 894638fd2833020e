package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nmigw/nmigw/internal/coalesce"
)

type requestIDKey struct{}

type clientRequestIDKey struct{}

// requestID returns the request's ID ("" outside the middleware): always
// one the gateway made, never the caller's.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID returns the gateway's ID of the request in ctx, for logs
// written outside this package (authentication failures).
func RequestID(ctx context.Context) string { return requestID(ctx) }

// clientRequestID returns the caller's X-Request-ID, when it sent a valid
// one ("" otherwise).
func clientRequestID(ctx context.Context) string {
	id, _ := ctx.Value(clientRequestIDKey{}).(string)
	return id
}

// attrRequestID is the request's ID and, when the caller sent one, its
// client request ID, inlined in a log record.
func attrRequestID(r *http.Request) slog.Attr {
	id := slog.String("requestId", requestID(r.Context()))
	if c := clientRequestID(r.Context()); c != "" {
		return slog.Attr{Value: slog.GroupValue(id, slog.String("clientRequestId", c))}
	}
	return slog.Attr{Value: slog.GroupValue(id)}
}

func attrError(err error) slog.Attr { return slog.String("error", err.Error()) }

func levelFor(err error) slog.Level {
	if errors.Is(err, context.Canceled) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// validRequestID accepts a caller's X-Request-ID: 1-128 characters of
// letters, digits and -_.:
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

// withRequestID gives every request an ID of the gateway's own, answers it
// in X-Request-ID and puts it in the context. A caller's X-Request-ID is
// kept apart, as the client request ID (logs and audit records carry it
// as clientRequestId): callers cannot choose the ID that audit records
// and logs are correlated by.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		if c := r.Header.Get("X-Request-ID"); validRequestID(c) {
			ctx = context.WithValue(ctx, clientRequestIDKey{}, c)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter records the status and size of an answer for the access
// log. It forwards Flush and deadlines through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request, with chi's route pattern, and turns
// a panic into a 500 (or re-panics http.ErrAbortHandler, which aborts a
// streamed answer on purpose).
func (a *api) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		li := &logInfo{}
		r = withLogInfo(r, li)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.LogAttrs(r.Context(), slog.LevelError, "panic", attrRequestID(r),
					slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					a.writeProblem(sw, r, problem{Type: probInternal, Title: "Internal error",
						Status: http.StatusInternalServerError, Detail: "the gateway failed; see its log for the request ID"})
				}
			}
			pattern := ""
			if rc := chi.RouteContext(r.Context()); rc != nil {
				pattern = rc.RoutePattern()
			}
			level := slog.LevelInfo
			if li.isQuiet() || pattern == "/healthz" || pattern == "/readyz" {
				// Probes come every few seconds, refusals of an
				// outage or overload by the thousand: the episode
				// logs count the latter.
				level = slog.LevelDebug
			}
			if !a.log.Enabled(r.Context(), level) {
				return // the line's attributes cost more than the check
			}
			a.log.LogAttrs(r.Context(), level, "http", append([]slog.Attr{attrRequestID(r),
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("route", pattern), slog.Int("status", sw.status),
				slog.Int64("bytes", sw.bytes), durationMs("durationMs", time.Since(start))}, li.attrs()...)...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// CORS headers.
const (
	corsAllowMethods  = "GET, HEAD, POST, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, If-None-Match, Last-Event-ID, X-Request-ID"
	corsExposeHeaders = "ETag, X-Request-ID, Retry-After, Location"
	corsMaxAge        = "600"
)

// withCORS lets pages from the configured origins call the API. A
// preflight from an allowed origin is answered here; one from another
// origin gets no CORS headers, so the browser refuses.
func (a *api) withCORS(next http.Handler) http.Handler {
	if !a.corsAny && len(a.cors) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := a.corsAny || a.cors[origin]
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if allowed {
			if a.corsAny {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies before anything reads them.
func (a *api) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			switch {
			case r.ContentLength <= a.maxBody:
				r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
			case r.Method == http.MethodPost:
				// A POST may be a control request, which must be
				// audited with its caller: it goes on through
				// authentication to the validation, whose first read
				// of the body fails as a body over the limit sent
				// without a length would. No byte of it is read.
				r.Body = tooLarge{limit: a.maxBody}
			default:
				a.writeError(w, r, &http.MaxBytesError{Limit: a.maxBody})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// tooLarge is the body of a request that announced more than the limit.
type tooLarge struct{ limit int64 }

func (b tooLarge) Read([]byte) (int, error) { return 0, &http.MaxBytesError{Limit: b.limit} }
func (tooLarge) Close() error               { return nil }

// authenticate applies Deps.Authenticate when set. API answers depend on
// the caller, so they vary by Authorization (and are private: see
// bodyWriter), and no shared cache serves one caller's answer to another.
func (a *api) authenticate(next http.Handler) http.Handler {
	if a.authn == nil {
		return next
	}
	h := a.authn(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Authorization")
		h.ServeHTTP(w, r)
	})
}

// scope sets the request scope: the request's context gets one deadline,
// RequestTimeout from now, that bounds all the NMI work of the request,
// whatever number of exchanges it takes. A control request that waits
// (?wait) may take that much longer. Handlers and their helpers take this
// context first. Event streams are not scoped: their NMI work is their
// feed's poller's.
func (a *api) scope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		budget := a.timeout
		if r.Method == http.MethodPost {
			if d, err := parseWait(r); err == nil && d > 0 {
				budget += d
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), budget)
		defer cancel()
		// Reads may reuse a recent NMI answer (--max-staleness) unless
		// the client asks for a fresh one; the body says how old (Age).
		ctx, _ = coalesce.WithInfo(ctx)
		ctx = withRenderSlot(ctx)
		if noCache(r.Header) {
			ctx = coalesce.Fresh(ctx)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// noCache reports whether the request asks for a fresh answer:
// Cache-Control: no-cache (or max-age=0), or Pragma: no-cache.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "no-cache" || d == "max-age=0" || strings.HasPrefix(d, "no-cache=") {
				return true
			}
		}
	}
	return strings.EqualFold(strings.TrimSpace(h.Get("Pragma")), "no-cache")
}

// Concurrency limit defaults. A request waiting for its turn holds little
// (its headers and a goroutine), and under a flood of 2,000 connections a
// 2 s wait served about as many requests as no limit at all in a third
// of the memory, where a 100 ms wait refused most of them.
const (
	DefaultMaxConcurrent = 64
	defaultQueueWait     = 2 * time.Second
	overloadRetryAfter   = 1 // seconds
	// overloadEndsAfter is how long no request must be refused before an
	// overload is logged as over.
	overloadEndsAfter = time.Second
)

// limiter bounds the requests served at once. It holds no buffers: a
// request waiting for its turn has read its headers only.
type limiter struct {
	sem  chan struct{} // nil: no limit
	wait time.Duration
	ep   episodeLog
}

func newLimiter(n int, wait time.Duration, log *slog.Logger) *limiter {
	l := &limiter{wait: wait, ep: episodeLog{log: log}}
	if n == 0 {
		n = DefaultMaxConcurrent
	}
	if n > 0 {
		l.sem = make(chan struct{}, n)
	}
	if wait == 0 {
		l.wait = defaultQueueWait
	}
	return l
}

// acquire takes a turn, waiting up to the queue wait; false when none
// came (or the request ended first).
func (l *limiter) acquire(ctx context.Context) bool {
	select {
	case l.sem <- struct{}{}:
		if now := time.Now(); l.ep.quietSince(now, overloadEndsAfter) {
			l.ep.end(now, "gateway load back under its limit")
		}
		return true
	default:
	}
	if l.wait <= 0 {
		return false
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// limit serves a request when a turn is free within the queue wait, and
// answers 503 with Retry-After otherwise. routes does not put it on event
// streams: they last as long as their clients stay, so they would hold
// turns for good (each holds a goroutine and a small buffer; one poller
// per stack serves them all).
func (a *api) limit(next http.Handler) http.Handler {
	l := a.limiter
	if l.sem == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.acquire(r.Context()) {
			now := time.Now()
			l.ep.begin(now, "gateway overloaded: refusing requests", slog.Int("maxConcurrent", cap(l.sem)),
				durationMs("queueWaitMs", max(l.wait, 0)))
			l.ep.refused(now, "gateway still overloaded")
			quiet(r)
			sendProblem(w, r, problem{Type: probOverloaded, Title: "Gateway overloaded", Status: http.StatusServiceUnavailable,
				Detail:     "the gateway serves at most " + strconv.Itoa(cap(l.sem)) + " requests at once; try again shortly",
				RetryAfter: overloadRetryAfter})
			return
		}
		defer func() { <-l.sem }()
		next.ServeHTTP(w, r)
	})
}
