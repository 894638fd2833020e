package doctor

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

func startSim(t testing.TB, faults *ikedsim.Faults) string {
	t.Helper()
	srv, err := ikedsim.NewServer(ikedsim.Config{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return path
}

type sent struct {
	send bool
	msg  []byte
}

func runDoctor(t *testing.T, path string, o Options) (*Result, string, []sent) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var rec []sent
	o.Record = func(send bool, msg []byte) { rec = append(rec, sent{send, append([]byte(nil), msg...)}) }
	r, err := Run(context.Background(), c, "unix://"+path, o)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.WriteReport(&out, 2); err != nil {
		t.Fatal(err)
	}
	return r, out.String(), rec
}

func TestPassesAgainstSimulator(t *testing.T) {
	r, report, rec := runDoctor(t, startSim(t, nil), Options{})
	if !r.OK() {
		t.Fatalf("differences against the simulator:\n%s", report)
	}
	if r.Version != nmi.Version || r.Stack != "TCPIP" || len(r.Exchanges) != 2+len(displayTypes) {
		t.Errorf("version %d, stack %q, %d exchanges", r.Version, r.Stack, len(r.Exchanges))
	}
	for _, e := range r.Exchanges {
		if e.Verdict() != "matches" {
			t.Errorf("%v: %s", e.Type, e.Verdict())
		}
	}
	// Never a control request.
	for _, s := range rec {
		var h nmi.Header
		h.UnmarshalBinary(s.msg)
		if s.send && !h.Type.IsDisplay() {
			t.Errorf("sent %v", h.Type)
		}
	}
	for _, want := range []string{
		"== 1. NMsec_GET_STACKINFO ==", "NMsStackName", `"TCPIP"`, " IBM ", " PROPOSED ",
		"NMsIKETunState", "== summary ==", "result: every message matches", "more records checked, not dumped",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Mutations of an answer: what a real IKED whose layout differs from
// this build's might send.

// otherEyecatcher changes the first record's NMsRIdent.
func otherEyecatcher(msg []byte) []byte {
	recOff := binary.BigEndian.Uint32(msg[fieldOf(nmi.HeaderLayout, "NMsMRecOff").Off:])
	copy(msg[recOff:], []byte{0xE7, 0xE7, 0xE7, 0xE7}) // C'XXXX'
	return msg
}

// shiftRecCount moves NMsMRecCount four bytes on, into the reserved word.
func shiftRecCount(msg []byte) []byte {
	off := fieldOf(nmi.HeaderLayout, "NMsMRecCount").Off
	copy(msg[off+4:off+8], msg[off:off+4])
	clear(msg[off : off+4])
	return msg
}

// longerSections makes each record's single section 4 bytes longer.
func longerSections(msg []byte) []byte {
	h := nmi.HeaderLayout
	be := binary.BigEndian
	recOff := int(be.Uint32(msg[fieldOf(h, "NMsMRecOff").Off:]))
	n := int(be.Uint32(msg[fieldOf(h, "NMsMRecCount").Off:]))
	out := append([]byte(nil), msg[:recOff]...)
	off := recOff
	lenF, descLen := fieldOf(nmi.RecordHeaderLayout, "NMsRRecLen").Off, fieldOf(nmi.SectionDescLayout, "length").Off
	for i := 0; i < n; i++ {
		l := int(be.Uint32(msg[off+lenF:]))
		rec := append([]byte(nil), msg[off:off+l]...)
		be.PutUint32(rec[lenF:], uint32(l+4))
		d := nmi.RecHdrSize + descLen
		be.PutUint32(rec[d:], be.Uint32(rec[d:])+4)
		out = append(append(out, rec...), 0, 0, 0, 0)
		off += l
	}
	be.PutUint32(out[fieldOf(h, "NMsMMsgSize").Off:], uint32(len(out)))
	return out
}

// badState sets every manual tunnel's NMsIPTunState to 99.
func badState(msg []byte) []byte {
	w := walk(msg, nmi.GetIPTunManual, true)
	for _, b := range w.blocks {
		if b.layout.Name == nmi.IPTunnelLayout.Name {
			b.b[fieldOf(b.layout, "NMsIPTunState").Off] = 99
		}
	}
	return msg
}

func TestPinpointsDifferences(t *testing.T) {
	recOff := nmi.HdrSize
	for _, c := range []struct {
		name   string
		typ    nmi.MsgType
		mutate func([]byte) []byte
		want   []string // in the verdict
	}{
		{"another eyecatcher", nmi.GetSummary, otherEyecatcher,
			[]string{"offset 64 (record[0].NMsRIdent)", "expected D5D4E2D9", "got E7E7E7E7"}},
		{"a shifted field", nmi.GetIPInterfaces, shiftRecCount,
			[]string{"offset 56 (header.NMsMRecCount)", "follow a header that announces no records"}},
		{"a longer section", nmi.GetIPInterfaces, longerSections,
			[]string{"offset " + strconv.Itoa(recOff+nmi.RecHdrSize+4) + " (record[0].section[0] (NMsecInterface) length)", "expected 36, got 40"}},
		{"IBM's prefix only", nmi.GetSummary, ikedsim.ShortenSection(0, nmi.StatisticsIBMSize),
			[]string{"(record[0].section[0] (NMsecStatistics) length)", "IBM prefix present (52 bytes), PROPOSED remainder absent", "expected 104, got 52"}},
		{"an enumeration out of range", nmi.GetIPTunManual, badState,
			[]string{"(record[0].section[0].NMsIPTunState)", "enumeration value out of range", "got 99"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			faults := ikedsim.NewFaults()
			faults.Set(c.typ, ikedsim.Fault{Mutate: c.mutate})
			r, report, _ := runDoctor(t, startSim(t, faults), Options{})
			if r.OK() {
				t.Fatalf("no difference found:\n%s", report)
			}
			for _, e := range r.Exchanges {
				v := e.Verdict()
				if e.Type != c.typ {
					if v != "matches" {
						t.Errorf("%v: %s (only %v was changed)", e.Type, v, c.typ)
					}
					continue
				}
				t.Logf("%v: %s", e.Type, v)
				for _, w := range c.want {
					if !strings.Contains(v, w) {
						t.Errorf("verdict %q lacks %q", v, w)
					}
				}
			}
			if !strings.Contains(report, "DIFFERENCES FOUND") {
				t.Error("report does not say differences were found")
			}
		})
	}
}

// TestInterfaceFlagNote: the report shows every NMsecInterface flag byte
// and which reading of IBM's flag table the address family supports.
func TestInterfaceFlagNote(t *testing.T) {
	r, report, _ := runDoctor(t, startSim(t, nil), Options{})
	var notes []string
	for _, e := range r.Exchanges {
		if e.Type == nmi.GetIPInterfaces {
			notes = e.Notes
		}
	}
	if len(notes) == 0 {
		t.Fatalf("no note on the interface flag byte:\n%s", report)
	}
	for _, n := range notes {
		if !strings.Contains(n, "flag byte (offset 33) = X'") || !strings.Contains(report, "note: "+n) {
			t.Errorf("note %q (in report: %v)", n, strings.Contains(report, n))
		}
	}
	if !strings.Contains(strings.Join(notes, "\n"), "IBM's bit numbers match") {
		t.Errorf("no interface settles the reading for this build's bit numbers:\n%s", strings.Join(notes, "\n"))
	}
	if strings.Contains(strings.Join(notes, "\n"), "flags from bit 0 match") {
		t.Errorf("the simulator, which uses this build's masks, matched the other reading:\n%s", strings.Join(notes, "\n"))
	}
}

func TestRedact(t *testing.T) {
	r, report, rec := runDoctor(t, startSim(t, nil), Options{Redact: true})
	if !r.OK() {
		t.Fatalf("differences after redaction:\n%s", report)
	}
	if r.Stack != "NAME0001" {
		t.Errorf("stack %q", r.Stack)
	}
	tcpip := make([]byte, 5)
	nmi.PutText(tcpip, "TCPIP")
	addr := []byte{192, 0, 2, 10} // an interface address of the demo data set
	for _, s := range rec {
		if bytes.Contains(s.msg, tcpip) || bytes.Contains(s.msg, addr) {
			t.Fatalf("a recorded message holds a name or an address: %x", s.msg)
		}
	}
	for _, leak := range []string{"TCPIP", "192.0.2.10", "PERMIT-DNS"} {
		if strings.Contains(report, leak) {
			t.Errorf("report holds %q", leak)
		}
	}
	if !strings.Contains(report, "198.18.0.") || !strings.Contains(report, "redacted:") {
		t.Error("report shows no replacement addresses")
	}
}

// startNSS serves the simulator's example NSS data set as NSS server NSS1.
func startNSS(t *testing.T, faults *ikedsim.Faults) string {
	t.Helper()
	d, err := ikedsim.LoadNSSDataSet("../ikedsim/testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{NSS: d, System: "NSS1", Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nss")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return path
}

// An NSS server's NMI: NMsec_GET_CLIENTINFO in place of the system-wide
// requests it does not route, then the per-stack requests to the first
// client; a client record whose layout differs is pinpointed.
func TestNSSServer(t *testing.T) {
	r, report, rec := runDoctor(t, startNSS(t, nil), Options{NSS: true})
	if !r.OK() {
		t.Fatalf("differences against the NSS-mode simulator:\n%s", report)
	}
	if r.Stack != "SYSA_TCPIP" || len(r.Exchanges) != 1+len(displayTypes) || r.Exchanges[0].Type != nmi.GetClientInfo {
		t.Fatalf("stack %q, %d exchanges, first %v", r.Stack, len(r.Exchanges), r.Exchanges[0].Type)
	}
	for _, s := range rec {
		var h nmi.Header
		h.UnmarshalBinary(s.msg)
		if s.send && (h.Type == nmi.GetStackInfo || h.Type == nmi.GetIKENSInfo) {
			t.Errorf("sent %v to an NSS server", h.Type)
		}
	}
	for _, want := range []string{"NMsec_GET_CLIENTINFO", "NMsCIClientName", `"SYSA_TCPIP"`, "NMsCIConnectTime"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	// The discipline one byte further on: the check names the field.
	faults := ikedsim.NewFaults()
	faults.Set(nmi.GetClientInfo, ikedsim.Fault{Mutate: func(msg []byte) []byte {
		w := walk(msg, nmi.GetClientInfo, true)
		for _, b := range w.blocks {
			if b.layout.Name == nmi.ClientInfoLayout.Name {
				off := fieldOf(b.layout, "NMsCIDiscipline").Off
				b.b[off+1], b.b[off] = b.b[off], 0
			}
		}
		return msg
	}})
	r, report, _ = runDoctor(t, startNSS(t, faults), Options{NSS: true})
	ci := r.Exchanges[0]
	if r.OK() || ci.Type != nmi.GetClientInfo || len(ci.Findings) == 0 {
		t.Fatalf("a moved discipline byte was not found:\n%s", report)
	}
	if f := strings.Join(ci.Findings, "\n"); !strings.Contains(f, "NMsCIDiscipline") && !strings.Contains(f, "reserved") {
		t.Errorf("findings do not name the field:\n%s", f)
	}
	t.Logf("finding: %s", ci.Findings[0])
}
