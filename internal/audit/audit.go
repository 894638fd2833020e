// Package audit records the gateway's control requests: one JSON line per
// record, appended to a file (synced to disk after each line) or written
// to standard output. A record that cannot be written is an error for the
// caller, which must then refuse the action: no control goes unaudited.
// A file can be rotated by renaming it and then reopening the log
// (Reopen).
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Stages of a control request. An allowed request is recorded twice: its
// intent before the NMI request is sent (so that nothing is done unless
// it is on record) and its outcome before the HTTP answer. A request that
// never reaches the NMI (denied, invalid) has only the outcome record.
const (
	StageRequested = "requested"
	StageCompleted = "completed"
)

// Outcomes of a control request (Record.Outcome).
const (
	// OutcomeDenied: SAF denied the request; nothing was sent to the NMI.
	OutcomeDenied = "denied"
	// OutcomeUndecided: the authorizer could not decide (its backend out
	// of reach); the request was refused with 503 and nothing was sent.
	OutcomeUndecided = "undecided"
	// OutcomeInvalid: the request was refused before the NMI request
	// (bad input); nothing was sent.
	OutcomeInvalid = "invalid"
	// OutcomeStarted: the NMI accepted the request (return code 0); the
	// per-tunnel statuses say what it started.
	OutcomeStarted = "started"
	// OutcomeRejected: the NMI answered a nonzero return code.
	OutcomeRejected = "rejected"
	// OutcomeFailed: the NMI did not answer (unreachable, timeout, bad
	// answer); whether the action started is unknown.
	OutcomeFailed = "failed"
)

// Target is one object a control request names.
type Target struct {
	Name     string `json:"name,omitempty"`
	TunnelID string `json:"tunnelId,omitempty"`
}

// Result is the NMI's status for one object (NMsTunStatus).
type Result struct {
	Name     string `json:"name,omitempty"`
	TunnelID string `json:"tunnelId,omitempty"`
	Status   string `json:"status"`
}

// Record is one audit line. Credentials (tokens, headers) never appear in
// it.
type Record struct {
	Time  time.Time `json:"time"`
	Stage string    `json:"stage"`
	// RequestID is the gateway's own ID of the request (its X-Request-ID
	// answer); ClientRequestID is the X-Request-ID the caller sent, if
	// any, which the caller chooses and so identifies nothing by itself.
	RequestID       string `json:"requestId"`
	ClientRequestID string `json:"clientRequestId,omitempty"`
	// Who: the principal's user ID, its groups (configured and from the
	// identity), how it authenticated and where the request came from.
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	Authentication string   `json:"authentication,omitempty"`
	RemoteAddr     string   `json:"remoteAddr,omitempty"`
	// What: the HTTP request, its REST operation, the system and the
	// stack, the NMI request and its targets (All: no records, every
	// eligible object).
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	Operation  string   `json:"operation"`
	System     string   `json:"system,omitempty"`
	Stack      string   `json:"stack"`
	NMIRequest string   `json:"nmiRequest"`
	Targets    []Target `json:"targets,omitempty"`
	All        bool     `json:"all,omitempty"`
	FilterSet  string   `json:"filterSet,omitempty"`
	// The SAF decision: the resource checked, whether access was
	// granted, the deciding profile ("" = none covers the resource) and
	// why.
	Resource string `json:"resource"`
	Allowed  bool   `json:"allowed"`
	Profile  string `json:"profile,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// The outcome (StageCompleted only): Outcome* constant, the NMI's
	// return and reason codes when it answered, the per-tunnel statuses,
	// whether ?wait saw the target state, and the error text otherwise.
	Outcome       string   `json:"outcome,omitempty"`
	NMIReturnCode *int32   `json:"nmiReturnCode,omitempty"`
	NMIReturnName string   `json:"nmiReturnCodeName,omitempty"`
	NMIReasonCode *int32   `json:"nmiReasonCode,omitempty"`
	NMIReasonName string   `json:"nmiReasonCodeName,omitempty"`
	Results       []Result `json:"results,omitempty"`
	Reached       *bool    `json:"reached,omitempty"`
	HTTPStatus    int      `json:"httpStatus,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// Sink receives audit records. Write returns only once the record is
// durable (or fails).
type Sink interface {
	Write(rec *Record) error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("audit: log closed")

// Log is a Sink writing JSON lines to a file or a stream. It is safe for
// concurrent use: lines never interleave.
type Log struct {
	path string // the file's name (Open); "" for a stream

	mu     sync.Mutex
	w      io.Writer
	sync   func() error // nil: nothing to sync
	stream bool         // fsync may fail harmlessly (pipe, terminal)
	file   *os.File     // the file written to (Open); nil for a stream
	broken bool         // the last write failed part-way: start the next on a new line
	closed bool
	buf    []byte
}

// openFile opens the audit file path for appending, creating it (mode
// 0600) if missing.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// Open opens the audit log named by path: "-" is standard output,
// anything else a file opened for appending (created with mode 0600 if
// missing), each line synced to disk before Write returns.
func Open(path string) (*Log, error) {
	if path == "" {
		return nil, errors.New("audit: empty log path")
	}
	if path == "-" {
		return New(os.Stdout), nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{path: path, w: f, sync: f.Sync, file: f}, nil
}

// New returns a Log writing to the stream w (standard output, a pipe, a
// buffer). If w has a Sync method (an *os.File) each line is synced; a
// stream that cannot be synced (a pipe, a terminal) is not an error. New
// never closes w.
func New(w io.Writer) *Log {
	l := &Log{w: w, stream: true}
	if s, ok := w.(interface{ Sync() error }); ok {
		l.sync = s.Sync
	}
	return l
}

// Write appends rec as one line. A record without a time gets the current
// time.
func (l *Log) Write(rec *Record) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.buf = l.buf[:0]
	if l.broken {
		l.buf = append(l.buf, '\n')
	}
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	n, err := l.w.Write(l.buf)
	if err == nil && n < len(l.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// A failure that wrote nothing leaves an earlier torn line torn.
		l.broken = l.broken || n > 0
		return fmt.Errorf("audit: write: %w", err)
	}
	l.broken = false
	if l.sync != nil {
		if err := l.sync(); err != nil && !(l.stream && unsyncable(err)) {
			return fmt.Errorf("audit: sync: %w", err)
		}
	}
	return nil
}

// unsyncable is the error of fsync on a pipe, socket or terminal: the line
// was written and there is nothing to sync.
func unsyncable(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}

// Reopen opens the log's file again by its name and writes the next
// records there, then closes the file it wrote to: after a log rotator
// renamed the file, new records go to a new file of the old name (created
// with mode 0600) and none is lost or split between the two. A write in
// progress finishes in the old file first. If the file cannot be opened,
// the log goes on writing to the file it has and Reopen returns the error.
// A stream (New, Open("-")) has nothing to reopen: Reopen does nothing.
func (l *Log) Reopen() error {
	if l.path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	f, err := openFile(l.path)
	if err != nil {
		return fmt.Errorf("audit: reopen: %w", err)
	}
	old := l.file
	// A line torn by a failed write stays torn only if the name still
	// leads to the same file; a new file starts clean.
	if l.broken && !sameFile(old, f) {
		l.broken = false
	}
	l.w, l.sync, l.file = f, f.Sync, f
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: reopen: close the previous file: %w", err)
	}
	return nil
}

// Path is the name of the log's file, or "" for a stream.
func (l *Log) Path() string { return l.path }

// sameFile reports whether a and b are the same file; when that cannot be
// told, it reports true.
func sameFile(a, b *os.File) bool {
	ai, err := a.Stat()
	if err != nil {
		return true
	}
	bi, err := b.Stat()
	if err != nil {
		return true
	}
	return os.SameFile(ai, bi)
}

// Close closes a file opened by Open (never a stream). Later writes fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}
