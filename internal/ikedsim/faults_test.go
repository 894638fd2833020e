package ikedsim

import (
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

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
		"seed=-1", "seed=x", "delay=1s", "hang-after=1s", "hang-for=x", "hang-for=-1s",
		"type=NMsec_NOPE", "type=999", "type=any,delay=x", "type=any,no-reply=maybe", "type=any,rc=ENOTHING",
		"type=any,rc=0", "type=any,rsn=x", "type=any,times=-1", "type=any,pace=x", "type=any,pace=-1s",
		"type=any,pace-bytes=0", "type=any,pace-bytes=x", "type=any,stall=maybe", "type=any,bogus=1", "type=any,type=any", "term-rate=0.1;type=any,seed=1"} {
		if _, err := ParseFaults(bad); err == nil || !strings.HasPrefix(err.Error(), "faults: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	fs, err := ParseFaults("term-rate=0.25,seed=3")
	if err != nil || fs.termRate != 0.25 {
		t.Fatalf("%v %+v", err, fs)
	}
	fs, err = ParseFaults("term-rate=0.5 ; type=NMsec_GET_IKETUN,delay=2s,times=3;type=get_summary,no-reply=true;" +
		"type=any,rc=EAGAIN,rsn=4;type=107,term-close=true,oversize=1,truncate=true,wrong-correlator=true;hang-after=3s,hang-for=5s;" +
		"type=NMsec_GET_IPFLTPOLICY,pace=20ms,pace-bytes=4096;type=GET_IKETUNCASCADE,stall=true")
	if err != nil {
		t.Fatal(err)
	}
	want := map[nmi.MsgType]Fault{
		nmi.GetIKETun:        {Delay: 2 * time.Second, Times: 3},
		nmi.GetSummary:       {NoReply: true},
		AnyRequest:           {Rc: nmi.EAGAIN, Rsn: 4},
		nmi.GetIPTunDynStack: {TermClose: true, Oversize: true, Truncate: true, WrongCorrelator: true},
		nmi.GetIPFltPolicy:   {Pace: 20 * time.Millisecond, PaceBytes: 4096},
		nmi.GetIKETunCascade: {Stall: true},
	}
	if len(fs.m) != len(want) || fs.termRate != 0.5 || fs.hangAfter != 3*time.Second || fs.hangFor != 5*time.Second {
		t.Fatalf("parsed %+v", fs)
	}
	for k, w := range want {
		if got := fs.m[k]; got == nil || !reflect.DeepEqual(*got, w) { // Mutate nil in both
			t.Errorf("%v: %+v, want %+v", k, got, w)
		}
	}
	if err := NewFaults().SetTermRate(1.5, 0); err == nil {
		t.Error("rate 1.5 accepted")
	}
}

// TestHangAtRunTime hangs the daemon while a client waits for an answer
// and another for INIT; ending the hang answers both.
func TestHangAtRunTime(t *testing.T) {
	fs := NewFaults()
	_, path := startServer(t, Config{Faults: fs})
	a := dial(t, path)
	fs.SetHang(true)
	a.send(a.request(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}))
	b, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Nothing comes while hung: neither the answer nor INIT.
	for _, c := range []net.Conn{a.c, b} {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var one [1]byte
		if n, err := c.Read(one[:]); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("while hung: %d bytes, %v", n, err)
		}
		c.SetReadDeadline(time.Time{})
	}
	fs.SetHang(false)
	if h := a.read(); h.Type != nmi.GetSummary || h.Rc != nmi.RcOK {
		t.Fatalf("after the hang: %v rc %v", h.Type, h.Rc)
	}
	b.SetReadDeadline(time.Now().Add(ioWait))
	hb := make([]byte, nmi.HdrSize)
	if _, err := io.ReadFull(b, hb); err != nil {
		t.Fatal(err)
	}
	var h nmi.Header
	if err := h.UnmarshalBinary(hb); err != nil || h.Type != nmi.MsgInit {
		t.Fatalf("after the hang, the waiting client got %v (%v), want INIT", h.Type, err)
	}
}

// TestScheduledHang: hang-after and hang-for from the command line hang
// the daemon once Serve starts, then end.
func TestScheduledHang(t *testing.T) {
	fs, err := ParseFaults("hang-after=1ms,hang-for=1h")
	if err != nil {
		t.Fatal(err)
	}
	_, path := startServer(t, Config{Faults: fs})
	deadline := time.Now().Add(ioWait)
	for fs.hung() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled hang did not start")
		}
		time.Sleep(time.Millisecond)
	}
	fs.SetHang(false) // ended early, as Clear would
	c := dial(t, path)
	c.send(c.request(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}))
	if h := c.read(); h.Type != nmi.GetSummary {
		t.Fatalf("after the hang: %v", h.Type)
	}
}
