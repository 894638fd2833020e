package httpapi

import (
	"context"

	"github.com/nmigw/nmigw/internal/nmi"
)

// partialNMI counts the records IKED sent with a section shorter than this
// build's PROPOSED layout (IBM's prefix only): count(section, n) for each
// record that has n of them (cascaded records included).
type partialNMI struct {
	NMI
	count func(section string, n int)
}

func (p partialNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	return p.NMI.Do(ctx, req, func(r nmi.Record) error {
		if s, n := nmi.PartialRecords(req.Type, r); n > 0 {
			p.count(s, n)
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
