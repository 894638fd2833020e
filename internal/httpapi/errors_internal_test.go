package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// The gateway's own errors map to problems without NMI codes; only an
// answer of the NMI shows them.
func TestOwnErrorsHaveNoNMICodes(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		codes  bool
	}{
		{&unknownStackError{Stack: "X"}, http.StatusNotFound, false},
		{fmt.Errorf("polling: %w", &unknownStackError{Stack: "X"}), http.StatusNotFound, false},
		{&badAnswerError{Msg: "2 records"}, http.StatusBadGateway, false},
		{&paramError{Name: "tunnelId", Reason: "empty"}, http.StatusBadRequest, false},
		{&notFoundError{What: "IKE tunnel K9"}, http.StatusNotFound, false},
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.ENXIO}, http.StatusNotFound, true},
		{&nmi.StatusError{Type: nmi.GetSummary, Rc: nmi.EINVAL, Rsn: nmi.RsnBadFilter}, http.StatusBadGateway, true},
	} {
		p := classify(c.err)
		b := problemJSON(p, "/x", "")
		if p.Status != c.status || bytes.Contains(b, []byte(`"nmiReturnCode"`)) != c.codes {
			t.Errorf("%v: %d %s, want %d with NMI codes %v", c.err, p.Status, b, c.status, c.codes)
		}
	}
}
