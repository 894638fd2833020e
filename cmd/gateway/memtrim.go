package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a burst: the heap of a burst (2,000 concurrent
// list requests) is garbage once it ends, but an idle gateway allocates
// too little to start a collection, and the runtime forces one only every
// two minutes, and the buffers sync.Pools hold live on until two
// collections pass. trimMemory looks every memTrimEvery and collects
// twice and returns the free heap to the system (debug.FreeOSMemory) when the heap
// kept exceeds memTrimSlack and either the live heap by as much, or no
// collection ran since the last look (the gateway is idle; once per idle
// spell).
const (
	memTrimEvery = 5 * time.Second
	memTrimSlack = 32 << 20
)

// memState reads what the heap keeps from the system, what was live at
// the last collection, and the collections so far.
func memState() (kept, live, cycles uint64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
		{Name: "/memory/classes/heap/unused:bytes"},  // in spans, free
		{Name: "/memory/classes/heap/free:bytes"},    // free spans, not returned
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	u := func(x metrics.Sample) uint64 {
		if x.Value.Kind() == metrics.KindUint64 {
			return x.Value.Uint64()
		}
		return 0
	}
	return u(s[0]) + u(s[1]) + u(s[2]), u(s[3]), u(s[4])
}

// trimMemory starts the trimmer; the function it returns stops it and
// waits for it.
func trimMemory(every time.Duration, slack uint64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		_, _, last := memState()
		trimmed := ^uint64(0)
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			kept, live, cycles := memState()
			idle := cycles == last && cycles != trimmed
			if kept > slack && (kept > live+slack || idle) {
				// Two collections: the first moves what sync.Pools
				// hold to their victim caches, the second frees it.
				runtime.GC()
				debug.FreeOSMemory()
				_, _, cycles = memState()
				trimmed = cycles
			}
			last = cycles
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
