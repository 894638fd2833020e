// Package deploy holds no code: it is the Go module of nmigw's deployment files (deploy/container,
// deploy/kubernetes), kept apart from the gateway's module so that the kustomize and Kubernetes
// libraries that its tests use stay out of the gateway's dependencies.
//
// The tests render every kustomize overlay with sigs.k8s.io/kustomize/api/krusty, decode every object
// strictly into its Kubernetes or Prometheus Operator Go type, and check the security settings, probes,
// selectors and volumes; they parse the Dockerfile with BuildKit's parser.
package deploy
