package nmi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	const addr = "/var/sock/ipsecmgmt"
	op := func(o Op, err error) error { return &OpError{Op: o, Addr: addr, Err: err} }
	refused := &StatusError{Type: MsgTerm, Rc: EAGAIN, Term: true, Refused: true}
	term := &StatusError{Type: MsgTerm, Rc: 0, Rsn: 0, Term: true}
	status := &StatusError{Type: GetStackInfo, Rc: ENXIO, Rsn: RsnNone}
	retry := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bad := &FormatError{Path: "record[0]", Msg: "bad", Rsn: RsnBadType}
	for _, c := range []struct {
		err    error
		class  Class
		op     Op
		status *StatusError
		retry  time.Time
	}{
		{nil, ClassOK, "", nil, time.Time{}},
		{status, ClassStatus, "", status, time.Time{}},
		{fmt.Errorf("stack TCPIP: %w", status), ClassStatus, "", status, time.Time{}},
		{term, ClassTerm, "", term, time.Time{}},
		{refused, ClassRefused, "", refused, time.Time{}},
		// A dead connection reports why it died.
		{op(OpWrite, errors.Join(ErrClosed, term)), ClassTerm, OpWrite, term, time.Time{}},
		{&UnavailableError{Addr: addr, RetryAt: retry, Last: refused}, ClassUnavailable, "", refused, retry},
		{&UnavailableError{Addr: addr, RetryAt: retry, Last: op(OpDial, syscall.ECONNREFUSED)}, ClassUnavailable, OpDial, nil, retry},
		{op(OpDial, &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}), ClassUnavailable, OpDial, nil, time.Time{}},
		{op(OpInit, io.EOF), ClassUnavailable, OpInit, nil, time.Time{}},
		{ErrClosed, ClassUnavailable, "", nil, time.Time{}},
		{ErrUnavailable, ClassUnavailable, "", nil, time.Time{}},
		{op(OpRead, os.ErrDeadlineExceeded), ClassTimeout, OpRead, nil, time.Time{}},
		{op(OpDial, os.ErrDeadlineExceeded), ClassTimeout, OpDial, nil, time.Time{}},
		{context.DeadlineExceeded, ClassDeadline, "", nil, time.Time{}},
		{fmt.Errorf("stack TCPIP: %w", context.DeadlineExceeded), ClassDeadline, "", nil, time.Time{}},
		{context.Canceled, ClassCanceled, "", nil, time.Time{}},
		{op(OpRead, bad), ClassProtocol, OpRead, nil, time.Time{}},
		{op(OpInit, bad), ClassProtocol, OpInit, nil, time.Time{}},
		{op(OpRead, errors.Join(ErrTooLarge, bad)), ClassProtocol, OpRead, nil, time.Time{}},
		{bad, ClassProtocol, "", nil, time.Time{}},
		{op(OpRead, io.ErrUnexpectedEOF), ClassTransport, OpRead, nil, time.Time{}},
		{op(OpWrite, syscall.EPIPE), ClassTransport, OpWrite, nil, time.Time{}},
		{op(OpWrite, errors.Join(ErrClosed, io.EOF)), ClassTransport, OpWrite, nil, time.Time{}},
		{ErrPoolExhausted, ClassExhausted, "", nil, time.Time{}},
		{errors.New("callback failed"), ClassOther, "", nil, time.Time{}},
	} {
		f := Classify(c.err)
		if f.Class != c.class || f.Op != c.op || f.Status != c.status || !f.RetryAt.Equal(c.retry) {
			t.Errorf("Classify(%v) = %v %q %v %v, want %v %q %v %v", c.err,
				f.Class, f.Op, f.Status, f.RetryAt, c.class, c.op, c.status, c.retry)
		}
	}
}

func TestClassString(t *testing.T) {
	seen := map[string]bool{}
	for c := ClassOK; c <= ClassOther; c++ {
		s := c.String()
		if seen[s] || s == unknown(int64(c)) {
			t.Errorf("class %d: name %q", c, s)
		}
		seen[s] = true
	}
	if s := (ClassOther + 1).String(); s != unknown(int64(ClassOther+1)) {
		t.Errorf("class past the last: %q", s)
	}
}

func TestUnavailableError(t *testing.T) {
	last := &OpError{Op: OpDial, Addr: "/s", Err: syscall.ECONNREFUSED}
	err := error(&UnavailableError{Addr: "/s", RetryAt: time.Now().Add(time.Second), Last: last})
	var oe *OpError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &oe) || oe != last || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("%v does not wrap ErrUnavailable and its last error", err)
	}
	if !errors.Is(&UnavailableError{}, ErrUnavailable) {
		t.Fatal("without a last error")
	}
}
