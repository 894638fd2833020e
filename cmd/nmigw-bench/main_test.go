package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunSmall runs the harness on a small data set with an in-process
// gateway: both sides must answer and every figure must be reported.
func TestRunSmall(t *testing.T) {
	var out bytes.Buffer
	args := []string{"nmigw-bench", "--inproc", "--filters", "2000", "--tunnels", "10",
		"--duration", "200ms", "--warmup", "50ms", "--concurrency", "2", "--repeat", "1"}
	if err := run(t.Context(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"(a) direct NMI client", "(b) gateway over HTTP", "ratio (b)/(a) throughput",
		"2000-filter listing", "first byte", "ratio (b)/(a) total time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
