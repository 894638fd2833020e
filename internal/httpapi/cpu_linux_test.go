package httpapi

import (
	"syscall"
	"time"
)

// processCPU is the CPU time of this process so far (user and system, all
// threads): benchmarks report it per operation, which a machine shared
// with other work disturbs less than the elapsed time.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
