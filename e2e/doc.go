// Package e2e holds no library code: it is the Go module of nmigw's tests that
// need heavy dependencies of their own, kept apart from the gateway's
// module so that the gateway's build list stays buildable with the Go
// release IBM ships for z/OS (deploy/zos/README.md):
//
//   - the dashboard in real Chromium (its lists, controls, health tiles,
//     charts, system selector and fleet overview), driven by
//     github.com/chromedp/chromedp;
//   - deploy/prometheus/rules.yaml and deploy/grafana/nmigw.json checked
//     with Prometheus's own rule and PromQL parsers
//     (github.com/prometheus/prometheus), against what a running gateway
//     exposes;
//   - the screenshots of the README (e2e/screenshots, run by
//     scripts/take-screenshots), also through chromedp.
//
// The tests build cmd/gateway in the enclosing repository's module (so
// with the gateway's own build list) and run it as a process on
// 127.0.0.1:0, beside an in-process simulator where they need one (the
// fleet test serves the gateway's handler in process instead, over
// several simulators, each on a socket of its own); a replace directive points this module at the repository for the
// internal packages the tests use (the simulator, the API contract).
package e2e
