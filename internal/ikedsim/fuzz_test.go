package ikedsim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// lineRef is how errors of the data set loader name the line.
var lineRef = regexp.MustCompile(`\bline [1-9][0-9]*\b`)

// dataSetSeeds are the example data set and small documents, good and
// bad, that reach each kind of error.
func dataSetSeeds(tb testing.TB) [][]byte {
	example, err := os.ReadFile("testdata/example-dataset.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	seeds := [][]byte{example}
	for _, s := range []string{
		"",
		"system: SYS1\nstacks:\n  - name: TCPIP\n",
		"stacks: [{name: A}, {name: A}]",
		"stacks:\n  - name: A\n    natKeepAliv: 1\n",
		"system: LONGSYSTEMNAME\nstacks: [{name: A}]\n",
		"system: SYS1\n",
		"stacks: [{}]\n",
		"stacks: [{name: \"A\\tB\"}]\n",
		"stacks:\n  - name: A\n    filters:\n      policy:\n        - {name: F, source: 192.0.2.0/24, destination: \"2001:db8::1\"}\n",
		"stacks:\n  - name: A\n    ikeTunnels:\n      - {id: K1, generation: 1, state: sideways}\n",
		"system: &n SYS1\nstacks: [{name: *n}, {name: *n}]\n",
		"stacks: &a [*a]\n",
		"stacks:\n\t- name: A\n",
		"\"",
		"stacks:\n  - name: A\n    \x01\n",
		"\xff\xfe",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzParseDataSet: any bytes give a data set a model accepts, or an error
// that names the line; never a panic. An empty document is the one error
// without a line.
func FuzzParseDataSet(f *testing.F) {
	fuzzParse(f, dataSetSeeds(f), ParseDataSet, func(ds *DataSet) error {
		m, err := NewModel(ds, newFakeClock().Now, Timing{})
		if err == nil {
			m.Stacks()
		}
		return err
	})
}

// fuzzParse fuzzes a data set parser: any bytes give a data set that use
// accepts, or an error that names the line; never a panic. An empty
// document is the one error without a line.
func fuzzParse[T any](f *testing.F, seeds [][]byte, parse func([]byte) (*T, error), use func(*T) error) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		within(t, func() {
			d, err := parse(b)
			if err != nil {
				if d != nil {
					t.Error("a data set with an error")
				}
				if len(b) > 0 && !lineRef.MatchString(err.Error()) && err.Error() != "empty data set" {
					t.Errorf("error without a line: %v", err)
				}
				return
			}
			if err := use(d); err != nil {
				t.Errorf("parsed, but refused: %v", err)
			}
		})
	})
}

// nssDataSetSeeds are the example NSS data set and small documents, good
// and bad.
func nssDataSetSeeds(tb testing.TB) [][]byte {
	example, err := os.ReadFile("testdata/example-nss.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	seeds := [][]byte{example}
	for _, s := range []string{
		"",
		"systems: []\n",
		"systems:\n  - name: S\n    stacks: [{name: A}]\n",
		"systems:\n  - name: S\n    stacks: [{name: A, client: C, connected: false, remoteManagement: false}]\n    xmlAppliances: [{client: X}]\n",
		"systems:\n  - {name: S, stacks: [{name: A}]}\n  - {name: S, stacks: [{name: A}]}\n",
		"systems:\n  - name: S\n    stacks: [{name: A, client: C}, {name: B, client: C}]\n",
		"systems:\n  - name: S\n    stacks: [{name: A}]\n    xmlAppliances: [{client: S_A}]\n",
		"systems:\n  - name: S\n    stacks: [{name: A, ikeTunnels: [{id: K1, state: sideways}]}]\n",
		"systems: &a [*a]\n",
		"systems:\n  - name: \"\\x01\"\n    stacks: [{name: A}]\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzParseNSSDataSet: any bytes give an NSS data set a server accepts,
// or an error that names the line; never a panic.
func FuzzParseNSSDataSet(f *testing.F) {
	fuzzParse(f, nssDataSetSeeds(f), ParseNSSDataSet, func(d *NSSDataSet) error {
		_, err := NewServer(Config{System: "NSS1", NSS: d, Now: newFakeClock().Now})
		return err
	})
}

// within runs fn and fails the test if it has not returned after ioWait:
// a hang is reported with its input instead of stalling the fuzzer.
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(ioWait):
		t.Fatalf("no answer after %v", ioWait)
	}
}

// requestSeeds are well-formed requests of every type (with filters and
// control records where they take them), then malformed ones: garbage, a
// cut header, a declared size of 2 GiB, two requests in one write.
func requestSeeds(tb testing.TB) [][]byte { return requestSeedsFor(tb, "TCPIP", "TCPIPB") }

// nssRequestSeeds are requestSeeds for an NSS server: the targets are
// clients of the example NSS data set.
func nssRequestSeeds(tb testing.TB) [][]byte { return requestSeedsFor(tb, "SYSA_TCPIP", "SYSBTCP") }

// requestSeedsFor are the request seeds with target and other as targets.
func requestSeedsFor(tb testing.TB, target, other string) [][]byte {
	var seeds [][]byte
	add := func(req *nmi.Request) []byte {
		b, err := nmi.AppendRequest(nil, req, uint32(len(seeds)+1))
		if err != nil {
			tb.Fatalf("%v: %v", req.Type, err)
		}
		seeds = append(seeds, b)
		return b
	}
	byID := nmi.InFilter{HasTunnelID: true}
	_ = byID.TunnelID.Set("Y1")
	byDiscipline := nmi.InFilter{HasName: true}
	_ = byDiscipline.Name.Set(nmi.DisciplineIPSec.String())
	var tun nmi.Tunnel
	_ = tun.Name.Set("BRANCH4-VPN")
	for t := nmi.GetStackInfo; t <= nmi.LoadPolicy; t++ {
		if !t.IsRequest() {
			continue
		}
		req := &nmi.Request{Type: t, Target: target}
		switch {
		case t.SystemWide():
			req.Target = ""
		case t == nmi.LoadPolicy:
			req.Policy = &nmi.PolicySource{Source: nmi.FilterSetPolicy}
		case t == nmi.GetClientInfo:
			req.Filters = []nmi.InFilter{byDiscipline}
		case t.TakesFilters():
			req.Filters = []nmi.InFilter{byID}
		case t.TakesTunnels():
			req.Tunnels = []nmi.Tunnel{tun}
		}
		add(req)
	}
	first := add(&nmi.Request{Type: nmi.GetSummary, Target: other})
	huge := bytes.Clone(first[:nmi.HdrSize])
	binary.BigEndian.PutUint32(huge[12:], 1<<31)
	seeds = append(seeds,
		[]byte("garbage, not an NMI message at all, but long enough to fill a header"),
		first[:nmi.HdrSize/2],
		huge,
		append(bytes.Clone(first), first...),
		first[:len(first)-1],
	)
	return seeds
}

// FuzzRequest feeds any bytes to a server connection over an AF_UNIX
// socket pair, then ends the client's writing. The server must answer with
// whole messages (INIT, answers carrying a code, TERM last) and close;
// never panic or hang.
func FuzzRequest(f *testing.F) {
	fuzzRequest(f, Config{Now: newFakeClock().Now}, requestSeeds(f))
}

// FuzzRequestNSS is FuzzRequest against a server that plays the NSS
// server, with the example NSS data set.
func FuzzRequestNSS(f *testing.F) {
	d, err := LoadNSSDataSet("testdata/example-nss.yaml")
	if err != nil {
		f.Fatal(err)
	}
	fuzzRequest(f, Config{System: "NSS1", NSS: d, Now: newFakeClock().Now}, nssRequestSeeds(f))
}

func fuzzRequest(f *testing.F, cfg Config, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		f.Fatal(err)
	}
	srv.SetReady(true)
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioWait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := socketPair(t)
		defer client.Close()
		srv.accept(server)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_ = client.SetWriteDeadline(time.Now().Add(ioWait))
			_, _ = client.Write(b)
			_ = client.CloseWrite()
		}()
		_ = client.SetReadDeadline(time.Now().Add(ioWait))
		var buf []byte
		var last nmi.Header
		for n := 0; ; n++ {
			h, msg, err := nmi.ReadMessage(client, buf, 1<<30)
			// A close with request bytes left unread is a reset.
			if (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) && n > 0 {
				break
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no answer and no close after %v (%d messages)", ioWait, n)
			}
			if err != nil {
				t.Fatalf("message %d: %v", n, err)
			}
			buf = msg
			if last.Type == nmi.MsgTerm {
				t.Fatalf("message %d (%v) after TERM", n, h.Type)
			}
			// What is not a request is answered with an error code.
			if h.Type != nmi.MsgInit && h.Type != nmi.MsgTerm && !h.Type.IsRequest() && h.Rc == nmi.RcOK {
				t.Fatalf("message %d of type %v with return code 0", n, h.Type)
			}
			last = h
		}
		if last.Type != nmi.MsgTerm {
			t.Errorf("closed after %v, not TERM", last.Type)
		}
		<-wrote
	})
}

// socketPair is a connected pair of AF_UNIX stream sockets.
func socketPair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// TestFuzzCorpus checks that the corpus committed under testdata/fuzz holds
// the seeds above; with IKEDSIM_WRITE_CORPUS=1 it writes them. Inputs the
// fuzzer found stay beside them under their own names.
func TestFuzzCorpus(t *testing.T) {
	write := os.Getenv("IKEDSIM_WRITE_CORPUS") != ""
	for target, seeds := range map[string][][]byte{"FuzzParseDataSet": dataSetSeeds(t), "FuzzRequest": requestSeeds(t),
		"FuzzParseNSSDataSet": nssDataSetSeeds(t), "FuzzRequestNSS": nssRequestSeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", target)
		if write {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range seeds {
			file := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if write {
				if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if got, err := os.ReadFile(file); err != nil || string(got) != body {
				t.Errorf("%s is not seed %d (%v); rewrite with IKEDSIM_WRITE_CORPUS=1", file, i, err)
			}
		}
	}
}
