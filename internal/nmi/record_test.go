package nmi

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// A cascade record of NMsec_GET_IKETUNCASCADE with one phase 2 tunnel,
// laid out field by field.
func TestIKETunnelRecordCascadeGolden(t *testing.T) {
	ike := sectionGoldens()[10]
	stats := sectionGoldens()[11]
	iptun := sectionGoldens()[5]
	dyn := sectionGoldens()[7]
	dynike := sectionGoldens()[9]
	if ike.name != "NMsecIKETunnel" || stats.name != "NMsecIKETunStats" || iptun.name != "NMsecIPTunnel" ||
		dyn.name != "NMsecIPDynTunnel IPv6" || dynike.name != "NMsecIPDynamicIKE" {
		t.Fatal("golden order changed")
	}
	ikeHex := assembleHex(t, ike)
	// The phase 2 record: IPv6 tunnel, so the IP tunnel section gets the IPv6 bit.
	ipt := *iptun.val.(*IPTunnel)
	ipt.IPv6, ipt.Type = true, IPTunIKE
	ipt.LclSecEndpoint, ipt.RmtSecEndpoint = ip("2001:db8::a"), ip("2001:db8::b")
	iptHex, err := ipt.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	inner := assemble(t, 16+5*8+160+236+16+4+8, []fld{
		{0, "D5D4E2D9", "NMsRIdent"},
		{4, u32(480), "NMsRRecLen = 16 + 40 + 160 + 236 + 16 + 4 + 8"},
		{8, u16(5), "NMsRSecCount"},
		{10, u16(0), "NMsRCascCount"},
		{12, zero(4), "reserved"},
		{16, u32(56) + u32(160), "section[0] NMsecIPTunnel at 56"},
		{24, u32(216) + u32(236), "section[1] NMsecIPDynTunnel at 216"},
		{32, u32(452) + u32(16), "section[2] NMsecIPDynamicIKE at 452"},
		{40, u32(468) + u32(4), "section[3] local client ID at 468, 4 bytes"},
		{48, u32(472) + u32(7), "section[4] remote client ID at 472, 7 bytes"},
		{56, bytesHex(iptHex), "NMsecIPTunnel"},
		{216, assembleHex(t, dyn), "NMsecIPDynTunnel"},
		{452, assembleHex(t, dynike), "NMsecIPDynamicIKE"},
		{468, "C0000201", "local ID 192.0.2.1"},
		{472, eb("vpn.org", 7) + "00", "remote ID C'vpn.org' + 1 byte padding"},
	})
	rec := assemble(t, 16+4*8+12+248+52+4+12+len(inner), []fld{
		{0, "D5D4E2D9", "NMsRIdent"},
		{4, u32(uint32(16 + 4*8 + 12 + 248 + 52 + 4 + 12 + len(inner))), "NMsRRecLen"},
		{8, u16(4), "NMsRSecCount"},
		{10, u16(1), "NMsRCascCount"},
		{12, zero(4), "reserved"},
		{16, u32(60) + u32(248), "section[0] NMsecIKETunnel at 60"},
		{24, u32(308) + u32(52), "section[1] NMsecIKETunStats at 308"},
		{32, u32(360) + u32(4), "section[2] local ID at 360"},
		{40, u32(364) + u32(10), "section[3] remote ID at 364, 10 bytes"},
		{48, u32(376) + u32(uint32(len(inner))) + u32(1), "cascade at 376, one record"},
		{60, ikeHex, "NMsecIKETunnel"},
		{308, assembleHex(t, stats), "NMsecIKETunStats"},
		{360, "C0000201", "local ID 192.0.2.1"},
		{364, eb("peer.2.org", 10) + "0000", "remote ID C'peer.2.org' + 2 bytes padding"},
		{376, bytesHex(inner), "cascaded NMsec_GET_IPTUNDYNIKE record"},
	})
	want := IKETunnelRecord{
		Tunnel: *ike.val.(*IKETunnel), Stats: *stats.val.(*IKETunStats),
		LocalID: []byte{192, 0, 2, 1}, RemoteID: mustHex(eb("peer.2.org", 10)), HasCascade: true,
		Cascade: []DynIKERecord{{Tunnel: ipt, Dyn: *dyn.val.(*IPDynTunnel), IKE: *dynike.val.(*IPDynamicIKE),
			LocalID: []byte{192, 0, 2, 1}, RemoteID: mustHex(eb("vpn.org", 7))}},
	}
	got, err := want.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rec) {
		t.Fatalf("encoding differs\n got %X\nwant %X", got, rec)
	}
	r, err := ParseRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	var dec IKETunnelRecord
	if err := dec.Decode(r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, want) {
		t.Fatalf("decoded\n got %+v\nwant %+v", dec, want)
	}
	if Identity(dec.Tunnel.LclIDType, dec.LocalID) != "192.0.2.1" || Identity(dec.Tunnel.RmtIDType, dec.RemoteID) != "peer.2.org" {
		t.Fatalf("identities %q %q", Identity(dec.Tunnel.LclIDType, dec.LocalID), Identity(dec.Tunnel.RmtIDType, dec.RemoteID))
	}
	// Truncation at every boundary the golden names, with the length
	// adjusted to the cut: a typed error, never a panic.
	for n := 0; n < len(rec); n += 4 {
		cut := bytes.Clone(rec[:n])
		if n >= 8 {
			be.PutUint32(cut[4:], uint32(n))
		}
		r, err := ParseRecord(cut)
		if err == nil {
			err = dec.Decode(r)
		}
		wantFormatError(t, err)
	}
}

func assembleHex(t *testing.T, g sectionGolden) string {
	return bytesHex(assemble(t, g.size, g.fields))
}

func bytesHex(b []byte) string {
	const h = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(h[c>>4])
		s.WriteByte(h[c&15])
	}
	return s.String()
}

func TestTypedRecordsRoundTrip(t *testing.T) {
	g := sectionGoldens()
	type typed interface {
		Decode(Record) error
		Append([]byte) ([]byte, error)
	}
	recs := []struct {
		val, fresh typed
	}{
		{&StackRecord{*g[0].val.(*Stack)}, new(StackRecord)},
		{&SummaryRecord{*g[1].val.(*Statistics)}, new(SummaryRecord)},
		{&NSSRecord{*g[2].val.(*NSS)}, new(NSSRecord)},
		{&InterfaceRecord{*g[3].val.(*Interface)}, new(InterfaceRecord)},
		{&ManualTunnelRecord{*g[5].val.(*IPTunnel), *g[6].val.(*IPManualTunnel)}, new(ManualTunnelRecord)},
		{&DynStackRecord{Tunnel: IPTunnel{IPv6: true, ID: t48("Y1"), VPNAction: t48("A"), LclSecEndpoint: ip("::1"), RmtSecEndpoint: ip("::2")}, Dyn: *g[7].val.(*IPDynTunnel), Stack: *g[8].val.(*IPDynamicStack)}, new(DynStackRecord)},
		{&DynIKERecord{Tunnel: IPTunnel{IPv6: true, ID: t48("Y1"), VPNAction: t48("A"), LclSecEndpoint: ip("::1"), RmtSecEndpoint: ip("::2")}, Dyn: *g[7].val.(*IPDynTunnel), IKE: *g[9].val.(*IPDynamicIKE), LocalID: nil, RemoteID: nil}, new(DynIKERecord)},
		{&IKETunnelRecord{Tunnel: *g[10].val.(*IKETunnel), Stats: *g[11].val.(*IKETunStats), LocalID: []byte{1, 2, 3, 4}, RemoteID: nil, Cascade: nil}, new(IKETunnelRecord)},
		{&IKETunnelRecord{Tunnel: *g[10].val.(*IKETunnel), Stats: *g[11].val.(*IKETunStats), LocalID: nil, RemoteID: nil, HasCascade: true, Cascade: nil}, new(IKETunnelRecord)},
		{&FilterRecord{*g[12].val.(*IPFilter)}, new(FilterRecord)},
		{&PortTransRecord{*g[13].val.(*PortTrans)}, new(PortTransRecord)},
		{&ClientInfoRecord{*g[len(g)-1].val.(*ClientInfo)}, new(ClientInfoRecord)},
		{&TunnelRecord{*g[14].val.(*Tunnel)}, new(TunnelRecord)},
		{&PolicySourceRecord{*g[15].val.(*PolicySource)}, new(PolicySourceRecord)},
		{&InFilterRecord{*g[16].val.(*InFilter)}, new(InFilterRecord)},
	}
	for _, c := range recs {
		b, err := c.val.Append(nil)
		if err != nil {
			t.Fatalf("%T: %v", c.val, err)
		}
		r, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("%T: %v", c.val, err)
		}
		if err := c.fresh.Decode(r); err != nil {
			t.Fatalf("%T: %v", c.val, err)
		}
		if !reflect.DeepEqual(c.fresh, c.val) {
			t.Fatalf("%T round trip\n got %+v\nwant %+v", c.val, c.fresh, c.val)
		}
		// Too few sections is rsn 12.
		short, _ := AppendRecord(nil, []byte{})
		r, err = ParseRecord(short)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.val.(*StackRecord); !ok {
			if err := c.fresh.Decode(r); err == nil {
				t.Fatalf("%T decoded a record with one empty section", c.val)
			}
		}
	}
}

func TestParseRecordLayout(t *testing.T) {
	s1, s2 := bytes.Repeat([]byte{1}, 6), bytes.Repeat([]byte{2}, 8)
	rec, err := AppendRecordCascade(nil, nil, 0, s1, []byte{}, s2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if r.NumSections() != 3 || !bytes.Equal(r.Section(0), s1) || len(r.Section(1)) != 0 || r.Section(1) == nil ||
		!bytes.Equal(r.Section(2), s2) || r.Section(3) != nil || r.Section(-1) != nil {
		t.Fatalf("sections %v", r)
	}
	d, ok := r.Cascade()
	if !ok || d.Next() || d.Err() != nil {
		t.Fatalf("empty cascade: %v %v", ok, d.Err())
	}
	// Sections given out of order are accepted when they do not overlap.
	swapped := bytes.Clone(rec)
	copy(swapped[16:24], rec[32:40])
	copy(swapped[32:40], rec[16:24])
	if r, err := ParseRecord(swapped); err != nil || !bytes.Equal(r.Section(2), s1) {
		t.Fatalf("swapped: %v", err)
	}
	// Overlap.
	ov := bytes.Clone(rec)
	copy(ov[32:36], ov[16:20])
	ov[16+3] += 0 // section[2] now starts where section[0] starts
	if _, err := ParseRecord(ov); err == nil {
		t.Fatal("overlapping sections accepted")
	}
	// Nonzero padding after section[0] (6 bytes + 2 padding).
	pad := bytes.Clone(rec)
	pad[be.Uint32(rec[16:])+6] = 9
	wantRsn(t, fromParse(pad), RsnReservedNonzero)
	// Cascade count larger than its container can hold.
	cc := bytes.Clone(rec)
	be.PutUint32(cc[16+3*8+8:], 1)
	wantRsn(t, fromParse(cc), RsnBadSection)
}

func fromParse(b []byte) error { _, err := ParseRecord(b); return err }

func TestRecordDecoderCounts(t *testing.T) {
	one, _ := AppendRecord(nil, []byte{1, 2, 3, 4})
	two := append(bytes.Clone(one), one...)
	for _, c := range []struct {
		b     []byte
		count int
		ok    bool
	}{{two, 2, true}, {two, 1, false}, {two, 3, false}, {one, 0, false}, {nil, 0, true}, {one[:len(one)-4], 1, false}} {
		d := NewRecordDecoder(c.b, c.count)
		n := 0
		for d.Next() {
			n++
		}
		if (d.Err() == nil) != c.ok {
			t.Fatalf("count %d over %d bytes: %v", c.count, len(c.b), d.Err())
		}
		if d.Err() != nil {
			wantFormatError(t, d.Err())
		}
	}
}

func TestRecordBuilderMisuse(t *testing.T) {
	if _, rb := BeginRecord(nil, 0, 0); rb.err == nil {
		t.Fatal("no sections accepted")
	}
	b, rb := BeginRecord([]byte{7}, 2, 0)
	b = rb.Section(b, len(b))
	if b, err := rb.Finish(b); err == nil || len(b) != 1 {
		t.Fatalf("unfinished record: %v", err)
	}
}
