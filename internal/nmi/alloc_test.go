package nmi

import "testing"

// filterResponse returns the records of a response of n filter rules.
func filterRecords(tb testing.TB, n int) []byte {
	g := sectionGoldens()[12].val.(*IPFilter)
	rec := FilterRecord{Filter: *g}
	var b []byte
	var err error
	for i := 0; i < n; i++ {
		rec.Filter.NameExt = uint32(i)
		if b, err = rec.Append(b); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// ikeRecords returns the records of a NMsec_GET_IKETUN response of n tunnels.
func ikeRecords(tb testing.TB, n int) []byte {
	g := sectionGoldens()
	rec := IKETunnelRecord{Tunnel: *g[10].val.(*IKETunnel), Stats: *g[11].val.(*IKETunStats),
		LocalID: []byte{192, 0, 2, 1}, RemoteID: mustHex(eb("peer.example.org", 16))}
	var b []byte
	var err error
	for i := 0; i < n; i++ {
		rec.Tunnel.Generation = uint32(i)
		if b, err = rec.Append(b); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

func TestDecodeAllocs(t *testing.T) {
	const n = 100
	filters := filterRecords(t, n)
	var fr FilterRecord
	a := testing.AllocsPerRun(20, func() {
		d := NewRecordDecoder(filters, n)
		for d.Next() {
			if err := fr.Decode(d.Record()); err != nil {
				t.Fatal(err)
			}
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	})
	if a/n > 0 {
		t.Errorf("FilterRecord decode: %v allocations per record", a/n)
	}
	ikes := ikeRecords(t, n)
	var ir IKETunnelRecord
	a = testing.AllocsPerRun(20, func() {
		d := NewRecordDecoder(ikes, n)
		for d.Next() {
			if err := ir.Decode(d.Record()); err != nil {
				t.Fatal(err)
			}
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	})
	if a/n > 0 {
		t.Errorf("IKETunnelRecord decode: %v allocations per record", a/n)
	}
}
