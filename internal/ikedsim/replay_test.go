package ikedsim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/nmi"
)

// displayRequests is one of each display request on stack TCPIP, and a
// filtered one.
func displayRequests(t *testing.T) []*nmi.Request {
	var byProto nmi.InFilter
	byProto.HasProtocol, byProto.Protocol = true, 6
	reqs := []*nmi.Request{{Type: nmi.GetStackInfo}, {Type: nmi.GetIKENSInfo}}
	for typ := nmi.GetIPFltCurr; typ <= nmi.GetSummary; typ++ {
		reqs = append(reqs, &nmi.Request{Type: typ, Target: "TCPIP"})
	}
	return append(reqs, &nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP", Filters: []nmi.InFilter{byProto}})
}

// session runs reqs on a new connection and returns each answer's bytes.
func session(t *testing.T, r *rawClient, reqs []*nmi.Request) [][]byte {
	t.Helper()
	var out [][]byte
	for _, req := range reqs {
		r.do(req)
		out = append(out, append([]byte(nil), r.buf...))
	}
	return out
}

func TestReplayAnswersAsRecorded(t *testing.T) {
	_, live := startServer(t, Config{})
	var file bytes.Buffer
	w, err := capture.NewWriter(&file, capture.Header{Program: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, live)
	r.c = w.Conn(r.c)
	if h := r.read(); h.Type != nmi.MsgInit {
		t.Fatalf("first message %v", h.Type)
	}
	reqs := displayRequests(t)
	recorded := session(t, r, reqs)
	r.c.Close()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}

	rp, err := LoadReplay(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if rp.Requests() != len(reqs) {
		t.Errorf("replay holds %d requests, want %d", rp.Requests(), len(reqs))
	}
	_, replayed := startServer(t, Config{Replay: rp})
	p := dial(t, replayed)
	p.corr = 1000 // other correlators than the recorded ones
	got := session(t, p, reqs)
	for i := range reqs {
		want := recorded[i]
		nmi.SetCorrelator(want, uint32(1001+i))
		if !bytes.Equal(got[i], want) {
			t.Errorf("%v: replayed answer differs from the recorded one", reqs[i].Type)
		}
	}

	// A request the capture holds no answer for: another target.
	h, _ := p.do(&nmi.Request{Type: nmi.GetSummary, Target: "TCPIPB"})
	if h.Rc != ReplayMissRc || h.Rsn != ReplayMissRsn {
		t.Errorf("unrecorded request: rc %v rsn %v, want %v %v", h.Rc, h.Rsn, ReplayMissRc, ReplayMissRsn)
	}
	// Another filter is another request.
	var byName nmi.InFilter
	byName.HasName = true
	byName.Name.Set("PERMIT-DNS")
	if h, _ := p.do(&nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP", Filters: []nmi.InFilter{byName}}); h.Rc != ReplayMissRc {
		t.Errorf("request with an unrecorded filter: rc %v", h.Rc)
	}
}

func TestReplayRepeatsInOrder(t *testing.T) {
	_, live := startServer(t, Config{})
	var file bytes.Buffer
	w, _ := capture.NewWriter(&file, capture.Header{})
	r := dialRaw(t, live)
	r.c = w.Conn(r.c)
	r.read()
	req := &nmi.Request{Type: nmi.GetIKETun, Target: "TCPIP"}
	first := session(t, r, []*nmi.Request{req})[0]
	// Change the state between the two recordings.
	r.do(&nmi.Request{Type: nmi.DeactIKETun, Target: "TCPIP"})
	second := session(t, r, []*nmi.Request{req})[0]
	if bytes.Equal(first[nmi.HdrSize:], second[nmi.HdrSize:]) {
		t.Fatal("the two recorded answers are the same; the test needs them to differ")
	}
	r.c.Close()
	rp, err := LoadReplay(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	_, replayed := startServer(t, Config{Replay: rp})
	p := dial(t, replayed)
	got := session(t, p, []*nmi.Request{req, req, req})
	for i, want := range [][]byte{first, second, second} {
		if !bytes.Equal(got[i][nmi.HdrSize:], want[nmi.HdrSize:]) {
			t.Errorf("answer %d is not recorded answer %d", i, min(i, 1))
		}
	}
}

func TestLoadReplayErrors(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{"", "empty file"},
		{`{"format":"pcap","version":1}`, "format"},
		{`{"format":"nmigw-capture","version":2}`, "version 2"},
		{`{"format":"nmigw-capture","version":1}` + "\n", "no answered request"},
		{`{"format":"nmigw-capture","version":1}` + "\n" + `{"conn":1,"kind":"bogus"}`, "line 2: unknown event kind"},
		{`{"format":"nmigw-capture","version":1}` + "\n" + `{"conn":1,"kind":"send","data":"!!"}`, "line 2"},
		{`{"format":"nmigw-capture","version":1}` + "\n" + `{"conn":1,"kind":"send","data":"AAAA"}` + "\n" + `{"conn":1,"kind":"recv","data":"AAAA"}`, "no answered request"},
	} {
		_, err := LoadReplay(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("LoadReplay(%q): %v, want %q", c.in, err, c.msg)
		}
	}
}
