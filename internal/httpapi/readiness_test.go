package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

const sockPath = "/var/sock/ipsecmgmt"

// logLines returns the server's log, one JSON object a line.
func (s *server) logLines() []map[string]any {
	s.t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			s.t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		lines = append(lines, v)
	}
	return lines
}

// notReadyLogs returns the "not ready" log lines of request id.
func (s *server) notReadyLogs(id string) []map[string]any {
	s.t.Helper()
	var lines []map[string]any
	for _, v := range s.logLines() {
		if v["msg"] == "not ready" && v["clientRequestId"] == id {
			lines = append(lines, v)
		}
	}
	return lines
}

// probe asks /readyz with request ID id and returns its problem, checked
// against the API document; a ready answer fails the test.
func (s *server) probe(id string) (status int, body string, detail string) {
	s.t.Helper()
	resp, b := s.get("/readyz", "X-Request-ID", id)
	if resp.StatusCode < 500 {
		s.t.Fatalf("readyz %s: %d %s", id, resp.StatusCode, b)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		s.t.Fatal(err)
	}
	d, _ := p["detail"].(string)
	return resp.StatusCode, string(b), d
}

// TestReadinessCause: each way the NMI can fail gives a fixed cause; the
// error, which names the socket, is logged with the request ID and is not
// in the answer.
func TestReadinessCause(t *testing.T) {
	n := &switchNMI{}
	s := newServer(t, n)
	op := func(o nmi.Op, err error) error { return &nmi.OpError{Op: o, Addr: sockPath, Err: err} }
	// While the pool waits before dialing again, its error wraps the last
	// dial's.
	backoff := func(last error) error {
		return &nmi.UnavailableError{Addr: sockPath, RetryAt: time.Now().Add(time.Second), Last: last}
	}
	noInit := op("init", io.EOF)
	// A refusal names the endpoint (*nmi.OpError around the TERM), as the
	// client reports it; EAGAIN is the client limit.
	const remote = "ssh://NMIGW@zos1.example.com" + sockPath
	full := &nmi.StatusError{Type: nmi.MsgTerm, Rc: nmi.EAGAIN, Term: true, Refused: true}
	limit := "client limit reached (EAGAIN; IKED serves at most 50 clients)"
	refusedAt := func(rc nmi.ReturnCode) error {
		return &nmi.OpError{Op: nmi.OpInit, Addr: remote, Err: &nmi.StatusError{Type: nmi.MsgTerm, Rc: rc, Term: true, Refused: true}}
	}
	dialErr := op("dial", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})
	for i, c := range []struct {
		err   error
		cause string
	}{
		{dialErr, "NMI not reachable"},
		{noInit, "NMI did not send INIT"},
		{backoff(dialErr), "NMI not reachable"},
		{backoff(noInit), "NMI did not send INIT"},
		{full, "NMI refused the client: " + limit},
		{context.DeadlineExceeded, "timed out"},
		{backoff(full), "NMI refused the client: " + limit},
		{refusedAt(nmi.EAGAIN), "NMI refused the client at " + remote + ": " + limit},
		{refusedAt(nmi.EACCES), "NMI refused the client at " + remote},
		{backoff(refusedAt(nmi.EAGAIN)), "NMI refused the client at " + remote + ": " + limit},
		{op("read", os.ErrDeadlineExceeded), "timed out"},
		{&nmi.StatusError{Type: nmi.MsgTerm, Term: true}, "NMI ended the connection"},
		{&nmi.StatusError{Type: nmi.GetStackInfo, Rc: nmi.EACCES}, "NMI rejected the request"},
		{nmi.ErrPoolExhausted, "every NMI connection is busy"},
		{op("read", &nmi.FormatError{Path: "record[0]", Msg: "bad", Rsn: nmi.RsnBadType}), "NMI answer could not be decoded"},
		{op("read", io.ErrUnexpectedEOF), "NMI connection failed"},
		{nmi.ErrClosed, "NMI not reachable"},
		{context.Canceled, "canceled"},
		{errors.New("bad state near " + sockPath), "internal error"},
	} {
		id := "ready-cause-" + strconv.Itoa(i)
		n.set(c.err)
		status, body, detail := s.probe(id)
		if detail != "not ready: "+c.cause {
			t.Errorf("%v: detail %q, want cause %q", c.err, detail, c.cause)
		}
		// The endpoint may be named by the cause; the error's text never.
		if strings.Contains(body, c.err.Error()) || !strings.Contains(c.cause, sockPath) && strings.Contains(body, sockPath) {
			t.Errorf("%v: the error is in the answer: %s", c.err, body)
		}
		// Each cause differs from the one before: each is logged.
		logs := s.notReadyLogs(id)
		if len(logs) != 1 || logs[0]["level"] != "WARN" || logs[0]["error"] != c.err.Error() || logs[0]["cause"] != c.cause {
			t.Errorf("%v (%d): log lines %v", c.err, status, logs)
		}
	}
}

// TestReadinessLogOnce: a cause that lasts is logged once (then once a
// minute, which the package's own test checks), a new cause at once, and
// a success starts afresh.
func TestReadinessLogOnce(t *testing.T) {
	n := &switchNMI{}
	s := newServer(t, n)
	down := &nmi.OpError{Op: "dial", Addr: sockPath, Err: nmi.ErrUnavailable}
	refused := &nmi.StatusError{Type: nmi.MsgTerm, Rc: nmi.EAGAIN, Term: true, Refused: true}
	step := 0
	probe := func(err error, logged bool) {
		t.Helper()
		step++
		id := "ready-once-" + strconv.Itoa(step)
		n.set(err)
		if err == nil {
			s.getJSON("/readyz", http.StatusOK, "X-Request-ID", id)
		} else {
			s.probe(id)
		}
		if got := len(s.notReadyLogs(id)); got != map[bool]int{false: 0, true: 1}[logged] {
			t.Errorf("step %d (%v): %d log lines, want logged %v", step, err, got, logged)
		}
	}
	probe(down, true)
	probe(down, false)
	probe(down, false)
	probe(refused, true)
	probe(down, true)
	probe(nil, false)
	probe(down, true)
}
