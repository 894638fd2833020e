package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseLines(t, b)
}

func parseLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	return out
}

func TestFileAppendsOneLinePerRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"earlier":true}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rc, rsn := int32(0), int32(0)
	rec := &Record{
		Time: time.Date(2024, 6, 3, 8, 0, 0, 0, time.FixedZone("CEST", 7200)), Stage: StageCompleted,
		RequestID: "r1", User: "OPER1", Groups: []string{"OPSGRP"}, Method: "POST",
		Path: "/v1/stacks/TCPIP/ike/tunnels/K1:refresh", Operation: "refreshIkeTunnel", Stack: "TCPIP",
		NMIRequest: "NMsec_REFRESH_IKETUN", Targets: []Target{{TunnelID: "K1"}},
		Resource: "EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", Allowed: true, Profile: "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL",
		Outcome: OutcomeStarted, NMIReturnCode: &rc, NMIReasonCode: &rsn,
		Results: []Result{{Name: "KER1", TunnelID: "K1", Status: "stateUpdated"}},
	}
	if err := l.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(&Record{Stage: StageCompleted, RequestID: "r2", Outcome: OutcomeDenied, Groups: []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 3 || lines[0]["earlier"] != true {
		t.Fatalf("want the earlier line and two records, got %v", lines)
	}
	got := lines[1]
	for k, want := range map[string]any{
		"time": "2024-06-03T06:00:00Z", "stage": "completed", "requestId": "r1", "user": "OPER1",
		"operation": "refreshIkeTunnel", "nmiRequest": "NMsec_REFRESH_IKETUN", "allowed": true,
		"profile": "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL", "outcome": "started", "nmiReturnCode": float64(0),
		"nmiReasonCode": float64(0),
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if r := got["results"].([]any)[0].(map[string]any); r["status"] != "stateUpdated" || r["tunnelId"] != "K1" {
		t.Errorf("results %v", got["results"])
	}
	if d := lines[2]; d["allowed"] != false || d["outcome"] != "denied" || d["time"] == nil {
		t.Errorf("denied record %v", d)
	}
	if _, ok := lines[2]["nmiReturnCode"]; ok {
		t.Error("a record without an NMI answer must not carry nmiReturnCode")
	}
	if err := l.Write(&Record{}); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v, want ErrClosed", err)
	}
}

func TestConcurrentWritesDoNotInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	const n = 64
	for i := range n {
		wg.Go(func() {
			err := l.Write(&Record{RequestID: strconv.Itoa(i), Reason: strings.Repeat("x", 5000)})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := readLines(t, path)
	seen := map[string]bool{}
	for _, v := range lines {
		seen[v["requestId"].(string)] = true
	}
	if len(lines) != n || len(seen) != n {
		t.Errorf("%d lines, %d distinct, want %d", len(lines), len(seen), n)
	}
}

// flaky fails its first write after writing part of it.
type flaky struct {
	bytes.Buffer
	fail bool
}

func (f *flaky) Write(p []byte) (int, error) {
	if f.fail {
		f.fail = false
		n, _ := f.Buffer.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	}
	return f.Buffer.Write(p)
}

func TestWriteErrorReachesCaller(t *testing.T) {
	w := &flaky{fail: true}
	l := New(w)
	err := l.Write(&Record{RequestID: "lost"})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the writer's", err)
	}
	if err := l.Write(&Record{RequestID: "next"}); err != nil {
		t.Fatal(err)
	}
	// The torn line stays torn; the next record starts on a line of its own.
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"requestId":"next"`) {
		t.Errorf("lines %q", lines)
	}
}

// scripted answers each Write with the next scripted result: how many bytes
// of it to keep (-1: all) and the error to return.
type scripted struct {
	bytes.Buffer
	writes []struct {
		keep int
		err  error
	}
}

func (s *scripted) Write(p []byte) (int, error) {
	if len(s.writes) == 0 {
		return s.Buffer.Write(p)
	}
	w := s.writes[0]
	s.writes = s.writes[1:]
	if w.keep >= 0 {
		p = p[:w.keep]
	}
	n, _ := s.Buffer.Write(p)
	return n, w.err
}

func TestTornLineSurvivesAFailureThatWritesNothing(t *testing.T) {
	full := errors.New("disk full")
	w := &scripted{writes: []struct {
		keep int
		err  error
	}{{10, full}, {0, full}}}
	l := New(w)
	for _, id := range []string{"torn", "lost"} {
		if err := l.Write(&Record{RequestID: id}); !errors.Is(err, full) {
			t.Fatalf("write %s: error %v, want the writer's", id, err)
		}
	}
	if err := l.Write(&Record{RequestID: "next"}); err != nil {
		t.Fatal(err)
	}
	// The torn line is still unterminated after the second failure: the
	// next record must still start on a line of its own.
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "{") || !strings.Contains(lines[1], `"requestId":"next"`) {
		t.Errorf("lines %q", lines)
	}
}

func TestSyncFailureIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file closed underneath the log: the write fails, not silently.
	l.closer.Close()
	if err := l.Write(&Record{RequestID: "x"}); err == nil {
		t.Error("write to a closed file succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "audit.log")); err == nil {
		t.Error("file in a missing directory accepted")
	}
	l, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("closing the standard output log: %v", err)
	}
}

func TestStreamThatCannotSync(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	l := New(w) // fsync of a pipe fails with EINVAL: not an error for a stream
	if err := l.Write(&Record{RequestID: "piped"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if lines := parseLines(t, buf[:n]); len(lines) != 1 || lines[0]["requestId"] != "piped" {
		t.Errorf("lines %v", lines)
	}
	if _, err := w.Write([]byte{}); err != nil {
		t.Errorf("New closed the stream: %v", err)
	}
}
