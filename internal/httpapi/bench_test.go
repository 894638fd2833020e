package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// recordsNMI answers every request with the same encoded records.
type recordsNMI struct{ recs [][]byte }

func (f *recordsNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	for _, b := range f.recs {
		rec, err := nmi.ParseRecord(b)
		if err != nil {
			return nmi.Header{}, err
		}
		if err := fn(rec); err != nil {
			return nmi.Header{}, err
		}
	}
	return nmi.Header{}, nil
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, recs [][]byte, path string) {
	h, err := NewHandler(Deps{NMI: &recordsNMI{recs}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	}
}

// BenchmarkListIKETunnels is the handler's share of GET .../ike/tunnels
// for 100 IKE tunnels (the NMI side answers from memory).
func BenchmarkListIKETunnels(b *testing.B) {
	f := &fakeNMI{}
	var recs [][]byte
	for i := range 100 {
		r := f.ike("K"+strconv.Itoa(i+1), 1, nil, false)
		enc, err := r.Append(nil)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, enc)
	}
	benchHandler(b, recs, "/v1/stacks/TCPIP/ike/tunnels")
}

// BenchmarkListFilters is the handler's share of a 10,000-rule listing.
func BenchmarkListFilters(b *testing.B) {
	f := &fakeNMI{}
	var recs [][]byte
	for i := range 10000 {
		r := f.filter("RULE"+strconv.Itoa(i), 1, "")
		enc, err := r.Append(nil)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, enc)
	}
	benchHandler(b, recs, "/v1/stacks/TCPIP/filters")
}

// BenchmarkSummary is the fixed cost of a request: routing, validation,
// one small record, the answer.
func BenchmarkSummary(b *testing.B) {
	r := nmi.SummaryRecord{}
	enc, err := r.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	benchHandler(b, [][]byte{enc}, "/v1/stacks/TCPIP/summary")
}
