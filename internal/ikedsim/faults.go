package ikedsim

import (
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// Fault is a misbehaviour the server shows when answering a request, for
// testing clients. Several may be combined; they act in this order: Delay,
// then NoReply, TermClose, Rc, Oversize, Truncate, WrongCorrelator.
type Fault struct {
	Delay           time.Duration  // wait before answering
	NoReply         bool           // read the request and never answer it (the connection stays open)
	TermClose       bool           // answer with TERM carrying Rc/Rsn instead, then close
	Rc              nmi.ReturnCode // answer with this return code (and Rsn) and no records
	Rsn             nmi.ReasonCode
	Oversize        bool // a header whose NMsMMsgSize is far larger than what follows, then close
	Truncate        bool // send only the first half of the answer, then close
	WrongCorrelator bool // answer with the correlator plus one
	Times           int  // how many requests it applies to; 0 = every one
}

// Faults holds the faults per request type. It is safe for concurrent
// use and may be changed while the server runs.
type Faults struct {
	mu sync.Mutex
	m  map[nmi.MsgType]*Fault
}

// AnyRequest, as the type given to Faults.Set, applies a fault to every
// request type that has none of its own.
const AnyRequest nmi.MsgType = 0

// NewFaults returns an empty set of faults.
func NewFaults() *Faults { return &Faults{m: map[nmi.MsgType]*Fault{}} }

// Set installs f for request type t (AnyRequest: all).
func (fs *Faults) Set(t nmi.MsgType, f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.m[t] = &f
}

// Clear removes every fault.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	clear(fs.m)
}

// take returns the fault that applies to one request of type t and counts
// it.
func (fs *Faults) take(t nmi.MsgType) (Fault, bool) {
	if fs == nil {
		return Fault{}, false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.m[t]
	key := t
	if !ok {
		f, ok = fs.m[AnyRequest]
		key = AnyRequest
	}
	if !ok {
		return Fault{}, false
	}
	out := *f
	if f.Times > 0 {
		if f.Times--; f.Times == 0 {
			delete(fs.m, key)
		}
	}
	return out, true
}
