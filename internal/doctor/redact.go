package doctor

import (
	"net/netip"
	"strconv"

	"github.com/nmigw/nmigw/internal/nmi"
)

// redactor replaces names and addresses consistently: the same name or
// address always becomes the same replacement, within one run, so that
// the relations between records survive (a tunnel's rule still names the
// same filter).
type redactor struct {
	names map[string]string
	addrs map[netip.Addr]netip.Addr
	ids   map[string][]byte
	v4    uint32
	v6    uint64
}

func newRedactor() *redactor {
	return &redactor{names: map[string]string{}, addrs: map[netip.Addr]netip.Addr{}, ids: map[string][]byte{}}
}

// name returns the replacement of a name: NAME0001, NAME0002, ... (8
// characters, so that it fits every name field); "" stays "".
func (r *redactor) name(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := r.names[s]; ok {
		return v
	}
	v := "NAME" + pad4(len(r.names)+1)
	r.names[s] = v
	return v
}

func pad4(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// addr returns the replacement of an address: 198.18.0.0/15 (RFC 2544,
// benchmarking) for IPv4, 2001:db8::/32 (RFC 3849, documentation) for
// IPv6. The unspecified address (meaning "any") stays.
func (r *redactor) addr(a netip.Addr) netip.Addr {
	if a.IsUnspecified() {
		return a
	}
	if v, ok := r.addrs[a]; ok {
		return v
	}
	var v netip.Addr
	if a.Is4() {
		r.v4++
		n := uint32(198<<24|18<<16) + r.v4
		v = netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	} else {
		r.v6++
		b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
		for i := 0; i < 8; i++ {
			b[15-i] = byte(r.v6 >> (8 * i))
		}
		v = netip.AddrFrom16(b)
	}
	r.addrs[a] = v
	return v
}

// message redacts msg in place: the header's target, and in the records
// every text and address field and every identity section.
func (r *redactor) message(msg []byte, t nmi.MsgType, response bool) {
	wk := walk(msg, t, response)
	for _, b := range wk.blocks {
		switch {
		case b.layout.Name == nmi.HeaderLayout.Name:
			for i := range b.layout.Fields {
				if f := &b.layout.Fields[i]; f.Name == "NMsMTarget" {
					r.text(b.b[f.Off : f.Off+f.Len])
				}
			}
		case b.layout.Name == nmi.IdentityLayout.Name:
			r.identity(b.b)
		default:
			for i := range b.layout.Fields {
				f := &b.layout.Fields[i]
				if f.Off+f.Len > len(b.b) {
					continue
				}
				switch f.Kind {
				case nmi.FieldText:
					r.text(b.b[f.Off : f.Off+f.Len])
				case nmi.FieldAddr:
					raw := b.b[f.Off : f.Off+f.Len]
					if allZero(raw[:12]) {
						a := r.addr(netip.AddrFrom4([4]byte(raw[12:])))
						v := a.As4()
						copy(raw[12:], v[:])
					} else {
						v := r.addr(netip.AddrFrom16([16]byte(raw))).As16()
						copy(raw, v[:])
					}
				}
			}
		}
	}
}

func (r *redactor) text(field []byte) {
	s := nmi.Text(field)
	if s == "" {
		return
	}
	repl := r.name(s)
	if len(repl) > len(field) {
		repl = repl[len(repl)-len(field):]
	}
	_ = nmi.PutText(field, repl) // ASCII, and it fits
}

// identity replaces an identity section: an address when it has the
// length of one, else the EBCDIC of ID0001, ... cut or padded with blanks
// to the same length.
func (r *redactor) identity(b []byte) {
	switch len(b) {
	case 0:
		return
	case 4:
		v := r.addr(netip.AddrFrom4([4]byte(b))).As4()
		copy(b, v[:])
		return
	case 16:
		v := r.addr(netip.AddrFrom16([16]byte(b))).As16()
		copy(b, v[:])
		return
	}
	key := string(b)
	v, ok := r.ids[key]
	if !ok {
		v = make([]byte, len(b))
		id := "ID" + pad4(len(r.ids)+1)
		if len(id) > len(v) {
			id = id[len(id)-len(v):]
		}
		_ = nmi.PutText(v, id)
		r.ids[key] = v
	}
	copy(b, v)
}
