package ikedsim

import (
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// termPattern sends n summary requests, one at a time, reconnecting after
// every TERM, and returns one letter per request: "a" answered, "T" TERM.
func termPattern(t *testing.T, path string, n int) string {
	t.Helper()
	var out strings.Builder
	c := dial(t, path)
	for range n {
		c.send(c.request(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}))
		switch h := c.read(); {
		case h.Type == nmi.MsgTerm:
			if h.Rc != nmi.RcOK || h.Rsn != nmi.RsnNone {
				t.Fatalf("TERM rc %v rsn %v, want 0/0", h.Rc, h.Rsn)
			}
			c.expectEOF()
			c.c.Close()
			c = dial(t, path)
			out.WriteByte('T')
		case h.Type == nmi.GetSummary && h.Rc == nmi.RcOK && h.Correlator == c.corr:
			out.WriteByte('a')
		default:
			t.Fatalf("answer %v rc %v corr %d", h.Type, h.Rc, h.Correlator)
		}
	}
	return out.String()
}

func TestTermAtRandom(t *testing.T) {
	start := func(spec string) string {
		fs, err := ParseFaults(spec)
		if err != nil {
			t.Fatal(err)
		}
		_, path := startServer(t, Config{Faults: fs})
		return path
	}
	// The same seed gives the same choices; another seed others.
	a := termPattern(t, start("term-rate=0.5,seed=7"), 40)
	b := termPattern(t, start("term-rate=0.5, seed=7"), 40)
	c := termPattern(t, start("term-rate=0.5,seed=8"), 40)
	if a != b {
		t.Errorf("seed 7 twice:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 chose alike: %s", a)
	}
	if !strings.Contains(a, "T") || !strings.Contains(a, "a") {
		t.Errorf("rate 0.5 gave %s", a)
	}
	if p := termPattern(t, start("term-rate=1"), 5); p != "TTTTT" {
		t.Errorf("rate 1: %s", p)
	}
	if p := termPattern(t, start(""), 5); p != "aaaaa" {
		t.Errorf("no faults: %s", p)
	}

	// Clear turns it off while the server runs.
	fs := NewFaults()
	if err := fs.SetTermRate(1, 1); err != nil {
		t.Fatal(err)
	}
	_, path := startServer(t, Config{Faults: fs})
	if p := termPattern(t, path, 1); p != "T" {
		t.Errorf("rate 1: %s", p)
	}
	fs.Clear()
	if p := termPattern(t, path, 3); p != "aaa" {
		t.Errorf("after Clear: %s", p)
	}
}

func TestParseFaults(t *testing.T) {
	for _, bad := range []string{"term-rate", "term-rate=2", "term-rate=-0.1", "term-rate=NaN", "term-rate=x",
		"seed=-1", "seed=x", "delay=1s"} {
		if _, err := ParseFaults(bad); err == nil || !strings.HasPrefix(err.Error(), "faults: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	fs, err := ParseFaults("term-rate=0.25,seed=3")
	if err != nil || fs.termRate != 0.25 {
		t.Fatalf("%v %+v", err, fs)
	}
	if err := NewFaults().SetTermRate(1.5, 0); err == nil {
		t.Error("rate 1.5 accepted")
	}
}
