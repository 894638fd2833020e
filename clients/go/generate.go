// Package nmigwclient is a Go client of the nmigw REST API, generated from
// api/openapi.yaml by oapi-codegen (pinned below). Regenerate with
// `go generate` in this directory after changing the document; a test
// fails while the committed code differs from what the generator makes.
//
//	c, err := nmigwclient.NewClientWithResponses("http://localhost:8080",
//		nmigwclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
//			r.Header.Set("Authorization", "Bearer "+token)
//			return nil
//		}))
//	stacks, err := c.ListStacksWithResponse(ctx)
package nmigwclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../../api/openapi.yaml
