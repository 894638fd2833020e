package metrics

import (
	"runtime/debug"
	"testing"
)

func TestBuildInfoResolve(t *testing.T) {
	vcs := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/nmigw/nmigw", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const rev = "686c8b0abcdef0123456789abcdef0123456789a"
	for _, c := range []struct {
		name string
		b    BuildInfo
		bi   *debug.BuildInfo
		want BuildInfo
	}{
		{"go run: nothing stamped", BuildInfo{}, vcs("(devel)"), BuildInfo{"devel", "unknown"}},
		{"no build information", BuildInfo{}, nil, BuildInfo{"devel", "unknown"}},
		{"go build in a clean checkout", BuildInfo{}, vcs("v0.0.0-20261207072710-686c8b0abcde", "vcs.revision", rev, "vcs.modified", "false"),
			BuildInfo{"v0.0.0-20261207072710-686c8b0abcde", rev}},
		{"go build -buildvcs without a module version", BuildInfo{}, vcs("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			BuildInfo{"devel+686c8b0abcde-dirty", rev + "-dirty"}},
		{"a release set with -ldflags", BuildInfo{Version: "v1.2.3"}, vcs("(devel)", "vcs.revision", rev),
			BuildInfo{"v1.2.3", rev}},
	} {
		if got := c.b.Resolve(c.bi); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
