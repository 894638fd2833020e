package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func released() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTrimMemoryReturnsABurst: the heap a burst left behind goes back to
// the system without waiting for the runtime's two-minute collection.
func TestTrimMemoryReturnsABurst(t *testing.T) {
	runtime.GC()
	before := released()
	func() { // 64 MiB, garbage on return
		burst := make([][]byte, 64)
		for i := range burst {
			burst[i] = make([]byte, 1<<20)
			burst[i][0] = 1
		}
		runtime.KeepAlive(burst)
	}()
	stop := trimMemory(time.Millisecond, 8<<20)
	defer stop()
	deadline := time.Now().Add(20 * time.Second)
	for released() < before+32<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("released %d MiB, %d MiB before the burst", released()>>20, before>>20)
		}
		time.Sleep(time.Millisecond)
	}
}
