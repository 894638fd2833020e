// Package capture records NMI exchanges in a file and reads them back.
//
// The format (docs/capture.md) is JSON lines: a header line, then one
// event per line: a connection opened, one whole NMI message sent or
// received (base64, with a timestamp), a connection closed. A capture
// holds what IKED answered, which includes addresses and names.
package capture

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Format and Version name the file format in its header line.
const (
	Format  = "nmigw-capture"
	Version = 1
)

// MaxLine is the longest line Reader accepts: the largest response a
// client accepts (64 MiB) in base64, plus room for the fields.
const MaxLine = 64<<20/3*4 + 4096

// Header is the first line of a capture.
type Header struct {
	Format   string    `json:"format"`  // "nmigw-capture"
	Version  int       `json:"version"` // 1
	Created  time.Time `json:"created"`
	Endpoint string    `json:"endpoint,omitempty"` // the NMI endpoint, canonical URL
	Program  string    `json:"program,omitempty"`  // what wrote it: "gateway", "gateway doctor"
	Redacted bool      `json:"redacted,omitempty"` // addresses and names replaced
}

// Kind is what an event records.
type Kind string

const (
	Open  Kind = "open"  // a connection to the NMI was opened
	Send  Kind = "send"  // a whole message the client sent
	Recv  Kind = "recv"  // a whole message the server sent
	Raw   Kind = "raw"   // bytes that do not frame as NMI messages (Dir says which way)
	Close Kind = "close" // the connection ended; Err says why when it failed
)

// Event is one line after the header.
type Event struct {
	Time time.Time `json:"time"`
	Conn uint64    `json:"conn"` // connection number, from 1, unique within the file
	Kind Kind      `json:"kind"`
	Dir  string    `json:"dir,omitempty"`  // raw only: "send" or "recv"
	Type string    `json:"type,omitempty"` // send and recv: the message type's name, for people reading the file
	Data []byte    `json:"data,omitempty"` // send, recv, raw: the bytes, base64
	Err  string    `json:"err,omitempty"`  // close, raw: why
}

// Writer writes a capture. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	c    io.Closer // nil when the caller owns the file
	enc  *json.Encoder
	err  error
	next uint64
	now  func() time.Time
}

// NewWriter writes h (Format, Version and Created filled in when empty)
// to w and returns a writer of events. If w is an io.Closer, Close closes
// it.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &Writer{w: bw, enc: json.NewEncoder(bw), now: time.Now}
	if c, ok := w.(io.Closer); ok {
		cw.c = c
	}
	cw.enc.SetEscapeHTML(false)
	if h.Format == "" {
		h.Format = Format
	}
	if h.Version == 0 {
		h.Version = Version
	}
	if h.Created.IsZero() {
		h.Created = time.Now().UTC()
	}
	if err := cw.enc.Encode(h); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return cw, nil
}

// NextConn returns a new connection number, for callers that write the
// events of a connection themselves.
func (w *Writer) NextConn() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	return w.next
}

// Write writes one event (Time filled in when zero) and flushes it, so
// that a capture cut short by a crash holds every whole event before it.
// After the first failure every write fails with it.
func (w *Writer) Write(ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = w.now().UTC()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Encode(&ev); err != nil {
		w.err = err
		return err
	}
	if err := w.w.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// Err returns the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes and closes the underlying file when the writer owns it.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.w.Flush()
	if w.c != nil {
		err = errors.Join(err, w.c.Close())
	}
	if w.err == nil {
		w.err = errors.New("capture: writer closed")
	}
	return err
}

// Reader reads a capture.
type Reader struct {
	sc     *bufio.Scanner
	line   int
	Header Header
}

// NewReader reads and checks the header line.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	cr := &Reader{sc: sc}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("capture: line 1: %w", err)
		}
		return nil, errors.New("capture: empty file")
	}
	cr.line = 1
	if err := json.Unmarshal(sc.Bytes(), &cr.Header); err != nil {
		return nil, fmt.Errorf("capture: line 1: not a capture header: %w", err)
	}
	if cr.Header.Format != Format {
		return nil, fmt.Errorf("capture: line 1: format %q, want %q", cr.Header.Format, Format)
	}
	if cr.Header.Version != Version {
		return nil, fmt.Errorf("capture: line 1: version %d, this build reads version %d", cr.Header.Version, Version)
	}
	return cr, nil
}

// Next returns the next event, or io.EOF at the end.
func (r *Reader) Next() (Event, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return ev, r.errorf("%w", err)
		}
		if err := ev.check(); err != nil {
			return ev, r.errorf("%w", err)
		}
		return ev, nil
	}
	if err := r.sc.Err(); err != nil {
		return Event{}, r.errorf("%w", err)
	}
	return Event{}, io.EOF
}

func (r *Reader) errorf(format string, a ...any) error {
	return fmt.Errorf("capture: line "+strconv.Itoa(r.line)+": "+format, a...)
}

func (ev *Event) check() error {
	if ev.Conn == 0 {
		return errors.New("event without a connection number")
	}
	switch ev.Kind {
	case Open, Close:
	case Send, Recv:
		if len(ev.Data) == 0 {
			return errors.New(string(ev.Kind) + " event without data")
		}
	case Raw:
		if ev.Dir != string(Send) && ev.Dir != string(Recv) {
			return errors.New("raw event with direction " + strconv.Quote(ev.Dir))
		}
	default:
		return errors.New("unknown event kind " + strconv.Quote(string(ev.Kind)))
	}
	return nil
}

// ReadAll reads every event of a capture.
func ReadAll(r io.Reader) (Header, []Event, error) {
	cr, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	var evs []Event
	for {
		ev, err := cr.Next()
		if err == io.EOF {
			return cr.Header, evs, nil
		}
		if err != nil {
			return cr.Header, evs, err
		}
		evs = append(evs, ev)
	}
}
