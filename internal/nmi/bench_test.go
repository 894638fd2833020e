package nmi

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchRecords decodes n records per iteration and reports ns, bytes and allocations per record, measured
// over the benchmark loop.
func benchRecords(b *testing.B, records []byte, n int, decode func(Record) error) {
	b.SetBytes(int64(len(records)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	iters := 0
	for b.Loop() {
		d := NewRecordDecoder(records, n)
		for d.Next() {
			if err := decode(d.Record()); err != nil {
				b.Fatal(err)
			}
		}
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
		iters++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	total := float64(iters * n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/total, "ns/record")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/record")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/record")
}

// BenchmarkDecodeFilters decodes the records of a 100,000-filter response
// into one reused FilterRecord.
func BenchmarkDecodeFilters(b *testing.B) {
	const n = 100_000
	records := filterRecords(b, n)
	var r FilterRecord
	benchRecords(b, records, n, r.Decode)
}

// BenchmarkDecodeIKETunnels decodes the records of a 10,000-tunnel
// NMsec_GET_IKETUN response into one reused IKETunnelRecord.
func BenchmarkDecodeIKETunnels(b *testing.B) {
	const n = 10_000
	records := ikeRecords(b, n)
	var r IKETunnelRecord
	benchRecords(b, records, n, r.Decode)
}

// BenchmarkClientFilters streams a 100,000-filter response through a
// Client over the socket and decodes every record: as Client.Do does, and
// with the silence bound of a Pool's exchange (the read deadline moved on
// after every read of the buffer).
func BenchmarkClientFilters(b *testing.B) {
	for _, stall := range []time.Duration{0, DefaultExchangeTimeout} {
		name := "whole"
		if stall > 0 {
			name = "silence-bound"
		}
		b.Run(name, func(b *testing.B) { benchClientFilters(b, stall) })
	}
}

func benchClientFilters(b *testing.B, stall time.Duration) {
	const n = 100_000
	msg := BeginMessage(nil)
	msg = append(msg, filterRecords(b, n)...)
	if err := FinishMessage(msg, Header{Version: 1, Type: GetIPFltCurr}, n); err != nil {
		b.Fatal(err)
	}
	s := newTestServer(b)
	s.handle = func(c *net.UnixConn, h Header, _ Request, _ error) bool {
		be.PutUint32(msg[offMCorrelator:], h.Correlator)
		_, err := c.Write(msg)
		return err == nil
	}
	c, err := dialUnix(context.Background(), s.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &Request{Type: GetIPFltCurr, Target: "TCPIP"}
	var r FilterRecord
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.do(context.Background(), req, r.Decode, stall); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkRoundTrip measures small exchanges (NMsec_GET_SUMMARY: 64-byte
// request, 192-byte answer) on one connection, and in the same run a bare
// AF_UNIX round trip of the same sizes: the physical floor.
func BenchmarkRoundTrip(b *testing.B) {
	s := newTestServer(b)
	c, err := dialUnix(context.Background(), s.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &Request{Type: GetSummary, Target: "TCPIP"}
	var sum SummaryRecord
	h, err := c.Do(context.Background(), req, sum.Decode)
	if err != nil {
		b.Fatal(err)
	}
	respSize := int(h.MsgSize)

	// The echo peer: read a request-sized message, write an answer-sized one.
	path := filepath.Join(b.TempDir(), "echo")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		in, out := make([]byte, HdrSize), make([]byte, respSize)
		for {
			if _, err := io.ReadFull(conn, in); err != nil {
				return
			}
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}()
	echo, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	out, in := make([]byte, HdrSize), make([]byte, respSize)

	var nmiTime, echoTime time.Duration
	ctx := context.Background()
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Do(ctx, req, sum.Decode); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := echo.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(echo, in); err != nil {
			b.Fatal(err)
		}
		nmiTime += t1.Sub(t0)
		echoTime += time.Since(t1)
	}
	b.ReportMetric(float64(nmiTime.Nanoseconds())/float64(b.N)/1000, "us/exchange")
	b.ReportMetric(float64(echoTime.Nanoseconds())/float64(b.N)/1000, "us/echo")
	if echoTime > 0 {
		b.ReportMetric(float64(nmiTime)/float64(echoTime), "exchange/echo")
	}
}
