package ikedsim

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/nmi"
)

// ReplayMissRc and ReplayMissRsn answer a request that a replayed capture
// holds no answer for: "operation not supported" (the replay cannot
// answer it), with no reason code.
const (
	ReplayMissRc  = nmi.EOPNOTSUPP
	ReplayMissRsn = nmi.RsnNone
)

// Replay answers requests from a capture (internal/capture): a request
// gets the recorded answer of a recorded request with the same type,
// target, input filters and control records, whatever the correlator. A
// request recorded several times gets its answers in the recorded order,
// the last one repeating. The answer's bytes are the recorded ones, with
// only the correlator changed.
type Replay struct {
	version uint16 // of the recorded NMsec_INIT; nmi.Version when none
	answers map[string]*replayAnswers
}

type replayAnswers struct {
	mu   sync.Mutex
	msgs [][]byte
	next int
}

// LoadReplay reads a capture. Requests the capture holds no answer for
// (the connection ended first, or a TERM came instead) are left out; a
// capture without any answered request is an error.
func LoadReplay(r io.Reader) (*Replay, error) {
	cr, err := capture.NewReader(r)
	if err != nil {
		return nil, err
	}
	rp := &Replay{version: nmi.Version, answers: map[string]*replayAnswers{}}
	pending := map[uint64][]byte{}
	for {
		ev, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case capture.Send:
			pending[ev.Conn] = ev.Data
		case capture.Recv:
			var h nmi.Header
			if err := h.UnmarshalBinary(ev.Data); err != nil {
				var fe *nmi.FormatError
				if errors.As(err, &fe) && fe.Fatal {
					continue // not a message this build can frame: nothing to match
				}
			}
			switch h.Type {
			case nmi.MsgInit:
				rp.version = h.Version
				continue
			case nmi.MsgTerm:
				delete(pending, ev.Conn)
				continue
			}
			req, ok := pending[ev.Conn]
			if !ok {
				continue
			}
			delete(pending, ev.Conn)
			key, err := replayKey(req)
			if err != nil {
				return nil, fmt.Errorf("replay: a recorded request: %w", err)
			}
			a := rp.answers[key]
			if a == nil {
				a = &replayAnswers{}
				rp.answers[key] = a
			}
			a.msgs = append(a.msgs, ev.Data)
		case capture.Close:
			delete(pending, ev.Conn)
		}
	}
	if len(rp.answers) == 0 {
		return nil, errors.New("replay: the capture holds no answered request")
	}
	return rp, nil
}

// Requests returns how many distinct requests the replay can answer.
func (rp *Replay) Requests() int { return len(rp.answers) }

// replayKey is the request in canonical form: decoded and encoded again
// with correlator 0.
func replayKey(msg []byte) (string, error) {
	_, req, err := nmi.DecodeRequest(msg, nmi.Version)
	if err != nil {
		return "", err
	}
	return requestKey(&req)
}

func requestKey(req *nmi.Request) (string, error) {
	b, err := nmi.AppendRequest(nil, req, 0)
	return string(b), err
}

// answer returns the recorded answer to req with the correlator of h.
func (rp *Replay) answer(h nmi.Header, req *nmi.Request) ([]byte, bool) {
	key, err := requestKey(req)
	if err != nil {
		return nil, false
	}
	a := rp.answers[key]
	if a == nil {
		return nil, false
	}
	a.mu.Lock()
	msg := a.msgs[a.next]
	if a.next < len(a.msgs)-1 {
		a.next++
	}
	a.mu.Unlock()
	out := append([]byte(nil), msg...)
	nmi.SetCorrelator(out, h.Correlator)
	return out, true
}

// replay answers req from the capture; false ends the connection.
func (c *conn) replay(h nmi.Header, req *nmi.Request) bool {
	msg, ok := c.s.cfg.Replay.answer(h, req)
	if !ok {
		return c.answerError(h, ReplayMissRc, ReplayMissRsn)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(msg)
}
