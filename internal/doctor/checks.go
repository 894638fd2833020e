package doctor

import (
	"strconv"

	"github.com/nmigw/nmigw/internal/nmi"
)

// checkFields checks every field of every block against its layout:
// eyecatchers and fixed values, reserved bytes, flag bits this build does
// not define, enumeration values out of range.
func checkFields(w *walker) {
	for _, b := range w.blocks {
		for i := range b.layout.Fields {
			f := &b.layout.Fields[i]
			if f.Off+f.Len > len(b.b) {
				continue // a short block: its length finding says so
			}
			if f := fieldFinding(b, f); f != nil {
				w.add(*f)
			}
		}
	}
}

func fieldFinding(b block, f *nmi.Field) *finding {
	raw := b.b[f.Off : f.Off+f.Len]
	at := finding{off: b.off + f.Off, where: b.path + "." + f.Name}
	switch f.Kind {
	case nmi.FieldEyecatcher:
		if v := f.Uint(b.b); v != f.Want {
			at.want, at.got = hexN(f.Want, f.Len), hex(raw)
			if isIdent(f) {
				at.want += describeText(nmiBytesN(f.Want, f.Len))
				at.got += describeText(raw)
			}
			return &at
		}
	case nmi.FieldReserved:
		if !allZero(raw) {
			at.want, at.got = "reserved bytes zero", hex(raw)
			return &at
		}
	case nmi.FieldFlags:
		if v := f.Uint(b.b); v&^f.Mask != 0 {
			at.msg = "flag bits this build does not define are set"
			at.want, at.got = "only bits of mask "+hexN(f.Mask, f.Len), hexN(v, f.Len)
			return &at
		}
	case nmi.FieldEnum:
		if name := f.Enum(f.Uint(b.b)); nmi.IsUnknown(name) {
			at.msg = "enumeration value out of range"
			at.want, at.got = "a value this build names", strconv.FormatUint(f.Uint(b.b), 10)
			return &at
		}
	}
	return nil
}

// decodeCheck decodes every record with the codec's typed decoders, which
// check what the field tables do not (cross-field rules, text, address
// families), and reports the first failure at its record.
func decodeCheck(w *walker, msg []byte, h nmi.Header, t nmi.MsgType) {
	if h.RecCount == 0 || int(h.RecOff) > len(msg) {
		return
	}
	dec := decoderFor(t)
	if dec == nil {
		return
	}
	d := nmi.NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
	off := int(h.RecOff)
	for d.Next() {
		r := d.Record()
		if err := dec(r); err != nil {
			w.add(finding{off: off, where: "record[" + strconv.Itoa(d.Index()) + "]", msg: "the codec refuses it: " + err.Error()})
			return
		}
		off += r.Len()
	}
	if err := d.Err(); err != nil {
		w.add(finding{off: off, where: "records", msg: "the codec refuses them: " + err.Error()})
	}
}

func decoderFor(t nmi.MsgType) func(nmi.Record) error {
	switch t {
	case nmi.GetStackInfo:
		return func(r nmi.Record) error { var v nmi.StackRecord; return v.Decode(r) }
	case nmi.GetIKENSInfo:
		return func(r nmi.Record) error { var v nmi.NSSRecord; return v.Decode(r) }
	case nmi.GetIPInterfaces:
		return func(r nmi.Record) error { var v nmi.InterfaceRecord; return v.Decode(r) }
	case nmi.GetSummary:
		return func(r nmi.Record) error { var v nmi.SummaryRecord; return v.Decode(r) }
	case nmi.GetIPFltCurr, nmi.GetIPFltDefault, nmi.GetIPFltPolicy:
		return func(r nmi.Record) error { var v nmi.FilterRecord; return v.Decode(r) }
	case nmi.GetPortTrans:
		return func(r nmi.Record) error { var v nmi.PortTransRecord; return v.Decode(r) }
	case nmi.GetIPTunManual:
		return func(r nmi.Record) error { var v nmi.ManualTunnelRecord; return v.Decode(r) }
	case nmi.GetIPTunDynStack:
		return func(r nmi.Record) error { var v nmi.DynStackRecord; return v.Decode(r) }
	case nmi.GetIPTunDynIKE:
		return func(r nmi.Record) error { var v nmi.DynIKERecord; return v.Decode(r) }
	case nmi.GetIKETun, nmi.GetIKETunCascade:
		return func(r nmi.Record) error { var v nmi.IKETunnelRecord; return v.Decode(r) }
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func nmiBytesN(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

func hexN(v uint64, n int) string { return hex(nmiBytesN(v, n)) }

// isIdent tells an identifier (text eyecatcher) from a fixed number.
func isIdent(f *nmi.Field) bool { return len(f.Name) > 5 && f.Name[len(f.Name)-5:] == "Ident" }

// describeText adds the EBCDIC reading of an eyecatcher: " (C'NMSM')".
func describeText(b []byte) string { return " (C'" + nmi.Text(b) + "')" }
