package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Path parameters (stack, tunnel ID, filter name, file) are percent-decoded
// exactly once, here. Before routing, canonicalPath puts the path in one
// escaped form: each segment decoded and escaped again as url.PathEscape
// does, so that `T%241`, `T$1` and `T%24%31` route alike and every router
// (chi's, the validator's) sees escaped segments. pathParam and the
// validator then decode the parameter's segment with decodeSegment.

// canonicalPath rewrites the request's escaped path into its canonical
// form, and refuses with 400 a segment that holds an encoded `/` (%2F): no
// parameter may contain one, and decoding it would change the path's
// shape.
func (a *api) canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		esc := r.URL.EscapedPath()
		if strings.IndexByte(esc, '%') < 0 {
			next.ServeHTTP(w, r) // nothing is escaped: Path is the route
			return
		}
		canon, err := canonicalEscape(esc)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		u := *r.URL
		u.RawPath = ""
		if canon != u.Path {
			u.RawPath = canon
		}
		r2 := r.WithContext(r.Context())
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// canonicalEscape decodes each segment of the escaped path esc and escapes
// it again.
func canonicalEscape(esc string) (string, error) {
	segs := strings.Split(esc, "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') < 0 {
			continue
		}
		d, err := decodeSegment(s)
		if err != nil {
			return "", err
		}
		segs[i] = url.PathEscape(d)
	}
	return strings.Join(segs, "/"), nil
}

// decodeSegment percent-decodes one escaped path segment, refusing an
// encoded `/`.
func decodeSegment(s string) (string, error) {
	d, err := url.PathUnescape(s)
	if err != nil {
		return "", &paramError{Name: "path", Reason: "not a valid percent-encoded path segment: " + s}
	}
	if strings.IndexByte(d, '/') >= 0 {
		return "", &paramError{Name: "path", Reason: "a path parameter holds an encoded / (%2F): " + s}
	}
	return d, nil
}

// pathParam is the path parameter name of the route, decoded. The path is
// canonical (canonicalPath), so the segment decodes.
func pathParam(r *http.Request, name string) string {
	raw := chi.URLParam(r, name)
	if d, err := decodeSegment(raw); err == nil {
		return d
	}
	return raw
}
