package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	spec "github.com/nmigw/nmigw/api"
)

// validator checks requests against the embedded OpenAPI document. It is
// built once, at start-up.
type validator struct {
	router routers.Router
	memo   validMemo // GET URLs that passed
}

// LoadSpec loads and validates the embedded OpenAPI document, with its
// servers removed so that routing ignores the Host header.
func LoadSpec() (*openapi3.T, error) { return loadSpec(spec.OpenAPI) }

func loadSpec(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("httpapi: load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("httpapi: api/openapi.yaml does not validate: %w", err)
	}
	doc.Servers = nil
	return doc, nil
}

func newValidator() (*validator, []byte, error) {
	doc, err := LoadSpec()
	if err != nil {
		return nil, nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("httpapi: route api/openapi.yaml: %w", err)
	}
	return &validator{router: router}, spec.OpenAPI, nil
}

var validationOptions = &openapi3filter.Options{
	// Authentication is the gateway's own middleware's business.
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	// kin-openapi v0.135 (the newest release whose go line the z/OS
	// toolchain floor allows) rejects every non-empty body with this on,
	// even where the operation declares one; validate checks it instead.
	RejectWhenRequestBodyNotSpecified: false,
	SkipSettingDefaults:               true,
}

// validate rejects requests the document does not allow, naming the
// failing parameter.
func (a *api) validate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		memo := memoKey(r)
		if a.validator.memo.passed(memo, r) {
			next.ServeHTTP(w, r)
			return
		}
		vr := r
		if r.Method == http.MethodHead { // validated as the GET it stands for
			vr = r.Clone(r.Context())
			vr.Method = http.MethodGet
		}
		route, params, err := a.validator.router.FindRoute(vr)
		if err != nil {
			a.routeError(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			if op := controlOpByID[route.Operation.OperationID]; op != nil {
				if err := a.checkSameSite(r); err != nil {
					a.refuseCrossSite(w, r, op, err)
					return
				}
			}
		}
		if err := queryError(r); err != nil {
			a.invalid(w, r, route, err)
			return
		}
		if err := checkMediaType(r, route.Operation); err != nil {
			a.invalid(w, r, route, err)
			return
		}
		for name := range r.URL.Query() {
			if route.Operation.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil &&
				route.PathItem.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil {
				a.invalid(w, r, route, &paramError{Name: name, Reason: "unknown query parameter for this resource"})
				return
			}
		}
		if route.Operation.RequestBody == nil && r.ContentLength > 0 {
			a.invalid(w, r, route, &paramError{Name: "request", Reason: "request body not allowed for this request"})
			return
		}
		for name, raw := range params {
			d, err := decodeSegment(raw)
			if err != nil {
				a.invalid(w, r, route, err)
				return
			}
			params[name] = d
		}
		in := &openapi3filter.RequestValidationInput{
			Request: vr, PathParams: params, Route: route, Options: validationOptions,
		}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			a.invalid(w, r, route, validationError(err))
			return
		}
		a.validator.memo.remember(memo, route)
		next.ServeHTTP(w, r)
	})
}

// invalid answers a request that route's operation does not allow. A
// control request is audited first, as its handler would have done
// (refuseInvalidControl); display requests are not audited, and cost no
// more than the answer.
func (a *api) invalid(w http.ResponseWriter, r *http.Request, route *routers.Route, err error) {
	if r.Method == http.MethodPost {
		if op := controlOpByID[route.Operation.OperationID]; op != nil {
			a.refuseInvalidControl(w, r, op, err)
			return
		}
	}
	a.writeError(w, r, err)
}

func (a *api) routeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *routers.RouteError
	if errors.As(err, &re) && errors.Is(err, routers.ErrMethodNotAllowed) {
		a.methodNotAllowed(w, r)
		return
	}
	a.notFound(w, r)
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	a.writeProblem(w, r, problem{Type: probNotFound, Title: "Not found", Status: http.StatusNotFound,
		Detail: "no such resource"})
}

// validationError turns kin-openapi's error into a paramError naming the
// parameter (or "body" and the field's JSON pointer).
func validationError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return &paramError{Name: "request", Reason: "does not match the API document"}
	}
	name := "request"
	switch {
	case re.Parameter != nil:
		name = re.Parameter.Name
	case re.RequestBody != nil:
		name = "body"
	}
	reason := re.Reason
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if p := se.JSONPointer(); len(p) > 0 && re.RequestBody != nil {
			name = "body/" + strings.Join(p, "/")
		}
		if se.Reason != "" {
			reason = se.Reason
		}
	} else if reason == "" && re.Err != nil {
		reason = re.Err.Error()
	}
	// The document's x-invalid-reason, on the parameter or on the schema
	// that failed, says it in words a person understands.
	if re.Parameter != nil {
		if r, ok := re.Parameter.Extensions[invalidReason].(string); ok {
			reason = r
		}
	}
	if se != nil && se.Schema != nil {
		if r, ok := se.Schema.Extensions[invalidReason].(string); ok {
			reason = r
		}
	}
	if reason == "" {
		reason = "invalid"
	}
	return &paramError{Name: name, Reason: reason}
}

// invalidReason is the extension of a parameter or schema in the API
// document that words the 400 of a value it refuses.
const invalidReason = "x-invalid-reason"

// checkMediaType refuses with 415 a request body whose Content-Type the
// operation does not take.
func checkMediaType(r *http.Request, op *openapi3.Operation) error {
	if op.RequestBody == nil || op.RequestBody.Value == nil || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if op.RequestBody.Value.Content.Get(ct) != nil {
		return nil
	}
	var takes []string
	for mt := range op.RequestBody.Value.Content {
		takes = append(takes, mt)
	}
	slices.Sort(takes)
	return &mediaTypeError{Got: ct, Takes: takes}
}

// queryError refuses a query string that does not parse: r.URL.Query
// would drop what does not, and the request would be read in part.
func queryError(r *http.Request) error {
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return &paramError{Name: "query", Reason: "the query string is not valid URL encoding (a % must be followed by two hexadecimal digits)"}
	}
	return nil
}

// parsableQuery refuses, on the routes outside validation, a query
// string that does not parse.
func (a *api) parsableQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := queryError(r); err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
