package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// BuildInfo names the running build. Empty fields are taken from the
// binary's embedded build information, else "unknown".
type BuildInfo struct {
	Version  string // release, e.g. set with -ldflags "-X main.version=v1.2.3"
	Revision string // VCS revision
}

// NewBuildInfoCollector returns the constant gauge nmigw_build_info 1
// with labels version, revision and goversion.
func NewBuildInfoCollector(b BuildInfo) prometheus.Collector {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && b.Revision == "" {
				b.Revision = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "unknown"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "nmigw_build_info",
		Help:        "Always 1; the labels name the build of the running gateway.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}

// RegisterStandard registers the build information and the Go runtime and
// process collectors (go_*, process_*) with reg.
func RegisterStandard(reg prometheus.Registerer, b BuildInfo) error {
	return register(reg, NewBuildInfoCollector(b), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}
