package nmi

import (
	"errors"
	"net"
	"strconv"
	"time"
)

// Sentinel errors callers branch on.
var (
	// ErrClosed: the client or pool is closed, or the connection is dead
	// after an earlier error.
	ErrClosed = errors.New("nmi: connection closed")
	// ErrPoolExhausted: no connection became free within PoolConfig.MaxWait.
	ErrPoolExhausted = errors.New("nmi: connection pool exhausted")
	// ErrTooLarge: a response is larger than the client's maximum.
	ErrTooLarge = errors.New("nmi: response larger than the configured maximum")
	// ErrUnavailable: the pool is waiting before it dials IKED again. It
	// is wrapped by *UnavailableError, which tells until when.
	ErrUnavailable = errors.New("nmi: IKED unavailable")
)

// FormatError reports bytes that break the wire contract. Rsn is the NMI
// reason code a server answers with (return code EINVAL); Path names the
// place, for example "record[3].section[1]".
type FormatError struct {
	Path string
	Rsn  ReasonCode
	Msg  string
	// Fatal is set when the byte stream cannot be followed any further: a
	// server sends TERM and closes the connection.
	Fatal bool
	// Err is an underlying cause, if any (for example ErrTextTooLong).
	Err error
}

func (e *FormatError) Error() string {
	s := "nmi: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (" + e.Rsn.String() + ")"
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(path string, rsn ReasonCode, msg string) *FormatError {
	return &FormatError{Path: path, Rsn: rsn, Msg: msg}
}

// at prefixes the path of a *FormatError; other errors pass unchanged.
func at(prefix string, err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		if fe.Path == "" {
			fe.Path = prefix
		} else {
			fe.Path = prefix + "." + fe.Path
		}
	}
	return err
}

func indexPath(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// Op names the operation an *OpError failed in.
type Op string

// Operations of a Client and a Pool.
const (
	OpDial     Op = "dial"         // connecting (the Pool's dial function)
	OpInit     Op = "init"         // waiting for and checking NMsec_INIT
	OpWrite    Op = "write"        // sending a request
	OpRead     Op = "read"         // reading a response
	OpDeadline Op = "set deadline" // applying the context to the connection
)

// OpError is a transport failure: dialing, reading, writing, or bytes from
// the server that break the contract (Err is then a *FormatError).
type OpError struct {
	Op   Op
	Addr string // the endpoint, as PoolConfig.Addr or WithAddr names it
	Err  error
}

func (e *OpError) Error() string {
	s := "nmi " + string(e.Op)
	if e.Addr != "" {
		s += " " + e.Addr
	}
	return s + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the operation ran out of time.
func (e *OpError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// UnavailableError is a Pool's refusal to dial while the endpoint is down
// (its prober has not been answered yet): nothing was sent. It wraps
// ErrUnavailable and the last dial's or probe's error.
type UnavailableError struct {
	Addr    string
	RetryAt time.Time // when the pool probes again
	Last    error     // why the last dial failed
}

func (e *UnavailableError) Error() string {
	s := "nmi: "
	if e.Addr != "" {
		s += e.Addr + " "
	}
	s += "unavailable, next attempt at " + e.RetryAt.UTC().Format("15:04:05.000")
	if e.Last != nil {
		s += ": " + e.Last.Error()
	}
	return s
}

func (e *UnavailableError) Unwrap() []error {
	if e.Last == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Last}
}

// StatusError is what the NMI answered: a response with a nonzero return
// code, or a TERM (Term set; the connection is then closed). Refused is set
// when the TERM came before INIT: the server refused the connection.
type StatusError struct {
	Type    MsgType // the request's type, or MsgTerm
	Rc      ReturnCode
	Rsn     ReasonCode
	Term    bool
	Refused bool
}

func (e *StatusError) Error() string {
	s := "nmi: "
	switch {
	case e.Refused:
		s += "connection refused by server (TERM before INIT)"
	case e.Term:
		s += "connection terminated by server (TERM)"
	default:
		s += e.Type.String() + " failed"
	}
	return s + ": rc " + e.Rc.String() + " (" + strconv.Itoa(int(e.Rc)) + "), rsn " +
		e.Rsn.String() + " (" + strconv.Itoa(int(e.Rsn)) + ")"
}

// Temporary reports whether trying again later may succeed (refused for
// the client limit, or the server shutting down).
func (e *StatusError) Temporary() bool { return e.Term || e.Rc == EAGAIN }

var (
	_ net.Error = (*OpError)(nil)
	_ error     = (*StatusError)(nil)
	_ error     = (*FormatError)(nil)
	_ error     = (*UnavailableError)(nil)
)

// Temporary is part of net.Error; it reports false (deprecated there).
func (e *OpError) Temporary() bool { return false }
