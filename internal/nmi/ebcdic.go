package nmi

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Text on the wire is EBCDIC code page IBM-1047, padded on the right with
// blanks (X'40') and never NUL-terminated. IBM-1047 maps the 256 byte values
// one to one onto U+0000..U+00FF, so decoding never fails and encoding fails
// only for runes above U+00FF. The table is checked against
// golang.org/x/text/encoding/charmap.CodePage1047 in the tests.

// ebcdicBlank is the EBCDIC blank used for padding.
const ebcdicBlank = 0x40

// ebcdicToLatin1 maps an IBM-1047 byte to its code point (U+0000..U+00FF).
var ebcdicToLatin1 = [256]byte{
	0x00, 0x01, 0x02, 0x03, 0x9C, 0x09, 0x86, 0x7F, 0x97, 0x8D, 0x8E, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, // 0x00
	0x10, 0x11, 0x12, 0x13, 0x9D, 0x85, 0x08, 0x87, 0x18, 0x19, 0x92, 0x8F, 0x1C, 0x1D, 0x1E, 0x1F, // 0x10
	0x80, 0x81, 0x82, 0x83, 0x84, 0x0A, 0x17, 0x1B, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x05, 0x06, 0x07, // 0x20
	0x90, 0x91, 0x16, 0x93, 0x94, 0x95, 0x96, 0x04, 0x98, 0x99, 0x9A, 0x9B, 0x14, 0x15, 0x9E, 0x1A, // 0x30
	0x20, 0xA0, 0xE2, 0xE4, 0xE0, 0xE1, 0xE3, 0xE5, 0xE7, 0xF1, 0xA2, 0x2E, 0x3C, 0x28, 0x2B, 0x7C, // 0x40
	0x26, 0xE9, 0xEA, 0xEB, 0xE8, 0xED, 0xEE, 0xEF, 0xEC, 0xDF, 0x21, 0x24, 0x2A, 0x29, 0x3B, 0x5E, // 0x50
	0x2D, 0x2F, 0xC2, 0xC4, 0xC0, 0xC1, 0xC3, 0xC5, 0xC7, 0xD1, 0xA6, 0x2C, 0x25, 0x5F, 0x3E, 0x3F, // 0x60
	0xF8, 0xC9, 0xCA, 0xCB, 0xC8, 0xCD, 0xCE, 0xCF, 0xCC, 0x60, 0x3A, 0x23, 0x40, 0x27, 0x3D, 0x22, // 0x70
	0xD8, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0xAB, 0xBB, 0xF0, 0xFD, 0xFE, 0xB1, // 0x80
	0xB0, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70, 0x71, 0x72, 0xAA, 0xBA, 0xE6, 0xB8, 0xC6, 0xA4, // 0x90
	0xB5, 0x7E, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xA1, 0xBF, 0xD0, 0x5B, 0xDE, 0xAE, // 0xA0
	0xAC, 0xA3, 0xA5, 0xB7, 0xA9, 0xA7, 0xB6, 0xBC, 0xBD, 0xBE, 0xDD, 0xA8, 0xAF, 0x5D, 0xB4, 0xD7, // 0xB0
	0x7B, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0xAD, 0xF4, 0xF6, 0xF2, 0xF3, 0xF5, // 0xC0
	0x7D, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x50, 0x51, 0x52, 0xB9, 0xFB, 0xFC, 0xF9, 0xFA, 0xFF, // 0xD0
	0x5C, 0xF7, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xB2, 0xD4, 0xD6, 0xD2, 0xD3, 0xD5, // 0xE0
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xB3, 0xDB, 0xDC, 0xD9, 0xDA, 0x9F, // 0xF0
}

// latin1ToEBCDIC is the inverse of ebcdicToLatin1.
var latin1ToEBCDIC = func() (t [256]byte) {
	for e, l := range ebcdicToLatin1 {
		t[l] = byte(e)
	}
	return t
}()

// Errors of text encoding. They are returned wrapped in a *FormatError
// naming the field.
var (
	ErrTextTooLong    = errors.New("text longer than its field")
	ErrTextUnmappable = errors.New("character has no IBM-1047 mapping")
)

// PutText writes s into dst as IBM-1047, padded with blanks. It fails
// without truncating when s does not fit or holds a character that IBM-1047
// cannot represent (or invalid UTF-8); dst is then left unchanged.
func PutText(dst []byte, s string) error {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r > 0xFF || (r == utf8.RuneError && size == 1) {
				return ErrTextUnmappable
			}
			i += size
		}
		n++
	}
	if n > len(dst) {
		return ErrTextTooLong
	}
	j := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst[j] = latin1ToEBCDIC[c]
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			dst[j] = latin1ToEBCDIC[byte(r)]
			i += size
		}
		j++
	}
	for ; j < len(dst); j++ {
		dst[j] = ebcdicBlank
	}
	return nil
}

// TextLen returns the length of an IBM-1047 field without its trailing
// blanks and NULs.
func TextLen(b []byte) int {
	n := len(b)
	// Eight bytes at a time while they are all blanks or NULs (0x40 or
	// 0x00: no bit but 0x40 set): fixed-width fields are mostly padding.
	for n >= 8 && binary.LittleEndian.Uint64(b[n-8:n])&^0x4040404040404040 == 0 {
		n -= 8
	}
	for n > 0 && (b[n-1] == ebcdicBlank || b[n-1] == 0) {
		n--
	}
	return n
}

// EBCDICRune returns the character of an IBM-1047 byte (U+0000..U+00FF).
func EBCDICRune(c byte) rune { return rune(ebcdicToLatin1[c]) }

// AppendText appends an IBM-1047 field to dst as UTF-8, trailing blanks
// and NULs dropped: the text of Text without a string of its own.
func AppendText(dst, field []byte) []byte {
	for _, c := range field[:TextLen(field)] {
		if r := ebcdicToLatin1[c]; r < utf8.RuneSelf {
			dst = append(dst, r)
		} else {
			dst = utf8.AppendRune(dst, rune(r))
		}
	}
	return dst
}

// Text decodes IBM-1047 bytes, dropping trailing blanks and NULs.
func Text(b []byte) string {
	n := TextLen(b)
	if n == 0 {
		return ""
	}
	size := n
	for _, c := range b[:n] {
		if ebcdicToLatin1[c] >= utf8.RuneSelf {
			size++
		}
	}
	return string(AppendText(make([]byte, 0, size), b[:n]))
}

// TextEqual reports whether the IBM-1047 field b holds s, ignoring trailing
// blanks and NULs in b. It does not allocate.
func TextEqual(b []byte, s string) bool {
	n := TextLen(b)
	j := 0
	for i := 0; i < len(s); {
		var r rune
		if c := s[i]; c < utf8.RuneSelf {
			r = rune(c)
			i++
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(s[i:])
			i += size
			if r > 0xFF || (r == utf8.RuneError && size == 1) {
				return false
			}
		}
		if j >= n || rune(ebcdicToLatin1[b[j]]) != r {
			return false
		}
		j++
	}
	return j == n
}

// IsBlank reports whether the field holds only blanks or NULs.
func IsBlank(b []byte) bool { return TextLen(b) == 0 }

// putField copies a fixed text field to dst. Trailing NULs (a zero value, or
// a NUL-padded field as decoded) are sent as blanks: text on the wire is
// blank padded.
func putField(dst, src []byte) {
	copy(dst, src)
	for i := len(src) - 1; i >= 0 && src[i] == 0; i-- {
		dst[i] = ebcdicBlank
	}
}

// Fixed-length EBCDIC text fields. The zero value is an empty field, sent
// as blanks.
type (
	Text8  [8]byte
	Text16 [16]byte
	Text24 [24]byte
	Text48 [48]byte
)

// String decodes the field (trailing blanks trimmed).
func (t Text8) String() string { return Text(t[:]) }

// Set stores s, blank padded. It fails if s does not fit or cannot be encoded.
func (t *Text8) Set(s string) error { return PutText(t[:], s) }

// Equal reports whether the field holds s, without allocating.
func (t *Text8) Equal(s string) bool { return TextEqual(t[:], s) }

// IsBlank reports whether the field is empty.
func (t *Text8) IsBlank() bool { return IsBlank(t[:]) }

// String decodes the field (trailing blanks trimmed).
func (t Text16) String() string { return Text(t[:]) }

// Set stores s, blank padded. It fails if s does not fit or cannot be encoded.
func (t *Text16) Set(s string) error { return PutText(t[:], s) }

// Equal reports whether the field holds s, without allocating.
func (t *Text16) Equal(s string) bool { return TextEqual(t[:], s) }

// IsBlank reports whether the field is empty.
func (t *Text16) IsBlank() bool { return IsBlank(t[:]) }

// String decodes the field (trailing blanks trimmed).
func (t Text24) String() string { return Text(t[:]) }

// Set stores s, blank padded. It fails if s does not fit or cannot be encoded.
func (t *Text24) Set(s string) error { return PutText(t[:], s) }

// Equal reports whether the field holds s, without allocating.
func (t *Text24) Equal(s string) bool { return TextEqual(t[:], s) }

// IsBlank reports whether the field is empty.
func (t *Text24) IsBlank() bool { return IsBlank(t[:]) }

// String decodes the field (trailing blanks trimmed).
func (t Text48) String() string { return Text(t[:]) }

// Set stores s, blank padded. It fails if s does not fit or cannot be encoded.
func (t *Text48) Set(s string) error { return PutText(t[:], s) }

// Equal reports whether the field holds s, without allocating.
func (t *Text48) Equal(s string) bool { return TextEqual(t[:], s) }

// IsBlank reports whether the field is empty.
func (t *Text48) IsBlank() bool { return IsBlank(t[:]) }
