package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// BuildInfo names the running build. Empty fields are taken from the
// binary's embedded build information (see Resolve).
type BuildInfo struct {
	Version  string // release, e.g. set with -ldflags "-X main.version=v1.2.3"
	Revision string // VCS revision
}

// Resolve fills the empty fields of b from bi, the binary's build
// information (nil when there is none). The version is, in order: b's
// own; the main module's (go build stamps one from the VCS, e.g.
// v0.0.0-20260101120000-0123456789ab+dirty); else "devel", the version Go
// gives a development build, followed by the short VCS revision when the
// build has one (devel+0123456789ab, "-dirty" with uncommitted changes).
// go run stamps neither, so a gateway started with go run reports
// version "devel" and revision "unknown".
func (b BuildInfo) Resolve(bi *debug.BuildInfo) BuildInfo {
	var rev string
	var dirty bool
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
	}
	if b.Revision == "" {
		b.Revision = rev
		if rev != "" && dirty {
			b.Revision += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
		if rev != "" {
			b.Version += "+" + rev[:min(len(rev), 12)]
			if dirty {
				b.Version += "-dirty"
			}
		}
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// NewBuildInfoCollector returns the constant gauge nmigw_build_info 1
// with labels version, revision and goversion, b resolved against the
// binary's build information.
func NewBuildInfoCollector(b BuildInfo) prometheus.Collector {
	bi, _ := debug.ReadBuildInfo()
	b = b.Resolve(bi)
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
