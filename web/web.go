// Package web holds the gateway's static files, embedded: the API
// reference page and its vendored renderer (web/vendor/redoc, refreshed
// by scripts/vendor-docs), and the dashboard's charting library
// (web/vendor/uplot, refreshed by scripts/vendor-dashboard). The
// accessibility checker in web/vendor/axe-core is for the dashboard's
// test only and is not embedded.
package web

import "embed"

// Files holds docs.html, vendor/redoc/{redoc.standalone.js,LICENSE,VERSION}
// and vendor/uplot/{uPlot.esm.js,uPlot.min.css,LICENSE,VERSION}.
//
//go:embed docs.html vendor/redoc/redoc.standalone.js vendor/redoc/LICENSE vendor/redoc/VERSION
//go:embed vendor/uplot/uPlot.esm.js vendor/uplot/uPlot.min.css vendor/uplot/LICENSE vendor/uplot/VERSION
var Files embed.FS
