package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routedMethods are the methods routes are registered for; HEAD and
// OPTIONS are answered for every resource by methods.
var routedMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methods serves what RFC 9110 asks of every resource: HEAD wherever GET
// is served (the GET's handler runs and its body is dropped: same status,
// headers and ETag), and OPTIONS answered 204 with Allow. It runs before
// routing, after CORS (which answers preflights itself).
func (a *api) methods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			if rctx := chi.RouteContext(r.Context()); rctx != nil {
				rctx.RouteMethod = http.MethodGet
			}
		case http.MethodOptions:
			allow := a.allow(r)
			if allow == "" {
				a.notFound(w, r)
				return
			}
			w.Header().Set("Allow", allow)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow is the Allow header of the request's resource: the methods the API
// document has for its path (or, for the few routes outside the document,
// the methods routed for it), with HEAD beside GET and OPTIONS; "" for no
// resource.
func (a *api) allow(r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	ms := methodsFor(func(m string) bool {
		q := r.Clone(r.Context())
		q.Method = m
		_, _, err := a.validator.router.FindRoute(q)
		return err == nil
	})
	if len(ms) == 0 {
		ms = methodsFor(func(m string) bool { return a.mux.Match(chi.NewRouteContext(), m, path) })
	}
	if len(ms) == 0 {
		return ""
	}
	return strings.Join(append(ms, http.MethodOptions), ", ")
}

// methodsFor lists the routed methods that served accepts, with HEAD after
// GET.
func methodsFor(served func(method string) bool) []string {
	var ms []string
	for _, m := range routedMethods {
		if served(m) {
			ms = append(ms, m)
			if m == http.MethodGet {
				ms = append(ms, http.MethodHead)
			}
		}
	}
	return ms
}

// methodNotAllowed answers a method the resource does not serve: 405 with
// Allow (RFC 9110 15.5.6), or 404 when no method is served at the path (an
// unknown method on an unknown path).
func (a *api) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allow := a.allow(r)
	if allow == "" {
		a.notFound(w, r)
		return
	}
	w.Header().Set("Allow", allow)
	a.writeProblem(w, r, problem{Type: probMethod, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
		Detail: "the resource does not support " + r.Method + "; it allows " + allow})
}
