package httpapi

import (
	"mime"
	"net/http"
	"strings"

	"github.com/nmigw/nmigw/internal/audit"
)

// Cross-site control requests. A browser that holds a client certificate
// (or, for a page of a configured CORS origin, a token) sends it with
// requests that other sites' pages make: a form posted cross-site, with a
// form content type and an empty body, would start an action. Control
// requests are refused with 403, and audited, when any of these holds:
//
//   - Sec-Fetch-Site is cross-site (the browser says another site made it);
//   - Origin is present and is neither the gateway's own origin nor a
//     configured CORS origin;
//   - a body is declared (Content-Type, or a length) and is not
//     application/json: only a JSON body, which a page of another origin
//     cannot send without a CORS preflight, is accepted.
//
// Clients that are not browsers send neither Sec-Fetch-Site nor Origin,
// and a JSON body or none: they are not affected.

// probCrossSite: a control request that a page of another site could have
// made.
const probCrossSite = "urn:nmigw:problem:cross-site"

// crossSiteError is the refusal of a cross-site control request.
type crossSiteError struct{ Reason string }

func (e *crossSiteError) Error() string { return "cross-site control request refused: " + e.Reason }

// checkSameSite returns a *crossSiteError when r, a control request, may
// come from a page of another site.
func (a *api) checkSameSite(r *http.Request) error {
	if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
		return &crossSiteError{Reason: "Sec-Fetch-Site is cross-site"}
	}
	if origins, ok := r.Header["Origin"]; ok {
		o := ""
		if len(origins) == 1 {
			o = origins[0]
		}
		if o != ownOrigin(r) && !a.corsAny && !a.cors[o] {
			return &crossSiteError{Reason: "the Origin is neither the gateway's own nor a configured CORS origin"}
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && (r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &crossSiteError{Reason: "a control request's body must be application/json"}
	}
	return nil
}

// ownOrigin is the gateway's origin as the request addressed it.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// refuseCrossSite audits and answers a cross-site control request, with
// the caller and the SAF decision as for any refusal, and outcome denied.
func (a *api) refuseCrossSite(w http.ResponseWriter, r *http.Request, op *controlOp, err error) {
	if c, _ := a.newControlCall(w, r, op); c != nil {
		c.refuse(err, audit.OutcomeDenied)
	}
}
