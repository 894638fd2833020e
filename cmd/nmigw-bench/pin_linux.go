package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuPlan splits the CPUs this process may run on for --pin: the gateway
// gets the last one, the harness (simulator and both clients) the others.
type cpuPlan struct {
	harness, gateway unix.CPUSet
}

func planCPUs() (*cpuPlan, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	var cpus []int
	for c := range len(all) * 64 {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return nil, fmt.Errorf("pin: needs at least 2 CPUs, this process may use %d", len(cpus))
	}
	p := &cpuPlan{}
	for _, c := range cpus[:len(cpus)-1] {
		p.harness.Set(c)
	}
	p.gateway.Set(cpus[len(cpus)-1])
	return p, nil
}

// start starts cmd on the gateway's CPUs (nil: anywhere): a child inherits the affinity of
// the thread that forks it. The forking thread is locked and never
// unlocked, so the runtime discards it instead of reusing it with the
// gateway's affinity.
func (p *cpuPlan) start(cmd *exec.Cmd) error {
	if p == nil {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, &p.gateway); err != nil {
			done <- fmt.Errorf("pin: %w", err)
			return
		}
		done <- cmd.Start()
	}()
	return <-done
}

// pinSelf moves every thread of this process to the harness's CPUs.
// Threads the runtime starts later are cloned from pinned ones and inherit
// the affinity; the scan repeats until it finds no thread left to move.
func (p *cpuPlan) pinSelf() error {
	for range 10 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("pin: %w", err)
		}
		moved := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			var cur unix.CPUSet
			if unix.SchedGetaffinity(tid, &cur) == nil && cur == p.harness {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &p.harness); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin: thread %d: %w", tid, err)
			}
			moved++
		}
		if moved == 0 {
			return nil
		}
	}
	return errors.New("pin: threads keep appearing unpinned")
}

// cpusAllowed is the Cpus_allowed_list of a process ("self" for this one).
func cpusAllowed(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
