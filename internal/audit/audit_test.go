package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Write(&Record{RequestID: strconv.Itoa(i), Reason: strings.Repeat("x", 5000)})
			if err != nil {
				t.Error(err)
			}
		}()
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
	l.file.Close()
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

// ids returns the requestId of each line of the file at path.
func ids(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, v := range readLines(t, path) {
		out = append(out, v["requestId"].(string))
	}
	return out
}

func write(t *testing.T, l *Log, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := l.Write(&Record{RequestID: id}); err != nil {
			t.Fatalf("write %s: %v", id, err)
		}
	}
}

// openTemp opens a log on audit.log in a new temporary directory; the
// log is closed when the test ends.
func openTemp(t *testing.T) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestReopenAfterRename(t *testing.T) {
	l, path := openTemp(t)
	if l.Path() != path {
		t.Errorf("Path() = %q, want %q", l.Path(), path)
	}
	write(t, l, "a", "b")
	// A log rotator renames the file; until the reopen, records follow it.
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	write(t, l, "c")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, l, "d", "e")
	if got := ids(t, rotated); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("rotated file holds %v", got)
	}
	if got := ids(t, path); !slices.Equal(got, []string{"d", "e"}) {
		t.Errorf("new file holds %v", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("new file mode %v, want 0600", m)
	}
	// Reopening without a rename goes on appending to the same file.
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, l, "f")
	if got := ids(t, path); !slices.Equal(got, []string{"d", "e", "f"}) {
		t.Errorf("file after a second reopen holds %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("reopen after close: %v, want ErrClosed", err)
	}
}

func TestReopenDuringConcurrentWrites(t *testing.T) {
	l, path := openTemp(t)
	const writers, perWriter, rotations = 8, 200, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := strconv.Itoa(w) + "/" + strconv.Itoa(i)
				if err := l.Write(&Record{RequestID: id, Reason: strings.Repeat("x", 3000)}); err != nil {
					t.Errorf("write %s: %v", id, err)
					return
				}
			}
		}()
	}
	// Rotate while the writers write: rename, then reopen.
	var files []string
	for i := range rotations {
		rotated := path + "." + strconv.Itoa(i)
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		files = append(files, rotated)
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	files = append(files, path)
	// Every record is in exactly one file, each line is one JSON object
	// (readLines), and each writer's records are in the order written,
	// across the files in the order of rotation: no record went to a file
	// after a newer one was in use.
	next := make([]int, writers)
	total := 0
	for _, f := range files {
		for _, id := range ids(t, f) {
			total++
			ws, is, _ := strings.Cut(id, "/")
			w, _ := strconv.Atoi(ws)
			i, _ := strconv.Atoi(is)
			if i != next[w] {
				t.Fatalf("%s: record %s, want %d/%d next", f, id, w, next[w])
			}
			next[w]++
		}
	}
	if total != writers*perWriter {
		t.Errorf("%d records in the files, want %d", total, writers*perWriter)
	}
}

func TestReopenFailureKeepsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "audit.log")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	write(t, l, "a")
	// The directory goes away (renamed, so that its file can still be
	// read): the name cannot be opened again.
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(filepath.Dir(path), moved); err != nil {
		t.Fatal(err)
	}
	err = l.Reopen()
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reopen in a missing directory: %v, want a not-exist error", err)
	}
	write(t, l, "b")
	if got := ids(t, filepath.Join(moved, "audit.log")); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("the file in use holds %v after the failed reopen", got)
	}
	// Once the directory is back, the next reopen succeeds.
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, l, "c")
	if got := ids(t, path); !slices.Equal(got, []string{"c"}) {
		t.Errorf("new file holds %v", got)
	}
}

// tearFirst writes only the first 10 bytes of its first write to f and
// fails it.
type tearFirst struct {
	f    *os.File
	done bool
}

func (w *tearFirst) Write(p []byte) (int, error) {
	if w.done {
		return w.f.Write(p)
	}
	w.done = true
	n, _ := w.f.Write(p[:10])
	return n, errors.New("disk full")
}

func TestReopenAfterATornLine(t *testing.T) {
	l, path := openTemp(t)
	tear := func() {
		t.Helper()
		l.w = &tearFirst{f: l.file}
		if err := l.Write(&Record{RequestID: "torn"}); err == nil {
			t.Fatal("torn write succeeded")
		}
	}
	// Reopened under the same name without a rename: the same file, whose
	// torn line the next record must not continue.
	tear()
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, l, "same")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"requestId":"same"`) {
		t.Errorf("same file after a torn line: %q", lines)
	}
	// Renamed first: the new file starts with the record, no empty line.
	tear()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, l, "next")
	if b, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{`) || len(parseLines(t, b)) != 1 {
		t.Errorf("new file %q: want one record from its first byte", b)
	}
}

func TestReopenStream(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	write(t, l, "a")
	if err := l.Reopen(); err != nil {
		t.Fatalf("reopen of a stream: %v", err)
	}
	write(t, l, "b")
	if lines := parseLines(t, buf.Bytes()); len(lines) != 2 || lines[1]["requestId"] != "b" {
		t.Errorf("stream after reopen: %q", buf.String())
	}
	std, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if err := std.Reopen(); err != nil {
		t.Errorf("reopen of standard output: %v", err)
	}
	if l.Path() != "" || std.Path() != "" {
		t.Errorf("streams with file names %q, %q", l.Path(), std.Path())
	}
}
