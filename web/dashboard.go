package web

import "embed"

// Dashboard holds the dashboard served at / (dashboard/index.html) and
// its assets (the other files of dashboard/, served at /dashboard/{file}):
// plain HTML, CSS and JavaScript modules, no build step.
//
//go:embed dashboard
var Dashboard embed.FS
