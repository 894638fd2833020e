package httpapi

import (
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// The validation of a GET (or HEAD) without a body depends on its path,
// its query and the header parameters its operation declares, nothing
// else. Dashboards and scrapers ask the same few URLs over and over, so
// the URLs that passed are remembered (validMemo) and pass again without
// the OpenAPI router and validator, as long as the request carries none
// of those header parameters (If-None-Match; such a request is validated
// in full). Every other request, and every one that failed, is validated
// in full.

// Bounds of the memo.
const (
	maxMemoURLs   = 4096 // URLs remembered; the memo starts afresh past it
	maxMemoKeyLen = 1024 // longer URLs are not remembered
)

type validMemo struct {
	mu   sync.RWMutex
	urls map[string][]string // URL -> header parameters of its operation
}

// memoKey is the memo's key of r, or "" when r may not use the memo: a
// GET or HEAD with no body.
func memoKey(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.ContentLength != 0 ||
		len(r.URL.Path)+len(r.URL.RawPath)+len(r.URL.RawQuery) > maxMemoKeyLen {
		return ""
	}
	return r.URL.Path + "\x00" + r.URL.RawPath + "?" + r.URL.RawQuery
}

// passed reports whether k passed before and r carries none of its
// operation's header parameters.
func (m *validMemo) passed(k string, r *http.Request) bool {
	if k == "" {
		return false
	}
	m.mu.RLock()
	hdrs, ok := m.urls[k]
	m.mu.RUnlock()
	if !ok {
		return false
	}
	for _, h := range hdrs {
		if _, present := r.Header[h]; present {
			return false
		}
	}
	return true
}

// remember notes that k passed the validation of route.
func (m *validMemo) remember(k string, route *routers.Route) {
	if k == "" {
		return
	}
	var hdrs []string
	for _, ps := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range ps {
			if p.Value == nil {
				continue
			}
			switch p.Value.In {
			case openapi3.ParameterInPath, openapi3.ParameterInQuery:
			case openapi3.ParameterInCookie:
				hdrs = append(hdrs, "Cookie")
			default:
				hdrs = append(hdrs, http.CanonicalHeaderKey(p.Value.Name))
			}
		}
	}
	m.mu.Lock()
	if m.urls == nil || len(m.urls) >= maxMemoURLs {
		m.urls = make(map[string][]string)
	}
	m.urls[k] = hdrs
	m.mu.Unlock()
}
