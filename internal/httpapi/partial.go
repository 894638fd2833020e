package httpapi

import (
	"context"

	"github.com/nmigw/nmigw/internal/nmi"
)

// partialNMI counts the records IKED sent with a section shorter than this
// build's PROPOSED layout (IBM's prefix only): count(system, section, n)
// for each record that has n of them (cascaded records included), system
// the one the exchange went to.
type partialNMI struct {
	NMI
	system string // the default system, outside a stack's routes
	count  func(system, section string, n int)
}

func (p partialNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	system := p.system
	if st := stackFrom(ctx); st != nil {
		system = st.System
	}
	return p.NMI.Do(ctx, req, func(r nmi.Record) error {
		if s, n := nmi.PartialRecords(req.Type, r); n > 0 {
			p.count(system, s, n)
		}
		return fn(r)
	})
}

// partial writes the member "partial": the sections of this object that
// arrived with IBM's prefix only, whose PROPOSED fields are left out.
func (w *jsonw) partial(sections ...string) {
	w.array("partial")
	for _, s := range sections {
		w.strElem(s)
	}
	w.endArray()
}
