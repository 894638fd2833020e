package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestSPIInHex checks that an SPI shows as 8 hex digits beside its
// number, and not at all when it is 0.
func TestSPIInHex(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x1000, 0x4e000102, 0xffffffff} {
		var w jsonw
		w.beginObject()
		w.optSPI("espInboundSpi", v)
		w.endObject()
		var got map[string]any
		if err := json.Unmarshal(w.b, &got); err != nil {
			t.Fatalf("%d: %s: %v", v, w.b, err)
		}
		if v == 0 {
			if len(got) != 0 {
				t.Errorf("SPI 0 written: %s", w.b)
			}
			continue
		}
		if got["espInboundSpiHex"] != fmt.Sprintf("%08x", v) || got["espInboundSpi"] != float64(v) {
			t.Errorf("SPI %#x: %s", v, w.b)
		}
	}
}
