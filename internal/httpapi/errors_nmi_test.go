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
		{refused, http.StatusServiceUnavailable, probUnavailable, true, false},
		{backoff(refused), http.StatusServiceUnavailable, probUnavailable, true, false},
		{backoff(op(nmi.OpDial, syscall.ECONNREFUSED)), http.StatusServiceUnavailable, probUnavailable, true, false},
		{op(nmi.OpDial, &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}), http.StatusServiceUnavailable, probUnavailable, true, false},
		{op(nmi.OpRead, io.ErrUnexpectedEOF), http.StatusServiceUnavailable, probUnavailable, true, false},
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
		if hasCodes := strings.Contains(body, `"nmiReturnCode"`); hasCodes != c.codes {
			t.Errorf("%v: NMI codes in %s: %v, want %v", c.err, body, hasCodes, c.codes)
		}
	}
}
