package httpapi

import (
	"errors"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/coalesce"
)

// Sizes of the response body machinery.
const (
	// bufferLimit is the largest body held in memory to send with an ETag
	// header (and to answer 304). Larger bodies are streamed and carry
	// their ETag as a trailer.
	bufferLimit = 1 << 20
	// flushSize is the chunk size of a streamed body. The body's buffer
	// has already grown past bufferLimit when streaming starts, so larger
	// chunks cost no memory, and fewer writes cost less CPU (a 100,000-rule
	// listing: about 7% of the gateway's CPU against 64 KiB chunks).
	flushSize = 256 << 10
	// streamWriteIdle is how long one chunk of a streamed body may take to
	// write: the deadline moves with progress, so a long list may take as
	// long as it needs while a stalled client is cut off.
	streamWriteIdle = 30 * time.Second
)

// errRestart asks serveBody's caller to produce the body again: a
// conditional request for a body too large to buffer was hashed without
// being sent and its ETag did not match.
var errRestart = errors.New("httpapi: produce the body again")

// bodyWriter produces one JSON response body. The body is built in jw.b;
// up to bufferLimit bytes it is held and sent at the end with an ETag
// header (or answered 304). Beyond that it is streamed in chunks with the
// ETag as an HTTP trailer, or, for a conditional request, only hashed
// ("dry") so that a matching ETag can still be answered 304.
type bodyWriter struct {
	w         http.ResponseWriter
	r         *http.Request
	jw        jsonw
	h         etagHash
	inm       string // If-None-Match, "" when unconditional
	streaming bool
	dry       bool
	capture   bool // a shared rendering: held in jw.b, never sent (serveShared)
	status    int
}

func newBodyWriter(w http.ResponseWriter, r *http.Request, conditional bool) *bodyWriter {
	bw := &bodyWriter{w: w, r: r, status: http.StatusOK}
	if conditional {
		bw.inm = r.Header.Get("If-None-Match")
	}
	bw.jw.b = getBuf()
	return bw
}

// Buffers of bodies and sorted lists are reused: a list answer would
// otherwise allocate its size several times over while growing.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledBuf keeps large buffers out of the pool: they go back to the
// garbage collector and so to the system, while a pool would keep one per
// request of a burst (2,000 concurrent requests of large lists held
// hundreds of MiB). Bodies larger than bufferLimit stream anyway.
const maxPooledBuf = 256 << 10

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= maxPooledBuf {
		b = b[:0]
		bufPool.Put(&b)
	}
}

// progress is called after each item: it starts streaming (or hashing)
// once the body passes bufferLimit and sends full chunks.
func (bw *bodyWriter) progress() error {
	switch {
	case bw.capture:
		if len(bw.jw.b) > bufferLimit {
			return errTooLarge
		}
	case bw.streaming || bw.dry:
		if len(bw.jw.b) >= flushSize {
			return bw.flush()
		}
	case len(bw.jw.b) > bufferLimit:
		if bw.inm != "" {
			bw.dry = true
			return bw.flush()
		}
		bw.streaming = true
		h := bw.w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Trailer", "ETag")
		h.Set("Cache-Control", "private, no-cache")
		setAge(h, bw.r)
		bw.w.WriteHeader(bw.status)
		return bw.flush()
	}
	return nil
}

func (bw *bodyWriter) flush() error {
	bw.h.Write(bw.jw.b)
	if bw.dry {
		bw.jw.b = bw.jw.b[:0]
		return nil
	}
	rc := http.NewResponseController(bw.w)
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteIdle)) // not every writer supports deadlines
	if _, err := bw.w.Write(bw.jw.b); err != nil {
		return err
	}
	bw.jw.b = bw.jw.b[:0]
	return nil
}

// finish sends what is left: the whole body with its ETag, a 304, the last
// chunk and the ETag trailer, or errRestart after a dry run whose ETag did
// not match.
func (bw *bodyWriter) finish() error {
	if bw.capture {
		if len(bw.jw.b) > bufferLimit {
			return errTooLarge
		}
		return nil
	}
	if bw.streaming {
		if err := bw.flush(); err != nil {
			return err
		}
		bw.w.Header().Set("ETag", bw.h.tag())
		return nil
	}
	bw.h.Write(bw.jw.b)
	tag := bw.h.tag()
	h := bw.w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "private, no-cache")
	if bw.inm != "" && etagMatch(bw.inm, tag) {
		bw.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if bw.dry {
		h.Del("ETag")
		return errRestart
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(bw.jw.b)))
	setAge(h, bw.r)
	bw.w.WriteHeader(bw.status)
	if bw.r.Method == http.MethodHead {
		return nil
	}
	_, err := bw.w.Write(bw.jw.b)
	return err
}

// setAge sets the Age header (RFC 9111 5.1) when the answer reused a
// completed NMI exchange (--max-staleness): the age of the oldest one, in
// whole seconds.
func setAge(h http.Header, r *http.Request) {
	if i := coalesce.InfoFrom(r.Context()); i != nil {
		if age, old := i.Age(); old {
			h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
		}
	}
}

// started reports whether the status line has been sent: errors after
// that cannot become a problem answer.
func (bw *bodyWriter) started() bool { return bw.streaming }

// etagHash computes a strong entity tag of a body as it is written: its
// length and CRC-32C (hardware-accelerated, so hashing a streamed list
// costs little). A stale tag that collides needs the same length and
// checksum, a chance of about 2^-32 per change.
type etagHash struct {
	n   uint64
	crc uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (h *etagHash) Write(b []byte) {
	h.n += uint64(len(b))
	h.crc = crc32.Update(h.crc, castagnoli, b)
}

func (h *etagHash) tag() string {
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = strconv.AppendUint(b, h.n, 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(h.crc), 36)
	return string(append(b, '"'))
}

// etagOf is the entity tag of a whole body.
func etagOf(body []byte) string {
	var h etagHash
	h.Write(body)
	return h.tag()
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// 13.1.2): "*" or any listed tag equal to tag, ignoring W/.
func etagMatch(inm, tag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if t == tag {
			return true
		}
	}
	return false
}

// serveBody runs produce with a bodyWriter, again without the condition if
// a dry run asks for it, and answers errors: as problem+json while nothing
// was sent, else by aborting the connection so the client sees a broken
// answer instead of a truncated one.
func (a *api) serveBody(w http.ResponseWriter, r *http.Request, produce func(*bodyWriter) error) {
	bw := newBodyWriter(w, r, true)
	err := produce(bw)
	if errors.Is(err, errRestart) {
		putBuf(bw.jw.b)
		bw = newBodyWriter(w, r, false)
		err = produce(bw)
	}
	defer putBuf(bw.jw.b)
	if err == nil {
		return
	}
	if bw.started() {
		a.log.LogAttrs(r.Context(), levelFor(err), "streamed answer aborted",
			attrRequestID(r), attrError(err))
		panic(http.ErrAbortHandler)
	}
	a.writeError(w, r, err)
}
