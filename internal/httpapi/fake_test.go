package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/nmigw/nmigw/internal/nmi"
)

// fakeNMI injects the failures that no IKE daemon on a socket can be made
// to produce on demand: each stack name stands for one error of the
// httpapi->nmi boundary, returned before any record. Behaviour tests run
// against ikedsim (sim_test.go); this is for the error mapping alone.
type fakeNMI struct{ err map[string]error }

const secretText = "secret-internal-detail"

func newFake() *fakeNMI {
	return &fakeNMI{err: map[string]error{
		"NOPE":   &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.ENXIO},
		"DENIED": &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EACCES},
		"BAD":    &nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EINVAL, Rsn: nmi.RsnBadFilter},
		"BUSY":   nmi.ErrPoolExhausted,
		"DOWN":   &nmi.OpError{Op: "dial", Addr: "/x", Err: errors.New("connection refused")},
		"SLOW":   context.DeadlineExceeded,
		"BROKEN": errors.New(secretText),
		"TERM":   &nmi.StatusError{Type: nmi.MsgTerm, Term: true},
	}}
}

func (f *fakeNMI) Do(ctx context.Context, req *nmi.Request, _ func(nmi.Record) error) (nmi.Header, error) {
	h := nmi.Header{Version: 1, Type: req.Type}
	if err := ctx.Err(); err != nil {
		return h, err
	}
	if err := f.err[req.Target]; err != nil {
		return h, err
	}
	return h, fmt.Errorf("fake NMI: no failure named %q", req.Target)
}
