package doctor

import (
	"encoding/binary"
	"strconv"

	"github.com/nmigw/nmigw/internal/nmi"
)

// block is one laid-out piece of a message: where it starts in the
// message, its layout, and its bytes (which may be shorter or longer than
// the layout says).
type block struct {
	path   string // "header", "record[0]", "record[0].section[1]", ...
	off    int    // in the message
	layout nmi.Layout
	b      []byte
}

// finding is one check that failed.
type finding struct {
	off   int    // in the message
	where string // path and field
	want  string
	got   string
	msg   string // when want/got do not say it
}

func (f finding) String() string {
	s := "offset " + strconv.Itoa(f.off) + " (" + f.where + "): "
	if f.msg != "" {
		s += f.msg
		if f.want != "" || f.got != "" {
			s += ": "
		}
	}
	if f.want != "" || f.got != "" {
		s += "expected " + f.want + ", got " + f.got
	}
	return s
}

// walker splits a message into blocks along the layout this build
// expects, checking the framing as it goes: sizes, offsets, counts,
// eyecatchers. Field checks come later, per block.
type walker struct {
	msg      []byte
	blocks   []block
	findings []finding
}

func (w *walker) add(f finding) { w.findings = append(w.findings, f) }

var be = binary.BigEndian

// fieldOf finds a field of a layout by name; the layouts are nmi's, so a
// missing name is a programming error caught by the tests.
func fieldOf(l nmi.Layout, name string) *nmi.Field {
	for i := range l.Fields {
		if l.Fields[i].Name == name {
			return &l.Fields[i]
		}
	}
	panic("doctor: no field " + name + " in " + l.Name)
}

// get reads the named field of block b (laid out as l): its offset in b
// and its value.
func get(l nmi.Layout, name string, b []byte) (int, int) {
	f := fieldOf(l, name)
	return f.Off, int(f.Uint(b))
}

// walk lays out a whole message: header, then (for a response of type t)
// its records.
func walk(msg []byte, t nmi.MsgType, response bool) *walker {
	w := &walker{msg: msg}
	if len(msg) < nmi.HdrSize {
		w.add(finding{off: len(msg), where: "header", msg: "message shorter than its 64-byte header"})
		return w
	}
	w.blocks = append(w.blocks, block{path: "header", off: 0, layout: nmi.HeaderLayout, b: msg[:nmi.HdrSize]})
	var h nmi.Header
	_ = h.UnmarshalBinary(msg) // fills every field; the checks are ours
	if int(h.MsgSize) != len(msg) {
		w.add(finding{off: fieldOf(nmi.HeaderLayout, "NMsMMsgSize").Off, where: "header.NMsMMsgSize", want: strconv.Itoa(len(msg)) + " (the bytes received)", got: strconv.FormatUint(uint64(h.MsgSize), 10)})
	}
	if !response {
		return w
	}
	secs, cascade := nmi.ResponseLayouts(t)
	if h.RecCount == 0 {
		if len(msg) > nmi.HdrSize {
			w.add(finding{off: fieldOf(nmi.HeaderLayout, "NMsMRecCount").Off, where: "header.NMsMRecCount", msg: strconv.Itoa(len(msg)-nmi.HdrSize) + " bytes follow a header that announces no records"})
		}
		return w
	}
	if int(h.RecOff) < nmi.HdrSize || int(h.RecOff) > len(msg) {
		w.add(finding{off: fieldOf(nmi.HeaderLayout, "NMsMRecOff").Off, where: "header.NMsMRecOff", want: ">= 64 and inside the message", got: strconv.FormatUint(uint64(h.RecOff), 10)})
		return w
	}
	end := w.records(int(h.RecOff), len(msg), int(h.RecCount), "record", secs, cascade)
	if end >= 0 && end != len(msg) {
		w.add(finding{off: end, where: "after the records", msg: strconv.Itoa(len(msg)-end) + " bytes left over after NMsMRecCount records"})
	}
	return w
}

// records lays out count records from off up to limit; it returns where
// they end, or -1 when they cannot be followed.
func (w *walker) records(off, limit, count int, prefix string, secs []nmi.Layout, cascade bool) int {
	for i := 0; i < count; i++ {
		path := prefix + "[" + strconv.Itoa(i) + "]"
		if limit-off < nmi.RecHdrSize {
			w.add(finding{off: off, where: path, msg: "fewer records than announced: " + strconv.Itoa(limit-off) + " bytes left for a 16-byte record header"})
			return -1
		}
		rh := w.msg[off : off+nmi.RecHdrSize]
		w.blocks = append(w.blocks, block{path: path, off: off, layout: nmi.RecordHeaderLayout, b: rh})
		identOff, ident := get(nmi.RecordHeaderLayout, "NMsRIdent", rh)
		if uint32(ident) != nmi.RIdent {
			w.add(finding{off: off + identOff, where: path + ".NMsRIdent", want: hex(nmiBytes(nmi.RIdent)), got: hex(rh[identOff : identOff+4])})
			return -1
		}
		lenOff, recLen := get(nmi.RecordHeaderLayout, "NMsRRecLen", rh)
		secOff, nsec := get(nmi.RecordHeaderLayout, "NMsRSecCount", rh)
		cascOff, ncasc := get(nmi.RecordHeaderLayout, "NMsRCascCount", rh)
		if recLen < nmi.RecHdrSize || off+recLen > limit {
			w.add(finding{off: off + lenOff, where: path + ".NMsRRecLen", want: "16 to " + strconv.Itoa(limit-off), got: strconv.Itoa(recLen)})
			return -1
		}
		if recLen%4 != 0 {
			w.add(finding{off: off + lenOff, where: path + ".NMsRRecLen", want: "a multiple of 4", got: strconv.Itoa(recLen)})
		}
		if nsec != len(secs) {
			w.add(finding{off: off + secOff, where: path + ".NMsRSecCount", want: strconv.Itoa(len(secs)), got: strconv.Itoa(nsec)})
		}
		// A cascade record carries zero or one container; others none.
		if !cascade && ncasc != 0 || ncasc > 1 {
			want := "0"
			if cascade {
				want = "0 or 1"
			}
			w.add(finding{off: off + cascOff, where: path + ".NMsRCascCount", want: want, got: strconv.Itoa(ncasc)})
		}
		rec := w.msg[off : off+recLen]
		d := nmi.RecHdrSize
		for s := 0; s < nsec; s++ {
			spath := path + ".section[" + strconv.Itoa(s) + "]"
			if d+nmi.SecDescSize > recLen {
				w.add(finding{off: off + d, where: spath + " descriptor", msg: "descriptor beyond the record's end"})
				break
			}
			w.blocks = append(w.blocks, block{path: spath + " descriptor", off: off + d, layout: nmi.SectionDescLayout, b: rec[d : d+nmi.SecDescSize]})
			desc := rec[d : d+nmi.SecDescSize]
			_, so := get(nmi.SectionDescLayout, "offset", desc)
			slOff, sl := get(nmi.SectionDescLayout, "length", desc)
			if so < nmi.RecHdrSize || so+sl > recLen || so%4 != 0 {
				w.add(finding{off: off + d, where: spath + " descriptor", want: "an aligned span inside the record's " + strconv.Itoa(recLen) + " bytes", got: "offset " + strconv.Itoa(so) + ", length " + strconv.Itoa(sl)})
				d += nmi.SecDescSize
				continue
			}
			l := nmi.Layout{Name: "section (no layout in this build)", Size: -1, Source: nmi.Proposed}
			if s < len(secs) {
				l = secs[s]
			}
			if l.Size >= 0 && sl != l.Size {
				f := finding{off: off + d + slOff, where: spath + " (" + l.Name + ") length", want: strconv.Itoa(l.Size), got: strconv.Itoa(sl)}
				if l.IBMSize > 0 && sl >= l.IBMSize && sl < l.Size {
					// The gateway still answers from IBM's fields.
					f.msg = "IBM prefix present (" + strconv.Itoa(l.IBMSize) + " bytes), PROPOSED remainder absent"
				}
				w.add(f)
			}
			w.blocks = append(w.blocks, block{path: spath, off: off + so, layout: l, b: rec[so : so+sl]})
			d += nmi.SecDescSize
		}
		for c := 0; c < ncasc && c < 1; c++ {
			cpath := path + ".cascade"
			cd := nmi.RecHdrSize + nsec*nmi.SecDescSize
			if cd+nmi.CascDescSize > recLen {
				w.add(finding{off: off + min(cd, recLen), where: cpath + " descriptor", msg: "descriptor beyond the record's end"})
				break
			}
			w.blocks = append(w.blocks, block{path: cpath + " descriptor", off: off + cd, layout: nmi.CascadeDescLayout, b: rec[cd : cd+nmi.CascDescSize]})
			desc := rec[cd : cd+nmi.CascDescSize]
			_, co := get(nmi.CascadeDescLayout, "offset", desc)
			_, cl := get(nmi.CascadeDescLayout, "length", desc)
			_, cn := get(nmi.CascadeDescLayout, "count", desc)
			if co < nmi.RecHdrSize || co+cl > recLen {
				w.add(finding{off: off + cd, where: cpath + " descriptor", want: "a span inside the record", got: "offset " + strconv.Itoa(co) + ", length " + strconv.Itoa(cl)})
				break
			}
			dynIKE, _ := nmi.ResponseLayouts(nmi.GetIPTunDynIKE)
			if e := w.records(off+co, off+co+cl, cn, cpath+".record", dynIKE, false); e >= 0 && e != off+co+cl {
				w.add(finding{off: e, where: cpath, msg: "cascaded records do not fill the container's length"})
			}
		}
		off += recLen
	}
	return off
}

func nmiBytes(v uint32) []byte { return be.AppendUint32(nil, v) }

const hexDigits = "0123456789ABCDEF"

func hex(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}
