package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
		"2000-filter listing", "first byte", "ratio (b)/(a) total time", "CPU per request"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// fakeGateway writes a shell script to stand in for the gateway binary.
func fakeGateway(t *testing.T, script string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestStartGatewayChildExits: a gateway process that ends before printing
// its address is reported with its exit status, not waited for.
func TestStartGatewayChildExits(t *testing.T) {
	o := options{gatewayBin: fakeGateway(t, "echo starting; exit 3"), concurrency: 1}
	g, err := startGateway(t.Context(), t.TempDir(), "/nonexistent/socket", o)
	if err == nil {
		g.stop()
		t.Fatal("no error")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("%v, want the child's exit status 3", err)
	}
}

// TestStartGatewayChildStops: a gateway that prints its address is used,
// and stop ends it.
func TestStartGatewayChildStops(t *testing.T) {
	o := options{gatewayBin: fakeGateway(t, "echo 'listening on http://127.0.0.1:9'; exec sleep 600"), concurrency: 1}
	g, err := startGateway(t.Context(), t.TempDir(), "/nonexistent/socket", o)
	if err != nil {
		t.Fatal(err)
	}
	if g.base != "http://127.0.0.1:9" || g.pid == 0 {
		t.Errorf("gateway %+v", g)
	}
	g.stop()
	if err := syscall.Kill(g.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after stop, the child: %v, want it gone", err)
	}
}

// TestProcCPU: the CPU time of a process is read from /proc, and of no
// process is 0.
func TestProcCPU(t *testing.T) {
	if got := procCPU(0); got != 0 {
		t.Errorf("procCPU(0) = %v, want 0", got)
	}
	x := 0
	for start := selfCPU(); selfCPU()-start < 30*time.Millisecond; {
		x++
	}
	if got := procCPU(os.Getpid()); got <= 0 {
		t.Errorf("procCPU(self) = %v after %v of CPU (%d rounds), want more than 0", got, selfCPU(), x)
	}
}
