package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Problem kinds: the "type" member of problem+json answers.
const (
	probInvalidParam  = "urn:nmigw:problem:invalid-parameter"
	probNotFound      = "urn:nmigw:problem:not-found"
	probUnknownStack  = "urn:nmigw:problem:unknown-stack"
	probUnknownSystem = "urn:nmigw:problem:unknown-system"
	probForbidden     = "urn:nmigw:problem:forbidden"
	probAuthzUnavail  = "urn:nmigw:problem:authorization-unavailable"
	probUnauthorized  = "urn:nmigw:problem:unauthorized"
	probNMIRejected   = "urn:nmigw:problem:nmi-rejected"
	probNMIBadAnswer  = "urn:nmigw:problem:nmi-bad-answer"
	probUnavailable   = "urn:nmigw:problem:nmi-unavailable"
	probTimeout       = "urn:nmigw:problem:nmi-timeout"
	probOverloaded    = "urn:nmigw:problem:overloaded"
	probInternal      = "urn:nmigw:problem:internal"
	probMethod        = "urn:nmigw:problem:method-not-allowed"
	probTooLarge      = "urn:nmigw:problem:request-too-large"
	probBodyMediaType = "urn:nmigw:problem:unsupported-media-type"
)

// paramError is a request parameter (query, path, header or body field)
// that failed validation: 400 naming it.
type paramError struct {
	Name   string
	Reason string
}

func (e *paramError) Error() string { return e.Name + ": " + e.Reason }

// mediaTypeError is a request body of a media type the operation does not
// take: 415.
type mediaTypeError struct {
	Got   string
	Takes []string
}

func (e *mediaTypeError) Error() string {
	got := e.Got
	if got == "" {
		got = "no Content-Type"
	}
	return "the body is " + got + "; this operation takes " + strings.Join(e.Takes, " or ")
}

// notFoundError is an object the NMI does not return (the stack exists).
type notFoundError struct{ What string }

func (e *notFoundError) Error() string { return e.What + " not found" }

// unknownStackError is a stack that the NMI's list of stacks
// (NMsec_GET_STACKINFO) does not name: 404 like the NMI's ENXIO, but
// without NMI codes, since the NMI sent none.
type unknownStackError struct{ Stack string }

func (e *unknownStackError) Error() string {
	return "stack " + e.Stack + " is not in the IKE daemon's list of stacks"
}

// badAnswerError is an NMI answer that decoded but does not fit the
// request (too many or too few records): 502 like an answer that does
// not decode.
type badAnswerError struct{ Msg string }

func (e *badAnswerError) Error() string { return "unexpected NMI answer: " + e.Msg }

// ForbiddenError is an authorization denial by the gateway (SAF in
// internal/authz): 403 naming the resource checked and the profile that
// decided ("" when no profile covers the resource: superusers only). The
// reason names only the caller's own user ID and groups.
type ForbiddenError struct {
	Resource string
	Profile  string
	Reason   string
}

// forbidden is the error of a denied SAF decision.
func forbidden(d authz.Decision) *ForbiddenError {
	return &ForbiddenError{Resource: d.Resource, Profile: d.Profile, Reason: d.Reason}
}

func (e *ForbiddenError) Error() string {
	return "no READ access to " + e.Resource + ": " + e.Reason
}

// authzUnavailableError is an authorizer that could not decide (its
// backend out of reach, or an answer that is neither yes nor no): 503 with
// Retry-After. It is no denial, so never a 403. Resource is "" for a batch.
type authzUnavailableError struct {
	Resource string
	Err      error
}

func (e *authzUnavailableError) Error() string {
	if e.Resource == "" {
		return "authorization could not be decided: " + e.Err.Error()
	}
	return "authorization could not be decided for " + e.Resource + ": " + e.Err.Error()
}

func (e *authzUnavailableError) Unwrap() error { return e.Err }

// UnauthorizedError is a request without valid credentials: 401.
type UnauthorizedError struct{ Reason string }

func (e *UnauthorizedError) Error() string { return "unauthenticated: " + e.Reason }

// problem is an RFC 9457 problem detail.
type problem struct {
	Type, Title string
	Status      int
	Detail      string
	Resource    string // SAF resource of a 403
	Profile     string // SAF profile that decided a 403
	Params      []paramError
	NMI         *nmi.StatusError // the NMI's answer, if it answered
	RetryAfter  int              // seconds, 503 only
	Internal    error            // logged, never sent
}

// retryAfterSeconds is what a 503 tells clients to wait.
const retryAfterSeconds = 2

// classify maps an error to the problem the client sees. It is the one
// place where errors become HTTP statuses; errors of the NMI are told
// apart by nmi.Classify.
func classify(err error) problem {
	var (
		pe  *paramError
		nf  *notFoundError
		us  *unknownStackError
		usy *fleet.UnknownSystemError
		fus *fleet.UnknownStackError
		bae *badAnswerError
		fe  *ForbiddenError
		aue *authzUnavailableError
		ue  *UnauthorizedError
		mbe *http.MaxBytesError
		cse *crossSiteError
		mte *mediaTypeError
	)
	switch {
	case errors.As(err, &pe):
		return problem{Type: probInvalidParam, Title: "Invalid parameter", Status: http.StatusBadRequest,
			Detail: pe.Error(), Params: []paramError{*pe}}
	case errors.As(err, &mbe):
		return problem{Type: probTooLarge, Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "the request body exceeds " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	case errors.As(err, &mte):
		return problem{Type: probBodyMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: mte.Error()}
	case errors.As(err, &nf):
		return problem{Type: probNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: nf.Error()}
	case errors.As(err, &usy):
		return unknownSystemProblem(usy)
	case errors.Is(err, errNotRouted):
		return notRoutedProblem()
	case errors.As(err, &fus):
		return problem{Type: probUnknownStack, Title: "Unknown stack", Status: http.StatusNotFound,
			Detail: "system " + fus.System + " has no stack " + fus.Stack}
	case errors.As(err, &us):
		return problem{Type: probUnknownStack, Title: "Unknown stack", Status: http.StatusNotFound,
			Detail: "the IKE daemon lists no such stack"}
	case errors.As(err, &bae):
		return problem{Type: probNMIBadAnswer, Title: "Bad answer from the IKE daemon", Status: http.StatusBadGateway,
			Detail: "the IKE daemon's answer did not fit the request", Internal: err}
	case errors.As(err, &ue):
		return problem{Type: probUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: ue.Reason}
	case errors.As(err, &fe):
		return problem{Type: probForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: fe.Error(), Resource: fe.Resource, Profile: fe.Profile}
	case errors.As(err, &cse):
		return problem{Type: probCrossSite, Title: "Cross-site request refused", Status: http.StatusForbidden,
			Detail: cse.Error()}
	case errors.As(err, &aue):
		// Before the NMI cases: the authorizer's own error may wrap
		// anything, a deadline included, and it is still this.
		return problem{Type: probAuthzUnavail, Title: "Authorization unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the gateway could not decide the caller's access; nothing was done", Resource: aue.Resource,
			RetryAfter: retryAfterSeconds, Internal: err}
	}
	f := nmi.Classify(err)
	p := classifyNMI(f, err)
	if p.RetryAfter > 0 && !f.RetryAt.IsZero() {
		p.RetryAfter = retryAfterUntil(f.RetryAt)
	}
	return p
}

// retryAfterUntil is a Retry-After in whole seconds, at least 1, for a
// pool that probes again at t.
func retryAfterUntil(t time.Time) int {
	d := time.Until(t)
	return max(1, int((d+time.Second-1)/time.Second))
}

// classifyNMI maps a failure of the NMI to a problem.
// endpointError is a failure of the transport to a remote NMI endpoint
// (internal/transport's Error): it names the endpoint (a URL without
// secrets) and the failure with a fixed phrase.
type endpointError interface {
	error
	NMIEndpoint() string
	NMICause() string
}

// endpointCause is "<phrase> at <endpoint>" when err is a transport
// failure; never the error's own text.
func endpointCause(err error) (string, bool) {
	var e endpointError
	if !errors.As(err, &e) {
		return "", false
	}
	return e.NMICause() + " at " + e.NMIEndpoint(), true
}

func classifyNMI(f nmi.Failure, err error) problem {
	switch f.Class {
	case nmi.ClassStatus, nmi.ClassTerm, nmi.ClassRefused:
		return classifyStatus(f.Status, err)
	case nmi.ClassTimeout, nmi.ClassDeadline:
		return problem{Type: probTimeout, Title: "IKE daemon timeout", Status: http.StatusGatewayTimeout,
			Detail: "the IKE daemon did not answer in time", Internal: err}
	case nmi.ClassExhausted:
		return problem{Type: probUnavailable, Title: "IKE daemon busy", Status: http.StatusServiceUnavailable,
			Detail: "every NMI connection is busy", RetryAfter: retryAfterSeconds, Internal: err}
	case nmi.ClassProtocol:
		return problem{Type: probNMIBadAnswer, Title: "Bad answer from the IKE daemon", Status: http.StatusBadGateway,
			Detail: "the IKE daemon's answer could not be decoded", Internal: err}
	case nmi.ClassUnavailable, nmi.ClassTransport:
		if f.Status != nil { // the pool waits after a refusal
			return classifyStatus(f.Status, err)
		}
		detail := "the IKE daemon is not reachable"
		if c, ok := endpointCause(err); ok {
			detail += ": " + c
		}
		return problem{Type: probUnavailable, Title: "IKE daemon unavailable", Status: http.StatusServiceUnavailable,
			Detail: detail, RetryAfter: retryAfterSeconds, Internal: err}
	case nmi.ClassCanceled:
		return problem{Type: probUnavailable, Title: "Request canceled", Status: http.StatusServiceUnavailable,
			Detail: "the request was canceled", RetryAfter: retryAfterSeconds, Internal: err}
	}
	return problem{Type: probInternal, Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the gateway failed; see its log for the request ID", Internal: err}
}

// classifyStatus maps the NMI's answer: a return code, a TERM, or a
// refusal.
func classifyStatus(se *nmi.StatusError, err error) problem {
	p := problem{NMI: se, Internal: err}
	switch {
	case se.Term || se.Refused || se.Rc == nmi.EAGAIN:
		p.Type, p.Title, p.Status = probUnavailable, "IKE daemon unavailable", http.StatusServiceUnavailable
		switch {
		case se.Refused && se.Rc == nmi.EAGAIN:
			p.Detail = "the IKE daemon serves at most " + strconv.Itoa(nmi.MaxConnections) + " clients and all are in use"
		case se.Refused:
			p.Detail = "the IKE daemon refused the connection"
		case se.Term:
			p.Detail = "the IKE daemon closed the connection"
		default:
			p.Detail = "the IKE daemon asked to try again later (EAGAIN)"
		}
		p.RetryAfter = retryAfterSeconds
	case se.Rc == nmi.ENXIO:
		p.Type, p.Title, p.Status = probUnknownStack, "Unknown stack", http.StatusNotFound
		p.Detail = "the IKE daemon knows no such stack"
	case se.Rc == nmi.EACCES:
		p.Type, p.Title, p.Status = probForbidden, "Forbidden", http.StatusForbidden
		p.Detail = "the IKE daemon denied the gateway access (EACCES)"
	default:
		p.Type, p.Title, p.Status = probNMIRejected, "The IKE daemon rejected the request", http.StatusBadGateway
		p.Detail = "NMI return code " + se.Rc.String() + ", reason " + se.Rsn.String()
	}
	return p
}

// writeError answers err as problem+json and logs what the client does not
// see.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := classify(err)
	a.writeProblem(w, r, p)
}

func (a *api) writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	if p.Type == probUnknownStack {
		if up := a.upperStack(r); up != "" {
			p.Detail = "stack names are upper case: did you mean " + up + "?"
		}
	}
	if p.Internal != nil {
		level := slog.LevelWarn
		switch {
		case p.Status == http.StatusInternalServerError:
			level = slog.LevelError
		case refusedWhileDown(nmi.Classify(p.Internal)):
			// Counted by the outage log (NMIOutageLog), which logs
			// the outage once and then summaries.
			level = slog.LevelDebug
			quiet(r)
		case nmi.Classify(p.Internal).Class == nmi.ClassExhausted:
			// Under load or while IKED hangs: logged as an
			// episode, not once per request.
			now := time.Now()
			a.nmi.busy.begin(now, "every NMI connection busy: refusing requests")
			a.nmi.busy.refused(now, "every NMI connection still busy")
			level = slog.LevelDebug
			quiet(r)
		}
		a.log.LogAttrs(r.Context(), level, "request failed", attrRequestID(r),
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", p.Status), slog.String("error", p.Internal.Error()))
	}
	sendProblem(w, r, p)
}

// probAuthUnavailable: the authenticator could not decide (an OIDC issuer
// out of reach).
const probAuthUnavailable = "urn:nmigw:problem:authentication-unavailable"

// WriteAuthProblem answers a failed authentication (status 401, or 503
// when the authenticator cannot decide) as the API's other problems, with
// the request ID. It fits authn.Options.WriteError; a WWW-Authenticate or
// Retry-After header already set stays as it is. detail must hold no
// credential.
func WriteAuthProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p := problem{Type: probUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail}
	if status != http.StatusUnauthorized {
		p.Type, p.Title, p.Status = probAuthUnavailable, "Authentication unavailable", status
	}
	sendProblem(w, r, p)
}

// sendProblem writes p as application/problem+json.
func sendProblem(w http.ResponseWriter, r *http.Request, p problem) {
	body := problemJSON(p, r.URL.Path, requestID(r.Context()))
	h := w.Header()
	h.Del("ETag")
	h.Del("Trailer")
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		// Kept when the authenticator set it with an error code.
		h.Set("WWW-Authenticate", `Bearer realm="nmigw"`)
	}
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// problemJSON is p as an application/problem+json document; id is the
// request ID ("" for none).
func problemJSON(p problem, instance, id string) []byte {
	var jw jsonw
	jw.beginObject()
	jw.str("type", p.Type)
	jw.str("title", p.Title)
	jw.int("status", int64(p.Status))
	jw.optStr("detail", p.Detail)
	jw.str("instance", instance)
	jw.optStr("requestId", id)
	if p.NMI != nil && (!p.NMI.Term && !p.NMI.Refused || p.NMI.Rc != nmi.RcOK) {
		jw.int("nmiReturnCode", int64(p.NMI.Rc))
		jw.str("nmiReturnCodeName", p.NMI.Rc.String())
		jw.int("nmiReasonCode", int64(p.NMI.Rsn))
		jw.str("nmiReasonCodeName", p.NMI.Rsn.String())
	}
	jw.optStr("resource", p.Resource)
	jw.optStr("profile", p.Profile)
	if len(p.Params) > 0 {
		jw.array("invalidParams")
		for _, pe := range p.Params {
			jw.elem()
			jw.beginObject()
			jw.str("name", pe.Name)
			jw.str("reason", pe.Reason)
			jw.endObject()
		}
		jw.endArray()
	}
	jw.endObject()
	return jw.b
}

// upperStack is the upper-case form of the request's stack when the stack
// was not found, is not in upper case, and the upper-case form is a stack
// the caller may display; "" otherwise.
func (a *api) upperStack(r *http.Request) string {
	stack := pathParam(r, "stack")
	up := strings.ToUpper(stack)
	if up == stack || a.checkStack(r, up, authz.Display) != nil {
		return ""
	}
	found := false
	err := a.stacks(r.Context(), func(st *nmi.Stack, _ *nmi.NSS) { found = found || st.Name.String() == up })
	if err != nil || !found {
		return ""
	}
	return up
}
