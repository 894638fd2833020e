// Package web holds the gateway's static files, embedded: the API
// reference page and its vendored renderer (web/vendor, refreshed by
// scripts/vendor-docs).
package web

import "embed"

// Files holds docs.html and vendor/redoc/{redoc.standalone.js,LICENSE,VERSION}.
//
//go:embed docs.html vendor/redoc/redoc.standalone.js vendor/redoc/LICENSE vendor/redoc/VERSION
var Files embed.FS
