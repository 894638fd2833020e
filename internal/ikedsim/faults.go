package ikedsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// Fault is a misbehaviour the server shows when answering a request, for
// testing clients. Several may be combined; they act in this order: Delay,
// then NoReply, TermClose, Rc, Oversize, Truncate, Stall, WrongCorrelator;
// Pace applies to what is sent.
type Fault struct {
	Delay           time.Duration  // wait before answering
	NoReply         bool           // read the request and never answer it (the connection stays open)
	TermClose       bool           // answer with TERM carrying Rc/Rsn instead, then close
	Rc              nmi.ReturnCode // answer with this return code (and Rsn) and no records
	Rsn             nmi.ReasonCode
	Oversize        bool // a header whose NMsMMsgSize is far larger than what follows, then close
	Truncate        bool // send only the first half of the answer, then close
	Stall           bool // send only the first half of the answer, then nothing (the connection stays open)
	WrongCorrelator bool // answer with the correlator plus one
	// Pace sends the answer slowly, as a slow link or a busy daemon
	// would: in pieces of PaceBytes (default 64 KiB), each flushed,
	// waiting Pace before every piece after the first.
	Pace      time.Duration
	PaceBytes int
	Times     int // how many requests it applies to; 0 = every one
	// Mutate rewrites the whole answer before it is sent: a layout that
	// differs from the contract (a shifted field, another eyecatcher, a
	// longer section), for testing field checks. Set from Go only.
	Mutate func(msg []byte) []byte
}

// Faults holds the faults per request type, the "TERM at random" fault
// and the hang of the whole daemon. It is safe for concurrent use and may
// be changed while the server runs.
type Faults struct {
	mu       sync.Mutex
	m        map[nmi.MsgType]*Fault
	termRate float64       // share of requests answered with TERM; 0 = none
	rnd      *rand.Rand    // draws for termRate, from its seed
	hang     chan struct{} // non-nil while hung; closed when the hang ends
	// A hang the command line schedules, counted from Serve.
	hangAfter, hangFor time.Duration
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

// Clear removes every fault, TERM at random and a hang included.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	clear(fs.m)
	fs.termRate, fs.rnd = 0, nil
	fs.resumeLocked()
}

// SetHang hangs the whole daemon (on) or ends the hang, as an IKE daemon
// stopped and continued would (SIGSTOP, SIGCONT): while hung, requests
// are read and left unanswered and new clients get no INIT; when the hang
// ends, every waiting request is answered and every waiting client gets
// its INIT. Clients the kernel queued meanwhile are accepted as usual.
func (fs *Faults) SetHang(on bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	switch {
	case on && fs.hang == nil:
		fs.hang = make(chan struct{})
	case !on:
		fs.resumeLocked()
	}
}

func (fs *Faults) resumeLocked() {
	if fs.hang != nil {
		close(fs.hang)
		fs.hang = nil
	}
}

// hung returns a channel closed when the hang ends, or nil when the
// daemon is not hung.
func (fs *Faults) hung() <-chan struct{} {
	if fs == nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.hang == nil {
		return nil
	}
	return fs.hang
}

// waitHang waits while the daemon is hung; false when done or gone (nil:
// never) closed first.
func (fs *Faults) waitHang(done, gone <-chan struct{}) bool {
	ch := fs.hung()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-done:
		return false
	case <-gone:
		return false
	}
}

// schedule starts the hang the command line asked for, hangAfter from
// now for hangFor; stop ends the wait early (the server shut down).
func (fs *Faults) schedule(stop <-chan struct{}) {
	if fs == nil {
		return
	}
	fs.mu.Lock()
	after, dur := fs.hangAfter, fs.hangFor
	fs.mu.Unlock()
	if dur <= 0 {
		return
	}
	go func() {
		for _, step := range []struct {
			wait time.Duration
			on   bool
		}{{after, true}, {dur, false}} {
			t := time.NewTimer(step.wait)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return
			}
			fs.SetHang(step.on)
		}
	}()
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

// ParseFaults reads the faults of the command line: groups separated by
// ";", each a list of key=value. The empty string gives no faults.
//
//	term-rate=R,seed=N   end a share R (0-1) of exchanges with TERM, then
//	                     close (see SetTermRate; seed defaults to 1)
//	hang-after=D,hang-for=D
//	                     hang the whole daemon D after start, for D (see
//	                     SetHang; hang-after defaults to 0)
//	type=T,...           a Fault for request type T (its IBM name such as
//	                     NMsec_GET_IKETUN, or its number; "any" for every
//	                     type without a fault of its own) with the keys
//	                     delay=D, no-reply=true, term-close=true, rc=C,
//	                     rsn=N, oversize=true, truncate=true, stall=true,
//	                     wrong-correlator=true, pace=D, pace-bytes=N,
//	                     times=N; rc is a number or an errno name such as
//	                     EAGAIN
//
// For example "term-rate=0.01,seed=7;type=NMsec_GET_IKETUN,delay=2s".
func ParseFaults(spec string) (*Faults, error) {
	fs := NewFaults()
	for _, group := range strings.Split(spec, ";") {
		if strings.TrimSpace(group) == "" {
			continue
		}
		var err error
		if strings.Contains(group, "type=") {
			err = fs.parseTypeFault(group)
		} else {
			err = fs.parseDaemonFaults(group)
		}
		if err != nil {
			return nil, err
		}
	}
	return fs, nil
}

// parseDaemonFaults reads a group of faults of the whole daemon:
// term-rate, seed, hang-after, hang-for.
func (fs *Faults) parseDaemonFaults(group string) error {
	rate, seed := 0.0, uint64(1)
	err := keyValues("faults", group, func(k, v string) error {
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
		case "hang-after", "hang-for":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("faults: %s: %q is not a duration", k, v)
			}
			if k == "hang-after" {
				fs.hangAfter = d
			} else {
				fs.hangFor = d
			}
		default:
			return fmt.Errorf("faults: unknown key %q (term-rate, seed, hang-after, hang-for, or type= and its keys)", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if fs.hangAfter > 0 && fs.hangFor == 0 {
		return fmt.Errorf("faults: hang-after without hang-for")
	}
	if rate == 0 {
		return nil
	}
	return fs.SetTermRate(rate, seed)
}

// parseTypeFault reads a group "type=T,key=value,..." and sets its Fault.
func (fs *Faults) parseTypeFault(group string) error {
	var (
		f       Fault
		t       nmi.MsgType
		hasType bool
	)
	err := keyValues("faults", group, func(k, v string) error {
		var err error
		flag := func(b *bool) error {
			if *b, err = strconv.ParseBool(v); err != nil {
				return fmt.Errorf("faults: %s: %q is not true or false", k, v)
			}
			return nil
		}
		switch k {
		case "type":
			if hasType {
				return fmt.Errorf("faults: %q: type= given twice", group)
			}
			t, err = parseMsgType(v)
			hasType = err == nil
			return err
		case "delay", "pace":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("faults: %s: %q is not a duration", k, v)
			}
			if k == "delay" {
				f.Delay = d
			} else {
				f.Pace = d
			}
		case "pace-bytes":
			if f.PaceBytes, err = strconv.Atoi(v); err != nil || f.PaceBytes < 1 {
				return fmt.Errorf("faults: pace-bytes: %q is not a positive count", v)
			}
		case "no-reply":
			return flag(&f.NoReply)
		case "term-close":
			return flag(&f.TermClose)
		case "oversize":
			return flag(&f.Oversize)
		case "truncate":
			return flag(&f.Truncate)
		case "stall":
			return flag(&f.Stall)
		case "wrong-correlator":
			return flag(&f.WrongCorrelator)
		case "rc":
			f.Rc, err = parseReturnCode(v)
			return err
		case "rsn":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return fmt.Errorf("faults: rsn: %q is not a reason code", v)
			}
			f.Rsn = nmi.ReasonCode(n)
		case "times":
			if f.Times, err = strconv.Atoi(v); err != nil || f.Times < 0 {
				return fmt.Errorf("faults: times: %q is not a count", v)
			}
		default:
			return fmt.Errorf("faults: unknown key %q of a type= fault (delay, no-reply, term-close, rc, rsn, oversize, truncate, stall, wrong-correlator, pace, pace-bytes, times)", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !hasType {
		return fmt.Errorf("faults: %q: no type=", group)
	}
	fs.Set(t, f)
	return nil
}

// parseMsgType reads a request type: "any", its IBM name (with or without
// "NMsec_", any case) or its number.
func parseMsgType(v string) (nmi.MsgType, error) {
	if strings.EqualFold(v, "any") {
		return AnyRequest, nil
	}
	if n, err := strconv.ParseUint(v, 10, 16); err == nil && nmi.MsgType(n).IsRequest() {
		return nmi.MsgType(n), nil
	}
	for t := nmi.GetStackInfo; t <= nmi.LoadPolicy; t++ {
		name := t.String()
		if t.IsRequest() && (strings.EqualFold(v, name) || strings.EqualFold(v, strings.TrimPrefix(name, "NMsec_"))) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("faults: type: %q is no request type (an IBM name such as NMsec_GET_IKETUN, its number, or any)", v)
}

// parseReturnCode reads a return code: a number or an errno name.
func parseReturnCode(v string) (nmi.ReturnCode, error) {
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
		return nmi.ReturnCode(n), nil
	}
	for rc := nmi.ReturnCode(1); rc < 1<<12; rc++ {
		if strings.EqualFold(v, rc.String()) {
			return rc, nil
		}
	}
	return 0, fmt.Errorf("faults: rc: %q is no return code (a positive number or an errno name such as EAGAIN)", v)
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
