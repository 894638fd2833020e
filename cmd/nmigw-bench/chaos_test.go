package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestChaosSmall runs the chaos mode once with short outages and few
// connections against real gateway and iked-sim processes: every fault
// must end in 200s again and every figure must be reported.
func TestChaosSmall(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"gateway", "iked-sim"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), "../"+name).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	var out bytes.Buffer
	args := []string{"nmigw-bench", "chaos", "--gateway-bin", filepath.Join(dir, "gateway"), "--sim-bin", filepath.Join(dir, "iked-sim"),
		"--rounds", "1", "--workers", "2", "--outage", "100ms", "--hang", "300ms", "--settle", "1s", "--log-outage", "500ms",
		"--conns", "20", "--conn-time", "300ms", "--rss-after", "10ms", "--tunnels", "5"}
	if err := run(t.Context(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`kill -9 +IKED back -> first 200: median [0-9.]+ms`),
		regexp.MustCompile(`SIGTERM +IKED back -> first 200: median [0-9.]+ms`),
		regexp.MustCompile(`hang 300ms IKED back -> first 200: median [0-9.]+ms`),
		regexp.MustCompile(`log during a 500ms outage under load: [0-9]+ bytes`),
		regexp.MustCompile(`default limit: start [0-9]+ MiB, peak [0-9]+ MiB, 10ms after [0-9]+ MiB; [1-9][0-9]* 200s`),
		regexp.MustCompile(`no limit \(baseline\): start [0-9]+ MiB, peak [0-9]+ MiB`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "error") {
		t.Errorf("output:\n%s", out.String())
	}
}
