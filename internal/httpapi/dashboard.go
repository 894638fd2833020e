package httpapi

import (
	"net/http"
	"path"
	"strings"

	"github.com/nmigw/nmigw/web"
)

// dashboardPolicy keeps the dashboard to its own origin: its scripts,
// styles and API calls come from the gateway, nothing else runs, and no
// other site may frame it.
const dashboardPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardTypes are the content types of the files /dashboard/{file}
// serves, by extension; other names are not found.
var dashboardTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// dashboardVendor are the vendored files the dashboard loads, served at
// /dashboard/{file} from web/vendor (scripts/vendor-dashboard).
var dashboardVendor = map[string]string{
	"uPlot.esm.js":  "vendor/uplot/uPlot.esm.js",
	"uPlot.min.css": "vendor/uplot/uPlot.min.css",
}

func dashboardHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", dashboardPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// getDashboard serves the dashboard page at /.
func (a *api) getDashboard(w http.ResponseWriter, r *http.Request) {
	b, err := web.Dashboard.ReadFile("dashboard/index.html")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	dashboardHeaders(w)
	staticFile(w, r, "text/html; charset=utf-8", b)
}

// getDashboardAsset serves the dashboard's scripts and styles.
func (a *api) getDashboardAsset(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "file")
	ct, ok := dashboardTypes[path.Ext(name)]
	if !ok || strings.HasPrefix(name, ".") {
		a.notFound(w, r)
		return
	}
	var b []byte
	var err error
	if p, ok := dashboardVendor[name]; ok {
		b, err = web.Files.ReadFile(p)
	} else {
		b, err = web.Dashboard.ReadFile("dashboard/" + name)
	}
	if err != nil {
		a.notFound(w, r)
		return
	}
	dashboardHeaders(w)
	staticFile(w, r, ct, b)
}
