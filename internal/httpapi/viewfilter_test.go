package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// viewFilterJSONW is a filter rule written member by member through jsonw,
// the plain form of viewFilter: viewFilter must write the same bytes.
func viewFilterJSONW(w *jsonw, f *nmi.IPFilter) {
	w.text("name", f.Name[:])
	w.uint("nameExtension", uint64(f.NameExt))
	w.optText("groupName", f.GroupName[:])
	w.optText("localStartAction", f.LclStartAction[:])
	w.optText("vpnAction", f.VpnAction[:])
	if hasTunnelID(f.TunnelID[:]) {
		w.text("tunnelId", f.TunnelID[:])
	}
	w.enum("type", f.Type.String())
	w.enum("state", f.State.String())
	w.enum("action", f.Action.String())
	w.enum("scope", f.Scope.String())
	w.enum("direction", f.Direction.String())
	w.enum("logging", f.Logging.String())
	w.optUint("logLimit", uint64(f.LogLimit))
	w.boolean("ipv6", f.IPv6)
	w.boolean("onDemand", f.OnDemand)
	w.uint("securityClass", uint64(f.SecClass))
	w.uint("protocol", uint64(f.Protocol))
	addrSelJSONW(w, "source", f.SrcAddrFmt, f)
	addrSelJSONW(w, "destination", f.DstAddrFmt, f)
	viewPorts(w, "sourcePorts", f.SrcPortLow, f.SrcPortHigh)
	viewPorts(w, "destinationPorts", f.DstPortLow, f.DstPortHigh)
	if f.ICMPType != 255 {
		w.uint("icmpType", uint64(f.ICMPType))
	}
	if f.ICMPCode != 255 {
		w.uint("icmpCode", uint64(f.ICMPCode))
	}
	w.optUint("ospfType", uint64(f.OSPFType))
	w.boolean("tcpConnectionInitiatingOnly", f.TCPQualifier == 1)
	w.object("granularity")
	w.boolean("protocol", f.GranProtocol)
	w.boolean("sourceAddress", f.GranSrcAddr)
	w.boolean("destinationAddress", f.GranDstAddr)
	w.boolean("sourcePort", f.GranSrcPort)
	w.boolean("destinationPort", f.GranDstPort)
	w.boolean("icmpType", f.GranICMPType)
	w.boolean("icmpCode", f.GranICMPCode)
	w.endObject()
	w.uint("matchCount", f.MatchCount)
	w.unixTime("createTime", f.CreateTime)
}

// hasTunnelID reports whether a filter names a tunnel. IBM's display shows
// 0x00 for a filter without one, so a field of zeros or blanks is "none".
func hasTunnelID(b []byte) bool {
	for _, c := range b {
		if c != 0 && c != 0x40 {
			return true
		}
	}
	return false
}

func addrSelJSONW(w *jsonw, k string, fmt nmi.AddrFormat, f *nmi.IPFilter) {
	a, a2, prefix := f.SrcAddr, f.SrcAddr2, f.SrcPrefixLen
	if k == "destination" {
		a, a2, prefix = f.DstAddr, f.DstAddr2, f.DstPrefixLen
	}
	w.object(k)
	w.enum("format", fmt.String())
	switch fmt {
	case nmi.AddrAny:
	case nmi.AddrHost:
		w.addr("address", a)
	case nmi.AddrPrefix:
		w.addr("address", a)
		w.uint("prefixLength", uint64(prefix))
	case nmi.AddrRange:
		w.addr("address", a)
		w.addr("endAddress", a2)
	default:
		w.optAddr("address", a)
		w.optAddr("endAddress", a2)
	}
	w.endObject()
}

// checkViewFilter compares viewFilter with the member-by-member form, as
// the first member of an object and after another member, and checks
// that the result is JSON.
func checkViewFilter(t *testing.T, f *nmi.IPFilter) {
	t.Helper()
	for _, lead := range []bool{false, true} {
		var got, want jsonw
		for _, w := range []*jsonw{&got, &want} {
			w.beginObject()
			if lead {
				w.uint("position", 7)
			}
		}
		viewFilter(&got, f)
		viewFilterJSONW(&want, f)
		for _, w := range []*jsonw{&got, &want} {
			w.uint("after", 1)
			w.endObject()
		}
		if !bytes.Equal(got.b, want.b) {
			t.Fatalf("viewFilter writes\n%s\nwant\n%s", got.b, want.b)
		}
		if !json.Valid(got.b) {
			t.Fatalf("viewFilter writes invalid JSON: %s", got.b)
		}
	}
}

// TestViewFilterBytes: the rules of a generated stack (every set, as the
// simulator sends them) are written as the member-by-member form writes
// them.
func TestViewFilterBytes(t *testing.T) {
	spec := ikedsim.GenSpec{Stacks: 1, Filters: 5000, Tunnels: 20, Seed: 3}
	n := 0
	for _, typ := range []nmi.MsgType{nmi.GetIPFltPolicy, nmi.GetIPFltDefault, nmi.GetIPFltCurr} {
		for _, raw := range simRecords(t, spec, typ) {
			var rec nmi.FilterRecord
			r, err := nmi.ParseRecord(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.Decode(r); err != nil {
				t.Fatal(err)
			}
			checkViewFilter(t, &rec.Filter)
			n++
		}
	}
	if n < 5000 {
		t.Fatalf("%d rules compared, want at least 5000", n)
	}
}

// FuzzViewFilter: any rule the decoder accepts is written as the
// member-by-member form writes it.
func FuzzViewFilter(f *testing.F) {
	seed := nmi.IPFilter{ICMPType: 255, ICMPCode: 255, SrcAddrFmt: nmi.AddrRange, DstAddrFmt: 9, CreateTime: 1 << 31}
	copy(seed.Name[:], []byte{0xC1, 0x7F, 0x4C, 0x40})
	b, err := seed.AppendBinary(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r nmi.IPFilter
		if r.UnmarshalBinary(data) != nil {
			return
		}
		checkViewFilter(t, &r)
	})
}
