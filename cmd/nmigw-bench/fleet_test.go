package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFleetBench runs the fleet mode on a small fleet with the gateway
// built from this repository: both sides list every tunnel (the mode
// checks the counts) and the report has its figures.
func TestFleetBench(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, "../gateway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"nmigw-bench", "fleet", "--gateway-bin", bin, "--systems", "3", "--stacks", "2",
		"--tunnels", "7", "--repeat", "2"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, re := range []string{`3 systems x 2 stacks x 7 IKE tunnels \(42 in all\)`, `\(a\) GET /v1/ike/tunnels`,
		`\(b\)\s+6 sequential per-stack requests`, `ratio \(a\)/\(b\) time: [0-9.]+, peak RSS: [0-9.]+`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("the report lacks %s:\n%s", re, out.String())
		}
	}
	for _, bad := range []string{"--systems 0", "--stacks 0", "--tunnels 0", "--repeat 0", "--pool 26", "extra"} {
		if err := run(t.Context(), append([]string{"nmigw-bench", "fleet"}, strings.Fields(bad)...), &out); err == nil {
			t.Errorf("fleet %s: no error", bad)
		}
	}
}
