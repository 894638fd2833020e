package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// logInfo is what the access log line tells beyond the request itself:
// the caller and the NMI's answers. The access log puts it in the request
// context; authentication and the NMI calls fill it in.
type logInfo struct {
	mu        sync.Mutex
	principal string
	exchanges int
	msg       nmi.MsgType
	rc        nmi.ReturnCode
	rsn       nmi.ReasonCode
	failed    bool // the codes kept are of an exchange that did not end with return code 0
	// quiet: the answer is a refusal an episode log counts (the IKE
	// daemon down, the gateway overloaded); its access log line goes to
	// debug.
	quiet bool
}

type logInfoKey struct{}

func withLogInfo(r *http.Request, li *logInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li))
}

func logInfoFrom(ctx context.Context) *logInfo {
	li, _ := ctx.Value(logInfoKey{}).(*logInfo)
	return li
}

// exchange records one NMI exchange. The codes kept are those of the last
// exchange that failed, or else of the last exchange.
func (li *logInfo) exchange(t nmi.MsgType, h nmi.Header, err error) {
	rc, rsn := h.Rc, h.Rsn
	var se *nmi.StatusError
	if errors.As(err, &se) {
		rc, rsn = se.Rc, se.Rsn
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	li.exchanges++
	if err == nil && li.failed {
		return
	}
	li.msg, li.rc, li.rsn, li.failed = t, rc, rsn, err != nil
}

// attrs are the access log's attributes: principal (the user ID, never a
// credential) and, when the request used the NMI, the number of exchanges
// and the request type, return and reason code kept.
func (li *logInfo) attrs() []slog.Attr {
	li.mu.Lock()
	defer li.mu.Unlock()
	var out []slog.Attr
	if li.principal != "" {
		out = append(out, slog.String("principal", li.principal))
	}
	if li.exchanges > 0 {
		out = append(out, slog.Group("nmi", slog.Int("exchanges", li.exchanges), slog.String("type", li.msg.String()),
			slog.String("rc", li.rc.String()), slog.String("rsn", li.rsn.String())))
	}
	return out
}

// quiet marks the request's access log line for debug level.
func quiet(r *http.Request) {
	if li := logInfoFrom(r.Context()); li != nil {
		li.mu.Lock()
		li.quiet = true
		li.mu.Unlock()
	}
}

func (li *logInfo) isQuiet() bool {
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.quiet
}

// notePrincipal tells the access log who the authenticated caller is.
func notePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if li := logInfoFrom(r.Context()); li != nil {
			if p, ok := authz.PrincipalFrom(r.Context()); ok {
				li.mu.Lock()
				li.principal = p.User
				li.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loggedNMI tells the access log of the request in ctx about every
// exchange, and ends an episode of requests refused because every NMI
// connection was busy (busy) once exchanges succeed again.
type loggedNMI struct {
	NMI
	busy *episodeLog
}

func (l loggedNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	h, err := l.NMI.Do(ctx, req, sealOnFirst(ctx, fn))
	if li := logInfoFrom(ctx); li != nil {
		li.exchange(req.Type, h, err)
	}
	if now := time.Now(); err == nil && l.busy.quietSince(now, overloadEndsAfter) {
		l.busy.end(now, "NMI connections free again")
	}
	return h, err
}

// durationMs is a duration in the log: milliseconds, with the unit in the
// key.
func durationMs(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, float64(d.Microseconds())/1000)
}

// summaryEvery is how often an episode that lasts logs a summary at most.
const summaryEvery = 10 * time.Second

// episodeLog logs an episode (an outage, an overload) without flooding
// the log however many requests it refuses: its start once, then a
// summary of the refusals at most every summaryEvery, then its end once.
type episodeLog struct {
	log *slog.Logger

	mu         sync.Mutex
	active     bool
	start      time.Time
	summarized time.Time // last summary, or the start
	last       time.Time // last refusal
	count      uint64    // refusals since the last summary
	total      uint64    // refusals since the start
}

// begin starts an episode and logs msg with attrs at WARN; nothing when
// one is under way.
func (e *episodeLog) begin(now time.Time, msg string, attrs ...slog.Attr) {
	e.mu.Lock()
	if e.active {
		e.mu.Unlock()
		return
	}
	e.active, e.start, e.summarized, e.last, e.count, e.total = true, now, now, now, 0, 0
	e.mu.Unlock()
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// refused counts one refusal and logs msg, a summary, when the last one
// is summaryEvery old. It tells whether an episode is under way.
func (e *episodeLog) refused(now time.Time, msg string) bool {
	e.mu.Lock()
	if !e.active {
		e.mu.Unlock()
		return false
	}
	e.count++
	e.total++
	e.last = now
	if now.Sub(e.summarized) < summaryEvery {
		e.mu.Unlock()
		return true
	}
	n, since := e.count, e.start
	e.count, e.summarized = 0, now
	e.mu.Unlock()
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.Uint64("refused", n),
		durationMs("sinceStartMs", now.Sub(since)))
	return true
}

// end ends the episode and logs msg at INFO with its length and the
// refusals in all; nothing when none is under way.
func (e *episodeLog) end(now time.Time, msg string) {
	e.mu.Lock()
	if !e.active {
		e.mu.Unlock()
		return
	}
	e.active = false
	total, since := e.total, e.start
	e.mu.Unlock()
	e.log.LogAttrs(context.Background(), slog.LevelInfo, msg, durationMs("durationMs", now.Sub(since)),
		slog.Uint64("refused", total))
}

// quietSince tells whether an episode is under way with no refusal for
// at least d.
func (e *episodeLog) quietSince(now time.Time, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active && now.Sub(e.last) >= d
}

// NMIOutageLog is an nmi.Observer for a Pool that logs the IKE daemon's
// outages once instead of once per refused request: "IKE daemon down"
// with the cause when the pool marks it down, "IKE daemon still down"
// with the count of requests refused meanwhile at most every 10 s, and
// "IKE daemon back" with the outage's length when a probe is answered.
// Every observation is passed on to next (may be nil), InitObserver's
// included.
type NMIOutageLog struct {
	next nmi.Observer
	ep   episodeLog
	addr string
}

var (
	_ nmi.Observer      = (*NMIOutageLog)(nil)
	_ nmi.InitObserver  = (*NMIOutageLog)(nil)
	_ nmi.StateObserver = (*NMIOutageLog)(nil)
)

// NewNMIOutageLog returns an outage log of the NMI endpoint addr (its
// URL or socket path) writing to log, passing observations on to next.
func NewNMIOutageLog(log *slog.Logger, addr string, next nmi.Observer) *NMIOutageLog {
	return &NMIOutageLog{next: next, ep: episodeLog{log: log}, addr: addr}
}

// ObserveExchange counts requests the pool refused while down.
func (o *NMIOutageLog) ObserveExchange(ev nmi.ExchangeEvent) {
	if o.next != nil {
		o.next.ObserveExchange(ev)
	}
	if refusedWhileDown(ev.Failure) {
		o.ep.refused(time.Now(), "IKE daemon still down")
	}
}

// ObserveInit passes the observation on.
func (o *NMIOutageLog) ObserveInit(d time.Duration, err error) {
	if io, ok := o.next.(nmi.InitObserver); ok {
		io.ObserveInit(d, err)
	}
}

// ObserveDown logs the start of an outage.
func (o *NMIOutageLog) ObserveDown(cause error) {
	o.ep.begin(time.Now(), "IKE daemon down", slog.String("endpoint", o.addr),
		slog.String("cause", readinessCause(cause)), attrError(cause))
	if so, ok := o.next.(nmi.StateObserver); ok {
		so.ObserveDown(cause)
	}
}

// ObserveUp logs the end of an outage.
func (o *NMIOutageLog) ObserveUp(downFor time.Duration) {
	o.ep.end(time.Now(), "IKE daemon back")
	if so, ok := o.next.(nmi.StateObserver); ok {
		so.ObserveUp(downFor)
	}
}

// refusedWhileDown tells a request the pool refused without trying
// because the endpoint is down (an *nmi.UnavailableError).
func refusedWhileDown(f nmi.Failure) bool {
	return f.Class == nmi.ClassUnavailable && !f.RetryAt.IsZero()
}
