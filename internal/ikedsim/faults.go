package ikedsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
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
	// Mutate rewrites the whole answer before it is sent: a layout that
	// differs from the contract (a shifted field, another eyecatcher, a
	// longer section), for testing field checks. Set from Go only.
	Mutate func(msg []byte) []byte
}

// Faults holds the faults per request type, and the "TERM at random"
// fault. It is safe for concurrent use and may be changed while the server
// runs.
type Faults struct {
	mu       sync.Mutex
	m        map[nmi.MsgType]*Fault
	termRate float64    // share of requests answered with TERM; 0 = none
	rnd      *rand.Rand // draws for termRate, from its seed
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

// Clear removes every fault, TERM at random included.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	clear(fs.m)
	fs.termRate, fs.rnd = 0, nil
}

// SetTermRate makes the server end a share rate (0 to 1) of exchanges as
// an IKE daemon going away at random would: instead of the answer, TERM
// with return and reason code 0, then close. Every request that would be
// answered draws once, before the faults set per request type, from a
// generator started from seed: the same seed and the same sequence of
// requests (one client, or clients taking turns) give the same choices.
// Rate 0 turns the fault off.
func (fs *Faults) SetTermRate(rate float64, seed uint64) error {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return fmt.Errorf("term rate %v: want 0 to 1", rate)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.termRate, fs.rnd = rate, rand.New(rand.NewPCG(seed, termStream))
	return nil
}

// termStream is the second word of the generator's state; the seed is the
// first.
const termStream = 0x5445524d // "TERM"

// termNow draws whether this exchange ends with TERM at random.
func (fs *Faults) termNow() bool {
	if fs == nil {
		return false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.termRate > 0 && fs.rnd.Float64() < fs.termRate
}

// ParseFaults reads the faults of the command line, a list of key=value:
// "term-rate=0.01,seed=7" answers about 1 exchange in 100 with TERM and
// closes the connection (see SetTermRate; seed defaults to 1). The empty
// string gives no faults.
func ParseFaults(spec string) (*Faults, error) {
	rate, seed := 0.0, uint64(1)
	err := keyValues("faults", spec, func(k, v string) error {
		var err error
		switch k {
		case "term-rate":
			rate, err = strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(rate) || rate < 0 || rate > 1 {
				return fmt.Errorf("faults: term-rate: %q is not a number from 0 to 1", v)
			}
		case "seed":
			if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
				return fmt.Errorf("faults: seed: %q is not a number", v)
			}
		default:
			return fmt.Errorf("faults: unknown key %q (term-rate, seed)", k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fs := NewFaults()
	if err := fs.SetTermRate(rate, seed); err != nil {
		return nil, err
	}
	return fs, nil
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

// ShortenSection returns a Mutate function that cuts section i of every
// top-level record of an answer to n bytes (if longer), adjusting the
// descriptors, record lengths and message size: an IKED whose sections are
// shorter than this build's layout, for example one that sends only IBM's
// published prefix. Answers it cannot parse are passed on unchanged.
func ShortenSection(i, n int) func(msg []byte) []byte {
	return func(msg []byte) []byte {
		var h nmi.Header
		if h.UnmarshalBinary(msg) != nil || h.RecCount == 0 {
			return msg
		}
		out, _ := h.AppendBinary(nil)
		d := nmi.NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
		for d.Next() {
			r := d.Record()
			secs := make([][]byte, r.NumSections())
			for j := range secs {
				secs[j] = r.Section(j)
			}
			if i < len(secs) && len(secs[i]) > n {
				secs[i] = secs[i][:n]
			}
			var casc []byte
			count := -1
			if cd, ok := r.Cascade(); ok {
				count = cd.Count()
				for cd.Next() {
					casc = append(casc, cd.Record().Bytes()...)
				}
			}
			var err error
			if out, err = nmi.AppendRecordCascade(out, casc, count, secs...); err != nil {
				return msg
			}
		}
		if d.Err() != nil {
			return msg
		}
		h.MsgSize = uint32(len(out))
		hb, _ := h.AppendBinary(nil)
		copy(out, hb)
		return out
	}
}
