// Package contract checks HTTP exchanges against api/openapi.yaml, for the
// gateway's tests: every answer must be one the document allows.
package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/nmigw/nmigw/internal/httpapi"
)

func init() {
	// The rendered reference and the dashboard are HTML, scripts and
	// styles, and the API document is YAML text (a string to clients);
	// check them as opaque text.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "application/yaml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// Validator validates responses against the API document.
type Validator struct {
	router routers.Router
	doc    *openapi3.T
}

// New loads the embedded document, with its response schemas closed.
func New() (*Validator, error) {
	doc, err := httpapi.LoadSpec()
	if err != nil {
		return nil, err
	}
	closeResponses(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{router: router, doc: doc}, nil
}

var responseOptions = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true,
	MultiError:            true,
}

// Check validates one answer to req: its status is documented for the
// operation, its headers and its body match the document, and it carries
// X-Request-ID. Requests outside the document are an error.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: not in the API document: %w", req.Method, req.URL, err)
	}
	if header.Get("X-Request-ID") == "" {
		return fmt.Errorf("%s %s: answer without X-Request-ID", req.Method, req.URL)
	}
	if status == http.StatusNotModified {
		// kin-openapi does not validate a 304 at all: check here that
		// the operation documents it.
		if len(body) != 0 {
			return fmt.Errorf("%s %s: 304 with a body", req.Method, req.URL)
		}
		if route.Operation.Responses.Status(status) == nil {
			return fmt.Errorf("%s %s: 304 answer is not documented for the operation", req.Method, req.URL)
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: responseOptions,
		},
		Status:  status,
		Header:  header,
		Options: responseOptions,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: %d answer does not match the API document: %w", req.Method, req.URL, status, err)
	}
	return nil
}

// Do sends req with client, reads the whole answer and checks it. The
// trailer (a streamed list's ETag) is merged into the returned header.
func (v *Validator) Do(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, body, err
	}
	for k, vs := range resp.Trailer {
		for _, s := range vs {
			resp.Header.Add(k, s)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, body, v.Check(req, resp.StatusCode, resp.Header, body)
}

// closeResponses makes every object schema of the document's answers
// refuse members it does not name. The document leaves them open, so that
// clients generated from it keep working when a later version adds a
// member; the gateway's own answers must still carry exactly what the
// document names.
func closeResponses(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	for _, ref := range doc.Components.Schemas {
		closeSchema(ref, seen)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					closeSchema(mt.Schema, seen)
				}
			}
		}
	}
}

func closeSchema(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	mergeAllOf(s)
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		no := false
		s.AdditionalProperties.Has = &no
	}
	for _, p := range s.Properties {
		closeSchema(p, seen)
	}
	closeSchema(s.Items, seen)
	closeSchema(s.AdditionalProperties.Schema, seen)
	for _, l := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, x := range l {
			closeSchema(x, seen)
		}
	}
}

// mergeAllOf turns an allOf of object schemas (an item of a fleet list:
// a stack's item plus its system and stack) into one object schema with
// the members and the required members of them all, so that it can be
// closed as one: closing each part would refuse the others' members.
func mergeAllOf(s *openapi3.Schema) {
	if len(s.AllOf) == 0 || len(s.Properties) > 0 {
		return
	}
	props := openapi3.Schemas{}
	var required []string
	for _, part := range s.AllOf {
		if part.Value == nil || len(part.Value.AllOf) > 0 || len(part.Value.Properties) == 0 {
			return
		}
		for k, v := range part.Value.Properties {
			props[k] = v
		}
		required = append(required, part.Value.Required...)
	}
	s.AllOf = nil
	s.Type = &openapi3.Types{openapi3.TypeObject}
	s.Properties = props
	s.Required = required
}
