package nmi

import (
	"encoding/binary"
	"slices"
)

// Record is a validated view of one record's bytes (NMsecRecordHdr, its
// descriptors, sections and cascade container). It refers to the bytes it
// was parsed from and is valid only as long as they are.
type Record struct {
	b     []byte // exactly NMsRRecLen bytes
	nsec  int
	ncasc int
}

// ParseRecord validates the record at the start of b (b may hold more after
// it). It checks the identifier (1, fatal), the length (at least 16, a
// multiple of 4, inside b: otherwise 8), the reserved bytes (7), that the
// header and descriptors fit (8), and that every descriptor lies after the
// descriptors, on a 4-byte boundary and inside the record (12), that no
// two overlap (12) and that every byte none of them covers is zero (7).
// Cascaded records are checked when they are iterated (Cascade).
func ParseRecord(b []byte) (Record, error) {
	be := binary.BigEndian
	if len(b) < RecHdrSize {
		return Record{}, formatErr("", RsnRecordLength, "record header runs past the end of the message")
	}
	if be.Uint32(b[offRIdent:]) != RIdent {
		return Record{}, &FormatError{Rsn: RsnBadIdent, Msg: "bad record identifier", Fatal: true}
	}
	n := be.Uint32(b[offRRecLen:])
	switch {
	case n < RecHdrSize:
		return Record{}, formatErr("NMsRRecLen", RsnRecordLength, "record length below 16")
	case n%recAlign != 0:
		return Record{}, formatErr("NMsRRecLen", RsnRecordLength, "record length not a multiple of 4")
	case uint64(n) > uint64(len(b)):
		return Record{}, formatErr("NMsRRecLen", RsnRecordLength, "record runs past the end of the message")
	}
	b = b[:n:n]
	if be.Uint32(b[offRRsvd:]) != 0 {
		return Record{}, formatErr("NMsRRsvd", RsnReservedNonzero, "reserved bytes not zero")
	}
	r := Record{b: b, nsec: int(be.Uint16(b[offRSecCount:])), ncasc: int(be.Uint16(b[offRCascCount:]))}
	descEnd := RecHdrSize + r.nsec*SecDescSize + r.ncasc*CascDescSize
	if descEnd > len(b) {
		return Record{}, formatErr("NMsRSecCount", RsnRecordLength, "record shorter than its header and descriptors")
	}
	if r.nsec == 0 {
		return Record{}, formatErr("NMsRSecCount", RsnBadSection, "record without sections")
	}
	if r.ncasc > maxCascades {
		return Record{}, formatErr("NMsRCascCount", RsnBadSection, "more than one cascade descriptor")
	}
	if err := r.checkLayout(descEnd); err != nil {
		return Record{}, err
	}
	return r, nil
}

// span is the place of one section or cascade container in its record.
type span struct{ off, end int }

// spanAt returns the place descriptor i names (sections first, then the
// cascade container).
func (r Record) spanAt(i int) span {
	be := binary.BigEndian
	var d []byte
	if i < r.nsec {
		d = r.b[RecHdrSize+i*SecDescSize:]
	} else {
		d = r.b[RecHdrSize+r.nsec*SecDescSize+(i-r.nsec)*CascDescSize:]
	}
	off, n := uint64(be.Uint32(d[0:])), uint64(be.Uint32(d[4:]))
	if off+n > uint64(len(r.b)) {
		return span{-1, -1}
	}
	return span{int(off), int(off + n)}
}

func (r Record) descPath(i int) string {
	if i < r.nsec {
		return indexPath("section", i)
	}
	return "cascade"
}

func (r Record) checkLayout(descEnd int) error {
	total := r.nsec + r.ncasc
	last := descEnd // end of the previous non-empty span
	ordered := true
	for i := 0; i < total; i++ {
		s := r.spanAt(i)
		if s.off < 0 {
			return formatErr(r.descPath(i), RsnBadSection, "descriptor points outside its record")
		}
		if i >= r.nsec {
			if err := r.checkCascadeDesc(s); err != nil {
				return err
			}
		}
		if s.off == s.end { // empty: covers nothing
			if s.off != 0 && (s.off < descEnd || s.off%recAlign != 0) {
				return formatErr(r.descPath(i), RsnBadSection, "empty section placed inside the descriptors or unaligned")
			}
			continue
		}
		if s.off < descEnd || s.off%recAlign != 0 {
			return formatErr(r.descPath(i), RsnBadSection, "section inside the descriptors or unaligned")
		}
		if s.off < last {
			ordered = false
		}
		last = s.end
	}
	if !ordered {
		return r.checkUnordered(descEnd, total)
	}
	// In order: every gap between spans must be zero.
	pos := descEnd
	for i := 0; i < total; i++ {
		s := r.spanAt(i)
		if s.off == s.end {
			continue
		}
		if !allZero(r.b[pos:s.off]) {
			return formatErr(r.descPath(i), RsnReservedNonzero, "padding before it not zero")
		}
		pos = s.end
	}
	if !allZero(r.b[pos:]) {
		return formatErr("", RsnReservedNonzero, "padding at the end of the record not zero")
	}
	return nil
}

// checkUnordered checks overlap and padding when the descriptors are not in
// the order of their offsets. The slice it sorts is bounded by the record's
// length (8 or 12 bytes of descriptor per entry).
func (r Record) checkUnordered(descEnd, total int) error {
	spans := make([]span, 0, total)
	for i := 0; i < total; i++ {
		if s := r.spanAt(i); s.off != s.end {
			spans = append(spans, s)
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.off - b.off })
	pos := descEnd
	for _, s := range spans {
		if s.off < pos {
			return formatErr("", RsnBadSection, "sections overlap")
		}
		if !allZero(r.b[pos:s.off]) {
			return formatErr("", RsnReservedNonzero, "padding between sections not zero")
		}
		pos = s.end
	}
	if !allZero(r.b[pos:]) {
		return formatErr("", RsnReservedNonzero, "padding at the end of the record not zero")
	}
	return nil
}

func (r Record) checkCascadeDesc(s span) error {
	d := r.b[RecHdrSize+r.nsec*SecDescSize:]
	count := uint64(binary.BigEndian.Uint32(d[offCDCount:]))
	if count*RecHdrSize > uint64(s.end-s.off) {
		return formatErr("cascade", RsnBadSection, "more cascaded records than the container can hold")
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

// Len returns the record's length (NMsRRecLen).
func (r Record) Len() int { return len(r.b) }

// Bytes returns the record's bytes.
func (r Record) Bytes() []byte { return r.b }

// NumSections returns the number of section descriptors.
func (r Record) NumSections() int { return r.nsec }

// Section returns section i as its descriptor sizes it, or nil if there is
// no section i. An empty section is an empty, non-nil slice.
func (r Record) Section(i int) []byte {
	if i < 0 || i >= r.nsec {
		return nil
	}
	s := r.spanAt(i)
	if s.off == s.end {
		return r.b[:0:0]
	}
	return r.b[s.off:s.end:s.end]
}

// Cascade returns a decoder over the cascaded records, and false when the
// record has no cascade container.
func (r Record) Cascade() (RecordDecoder, bool) {
	if r.ncasc == 0 {
		return RecordDecoder{}, false
	}
	s := r.spanAt(r.nsec)
	d := r.b[RecHdrSize+r.nsec*SecDescSize:]
	count := int(binary.BigEndian.Uint32(d[offCDCount:]))
	var b []byte
	if s.off != s.end {
		b = r.b[s.off:s.end:s.end]
	}
	return RecordDecoder{b: b, count: count, mismatch: RsnBadSection, prefix: "cascade."}, true
}

// RecordDecoder iterates over count records laid end to end in b. Errors are
// sticky: after Next returns false, Err tells why. Bytes left over after
// count records, or missing records, are an error (rsn 6 for a message's
// records, 12 inside a cascade container).
type RecordDecoder struct {
	b        []byte
	count    int
	i        int
	rec      Record
	err      error
	mismatch ReasonCode
	prefix   string
}

// NewRecordDecoder returns a decoder of the count records in b.
func NewRecordDecoder(b []byte, count int) RecordDecoder {
	return RecordDecoder{b: b, count: count, mismatch: RsnMsgSize}
}

// Next parses the next record; it returns false at the end or on error.
func (d *RecordDecoder) Next() bool {
	if d.err != nil {
		return false
	}
	if d.i >= d.count {
		if len(d.b) != 0 {
			d.err = formatErr(d.prefix+indexPath("record", d.i), d.mismatch, "bytes after the last record")
		}
		return false
	}
	if len(d.b) == 0 {
		d.err = formatErr(d.prefix+indexPath("record", d.i), d.mismatch, "fewer records than the count")
		return false
	}
	r, err := ParseRecord(d.b)
	if err != nil {
		d.err = at(d.prefix+indexPath("record", d.i), err)
		return false
	}
	d.rec = r
	d.b = d.b[r.Len():]
	d.i++
	return true
}

// Record returns the record Next parsed.
func (d *RecordDecoder) Record() Record { return d.rec }

// Index returns the index of the record Next parsed.
func (d *RecordDecoder) Index() int { return d.i - 1 }

// Count returns the number of records the decoder expects.
func (d *RecordDecoder) Count() int { return d.count }

// Err returns the first error met.
func (d *RecordDecoder) Err() error { return d.err }

// RecordBuilder appends a record in place: BeginRecord reserves its header
// and descriptors, each section is appended directly to the buffer and
// registered with Section, and Finish writes the length.
type RecordBuilder struct {
	start, nsec, ncasc int
	sec, casc          int
	err                error
}

// BeginRecord appends a record header with room for nsec section
// descriptors and ncasc (0 or 1) cascade descriptors.
func BeginRecord(b []byte, nsec, ncasc int) ([]byte, RecordBuilder) {
	rb := RecordBuilder{start: len(b), nsec: nsec, ncasc: ncasc}
	if nsec < 1 || nsec > 0xFFFF || ncasc < 0 || ncasc > maxCascades {
		rb.err = formatErr("", RsnBadSection, "bad number of sections or cascades")
		return b, rb
	}
	b = append(b, make([]byte, RecHdrSize+nsec*SecDescSize+ncasc*CascDescSize)...)
	h := b[rb.start:]
	binary.BigEndian.PutUint32(h[offRIdent:], RIdent)
	binary.BigEndian.PutUint16(h[offRSecCount:], uint16(nsec))
	binary.BigEndian.PutUint16(h[offRCascCount:], uint16(ncasc))
	return b, rb
}

// pad appends zeros up to the next 4-byte boundary of the record.
func (rb *RecordBuilder) pad(b []byte) []byte {
	for (len(b)-rb.start)%recAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// Section registers b[start:] as the next section and pads it.
func (rb *RecordBuilder) Section(b []byte, start int) []byte {
	if rb.err != nil {
		return b
	}
	if rb.sec >= rb.nsec || start < rb.start || start > len(b) {
		rb.err = formatErr(indexPath("section", rb.sec), RsnBadSection, "section not reserved")
		return b
	}
	d := b[rb.start+RecHdrSize+rb.sec*SecDescSize:]
	off, n := start-rb.start, len(b)-start
	if n == 0 {
		off = len(b) - rb.start
	}
	binary.BigEndian.PutUint32(d[offSDOff:], uint32(off))
	binary.BigEndian.PutUint32(d[offSDLen:], uint32(n))
	rb.sec++
	return rb.pad(b)
}

// Cascade registers b[start:] (count complete records) as the cascade
// container.
func (rb *RecordBuilder) Cascade(b []byte, start, count int) []byte {
	if rb.err != nil {
		return b
	}
	if rb.casc >= rb.ncasc || start < rb.start || start > len(b) || count < 0 || uint64(count) > 1<<32-1 {
		rb.err = formatErr("cascade", RsnBadSection, "cascade not reserved")
		return b
	}
	d := b[rb.start+RecHdrSize+rb.nsec*SecDescSize+rb.casc*CascDescSize:]
	binary.BigEndian.PutUint32(d[offCDOff:], uint32(start-rb.start))
	binary.BigEndian.PutUint32(d[offCDLen:], uint32(len(b)-start))
	binary.BigEndian.PutUint32(d[offCDCount:], uint32(count))
	rb.casc++
	return rb.pad(b)
}

// Finish writes the record length. On error b is cut back to where the
// record began.
func (rb *RecordBuilder) Finish(b []byte) ([]byte, error) {
	if rb.err == nil && (rb.sec != rb.nsec || rb.casc != rb.ncasc) {
		rb.err = formatErr("", RsnBadSection, "fewer sections than reserved")
	}
	if rb.err == nil && uint64(len(b)-rb.start) > 1<<32-1 {
		rb.err = formatErr("NMsRRecLen", RsnRecordLength, "record too long")
	}
	if rb.err != nil {
		return b[:rb.start], rb.err
	}
	binary.BigEndian.PutUint32(b[rb.start+offRRecLen:], uint32(len(b)-rb.start))
	return b, nil
}

// AppendRecord appends a record made of the given sections.
func AppendRecord(b []byte, sections ...[]byte) ([]byte, error) {
	return AppendRecordCascade(b, nil, -1, sections...)
}

// AppendRecordCascade appends a record made of the given sections and a
// cascade container holding cascCount complete records (the bytes in
// cascade). A negative cascCount means no container.
func AppendRecordCascade(b []byte, cascade []byte, cascCount int, sections ...[]byte) ([]byte, error) {
	ncasc := 0
	if cascCount >= 0 {
		ncasc = 1
	}
	b, rb := BeginRecord(b, len(sections), ncasc)
	for _, s := range sections {
		start := len(b)
		b = append(b, s...)
		b = rb.Section(b, start)
	}
	if ncasc == 1 {
		start := len(b)
		b = append(b, cascade...)
		b = rb.Cascade(b, start, cascCount)
	}
	return rb.Finish(b)
}
