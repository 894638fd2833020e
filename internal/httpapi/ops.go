package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/web"
)

var healthOK = []byte(`{"status":"ok"}`)

func (a *api) getHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(healthOK)
}

// getReadiness answers 200 when an NMI exchange succeeded within the
// readiness window (Deps.NMILastSuccess) or one succeeds now; otherwise
// a 5xx problem whose detail gives a fixed cause (readinessCause) and the
// last success. The error itself, which names the socket, is logged.
func (a *api) getReadiness(w http.ResponseWriter, r *http.Request) {
	var last time.Time
	if a.lastOK != nil {
		last = a.lastOK()
		if !last.IsZero() && time.Since(last) < a.readyWin {
			a.ready.ok()
			a.getHealth(w, r)
			return
		}
	}
	err := a.do(r.Context(), a.readinessProbe(), func(nmi.Record) error { return nil })
	if err == nil {
		a.ready.ok()
		a.getHealth(w, r)
		return
	}
	cause := readinessCause(err)
	if n, ok := a.ready.report(cause, time.Now()); ok {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "not ready", attrRequestID(r),
			slog.String("cause", cause), attrError(err), slog.Int("repeatsNotLogged", n))
	}
	p := classify(err)
	if p.Status < http.StatusInternalServerError { // e.g. EACCES: IKED answers, but not to us
		p.Type, p.Title, p.Status, p.RetryAfter = probUnavailable, "IKE daemon unavailable", http.StatusServiceUnavailable, retryAfterSeconds
	}
	p.Internal = nil // logged above, at most once a minute for one cause
	p.Detail = "not ready: " + cause
	switch {
	case a.lastOK == nil:
	case last.IsZero():
		p.Detail += "; no NMI exchange has succeeded since the gateway started"
	default:
		p.Detail += "; last successful NMI exchange " + last.UTC().Format(time.RFC3339) +
			" (" + time.Since(last).Round(time.Second).String() + " ago)"
	}
	a.writeProblem(w, r, p)
}

// readinessProbe is the request /readyz sends to the default system:
// NMsec_GET_STACKINFO to an IKE daemon; to an NSS server, which does not
// answer it itself, NMsec_GET_CLIENTINFO for its IPSec clients.
func (a *api) readinessProbe() *nmi.Request {
	if ep, ok := a.fleet.Endpoint(a.fleet.Default()); ok && ep.Kind == fleet.NSS {
		var f nmi.InFilter
		f.HasName = true
		_ = f.Name.Set(nmi.DisciplineIPSec.String()) // a short constant
		return &nmi.Request{Type: nmi.GetClientInfo, Filters: []nmi.InFilter{f}}
	}
	return &nmi.Request{Type: nmi.GetStackInfo}
}

// Causes of a failed readiness probe, as its detail gives them
// (api/openapi.yaml, /readyz).
const (
	causeRefused     = "NMI refused the client"
	causeNoInit      = "NMI did not send INIT"
	causeTimeout     = "timed out"
	causeTerm        = "NMI ended the connection"
	causeRejected    = "NMI rejected the request"
	causeBusy        = "every NMI connection is busy"
	causeBadAnswer   = "NMI answer could not be decoded"
	causeConnFailed  = "NMI connection failed"
	causeUnreachable = "NMI not reachable"
	causeCanceled    = "canceled"
	causeInternal    = "internal error"
)

// readinessCause names why an NMI exchange failed with one of a fixed set
// of phrases, never the error's text. While the pool waits before dialing
// again, the cause of its last dial's failure is given.
func readinessCause(err error) string {
	var ue *nmi.UnavailableError
	if errors.As(err, &ue) && ue.Last != nil {
		err = ue.Last
	}
	if c, ok := endpointCause(err); ok {
		return c
	}
	f := nmi.Classify(err)
	switch {
	case f.Class == nmi.ClassRefused:
		return refusedCause(err, f.Status)
	case f.Op == nmi.OpInit:
		return causeNoInit
	}
	switch f.Class {
	case nmi.ClassTimeout, nmi.ClassDeadline:
		return causeTimeout
	case nmi.ClassTerm:
		return causeTerm
	case nmi.ClassStatus:
		return causeRejected
	case nmi.ClassExhausted:
		return causeBusy
	case nmi.ClassProtocol:
		return causeBadAnswer
	case nmi.ClassTransport:
		return causeConnFailed
	case nmi.ClassUnavailable:
		return causeUnreachable
	case nmi.ClassCanceled:
		return causeCanceled
	}
	return causeInternal
}

// refusedCause names a refusal (TERM instead of INIT) and the endpoint
// that refused, and says so plainly when the cause is the client limit
// (EAGAIN): another replica or tool holds the connections, and the
// remedy is a smaller pool or fewer replicas, not a restart.
func refusedCause(err error, se *nmi.StatusError) string {
	c := causeRefused
	var oe *nmi.OpError
	if errors.As(err, &oe) && oe.Addr != "" {
		c += " at " + oe.Addr
	}
	if se != nil && se.Rc == nmi.EAGAIN {
		c += ": client limit reached (EAGAIN; IKED serves at most " + strconv.Itoa(nmi.MaxConnections) + " clients)"
	}
	return c
}

// readyLog keeps failed readiness probes from filling the log: a cause is
// logged when it is new (the first failure, or another cause than the
// last), then at most once a minute while it lasts, with the number of
// probes not logged in between. A success starts afresh.
type readyLog struct {
	mu      sync.Mutex
	cause   string
	logged  time.Time
	skipped int
}

// readyLogEvery is how often one lasting cause is logged again.
const readyLogEvery = time.Minute

// report records a failure with cause at now and tells whether to log it,
// with the number of failures of that cause not logged since the last.
func (l *readyLog) report(cause string, now time.Time) (skipped int, log bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cause == l.cause && now.Sub(l.logged) < readyLogEvery {
		l.skipped++
		return 0, false
	}
	skipped = l.skipped
	if cause != l.cause {
		skipped = 0
	}
	l.cause, l.logged, l.skipped = cause, now, 0
	return skipped, true
}

// ok records a success.
func (l *readyLog) ok() {
	l.mu.Lock()
	l.cause, l.skipped = "", 0
	l.mu.Unlock()
}

// staticFile answers fixed bytes with a strong ETag and 304.
func staticFile(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	tag := etagOf(body)
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (a *api) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	staticFile(w, r, "application/yaml", a.spec)
}

func (a *api) getDocs(w http.ResponseWriter, r *http.Request) {
	b, err := web.Files.ReadFile("docs.html")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	staticFile(w, r, "text/html; charset=utf-8", b)
}

// docsAssets are the files /docs/{file} serves from web/vendor/redoc.
var docsAssets = map[string]string{
	"redoc.standalone.js": "text/javascript; charset=utf-8",
	"LICENSE":             "text/plain; charset=utf-8",
	"VERSION":             "text/plain; charset=utf-8",
}

func (a *api) getDocsAsset(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "file")
	ct, ok := docsAssets[name]
	if !ok {
		a.notFound(w, r)
		return
	}
	b, err := web.Files.ReadFile("vendor/redoc/" + name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	staticFile(w, r, ct, b)
}
