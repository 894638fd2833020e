package nmi

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Round-trip fuzz targets for every decoder. Each is seeded from the
// goldens (f.Add here, and the corpus under testdata/fuzz, written by
// TestWriteFuzzCorpus when NMI_WRITE_CORPUS=1). A decoder must never panic;
// what it accepts must encode, and encoding is idempotent: decode(x) = v1,
// encode(v1) = e1, decode(e1) = v2, encode(v2) = e1.

func goldenSection(t testing.TB, name string) []byte {
	for _, g := range sectionGoldens() {
		if g.name == name {
			return assemble(t, g.size, g.fields)
		}
	}
	t.Fatalf("no golden %q", name)
	return nil
}

func fuzzSection(f *testing.F, fresh func() section, golden ...string) {
	for _, g := range golden {
		b := goldenSection(f, g)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), 0xFF, 0xFF, 0xFF, 0xFF))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v1 := fresh()
		if err := v1.UnmarshalBinary(b); err != nil {
			wantRsn(t, err, RsnBadSection)
			return
		}
		e1, err := v1.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		v2 := fresh()
		if err := v2.UnmarshalBinary(e1); err != nil {
			t.Fatal(err)
		}
		e2, err := v2.AppendBinary(nil)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("not idempotent: %v\n%X\n%X", err, e1, e2)
		}
	})
}

func FuzzStack(f *testing.F) { fuzzSection(f, func() section { return new(Stack) }, "NMsecStack") }
func FuzzStatistics(f *testing.F) {
	fuzzSection(f, func() section { return new(Statistics) }, "NMsecStatistics")
}
func FuzzNSS(f *testing.F) { fuzzSection(f, func() section { return new(NSS) }, "NMsecNSS") }
func FuzzInterface(f *testing.F) {
	fuzzSection(f, func() section { return new(Interface) }, "NMsecInterface", "NMsecInterface IPv6")
}
func FuzzIPTunnel(f *testing.F) {
	fuzzSection(f, func() section { return new(IPTunnel) }, "NMsecIPTunnel")
}
func FuzzIPManualTunnel(f *testing.F) {
	fuzzSection(f, func() section { return new(IPManualTunnel) }, "NMsecIPManualTunnel")
}
func FuzzIPDynTunnel(f *testing.F) {
	fuzzSection(f, func() section { return new(IPDynTunnel) }, "NMsecIPDynTunnel IPv6")
}
func FuzzIPDynTunnelIPv6(f *testing.F) {
	fuzzSection(f, func() section { return &IPDynTunnel{IPv6: true} }, "NMsecIPDynTunnel IPv6")
}
func FuzzIPDynamicStack(f *testing.F) {
	fuzzSection(f, func() section { return new(IPDynamicStack) }, "NMsecIPDynamicStack")
}
func FuzzIPDynamicIKE(f *testing.F) {
	fuzzSection(f, func() section { return new(IPDynamicIKE) }, "NMsecIPDynamicIKE")
}
func FuzzIKETunnel(f *testing.F) {
	fuzzSection(f, func() section { return new(IKETunnel) }, "NMsecIKETunnel")
}
func FuzzIKETunStats(f *testing.F) {
	fuzzSection(f, func() section { return new(IKETunStats) }, "NMsecIKETunStats")
}
func FuzzIPFilter(f *testing.F) {
	fuzzSection(f, func() section { return new(IPFilter) }, "NMsecIPFilter")
}
func FuzzPortTrans(f *testing.F) {
	fuzzSection(f, func() section { return new(PortTrans) }, "NMsecPortTrans")
}
func FuzzTunnel(f *testing.F) {
	fuzzSection(f, func() section { return new(Tunnel) }, "NMsecTunnel response")
}
func FuzzPolicySource(f *testing.F) {
	fuzzSection(f, func() section { return new(PolicySource) }, "NMsecPolicySource")
}
func FuzzInFilter(f *testing.F) {
	fuzzSection(f, func() section { return new(InFilter) }, "NMsecInFilter IPv6")
}

func FuzzHeader(f *testing.F) {
	for _, ex := range exampleRequests {
		f.Add(mustHex(ex.hex)[:HdrSize])
	}
	f.Add(AppendTerm(nil, 1, EAGAIN, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := h.UnmarshalBinary(b); err != nil {
			wantFormatError(t, err)
			return
		}
		e1, _ := h.AppendBinary(nil)
		var h2 Header
		if err := h2.UnmarshalBinary(e1); err != nil {
			t.Fatal(err)
		}
		if e2, _ := h2.AppendBinary(nil); !bytes.Equal(e1, e2) {
			t.Fatalf("not idempotent\n%X\n%X", e1, e2)
		}
		if h2.Correlator != h.Correlator || h2.MsgSize != h.MsgSize || h2.Type != h.Type || h2.TargetName() != h.TargetName() {
			t.Fatalf("%+v != %+v", h2, h)
		}
	})
}

// recordSeeds returns records of every kind, built from the goldens.
func recordSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, ex := range exampleRequests[1:] {
		seeds = append(seeds, mustHex(ex.hex)[HdrSize:])
	}
	g := sectionGoldens()
	for _, r := range []interface{ Append([]byte) ([]byte, error) }{
		&StackRecord{*g[0].val.(*Stack)},
		&FilterRecord{*g[12].val.(*IPFilter)},
		&DynIKERecord{Tunnel: IPTunnel{IPv6: true}, Dyn: *g[7].val.(*IPDynTunnel), LocalID: []byte{1, 2, 3, 4}, RemoteID: []byte("abc")},
		&IKETunnelRecord{Tunnel: *g[10].val.(*IKETunnel), HasCascade: true, Cascade: make([]DynIKERecord, 2)},
	} {
		b, err := r.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzRecord(f *testing.F) {
	for _, s := range recordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			wantFormatError(t, err)
			return
		}
		secs := make([][]byte, r.NumSections())
		for i := range secs {
			secs[i] = r.Section(i)
		}
		casc, count := []byte(nil), -1
		if d, ok := r.Cascade(); ok {
			count = d.Count()
			for d.Next() {
				casc = append(casc, d.Record().Bytes()...)
			}
			if d.Err() != nil {
				wantFormatError(t, d.Err())
				return
			}
		}
		e1, err := AppendRecordCascade(nil, casc, count, secs...)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRecord(e1)
		if err != nil {
			t.Fatalf("re-encoded record rejected: %v", err)
		}
		for i := range secs {
			if !bytes.Equal(r2.Section(i), secs[i]) {
				t.Fatalf("section %d differs", i)
			}
		}
	})
}

// typedRecord is implemented by every typed record.
type typedRecord interface {
	Decode(Record) error
	Append([]byte) ([]byte, error)
}

func fuzzTyped(f *testing.F, fresh func() typedRecord) {
	for _, s := range recordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		v1 := fresh()
		if err := v1.Decode(r); err != nil {
			wantFormatError(t, err)
			return
		}
		e1, err := v1.Append(nil)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		r2, err := ParseRecord(e1)
		if err != nil {
			t.Fatal(err)
		}
		v2 := fresh()
		if err := v2.Decode(r2); err != nil {
			t.Fatal(err)
		}
		e2, err := v2.Append(nil)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("not idempotent: %v", err)
		}
		// Decoding into a used value gives the same result as into a new one.
		if err := v2.Decode(r); err != nil || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("reused value differs: %v", err)
		}
	})
}

func FuzzStackRecord(f *testing.F) { fuzzTyped(f, func() typedRecord { return new(StackRecord) }) }
func FuzzNSSRecord(f *testing.F)   { fuzzTyped(f, func() typedRecord { return new(NSSRecord) }) }
func FuzzClientInfoRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(ClientInfoRecord) })
}
func FuzzSummaryRecord(f *testing.F) { fuzzTyped(f, func() typedRecord { return new(SummaryRecord) }) }
func FuzzInterfaceRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(InterfaceRecord) })
}
func FuzzFilterRecord(f *testing.F) { fuzzTyped(f, func() typedRecord { return new(FilterRecord) }) }
func FuzzManualTunnelRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(ManualTunnelRecord) })
}
func FuzzDynStackRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(DynStackRecord) })
}
func FuzzDynIKERecord(f *testing.F) { fuzzTyped(f, func() typedRecord { return new(DynIKERecord) }) }
func FuzzIKETunnelRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(IKETunnelRecord) })
}
func FuzzPortTransRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(PortTransRecord) })
}
func FuzzTunnelRecord(f *testing.F) { fuzzTyped(f, func() typedRecord { return new(TunnelRecord) }) }
func FuzzPolicySourceRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(PolicySourceRecord) })
}
func FuzzInFilterRecord(f *testing.F) {
	fuzzTyped(f, func() typedRecord { return new(InFilterRecord) })
}

func FuzzDecodeRequest(f *testing.F) {
	for _, ex := range exampleRequests {
		f.Add(mustHex(ex.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, req, err := DecodeRequest(b, Version)
		if err != nil {
			wantFormatError(t, err)
			return
		}
		e1, err := AppendRequest(nil, &req, h.Correlator)
		if err != nil {
			// The decoder leaves the target to the server; the encoder insists.
			if fe, ok := err.(*FormatError); ok && fe.Path == "NMsMTarget" {
				return
			}
			t.Fatalf("decoded request does not encode: %v", err)
		}
		h2, req2, err := DecodeRequest(e1, Version)
		if err != nil || h2.Correlator != h.Correlator {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		e2, err := AppendRequest(nil, &req2, h2.Correlator)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("not idempotent: %v", err)
		}
		// A stream holding the message reads back the same bytes.
		if _, m, err := ReadMessage(bytes.NewReader(e1), nil, MaxRequestSize); err != nil || !bytes.Equal(m, e1) {
			t.Fatalf("ReadMessage: %v", err)
		}
	})
}

// TestFuzzCorpus checks that the committed corpus under testdata/fuzz holds
// the golden seeds above; with NMI_WRITE_CORPUS=1 it writes them.
func TestFuzzCorpus(t *testing.T) {
	rewrite := os.Getenv("NMI_WRITE_CORPUS") != ""
	write := func(target string, seeds ...[]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if rewrite {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			file := filepath.Join(dir, fmt.Sprintf("golden-%02d", i))
			if rewrite {
				if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(file); err != nil || string(got) != body {
				t.Fatalf("%s is not the golden seed (%v); rewrite with NMI_WRITE_CORPUS=1", file, err)
			}
		}
	}
	sections := map[string][]string{
		"FuzzStack": {"NMsecStack"}, "FuzzStatistics": {"NMsecStatistics"}, "FuzzNSS": {"NMsecNSS"},
		"FuzzInterface": {"NMsecInterface", "NMsecInterface IPv6"}, "FuzzIPTunnel": {"NMsecIPTunnel"},
		"FuzzIPManualTunnel": {"NMsecIPManualTunnel"}, "FuzzIPDynTunnel": {"NMsecIPDynTunnel IPv6"},
		"FuzzIPDynTunnelIPv6": {"NMsecIPDynTunnel IPv6"}, "FuzzIPDynamicStack": {"NMsecIPDynamicStack"},
		"FuzzIPDynamicIKE": {"NMsecIPDynamicIKE"}, "FuzzIKETunnel": {"NMsecIKETunnel"},
		"FuzzIKETunStats": {"NMsecIKETunStats"}, "FuzzIPFilter": {"NMsecIPFilter"}, "FuzzPortTrans": {"NMsecPortTrans"},
		"FuzzTunnel": {"NMsecTunnel response"}, "FuzzPolicySource": {"NMsecPolicySource"},
		"FuzzInFilter": {"NMsecInFilter IPv6"},
	}
	for target, names := range sections {
		var seeds [][]byte
		for _, n := range names {
			seeds = append(seeds, goldenSection(t, n))
		}
		write(target, seeds...)
	}
	var hdrs, msgs [][]byte
	for _, ex := range exampleRequests {
		hdrs = append(hdrs, mustHex(ex.hex)[:HdrSize])
		msgs = append(msgs, mustHex(ex.hex))
	}
	write("FuzzHeader", hdrs...)
	write("FuzzDecodeRequest", msgs...)
	recs := recordSeeds(t)
	write("FuzzRecord", recs...)
	for _, target := range []string{"FuzzStackRecord", "FuzzNSSRecord", "FuzzSummaryRecord", "FuzzInterfaceRecord",
		"FuzzFilterRecord", "FuzzManualTunnelRecord", "FuzzDynStackRecord", "FuzzDynIKERecord", "FuzzIKETunnelRecord",
		"FuzzPortTransRecord", "FuzzTunnelRecord", "FuzzPolicySourceRecord", "FuzzInFilterRecord",
		"FuzzClientInfoRecord"} {
		write(target, recs...)
	}
}
