package httpapi

import (
	"testing"
	"time"
)

func TestReadyLogRepeats(t *testing.T) {
	var l readyLog
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		cause   string
		at      time.Duration
		log     bool
		skipped int
	}{
		{causeUnreachable, 0, true, 0},
		{causeUnreachable, 10 * time.Second, false, 0},
		{causeUnreachable, 20 * time.Second, false, 0},
		// A minute after the last line, the cause is logged again with
		// the two probes not logged.
		{causeUnreachable, readyLogEvery, true, 2},
		{causeUnreachable, readyLogEvery + time.Second, false, 0},
		// Another cause at once; the count starts over.
		{causeRefused, readyLogEvery + 2*time.Second, true, 0},
		{causeRefused, readyLogEvery + 3*time.Second, false, 0},
	} {
		skipped, log := l.report(c.cause, t0.Add(c.at))
		if log != c.log || skipped != c.skipped {
			t.Errorf("%d: %s at %v: log %v skipped %d, want %v %d", i, c.cause, c.at, log, skipped, c.log, c.skipped)
		}
	}
	l.ok()
	if _, log := l.report(causeRefused, t0.Add(readyLogEvery+4*time.Second)); !log {
		t.Error("after a success the same cause is not logged")
	}
}
