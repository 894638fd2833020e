package ipsec

import (
	"math"
	"testing"
)

// The total the top N ranks by saturates: counters near the top of
// uint64 must not wrap round to a small total and drop a busy tunnel
// from the top N.
func TestFamilyTotalSaturates(t *testing.T) {
	const top = math.MaxUint64
	tests := []struct {
		name    string
		traffic [][2]uint64 // in, out bytes of each IP tunnel generation
		ike     []uint64    // bytes of each IKE tunnel generation
		want    uint64
	}{
		{"none", nil, nil, 0},
		{"small", [][2]uint64{{1, 2}, {3, 4}}, nil, 10},
		{"in and out reach the top exactly", [][2]uint64{{top - 1, 1}}, nil, top},
		{"in and out overflow", [][2]uint64{{top, 1}}, nil, top},
		{"both huge", [][2]uint64{{top, top}}, nil, top},
		{"generations overflow", [][2]uint64{{top / 2, 0}, {top / 2, 0}, {2, 0}}, nil, top},
		{"stays at the top", [][2]uint64{{top, 0}, {5, 5}}, nil, top},
		{"IKE small", nil, []uint64{7, 8}, 15},
		{"IKE generations overflow", nil, []uint64{top - 3, 4}, top},
		{"IKE huge twice", nil, []uint64{top, top}, top},
	}
	for _, tt := range tests {
		f := &Family{}
		for _, g := range tt.traffic {
			f.Add(&Tunnel{Kind: KindDynamic, State: "active", Traffic: Traffic{InBytes: g[0], OutBytes: g[1]}})
		}
		for _, b := range tt.ike {
			f.Add(&Tunnel{Kind: KindIKE, State: "active", Bytes: b})
		}
		if f.Total != tt.want {
			t.Errorf("%s: total %d, want %d", tt.name, f.Total, tt.want)
		}
	}
}

// The per-direction byte and packet sums over a tunnel's generations
// become counters: a wrap would make a counter go backwards, so they
// saturate like the total.
func TestFamilyTrafficSaturates(t *testing.T) {
	const top = math.MaxUint64
	tests := []struct {
		name string
		gens [][4]uint64 // in bytes, out bytes, in packets, out packets
		want [4]uint64
	}{
		{"none", nil, [4]uint64{}},
		{"small", [][4]uint64{{1, 2, 3, 4}, {10, 20, 30, 40}}, [4]uint64{11, 22, 33, 44}},
		{"reach the top exactly", [][4]uint64{{top - 1, 0, top - 2, 0}, {1, 0, 2, 0}}, [4]uint64{top, 0, top, 0}},
		{"bytes overflow", [][4]uint64{{top, top / 2, 0, 0}, {1, top/2 + 2, 0, 0}}, [4]uint64{top, top, 0, 0}},
		{"packets overflow", [][4]uint64{{0, 0, top / 2, top}, {0, 0, top/2 + 2, top}}, [4]uint64{0, 0, top, top}},
		{"stays at the top", [][4]uint64{{top, top, top, top}, {5, 6, 7, 8}}, [4]uint64{top, top, top, top}},
	}
	for _, tt := range tests {
		f := &Family{}
		for _, g := range tt.gens {
			f.Add(&Tunnel{Kind: KindManual, State: "active", Traffic: Traffic{g[0], g[1], g[2], g[3]}})
		}
		got := [4]uint64{f.Bytes[0], f.Bytes[1], f.Packets[0], f.Packets[1]}
		if got != tt.want {
			t.Errorf("%s: bytes in/out, packets in/out %d, want %d", tt.name, got, tt.want)
		}
	}
}
