package metrics

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
		traffic [][2]uint64 // in, out bytes of each generation (addTraffic)
		ike     []uint64    // IKE tunnel bytes of each generation (addTotal)
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
		f := &family{}
		for _, g := range tt.traffic {
			f.addTraffic(g[0], g[1], 0, 0)
		}
		for _, b := range tt.ike {
			f.addTotal(b)
		}
		if f.total != tt.want {
			t.Errorf("%s: total %d, want %d", tt.name, f.total, tt.want)
		}
	}
}
