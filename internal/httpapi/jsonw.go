package httpapi

import (
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/nmigw/nmigw/internal/nmi"
)

// jsonw appends JSON to a byte slice without reflection. Views of NMI
// records are written field by field as records arrive, so a list of any
// length is encoded with a bounded buffer and few allocations.
//
// The writer tracks only whether a comma is due; callers open and close
// objects and arrays in the right order.
type jsonw struct {
	b     []byte
	comma bool // a value was written at the current nesting level
}

func (w *jsonw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
}

func (w *jsonw) key(k string) {
	// One local slice instead of w.b in every append: keys are most of
	// the appends of a record's view.
	b := w.b
	if w.comma {
		b = append(b, ',')
	}
	w.comma = true
	b = append(b, '"')
	b = append(b, k...) // keys are constant camelCase identifiers
	w.b = append(b, '"', ':')
}

// beginObject starts an object as a value (in an array, or after key).
func (w *jsonw) beginObject() {
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jsonw) endObject() {
	w.b = append(w.b, '}')
	w.comma = true
}

// object starts an object under key k.
func (w *jsonw) object(k string) {
	w.key(k)
	w.beginObject()
}

// array starts an array under key k.
func (w *jsonw) array(k string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.comma = false
}

func (w *jsonw) endArray() {
	w.b = append(w.b, ']')
	w.comma = true
}

// elem prepares for the next array element.
func (w *jsonw) elem() { w.sep(); w.comma = false }

func (w *jsonw) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// enum writes a string that needs no escaping: the name of an NMI code.
// The String methods of internal/nmi's enumerations give ASCII
// identifiers (or unknown(N)), which a test checks for every value, so
// the scan of appendJSONString is skipped.
func (w *jsonw) enum(k, v string) {
	w.key(k)
	b := append(w.b, '"')
	b = append(b, v...)
	w.b = append(b, '"')
}

// optStr writes k only when v is not empty.
func (w *jsonw) optStr(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jsonw) strElem(v string) {
	w.sep()
	w.b = appendJSONString(w.b, v)
}

func (w *jsonw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonw) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

// optUint writes k only when v is not zero.
func (w *jsonw) optUint(k string, v uint64) {
	if v != 0 {
		w.uint(k, v)
	}
}

// addr writes an address as text; an invalid (absent) address is left out.
func (w *jsonw) addr(k string, a netip.Addr) {
	if a.IsValid() {
		w.key(k)
		w.b = append(w.b, '"')
		w.b = a.AppendTo(w.b)
		w.b = append(w.b, '"')
	}
}

// optAddr writes an address unless it is absent or all zeros (the NMI's
// "none", for example a NAT-OA that was not sent).
func (w *jsonw) optAddr(k string, a netip.Addr) {
	if a.IsValid() && !a.IsUnspecified() {
		w.addr(k, a)
	}
}

// unixTime writes seconds since the epoch as RFC 3339 UTC; 0 (not set) is
// left out.
func (w *jsonw) unixTime(k string, sec uint32) {
	if sec == 0 {
		return
	}
	w.key(k)
	w.b = appendUnixTime(w.b, sec)
}

// appendUnixTime appends seconds since the epoch as a JSON string in
// RFC 3339 UTC, as time.Time.AppendFormat(time.RFC3339) writes it: a
// uint32 is always in years 1970-2106, so the date is computed directly
// (the civil-from-days algorithm of H. Hinnant) and written in fixed
// width, which a list of 100,000 filter rules, each with its creation
// time, notices.
func appendUnixTime(b []byte, sec uint32) []byte {
	days, rem := sec/86400, sec%86400
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	hour, minute, second := rem/3600, rem/60%60, rem%60
	return append(b, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+second/10), byte('0'+second%10), 'Z', '"')
}

// text writes an EBCDIC (IBM-1047) text field, trailing blanks and NULs
// dropped, straight into the JSON without an intermediate string.
func (w *jsonw) text(k string, field []byte) {
	w.key(k)
	w.b = appendEBCDICString(w.b, field)
}

// optText writes k only when the field is not blank.
func (w *jsonw) optText(k string, field []byte) {
	if nmi.TextLen(field) > 0 {
		w.text(k, field)
	}
}

// ebcdicPlain is the byte an IBM-1047 character is written as inside a
// JSON string, 0 when it needs more (escaped, or two bytes of UTF-8):
// ebcdicJSON then holds its form. Both come from nmi's code page.
var ebcdicPlain, ebcdicJSON = ebcdicTables()

func ebcdicTables() (plain [256]byte, escaped [256]string) {
	const hex = "0123456789abcdef"
	for c := range 256 {
		r := nmi.EBCDICRune(byte(c))
		switch {
		case r == '"' || r == '\\':
			escaped[c] = string([]byte{'\\', byte(r)})
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			escaped[c] = string([]byte{'\\', 'u', '0', '0', hex[r>>4], hex[r&0xF]})
		case r < utf8.RuneSelf:
			plain[c] = byte(r)
		default:
			escaped[c] = string(utf8.AppendRune(nil, r))
		}
	}
	return plain, escaped
}

// appendEBCDICString appends an IBM-1047 field as a JSON string. Fields
// are mostly plain text: room for one byte per character is made at once
// and filled by index, and only a character that needs an escape or two
// bytes of UTF-8 takes the slower path for the rest of the field.
func appendEBCDICString(b, field []byte) []byte {
	field = field[:nmi.TextLen(field)]
	n := len(b)
	b = slices.Grow(b, len(field)+2)[:n+1+len(field)]
	b[n] = '"'
	out := b[n+1:]
	for i, c := range field {
		p := ebcdicPlain[c]
		if p == 0 {
			b = b[:n+1+i]
			for _, c := range field[i:] {
				if p := ebcdicPlain[c]; p != 0 {
					b = append(b, p)
				} else {
					b = append(b, ebcdicJSON[c]...)
				}
			}
			break
		}
		out[i] = p
	}
	return append(b, '"')
}

// ebcdicPlainText reports whether an IBM-1047 field is written in JSON
// without escapes or multi-byte characters.
func ebcdicPlainText(field []byte) bool {
	for _, c := range field[:nmi.TextLen(field)] {
		if ebcdicPlain[c] == 0 {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; <, > and & are escaped so that a body is safe to embed in HTML.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
