package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	spec "github.com/nmigw/nmigw/api"
	"github.com/nmigw/nmigw/internal/authz"
)

// Routes live in routes.go, in api/openapi.yaml (behind the validator) and
// in controlOps (by operationId, for the audit of refused requests). They
// must agree: every route is documented, and every documented control
// operation (one that answers 503 ControlUnavailable: the audit log is
// down) has a route and an audit entry for that route.
func TestRoutesDocumentAndAuditAgree(t *testing.T) {
	h, err := NewHandler(Deps{NMI: newFake(), Authorizer: authz.AllowAll})
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	err = chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	// Served but deliberately not API resources: the reference's assets.
	notDocumented := map[string]bool{"GET /docs/{file}": true}
	var missing []string
	for rt := range routes {
		if documented[rt] == nil && !notDocumented[rt] {
			missing = append(missing, rt)
		}
	}
	sort.Strings(missing)
	for _, rt := range missing {
		t.Errorf("route %s is not in api/openapi.yaml", rt)
	}

	controls := 0
	for rt, op := range documented {
		r := op.Responses.Value("503")
		if r == nil || r.Ref != "#/components/responses/ControlUnavailable" {
			continue
		}
		controls++
		if !routes[rt] {
			t.Errorf("control operation %s (%s) has no route", op.OperationID, rt)
		}
		cop := controlOpByID[op.OperationID]
		if cop == nil {
			t.Errorf("control operation %s (%s) has no audit entry in controlOps", op.OperationID, rt)
			continue
		}
		prefix := "POST /v1/stacks/{stack}"
		if strings.HasSuffix(op.OperationID, spec.SystemOperationSuffix) {
			prefix = "POST /v1/systems/{system}/stacks/{stack}"
		}
		if want := prefix + cop.path; want != rt {
			t.Errorf("controlOps routes %s to %s, the document to %s", op.OperationID, want, rt)
		}
	}
	// Each one for a stack of the default system and of a system.
	if controls != 2*len(controlOps) {
		t.Errorf("%d control operations documented, %d in controlOps", controls, len(controlOps))
	}
}
