package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/doctor"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// displayPaths send every display request of the NMI between them.
func displayPaths(stack string) []string {
	s := "/v1/stacks/" + stack
	return []string{
		"/v1/stacks", s, s + "/summary", s + "/interfaces",
		s + "/filters?set=current", s + "/filters?set=default", s + "/filters?set=policy",
		s + "/filters?set=current&protocol=6",
		s + "/ike/tunnels", s + "/ike/tunnels?cascade=true",
		s + "/tunnels/dynamic", s + "/tunnels/dynamic?view=ike", s + "/tunnels/manual",
		s + "/port-translations",
	}
}

type answer struct {
	status int
	etag   string
	body   []byte
}

func answers(g *gateway, paths []string) []answer {
	var out []answer
	for _, p := range paths {
		resp, body := g.get(p)
		out = append(out, answer{resp.StatusCode, resp.Header.Get("ETag"), body})
	}
	return out
}

// replaySim serves a capture on a socket.
func replaySim(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rp, err := ikedsim.LoadReplay(f)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := simServerConfig(t, ikedsim.Config{Replay: rp})
	return path
}

// A session of every display request, captured by the gateway and
// replayed to another gateway, gives the same answers byte for byte,
// ETags included.
func TestCaptureAndReplay(t *testing.T) {
	path, _ := simServerConfig(t, ikedsim.Config{})
	file := filepath.Join(t.TempDir(), "session.jsonl")
	live := startRun(t, "--nmi-socket", path, "--nmi-capture", file, "--exporter=false")
	paths := append(displayPaths("TCPIP"), displayPaths("TCPIPB")[2:]...)
	want := answers(live, paths)
	for i, a := range want {
		if a.status != http.StatusOK || a.etag == "" {
			t.Fatalf("GET %s: %d, ETag %q: %s", paths[i], a.status, a.etag, a.body)
		}
	}

	replayed := startRun(t, "--nmi-socket", replaySim(t, file), "--exporter=false")
	got := answers(replayed, paths)
	for i := range paths {
		if got[i].status != want[i].status || got[i].etag != want[i].etag || !bytes.Equal(got[i].body, want[i].body) {
			t.Errorf("GET %s: replay answered %d %s, live %d %s\nreplay: %.300s\nlive:   %.300s",
				paths[i], got[i].status, got[i].etag, want[i].status, want[i].etag, got[i].body, want[i].body)
		}
	}

	// A request the capture does not hold gets the replay's error code,
	// which the gateway reports as the NMI's answer.
	resp, body := replayed.get("/v1/stacks/TCPIP/filters?set=current&protocol=17")
	if resp.StatusCode < 400 || !bytes.Contains(body, []byte(`"nmiReturnCode":`+strconv.Itoa(int(ikedsim.ReplayMissRc)))) {
		t.Errorf("unrecorded request: %d %s", resp.StatusCode, body)
	}

	// The capture names its endpoint and holds whole messages only.
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, evs, err := capture.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if h.Endpoint != "unix://"+path || h.Program != "gateway" {
		t.Errorf("capture header %+v", h)
	}
	for _, ev := range evs {
		if ev.Kind == capture.Raw {
			t.Errorf("raw event in a capture of a well-formed session: %+v", ev)
		}
	}
}

// Every capture in testdata/captures is a regression test: each recorded
// answer passes the field check and decodes with the codec, and the
// gateway serves the display resources of every stack it lists without a
// bad-answer or internal error.
func TestCaptures(t *testing.T) {
	files, err := filepath.Glob("../../testdata/captures/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in testdata/captures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			path := replaySim(t, file)
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := doctor.Run(context.Background(), c, "unix://"+path, doctor.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Exchanges {
				if e.Err != nil || (len(e.Findings) > 0 && !missed(e)) {
					t.Errorf("%v: %s", e.Type, e.Verdict())
				}
			}
			// Requests the capture holds no answer for get the replay's
			// error code; everything else must be served.
			g := startRun(t, "--nmi-socket", path, "--exporter=false")
			miss := []byte(`"nmiReturnCode":` + strconv.Itoa(int(ikedsim.ReplayMissRc)) + `,`)
			served := 0
			for _, s := range g.list("/v1/stacks") {
				for _, p := range displayPaths(str(s, "name")) {
					resp, body := g.get(p)
					switch {
					case resp.StatusCode == http.StatusOK:
						served++
					case resp.StatusCode == http.StatusBadGateway && bytes.Contains(body, miss):
					default:
						t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
					}
				}
			}
			if served < 2 {
				t.Errorf("only %d resources served from the capture", served)
			}
		})
	}
}

// missed reports whether an exchange's only finding is that the capture
// holds no answer to it (the replay's error code).
func missed(e *doctor.Exchange) bool {
	var h nmi.Header
	return len(e.Findings) == 1 && h.UnmarshalBinary(e.Response) == nil && h.Rc == ikedsim.ReplayMissRc
}
