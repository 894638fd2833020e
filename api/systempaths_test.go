package api

import (
	"bytes"
	"strings"
	"testing"
)

// The document's system copies are what SystemPaths makes of it now: a
// change to a /v1/stacks path item needs `go generate ./api`.
func TestSystemPathsAreCurrent(t *testing.T) {
	got, err := SystemPaths(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, OpenAPI) {
		t.Fatal("api/openapi.yaml: the /v1/systems copies differ from the /v1/stacks paths: run go generate ./api")
	}
}

// A copy differs from its original in the path, the operationId, the
// summary, the system parameter, a 404 for an unknown system and the
// SystemStack schemas, and in nothing else.
func TestSystemPathsDifferOnlyWhereTheyMust(t *testing.T) {
	const doc = `paths:
  /v1/stacks:
    get:
      operationId: listStacks
      summary: List stacks
      parameters:
        - $ref: "#/components/parameters/PageSize"
      responses:
        "200":
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/StackList"
        "500":
          $ref: "#/components/responses/InternalError"
  /v1/stacks/{stack}/x:y:
    post:
      operationId: doY
      summary: Do y
      parameters:
        - $ref: "#/components/parameters/StackName"
      responses:
        "404":
          $ref: "#/components/responses/NotFound"
        "500":
          $ref: "#/components/responses/InternalError"
  /v1/whoami:
    get:
      operationId: whoAmI
components:
  schemas:
    Stack:
      type: object
      description: |
        A stack.
      required: [name, filterSet]
      properties:
        name:
          type: string
    Other:
      type: object
`
	got, err := SystemPaths([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(doc, "  /v1/whoami:\n", beginSystemPaths+`  /v1/systems/{system}/stacks:
    get:
      operationId: listStacksInSystem
      summary: List stacks (on a system)
      parameters:
        - $ref: "#/components/parameters/SystemName"
        - $ref: "#/components/parameters/PageSize"
      responses:
        "200":
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/SystemStackList"
        "404":
          $ref: "#/components/responses/NotFound"
        "500":
          $ref: "#/components/responses/InternalError"
  /v1/systems/{system}/stacks/{stack}/x:y:
    post:
      operationId: doYInSystem
      summary: Do y (on a system)
      parameters:
        - $ref: "#/components/parameters/SystemName"
        - $ref: "#/components/parameters/StackName"
      responses:
        "404":
          $ref: "#/components/responses/NotFound"
        "500":
          $ref: "#/components/responses/InternalError"
`+endSystemPaths+"  /v1/whoami:\n", 1)
	want = strings.Replace(want, "    Other:\n", beginSystemStack+`    SystemStack:
      type: object
`+systemStackDescription+`      required: [name]
      properties:
        name:
          type: string
`+endSystemStack+"    Other:\n", 1)
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	again, err := SystemPaths(got)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("not idempotent: %v\n%s", err, again)
	}
}

// A document whose generated region does not end, or whose operation has
// no parameters to add the system to, is refused.
func TestSystemPathsRefusesBadDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"unterminated": "paths:\n" + beginSystemPaths + "  /v1/x:\n",
		"no stacks":    "paths:\n  /v1/whoami:\n    get:\n      operationId: whoAmI\n",
		"no parameters": "paths:\n  /v1/stacks:\n    get:\n      operationId: listStacks\n" +
			"components:\n  schemas:\n    Stack:\n      type: object\n",
	} {
		if _, err := SystemPaths([]byte(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Any text: an error or a document, never a panic; a document it makes
// is made again the same.
func FuzzSystemPaths(f *testing.F) {
	f.Add(OpenAPI)
	f.Add([]byte("paths:\n  /v1/stacks:\n    get:\n      operationId: x\n      parameters:\n        - a\ncomponents:\n  schemas:\n    Stack:\n      type: object\n"))
	f.Add([]byte("paths:\n" + beginSystemPaths))
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := SystemPaths(doc)
		if err != nil {
			return
		}
		again, err := SystemPaths(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Errorf("not stable: %v", err)
		}
	})
}
