package nmi

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// The four requests of shared/nmi/examples.md, byte for byte.
var exampleRequests = []struct {
	name string
	hex  string
	req  Request
	corr uint32
}{
	{
		name: "NMsec_GET_STACKINFO",
		hex:  "D5D4E2D4000000400001006500000040000001010000000000000000404040404040404040404040404040404040404040404040000000000000000000000000",
		req:  Request{Type: GetStackInfo},
		corr: 257,
	},
	{
		name: "NMsec_GET_IPFLTCURR by name",
		hex: "D5D4E2D40000004000010066000000E8000001170000000000000000E3C3D7C9D740404040404040404040404040404040404040000000400000000100000000" +
			"D5D4E2D9000000A80001000000000000000000180000009080000000C6D3E3F140404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		req:  Request{Type: GetIPFltCurr, Target: "TCPIP", Filters: []InFilter{{HasName: true, Name: t48("FLT1"), TunnelID: t48(""), LclAddr: ip("0.0.0.0"), RmtAddr: ip("0.0.0.0")}}},
		corr: 279,
	},
	{
		name: "NMsec_DEACT_DYNTUN",
		hex: "D5D4E2D400000040000100CC000000BC000001110000000000000000E3C3D7C9D740404040404040404040404040404040404040000000400000000100000000" +
			"D5D4E2D90000007C00010000000000000000001800000064404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040E8F14040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404000000000",
		req:  Request{Type: DeactDynTun, Target: "TCPIP", Tunnels: []Tunnel{{Name: t48(""), TunnelID: t48("Y1")}}},
		corr: 273,
	},
	{
		name: "NMsec_LOAD_POLICY DEFAULT",
		hex: "D5D4E2D400000040000100D00000005C000001150000000000000000E3C3D7C9D740404040404040404040404040404040404040000000400000000100000000" +
			"D5D4E2D90000001C0001000000000000000000180000000400000000",
		req:  Request{Type: LoadPolicy, Target: "TCPIP", Policy: &PolicySource{Source: FilterSetDefault}},
		corr: 277,
	},
}

func TestExampleRequestsEncode(t *testing.T) {
	for _, ex := range exampleRequests {
		t.Run(ex.name, func(t *testing.T) {
			want := mustHex(ex.hex)
			got, err := AppendRequest([]byte("prefix"), &ex.req, ex.corr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[6:], want) {
				t.Fatalf("encoding differs\n got %X\nwant %X", got[6:], want)
			}
		})
	}
}

func TestExampleRequestsDecode(t *testing.T) {
	for _, ex := range exampleRequests {
		t.Run(ex.name, func(t *testing.T) {
			msg := mustHex(ex.hex)
			h, req, err := DecodeRequest(msg, Version)
			if err != nil {
				t.Fatal(err)
			}
			if h.Correlator != ex.corr || h.Type != ex.req.Type || h.Version != 1 || int(h.MsgSize) != len(msg) {
				t.Fatalf("header %+v", h)
			}
			if !reflect.DeepEqual(req, ex.req) {
				t.Fatalf("request\n got %+v\nwant %+v", req, ex.req)
			}
			// The same bytes read from a stream.
			h2, got, err := ReadMessage(bytes.NewReader(msg), nil, MaxRequestSize)
			if err != nil || !bytes.Equal(got, msg) || h2 != h {
				t.Fatalf("ReadMessage: %v", err)
			}
		})
	}
}

// Every prefix of a valid request is rejected with a typed error, and so
// is every prefix presented as a whole message with its size adjusted.
func TestRequestTruncation(t *testing.T) {
	for _, ex := range exampleRequests {
		msg := mustHex(ex.hex)
		for n := 0; n < len(msg); n++ {
			_, _, err := DecodeRequest(msg[:n], Version)
			wantFormatError(t, err)
			_, _, err = ReadMessage(bytes.NewReader(msg[:n]), nil, MaxRequestSize)
			if err == nil {
				t.Fatalf("%s: ReadMessage of %d bytes succeeded", ex.name, n)
			}
			if n < HdrSize {
				continue
			}
			cut := bytes.Clone(msg[:n])
			be.PutUint32(cut[offMMsgSize:], uint32(n))
			if _, _, err := DecodeRequest(cut, Version); err == nil && n != len(msg) {
				t.Fatalf("%s: message cut to %d bytes accepted", ex.name, n)
			} else if err != nil {
				wantFormatError(t, err)
			}
		}
	}
}

func wantFormatError(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	if err == nil || !asFormatError(err, &fe) || fe.Rsn == RsnNone {
		t.Fatalf("error %v, want *FormatError with a reason code", err)
	}
}

func asFormatError(err error, fe **FormatError) bool {
	e, ok := err.(*FormatError)
	*fe = e
	return ok
}

func TestDecodeRequestReasonCodes(t *testing.T) {
	base := func(i int) []byte { return mustHex(exampleRequests[i].hex) }
	type mut struct {
		name  string
		ex    int
		edit  func(b []byte) []byte
		rsn   ReasonCode
		fatal bool
	}
	muts := []mut{
		{"bad message ident", 0, func(b []byte) []byte { b[0] = 0; return b }, RsnBadIdent, true},
		{"bad header size", 0, func(b []byte) []byte { b[7] = 0x44; return b }, RsnHdrSize, false},
		{"message size below 64", 0, func(b []byte) []byte { b[15] = 0x3C; return b }, RsnMsgSize, true},
		{"message size over 1 MiB", 0, func(b []byte) []byte { be.PutUint32(b[12:], MaxRequestSize+4); return b }, RsnExcessiveSize, true},
		{"version 0", 0, func(b []byte) []byte { b[9] = 0; return b }, RsnBadVersion, false},
		{"version 2", 0, func(b []byte) []byte { b[9] = 2; return b }, RsnBadVersion, false},
		{"type INIT", 0, func(b []byte) []byte { b[11] = 1; return b }, RsnBadType, false},
		{"type 209", 0, func(b []byte) []byte { b[11] = 209; return b }, RsnBadType, false},
		{"reserved header", 0, func(b []byte) []byte { b[63] = 1; return b }, RsnReservedNonzero, false},
		{"record offset without records", 0, func(b []byte) []byte { b[55] = 64; return b }, RsnMsgSize, false},
		{"bytes without records", 0, func(b []byte) []byte { b = append(b, 0, 0, 0, 0); b[15] = 68; return b }, RsnMsgSize, false},
		{"record offset past the end", 1, func(b []byte) []byte { be.PutUint32(b[52:], 236); return b }, RsnMsgSize, false},
		{"record offset unaligned", 1, func(b []byte) []byte { be.PutUint32(b[52:], 66); return b }, RsnMsgSize, false},
		{"bad record ident", 1, func(b []byte) []byte { b[64] = 0; return b }, RsnBadIdent, true},
		{"record length not a multiple of 4", 1, func(b []byte) []byte { b[71] = 0xA6; return b }, RsnRecordLength, false},
		{"record length below 16", 1, func(b []byte) []byte { b[71] = 8; return b }, RsnRecordLength, false},
		{"record runs past the end", 1, func(b []byte) []byte { b[71] = 0xAC; return b }, RsnRecordLength, false},
		{"record shorter than descriptors", 1, func(b []byte) []byte { b[73] = 30; return b }, RsnRecordLength, false},
		{"records do not add up", 1, func(b []byte) []byte { b = append(b, 0, 0, 0, 0); b[15] += 4; return b }, RsnMsgSize, false},
		{"count says two records", 1, func(b []byte) []byte { b[59] = 2; return b }, RsnMsgSize, false},
		{"reserved record header", 1, func(b []byte) []byte { b[79] = 1; return b }, RsnReservedNonzero, false},
		{"no sections", 1, func(b []byte) []byte { b[73] = 0; return b }, RsnBadSection, false},
		{"section descriptor past the record", 1, func(b []byte) []byte { b[87] = 0x94; return b }, RsnBadSection, false},
		{"section inside the descriptors", 1, func(b []byte) []byte { b[83] = 0x10; return b }, RsnBadSection, false},
		{"section unaligned", 1, func(b []byte) []byte { b[83] = 0x19; b[87] = 0x8C; return b }, RsnBadSection, false},
		{"section too short", 1, func(b []byte) []byte { b[87] = 0x8C; return b }, RsnBadSection, false},
		{"filter reserved flag bit", 1, func(b []byte) []byte { b[91] = 1; return b }, RsnReservedNonzero, false},
		{"filter reserved byte", 1, func(b []byte) []byte { b[88+119] = 1; return b }, RsnReservedNonzero, false},
		{"filter port on IKE request", 1, func(b []byte) []byte { b[11] = 109; b[88] |= 0x04; return b }, RsnBadFilter, false},
		{"filter on GET_SUMMARY", 1, func(b []byte) []byte { b[11] = 112; return b }, RsnBadFilter, false},
		{"filter name on PORTTRANS", 1, func(b []byte) []byte { b[11] = 111; return b }, RsnBadFilter, false},
		{"filter prefix too long", 1, func(b []byte) []byte { b[88] |= 0x20; b[88+116] = 33; return b }, RsnBadFilter, false},
		{"tunnel record without name or ID", 2, func(b []byte) []byte { b[136] = 0x40; b[137] = 0x40; return b }, RsnBadControlRecord, false},
		{"tunnel status set in request", 2, func(b []byte) []byte { b[184] = 2; return b }, RsnBadControlRecord, false},
		{"tunnel reserved", 2, func(b []byte) []byte { b[186] = 2; return b }, RsnReservedNonzero, false},
		{"policy source 2", 3, func(b []byte) []byte { b[88] = 2; return b }, RsnBadControlRecord, false},
		{"policy reserved", 3, func(b []byte) []byte { b[90] = 2; return b }, RsnReservedNonzero, false},
		{"policy without record", 3, func(b []byte) []byte {
			b = b[:64]
			b[15], b[55], b[59] = 64, 0, 0
			return b
		}, RsnBadControlRecord, false},
		{"policy short section", 3, func(b []byte) []byte { b[87] = 2; return b }, RsnBadControlRecord, false},
		{"padding not zero", 3, func(b []byte) []byte { b[87] = 2; b[90] = 1; return b }, RsnReservedNonzero, false},
	}
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			msg := m.edit(base(m.ex))
			_, _, err := DecodeRequest(msg, Version)
			fe := wantRsn(t, err, m.rsn)
			if fe.Fatal != m.fatal {
				t.Fatalf("fatal %v, want %v (%v)", fe.Fatal, m.fatal, err)
			}
		})
	}
}

func TestReadMessageFraming(t *testing.T) {
	good := mustHex(exampleRequests[1].hex)
	// A bad header size with a plausible message size: the message is skipped.
	b := bytes.Clone(good)
	b[7] = 0x50
	r := bytes.NewReader(append(b, good...))
	_, _, err := ReadMessage(r, nil, MaxRequestSize)
	if fe := wantRsn(t, err, RsnHdrSize); fe.Fatal {
		t.Fatal("header size error should not be fatal")
	}
	if _, msg, err := ReadMessage(r, nil, MaxRequestSize); err != nil || !bytes.Equal(msg, good) {
		t.Fatalf("next message after skip: %v", err)
	}
	// Too large: fatal, nothing allocated beyond the header.
	b = bytes.Clone(good)
	be.PutUint32(b[12:], 1<<31)
	_, msg, err := ReadMessage(bytes.NewReader(b), nil, MaxRequestSize)
	if fe := wantRsn(t, err, RsnExcessiveSize); !fe.Fatal || cap(msg) > 4096 {
		t.Fatalf("fatal %v cap %d", fe.Fatal, cap(msg))
	}
}

// TestClientInfoRequest: NMsec_GET_CLIENTINFO carries a blank target (every
// connected client) or a client's name, and discipline filters by name;
// the server decodes what the client wrote.
func TestClientInfoRequest(t *testing.T) {
	var f InFilter
	f.HasName = true
	if err := f.Name.Set(DisciplineIPSec.String()); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"", "SYSB_TCPIP"} {
		b, err := AppendRequest(nil, &Request{Type: GetClientInfo, Target: target, Filters: []InFilter{f}}, 7)
		if err != nil {
			t.Fatalf("target %q: %v", target, err)
		}
		h, req, err := DecodeRequest(b, Version)
		if err != nil {
			t.Fatalf("target %q: decode: %v", target, err)
		}
		if h.Type != GetClientInfo || req.Target != target || len(req.Filters) != 1 || req.Filters[0].Name.String() != "IPSec" {
			t.Fatalf("target %q: decoded %v %+v", target, h.Type, req)
		}
	}
	if !GetClientInfo.IsDisplay() || GetClientInfo.String() != "NMsec_GET_CLIENTINFO" {
		t.Fatal("NMsec_GET_CLIENTINFO is a display request")
	}
}

func TestAppendRequestRefuses(t *testing.T) {
	long := strings.Repeat("N", 49)
	cases := []struct {
		name string
		req  Request
		rsn  ReasonCode
	}{
		{"not a request", Request{Type: MsgInit}, RsnBadType},
		{"target on system-wide", Request{Type: GetStackInfo, Target: "TCPIP"}, RsnNone},
		{"no target", Request{Type: GetSummary}, RsnNone},
		{"target too long", Request{Type: GetSummary, Target: strings.Repeat("T", 25)}, RsnNone},
		{"target unmappable", Request{Type: GetSummary, Target: "TCP€"}, RsnNone},
		{"filter on summary", Request{Type: GetSummary, Target: "T", Filters: []InFilter{{}}}, RsnBadFilter},
		{"tunnel ID on client info", Request{Type: GetClientInfo, Filters: []InFilter{{HasTunnelID: true}}}, RsnBadFilter},
		{"port on IKE", Request{Type: GetIKETun, Target: "T", Filters: []InFilter{{HasLclPort: true}}}, RsnBadFilter},
		{"prefix 129", Request{Type: GetIKETun, Target: "T", Filters: []InFilter{{IPv6: true, HasLclAddr: true, LclPrefix: 129}}}, RsnBadFilter},
		{"v4 address in v6 filter", Request{Type: GetIKETun, Target: "T", Filters: []InFilter{{IPv6: true, HasLclAddr: true, LclAddr: ip("10.0.0.1")}}}, RsnNone},
		{"tunnels on display", Request{Type: GetIKETun, Target: "T", Tunnels: []Tunnel{{}}}, RsnBadControlRecord},
		{"blank tunnel", Request{Type: DeactIKETun, Target: "T", Tunnels: []Tunnel{{}}}, RsnBadControlRecord},
		{"status in request", Request{Type: DeactIKETun, Target: "T", Tunnels: []Tunnel{{TunnelID: t48("K1"), Status: 2}}}, RsnBadControlRecord},
		{"missing policy", Request{Type: LoadPolicy, Target: "T"}, RsnBadControlRecord},
		{"policy 2", Request{Type: LoadPolicy, Target: "T", Policy: &PolicySource{Source: 2}}, RsnBadControlRecord},
		{"too large", Request{Type: DeactIKETun, Target: "T", Tunnels: make([]Tunnel, 9000)}, RsnBadControlRecord},
	}
	for i := range cases[len(cases)-1].req.Tunnels {
		cases[len(cases)-1].req.Tunnels[i].TunnelID = t48("K1")
	}
	cases[len(cases)-1].rsn = RsnExcessiveSize
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendRequest([]byte{1, 2}, &c.req, 1)
			wantRsn(t, err, c.rsn)
			if len(b) != 2 {
				t.Fatalf("buffer not restored: %d bytes", len(b))
			}
		})
	}
	var s Text48
	if err := s.Set(long); err == nil {
		t.Fatal("49 characters fit a 48-byte field")
	}
	_ = hex.EncodeToString
}
