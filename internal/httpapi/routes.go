package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes is every route of the gateway's API. Request flow: request ID,
// access log, CORS, the canonical path (canonicalPath), HEAD and OPTIONS
// (methods); then body cap, authentication (API routes), OpenAPI
// validation, the concurrency limit (limit, API routes but event streams),
// the request scope (scope), handler.
func (a *api) routes() http.Handler {
	r := chi.NewRouter()
	a.mux = r
	r.Use(withRequestID, a.accessLog, a.withCORS, a.canonicalPath, a.methods)
	r.NotFound(a.notFound)
	r.MethodNotAllowed(a.methodNotAllowed)

	// The rendered reference's assets and the dashboard are not API
	// resources.
	r.Group(func(r chi.Router) {
		r.Use(a.parsableQuery)
		r.Get("/docs/{file}", a.getDocsAsset)
		r.Get("/", a.getDashboard)
		r.Get("/dashboard/{file}", a.getDashboardAsset)
	})

	r.Group(func(r chi.Router) {
		r.Use(a.limitBody)

		r.Group(func(r chi.Router) {
			r.Use(a.validate, a.scope)
			r.Get("/healthz", a.getHealth)
			r.Get("/readyz", a.getReadiness)
			r.Get("/openapi.yaml", a.getOpenAPI)
			r.Get("/docs", a.getDocs)
		})

		r.Group(func(r chi.Router) {
			r.Use(a.authenticate, notePrincipal, a.validate)
			r.With(a.limit, a.scope).Get("/v1/whoami", a.whoAmI)
			r.With(a.limit, a.scope).Get("/v1/stacks", a.listStacks)
			r.Get("/v1/events", a.streamFleetEvents) // outlives the request scope, as a stack's stream
			r.With(a.limit, a.scope).Get("/v1/systems", a.listSystems)
			r.With(a.limit, a.scope).Get("/v1/systems/{system}", a.getSystem)
			r.With(a.limit, a.scope).Get("/v1/systems/{system}/stacks", a.listSystemStacks)
			r.With(a.limit, a.scope).Get("/v1/ike/tunnels", a.fleetList(&ikeList))
			r.With(a.limit, a.scope).Get("/v1/tunnels/dynamic", a.fleetList(&dynList))
			r.With(a.limit, a.scope).Get("/v1/tunnels/manual", a.fleetList(&manualList))
			r.Route("/v1/stacks/{stack}", a.mountStack)
			r.Route("/v1/systems/{system}/stacks/{stack}", a.mountStack)
		})
	})
	return r
}

// mountStack mounts the routes of one stack on r, whose pattern ends in
// the {stack} parameter (/v1/stacks/{stack}); the same routes can be
// mounted under another prefix, such as a system's stacks. Each route
// first finds its stack (resolveStack); a control request for a stack
// that cannot be found is audited.
func (a *api) mountStack(r chi.Router) {
	// An event stream outlives the request scope: its NMI work is done by
	// its feed's poller, each poll bounded by RequestTimeout.
	r.With(a.resolveStack(nil)).Get("/events", a.streamEvents)
	r.Group(func(r chi.Router) {
		r.Use(a.resolveStack(nil), a.limit, a.scope)
		r.Get("/", a.getStack)
		r.Get("/summary", a.getSummary)
		r.Get("/interfaces", a.listInterfaces)
		r.Get("/filters", a.listFilters)
		r.Get("/filters/{name}", a.getFilter)
		r.Get("/ike/tunnels", a.listIKETunnels)
		r.Get("/ike/tunnels/{tunnelId}", a.getIKETunnel)
		r.Get("/tunnels/dynamic", a.listDynamicTunnels)
		r.Get("/tunnels/dynamic/{tunnelId}", a.getDynamicTunnel)
		r.Get("/tunnels/manual", a.listManualTunnels)
		r.Get("/tunnels/manual/{tunnelId}", a.getManualTunnel)
		r.Get("/port-translations", a.listPortTranslations)
		r.Post("/filters:test", a.testFilters)
	})
	for _, op := range controlOps {
		r.With(a.resolveStack(op), a.limit, a.scope).Post(op.path, a.control(op))
	}
}
