// Package api holds the REST contract of the gateway, api/openapi.yaml,
// embedded so that the gateway serves and validates against the same bytes.
package api

import _ "embed"

//go:generate go run ../scripts/system-paths openapi.yaml

// OpenAPI is the OpenAPI 3.0.3 document of the REST API.
//
//go:embed openapi.yaml
var OpenAPI []byte
