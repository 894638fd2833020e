package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// TestClassifyNMI: each kind of NMI failure gives its problem: status,
// type, Retry-After, and the NMI's codes only when it answered with them.
func TestClassifyNMI(t *testing.T) {
	op := func(o nmi.Op, err error) error { return &nmi.OpError{Op: o, Addr: "/s", Err: err} }
	refused := &nmi.StatusError{Type: nmi.MsgTerm, Rc: nmi.EAGAIN, Term: true, Refused: true}
	backoff := func(last error) error { return &nmi.UnavailableError{Addr: "/s", RetryAt: time.Now(), Last: last} }
	bad := &nmi.FormatError{Path: "record[0]", Msg: "bad", Rsn: nmi.RsnBadType}
	for _, c := range []struct {
		err    error
		status int
		typ    string
		retry  bool
		codes  bool
	}{
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.ENXIO}, http.StatusNotFound, probUnknownStack, false, true},
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EACCES}, http.StatusForbidden, probForbidden, false, true},
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EAGAIN}, http.StatusServiceUnavailable, probUnavailable, true, true},
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EINVAL}, http.StatusBadGateway, probNMIRejected, false, true},
		{&nmi.StatusError{Type: nmi.MsgTerm, Term: true}, http.StatusServiceUnavailable, probUnavailable, true, false},
		{refused, http.StatusServiceUnavailable, probUnavailable, true, true},
		{backoff(refused), http.StatusServiceUnavailable, probUnavailable, true, true},
		{backoff(op(nmi.OpDial, syscall.ECONNREFUSED)), http.StatusServiceUnavailable, probUnavailable, true, false},
		{op(nmi.OpDial, &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}), http.StatusServiceUnavailable, probUnavailable, true, false},
		{op(nmi.OpRead, io.ErrUnexpectedEOF), http.StatusServiceUnavailable, probUnavailable, true, false},
		{op(nmi.OpInit, &timeoutErr{}), http.StatusGatewayTimeout, probTimeout, false, false},
		{nmi.ErrClosed, http.StatusServiceUnavailable, probUnavailable, true, false},
		{nmi.ErrPoolExhausted, http.StatusServiceUnavailable, probUnavailable, true, false},
		{context.Canceled, http.StatusServiceUnavailable, probUnavailable, true, false},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, probTimeout, false, false},
		{op(nmi.OpRead, os.ErrDeadlineExceeded), http.StatusGatewayTimeout, probTimeout, false, false},
		{op(nmi.OpRead, bad), http.StatusBadGateway, probNMIBadAnswer, false, false},
		{op(nmi.OpRead, errors.Join(nmi.ErrTooLarge, bad)), http.StatusBadGateway, probNMIBadAnswer, false, false},
		{fmt.Errorf("view: %w", errors.New("broken")), http.StatusInternalServerError, probInternal, false, false},
	} {
		p := classify(c.err)
		if p.Status != c.status || p.Type != c.typ || (p.RetryAfter > 0) != c.retry || p.Internal == nil {
			t.Errorf("%v: %d %s Retry-After %d, want %d %s Retry-After %v", c.err, p.Status, p.Type, p.RetryAfter, c.status, c.typ, c.retry)
		}
		body := string(problemJSON(p, "/x", ""))
		if c.err == refused && (!strings.Contains(body, "at most 50 clients and all are in use") || !strings.Contains(body, `"nmiReturnCodeName":"EAGAIN"`)) {
			t.Errorf("the client limit: %s", body)
		}
		if hasCodes := strings.Contains(body, `"nmiReturnCode"`); hasCodes != c.codes {
			t.Errorf("%v: NMI codes in %s: %v, want %v", c.err, body, hasCodes, c.codes)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "no answer in time" }
func (timeoutErr) Timeout() bool { return true }

// TestRetryAfterFollowsTheProber: a refusal while the pool is down tells
// clients to come back when the prober tries next, rounded up to whole
// seconds, at least 1.
func TestRetryAfterFollowsTheProber(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want int
	}{{-time.Second, 1}, {0, 1}, {400 * time.Millisecond, 1}, {2500 * time.Millisecond, 3}, {10 * time.Second, 10}} {
		err := &nmi.UnavailableError{Addr: "/s", RetryAt: time.Now().Add(c.in), Last: &nmi.OpError{Op: nmi.OpDial, Err: syscall.ECONNREFUSED}}
		if got := classify(err).RetryAfter; got != c.want && got != c.want-1 || got < 1 {
			t.Errorf("retry in %v: Retry-After %d, want %d", c.in, got, c.want)
		}
	}
}
