package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a burst: the heap of a burst (2,000 concurrent
// list requests) is garbage once it ends, but an idle gateway allocates
// too little to start a collection, the runtime forces one only every two
// minutes, and the buffers sync.Pools hold live on until two collections
// pass. trimMemory looks every memTrimEvery; when no collection ran since
// the last look (the gateway idles) and the heap it keeps from the system
// exceeds memTrimSlack and twice what it kept after its last trim, it
// collects twice and returns the free heap to the system
// (debug.FreeOSMemory). So it trims once after a burst, and not again
// while the heap stays near its floor.
const (
	memTrimEvery = 5 * time.Second
	memTrimSlack = 32 << 20
)

// memState reads what the heap keeps from the system and the collections
// so far.
func memState() (kept, cycles uint64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
		{Name: "/memory/classes/heap/unused:bytes"},  // in spans, free
		{Name: "/memory/classes/heap/free:bytes"},    // free spans, not returned
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	u := func(x metrics.Sample) uint64 {
		if x.Value.Kind() == metrics.KindUint64 {
			return x.Value.Uint64()
		}
		return 0
	}
	return u(s[0]) + u(s[1]) + u(s[2]), u(s[3])
}

// trimMemory starts the trimmer; the function it returns stops it and
// waits for it.
func trimMemory(every time.Duration, slack uint64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		_, last := memState()
		var floor uint64 // heap kept after the last trim
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			kept, cycles := memState()
			if cycles == last && kept > slack && kept > 2*floor {
				// Two collections: the first moves what sync.Pools
				// hold to their victim caches, the second frees it.
				runtime.GC()
				debug.FreeOSMemory()
				floor, cycles = memState()
			}
			last = cycles
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
