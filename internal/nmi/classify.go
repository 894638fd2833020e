package nmi

import (
	"context"
	"errors"
	"time"
)

// Class is the kind of failure an error of a Client or a Pool reports.
// Callers that map errors to answers (HTTP problems, readiness causes,
// metric labels) switch on it instead of unwrapping errors themselves.
type Class uint8

const (
	// ClassOK: no error.
	ClassOK Class = iota
	// ClassStatus: the NMI answered with a nonzero return code
	// (Failure.Status holds the codes); the connection stays usable.
	ClassStatus
	// ClassTerm: the NMI ended an established connection with TERM
	// (Failure.Status holds the codes it carried).
	ClassTerm
	// ClassRefused: the NMI refused the client, a TERM instead of INIT
	// (Failure.Status; return code EAGAIN: too many clients).
	ClassRefused
	// ClassUnavailable: the endpoint could not be reached: the dial
	// failed, the connection closed before INIT, the client or pool is
	// closed, or the pool waits before dialing again (Failure.RetryAt).
	ClassUnavailable
	// ClassTimeout: the endpoint did not answer in time, by a timeout of
	// the transport (not the caller's context).
	ClassTimeout
	// ClassDeadline: the caller's context ran out.
	ClassDeadline
	// ClassCanceled: the caller's context was canceled.
	ClassCanceled
	// ClassProtocol: bytes from the endpoint break the wire contract (a
	// *FormatError, or ErrTooLarge).
	ClassProtocol
	// ClassTransport: an established connection failed while reading or
	// writing.
	ClassTransport
	// ClassExhausted: no pooled connection became free in time.
	ClassExhausted
	// ClassOther: not a failure of the NMI, for example the error a
	// record callback returned.
	ClassOther
)

func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassStatus:
		return "status"
	case ClassTerm:
		return "term"
	case ClassRefused:
		return "refused"
	case ClassUnavailable:
		return "unavailable"
	case ClassTimeout:
		return "timeout"
	case ClassDeadline:
		return "deadline"
	case ClassCanceled:
		return "canceled"
	case ClassProtocol:
		return "protocol"
	case ClassTransport:
		return "transport"
	case ClassExhausted:
		return "exhausted"
	case ClassOther:
		return "other"
	}
	return unknown(int64(c))
}

// Failure is what Classify tells about an error.
type Failure struct {
	Class Class
	// Op is the operation of the *OpError in the error, if any.
	Op Op
	// Status is the NMI's answer for ClassStatus, ClassTerm and
	// ClassRefused, and for ClassUnavailable the TERM that refused the
	// last dial, if one did.
	Status *StatusError
	// RetryAt is when the pool dials again, for ClassUnavailable while it
	// waits after failed dials (an *UnavailableError); zero otherwise.
	RetryAt time.Time
}

// Classify tells what kind of failure err reports. It is the one place
// that looks into the errors of Client and Pool: an *UnavailableError
// first (the pool did not try; its last dial's error is in Last), then
// the caller's context, an exhausted pool, the NMI's answer, a timeout of
// the transport, broken bytes, and a failed connection.
func Classify(err error) Failure {
	if err == nil {
		return Failure{Class: ClassOK}
	}
	var (
		f  Failure
		oe *OpError
		ue *UnavailableError
		se *StatusError
		fe *FormatError
	)
	if errors.As(err, &oe) {
		f.Op = oe.Op
	}
	switch {
	case errors.As(err, &ue):
		f.Class, f.RetryAt = ClassUnavailable, ue.RetryAt
		if errors.As(ue.Last, &se) {
			f.Status = se
		}
	case errors.Is(err, context.Canceled):
		f.Class = ClassCanceled
	case errors.Is(err, context.DeadlineExceeded):
		f.Class = ClassDeadline
	case errors.Is(err, ErrPoolExhausted):
		f.Class = ClassExhausted
	case errors.As(err, &se):
		f.Status = se
		switch {
		case se.Refused:
			f.Class = ClassRefused
		case se.Term:
			f.Class = ClassTerm
		default:
			f.Class = ClassStatus
		}
	case oe != nil && oe.Timeout():
		f.Class = ClassTimeout
	case errors.Is(err, ErrTooLarge), errors.As(err, &fe):
		f.Class = ClassProtocol
	case oe != nil && (oe.Op == OpDial || oe.Op == OpInit):
		f.Class = ClassUnavailable
	case oe != nil:
		f.Class = ClassTransport
	case errors.Is(err, ErrClosed), errors.Is(err, ErrUnavailable):
		f.Class = ClassUnavailable
	default:
		f.Class = ClassOther
	}
	return f
}
