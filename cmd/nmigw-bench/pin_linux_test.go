package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPin: with --pin the gateway child runs on the last CPU only and
// every thread of the harness on the others; on a one-CPU machine --pin
// is refused.
func TestPin(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	plan, err := planCPUs()
	if orig.Count() < 2 {
		if err == nil || !strings.Contains(err.Error(), "at least 2 CPUs") {
			t.Fatalf("one CPU: %v, want a refusal", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if plan.gateway.Count() != 1 || plan.harness.Count() != orig.Count()-1 {
		t.Fatalf("plan gateway %d CPUs, harness %d, of %d", plan.gateway.Count(), plan.harness.Count(), orig.Count())
	}
	last := -1
	for c := range len(orig) * 64 {
		if orig.IsSet(c) {
			last = c
		}
	}

	o := options{gatewayBin: fakeGateway(t, "echo 'listening on http://127.0.0.1:9'; exec sleep 600"), concurrency: 1, plan: plan}
	g, err := startGateway(t.Context(), t.TempDir(), "/nonexistent/socket", o)
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	if got := cpusAllowed(strconv.Itoa(g.pid)); got != strconv.Itoa(last) {
		t.Errorf("gateway runs on CPUs %s, want %d", got, last)
	}

	// Pin this process, check every thread, then give it back its CPUs.
	defer func() {
		if err := (&cpuPlan{harness: orig}).pinSelf(); err != nil {
			t.Error(err)
		}
	}()
	if err := plan.pinSelf(); err != nil {
		t.Fatal(err)
	}
	runtime.Gosched()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var cur unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &cur); err != nil {
			continue // the thread ended
		}
		if cur != plan.harness {
			t.Errorf("thread %d is not on the harness's CPUs", tid)
		}
	}
}
