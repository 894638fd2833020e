// Package metrics holds nmigw's Prometheus collectors: HTTP requests
// (Middleware), the NMI client and its pool (NMIObserver, PoolCollector),
// build information (NewBuildInfoCollector) and the IPsec exporter
// (Exporter), which asks IKED through the shared pool on every scrape.
//
// Nothing here registers with the global registry: the caller creates a
// prometheus.Registry, registers what it wants and serves it with
// promhttp.HandlerFor.
//
// Every metric name starts with nmigw_. The tests check that each metric
// deploy/prometheus/rules.yaml and deploy/grafana/nmigw.json use is
// exposed by these collectors.
package metrics
