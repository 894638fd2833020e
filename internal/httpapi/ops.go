package httpapi

import (
	"net/http"
	"strconv"

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

// getReadiness answers 200 when one NMI exchange works.
func (a *api) getReadiness(w http.ResponseWriter, r *http.Request) {
	err := a.do(r, &nmi.Request{Type: nmi.GetStackInfo}, func(nmi.Record) error { return nil })
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.getHealth(w, r)
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
