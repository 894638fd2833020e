package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/ikedsim"
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
	h, err := NewHandler(Deps{NMI: &recordsNMI{recs}, Authorizer: authz.AllowAll})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	}
	reportCPU(b, cpu0, ok)
}

// reportCPU reports the process's CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration, ok bool) {
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkListFilters is the handler's share of a 10,000-rule listing.
func BenchmarkListFilters(b *testing.B) {
	recs := simRecords(b, ikedsim.GenSpec{Stacks: 1, Filters: 10000, Seed: 1}, nmi.GetIPFltPolicy)
	if len(recs) < 10000 {
		b.Fatalf("%d filter records, want at least 10000", len(recs))
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

// simIKERecords are the IKE tunnel records of a generated stack of 100
// tunnels (with their cascaded phase 2 tunnels) as the simulator encodes
// them: the payload that cmd/nmigw-bench measures.
func simIKERecords(b *testing.B) [][]byte {
	recs := simRecords(b, ikedsim.GenSpec{Stacks: 1, Tunnels: 100, Seed: 1}, nmi.GetIKETun)
	if len(recs) != 100 {
		b.Fatalf("%d IKE tunnel records, want 100", len(recs))
	}
	return recs
}

// simRecords are the records of the answer to a request of type typ on
// stack TCPIP of the generated data set spec, as the simulator sends them.
func simRecords(b testing.TB, spec ikedsim.GenSpec, typ nmi.MsgType) [][]byte {
	ds, err := ikedsim.Generate(spec)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{Data: ds})
	if err != nil {
		b.Fatal(err)
	}
	socket := filepath.Join(b.TempDir(), "ipsecmgmt")
	ln, err := ikedsim.Listen(socket, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(socket), Addr: socket, Size: 1})
	defer pool.Close()
	var recs [][]byte
	_, err = pool.Do(b.Context(), &nmi.Request{Type: typ, Target: "TCPIP"}, func(r nmi.Record) error {
		recs = append(recs, bytes.Clone(r.Bytes()))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

// BenchmarkIKETunnelList is GET .../ike/tunnels for the 100 tunnels of a
// generated stack (the NMI side answers from memory): the handler alone,
// and over HTTP on a loopback socket with the client reading every byte.
func BenchmarkIKETunnelList(b *testing.B) {
	recs := simIKERecords(b)
	const path = "/v1/stacks/TCPIP/ike/tunnels"
	b.Run("handler", func(b *testing.B) { benchHandler(b, recs, path) })
	b.Run("http", func(b *testing.B) {
		h, err := NewHandler(Deps{NMI: &recordsNMI{recs}, Authorizer: authz.AllowAll})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				b.Fatal(err)
			}
			n, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("%v %s", err, resp.Status)
			}
		}
		b.SetBytes(n)
	})
}

// BenchmarkViewIKE is the JSON view alone: 100 decoded IKE tunnel records
// of a generated stack written into one buffer.
func BenchmarkViewIKE(b *testing.B) {
	raws := simIKERecords(b)
	recs := make([]nmi.IKETunnelRecord, len(raws))
	for i, raw := range raws {
		r, err := nmi.ParseRecord(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := recs[i].Decode(r); err != nil {
			b.Fatal(err)
		}
	}
	w := jsonw{b: make([]byte, 0, 256<<10)}
	b.ReportAllocs()
	for b.Loop() {
		w.b = w.b[:0]
		for i := range recs {
			w.beginObject()
			viewIKE(&w, &recs[i], true)
			w.endObject()
		}
	}
	b.SetBytes(int64(len(w.b)))
}

// BenchmarkFilterList is GET .../filters?set=policy for the 100,000 rules
// of a generated stack (the NMI side answers from memory), the listing
// cmd/nmigw-bench measures: the handler's share, with the answer streamed
// to a writer that discards it. "decode" is the NMI decoding of the same
// records alone, the direct client's share.
func BenchmarkFilterList(b *testing.B) {
	recs := simRecords(b, ikedsim.GenSpec{Stacks: 1, Filters: 100000, Seed: 1}, nmi.GetIPFltPolicy)
	if len(recs) < 100000 {
		b.Fatalf("%d filter records, want at least 100000", len(recs))
	}
	b.Run("handler", func(b *testing.B) { benchHandler(b, recs, "/v1/stacks/TCPIP/filters?set=policy") })
	b.Run("decode", func(b *testing.B) {
		var rec nmi.FilterRecord
		b.ReportAllocs()
		cpu0, ok := processCPU()
		for b.Loop() {
			for _, raw := range recs {
				r, err := nmi.ParseRecord(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := rec.Decode(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportCPU(b, cpu0, ok)
	})
}
