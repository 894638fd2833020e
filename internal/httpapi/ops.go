package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

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
// a 5xx problem whose detail gives the cause and the last success.
func (a *api) getReadiness(w http.ResponseWriter, r *http.Request) {
	var last time.Time
	if a.lastOK != nil {
		last = a.lastOK()
		if !last.IsZero() && time.Since(last) < a.readyWin {
			a.getHealth(w, r)
			return
		}
	}
	err := a.do(r, &nmi.Request{Type: nmi.GetStackInfo}, func(nmi.Record) error { return nil })
	if err == nil {
		a.getHealth(w, r)
		return
	}
	p := classify(err)
	if p.Status < http.StatusInternalServerError { // e.g. EACCES: IKED answers, but not to us
		p.Type, p.Title, p.Status, p.RetryAfter = probUnavailable, "IKE daemon unavailable", http.StatusServiceUnavailable, retryAfterSeconds
	}
	p.Detail = "not ready: " + p.Detail + ": " + err.Error()
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
	name := chi.URLParam(r, "file")
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
