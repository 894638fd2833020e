package doctor

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// WriteReport writes the plain-text report: how to read it, every message
// dumped field by field (at most dumpRecords records per answer), the
// checks that failed and a verdict per request, then the summary table.
func (r *Result) WriteReport(out io.Writer, dumpRecords int) error {
	if dumpRecords <= 0 {
		dumpRecords = 3
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "gateway doctor: field check of %s\n", r.Endpoint)
	fmt.Fprintf(w, "layout: NMI interface version %d as this build speaks it (internal/nmi/layout.go)\n", nmi.Version)
	fmt.Fprintf(w, "source: IBM = IBM's published layout (exact); PROPOSED = the project's own, unconfirmed against a real IKED\n")
	if r.redactor != nil {
		fmt.Fprintf(w, "redacted: addresses and names are replaced consistently (the same value gives the same replacement)\n")
	}
	fmt.Fprintf(w, "no control request is sent\n\n")

	fmt.Fprintf(w, "== NMsec_INIT ==\n")
	if r.Init != nil {
		dumpMessage(w, walk(r.Init, nmi.MsgInit, false), dumpRecords)
		fmt.Fprintf(w, "announces interface version %d\n", r.Version)
	}
	writeFindings(w, r.InitFinds)
	fmt.Fprintf(w, "verdict: %s\n\n", r.initVerdict())

	for i, e := range r.Exchanges {
		fmt.Fprintf(w, "== %d. %s", i+1, e.Type)
		if e.Target != "" {
			fmt.Fprintf(w, " on %s", e.Target)
		}
		fmt.Fprintf(w, " ==\n")
		if e.Request != nil {
			fmt.Fprintf(w, "request, %d bytes:\n", len(e.Request))
			dumpMessage(w, walk(e.Request, e.Type, false), dumpRecords)
		}
		if e.Response != nil {
			fmt.Fprintf(w, "answer, %d bytes, %d records:\n", len(e.Response), e.Records)
			dumpMessage(w, e.walk, dumpRecords)
		}
		writeFindings(w, e.Findings)
		for _, n := range e.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		fmt.Fprintf(w, "verdict: %s\n\n", e.Verdict())
	}

	fmt.Fprintf(w, "== summary ==\n")
	fmt.Fprintf(w, "%-3s %-26s %-10s %9s %8s  %s\n", "#", "request", "target", "bytes", "records", "verdict")
	fmt.Fprintf(w, "%-3s %-26s %-10s %9s %8s  %s\n", "0", "NMsec_INIT", "", strconv.Itoa(len(r.Init)), "", r.initVerdict())
	for i, e := range r.Exchanges {
		fmt.Fprintf(w, "%-3d %-26s %-10s %9d %8d  %s\n", i+1, e.Type, e.Target, len(e.Response), e.Records, e.Verdict())
	}
	if r.OK() {
		fmt.Fprintf(w, "\nresult: every message matches the layout this build expects\n")
	} else {
		fmt.Fprintf(w, "\nresult: DIFFERENCES FOUND; attach this report and the capture to a bug report\n")
	}
	return w.Flush()
}

func (r *Result) initVerdict() string {
	switch {
	case r.Init == nil:
		return "no NMsec_INIT"
	case len(r.InitFinds) == 0:
		return "matches"
	}
	return "differs at " + r.InitFinds[0]
}

func writeFindings(w io.Writer, fs []string) {
	if len(fs) == 0 {
		fmt.Fprintf(w, "checks: all passed\n")
		return
	}
	fmt.Fprintf(w, "checks that failed (%d):\n", len(fs))
	for _, f := range fs {
		fmt.Fprintf(w, "  - %s\n", f)
	}
}

// dumpMessage writes every block field by field; records past the first
// max are left out (they are checked all the same).
func dumpMessage(w io.Writer, wk *walker, max int) {
	skipped := 0
	for _, b := range wk.blocks {
		if n, ok := topRecord(b.path); ok && n >= max {
			if b.layout.Name == nmi.RecordHeaderLayout.Name && !strings.Contains(b.path, ".cascade") {
				skipped++
			}
			continue
		}
		dumpBlock(w, b)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  (%d more records checked, not dumped)\n", skipped)
	}
}

// topRecord is the index of the top-level record a block belongs to.
func topRecord(path string) (int, bool) {
	if !strings.HasPrefix(path, "record[") {
		return 0, false
	}
	end := strings.IndexByte(path, ']')
	n, err := strconv.Atoi(path[len("record["):end])
	return n, err == nil
}

func dumpBlock(w io.Writer, b block) {
	size := "variable length"
	if b.layout.Size >= 0 {
		size = strconv.Itoa(b.layout.Size) + " bytes expected"
	}
	fmt.Fprintf(w, "  %s: %s (%s, length %s; %d present)\n", b.path, b.layout.Name, size, b.layout.Source, len(b.b))
	fmt.Fprintf(w, "    %6s %4s  %-28s %-8s  %-34s %s\n", "offset", "len", "field", "source", "hex", "value")
	pos := 0
	for i := range b.layout.Fields {
		f := &b.layout.Fields[i]
		if f.Off > pos && pos < len(b.b) {
			gap(w, b, pos, min(f.Off, len(b.b)), "(padding)")
		}
		if f.Off >= len(b.b) {
			fmt.Fprintf(w, "    %6d %4d  %-28s %-8s  %s\n", b.off+f.Off, f.Len, f.Name, f.Source, "(missing: the block is shorter)")
			pos = f.Off + f.Len
			continue
		}
		end := min(f.Off+f.Len, len(b.b))
		raw := b.b[f.Off:end]
		val := ""
		if end == f.Off+f.Len {
			val = value(f, b.b)
		}
		fmt.Fprintf(w, "    %6d %4d  %-28s %-8s  %-34s %s\n", b.off+f.Off, f.Len, f.Name, f.Source, clip(hex(raw)), val)
		pos = f.Off + f.Len
	}
	if pos < len(b.b) {
		what := "(beyond this build's layout)"
		if len(b.layout.Fields) == 0 {
			what = "(bytes)"
		}
		gap(w, b, pos, len(b.b), what)
	}
}

func gap(w io.Writer, b block, from, to int, what string) {
	for p := from; p < to; p += 16 {
		e := min(p+16, to)
		fmt.Fprintf(w, "    %6d %4d  %-28s %-8s  %s\n", b.off+p, e-p, what, "", hex(b.b[p:e]))
	}
}

func clip(s string) string {
	if len(s) > 34 {
		return s[:31] + "..."
	}
	return s
}

// value renders a field for people.
func value(f *nmi.Field, b []byte) string {
	raw := b[f.Off : f.Off+f.Len]
	switch f.Kind {
	case nmi.FieldUint:
		return strconv.FormatUint(f.Uint(b), 10)
	case nmi.FieldInt:
		v := f.Uint(b)
		return strconv.FormatInt(int64(int32(uint32(v))), 10)
	case nmi.FieldText:
		return strconv.Quote(nmi.Text(raw))
	case nmi.FieldAddr:
		a := netip.AddrFrom16([16]byte(raw))
		if a.Is4In6() || allZero(raw[:12]) {
			return netip.AddrFrom4([4]byte(raw[12:])).String()
		}
		return a.String()
	case nmi.FieldFlags:
		return "bits " + hexN(f.Uint(b), f.Len)
	case nmi.FieldEnum:
		return strconv.FormatUint(f.Uint(b), 10) + " " + f.Enum(f.Uint(b))
	case nmi.FieldTime:
		v := f.Uint(b)
		if v == 0 {
			return "0 (none)"
		}
		return time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
	case nmi.FieldEyecatcher:
		if isIdent(f) {
			return "C'" + nmi.Text(raw) + "'"
		}
		return strconv.FormatUint(f.Uint(b), 10)
	case nmi.FieldReserved:
		return "reserved"
	}
	return ""
}
