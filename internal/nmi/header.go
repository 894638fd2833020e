package nmi

import "encoding/binary"

// Header is NMsecMessageHdr. Its layout is in layout.go.
type Header struct {
	Version    uint16     // NMsMVersion
	Type       MsgType    // NMsMType
	MsgSize    uint32     // NMsMMsgSize: the whole message, header included
	Correlator uint32     // NMsMCorrelator: echoed by the server
	Rc         ReturnCode // NMsMRc
	Rsn        ReasonCode // NMsMRsn
	Target     Text24     // NMsMTarget: the stack's job name, blank when system-wide
	RecOff     uint32     // NMsMRecOff: 0 when RecCount is 0
	RecCount   uint32     // NMsMRecCount
}

// TargetName returns the target as a Go string.
func (h *Header) TargetName() string { return h.Target.String() }

// SetTarget stores the target; it fails on names longer than 24 characters
// or characters with no IBM-1047 mapping.
func (h *Header) SetTarget(s string) error {
	if err := h.Target.Set(s); err != nil {
		return &FormatError{Path: "NMsMTarget", Rsn: RsnNone, Msg: "bad target", Err: err}
	}
	return nil
}

// AppendBinary appends the 64 header bytes as they are in h (with the
// eyecatcher, header size and zero reserved bytes).
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, HdrSize)...)
	h.put(b[start:])
	return b, nil
}

func (h *Header) put(m []byte) {
	be := binary.BigEndian
	be.PutUint32(m[offMIdent:], MIdent)
	be.PutUint32(m[offMHdrSize:], HdrSize)
	be.PutUint16(m[offMVersion:], h.Version)
	be.PutUint16(m[offMType:], uint16(h.Type))
	be.PutUint32(m[offMMsgSize:], h.MsgSize)
	be.PutUint32(m[offMCorrelator:], h.Correlator)
	be.PutUint32(m[offMRc:], uint32(h.Rc))
	be.PutUint32(m[offMRsn:], uint32(h.Rsn))
	putField(m[offMTarget:offMTarget+TargetLen], h.Target[:])
	be.PutUint32(m[offMRecOff:], h.RecOff)
	be.PutUint32(m[offMRecCount:], h.RecCount)
	be.PutUint32(m[offMRsvd1:], 0)
}

// fill copies the fields of b[:HdrSize] into h without checking them.
func (h *Header) fill(b []byte) {
	be := binary.BigEndian
	h.Version = be.Uint16(b[offMVersion:])
	h.Type = MsgType(be.Uint16(b[offMType:]))
	h.MsgSize = be.Uint32(b[offMMsgSize:])
	h.Correlator = be.Uint32(b[offMCorrelator:])
	h.Rc = ReturnCode(int32(be.Uint32(b[offMRc:])))
	h.Rsn = ReasonCode(int32(be.Uint32(b[offMRsn:])))
	copy(h.Target[:], b[offMTarget:offMTarget+TargetLen])
	h.RecOff = be.Uint32(b[offMRecOff:])
	h.RecCount = be.Uint32(b[offMRecCount:])
}

// UnmarshalBinary decodes and checks the first 64 bytes of b. Every field
// is filled in even when the header is rejected, so that a server can echo
// the type and correlator and skip MsgSize bytes when the error is not
// Fatal. Checks, in order: identifier (1, fatal), header size (5), message
// size below 64 (6, fatal), reserved bytes (7), and where the records are
// (6).
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) < HdrSize {
		return &FormatError{Path: "header", Rsn: RsnMsgSize, Msg: "message shorter than its header", Fatal: true}
	}
	h.fill(b)
	if err := h.checkFraming(b); err != nil {
		return err
	}
	if err := checkHeaderReserved(b); err != nil {
		return err
	}
	return h.checkRecords()
}

// checkFraming checks what a reader needs to find the end of the message.
func (h *Header) checkFraming(b []byte) error {
	if binary.BigEndian.Uint32(b[offMIdent:]) != MIdent {
		return &FormatError{Path: "NMsMIdent", Rsn: RsnBadIdent, Msg: "bad message identifier", Fatal: true}
	}
	if binary.BigEndian.Uint32(b[offMHdrSize:]) != HdrSize {
		return &FormatError{Path: "NMsMHdrSize", Rsn: RsnHdrSize, Msg: "header size is not 64", Fatal: h.MsgSize < HdrSize}
	}
	if h.MsgSize < HdrSize {
		return &FormatError{Path: "NMsMMsgSize", Rsn: RsnMsgSize, Msg: "message size below the header size", Fatal: true}
	}
	return nil
}

func checkHeaderReserved(b []byte) error {
	if binary.BigEndian.Uint32(b[offMRsvd1:]) != 0 {
		return formatErr("NMsMRsvd1", RsnReservedNonzero, "reserved bytes not zero")
	}
	return nil
}

// checkRecords checks NMsMRecOff and NMsMRecCount against NMsMMsgSize
// (framing rules 1 and 2).
func (h *Header) checkRecords() error {
	if h.RecCount == 0 {
		if h.RecOff != 0 {
			return formatErr("NMsMRecOff", RsnMsgSize, "record offset set without records")
		}
		if h.MsgSize != HdrSize {
			return formatErr("NMsMMsgSize", RsnMsgSize, "message without records is not 64 bytes")
		}
		return nil
	}
	if h.RecOff < HdrSize || h.RecOff > h.MsgSize || h.RecOff%recAlign != 0 {
		return formatErr("NMsMRecOff", RsnMsgSize, "record offset outside the message")
	}
	if uint64(h.RecCount)*RecHdrSize > uint64(h.MsgSize-h.RecOff) {
		return formatErr("NMsMRecCount", RsnMsgSize, "more records than the message can hold")
	}
	return nil
}

// AppendMessage appends a whole message: h with MsgSize, RecOff and
// RecCount filled in, then records (count complete records, as appended by
// AppendRecord or a typed record's Append).
func AppendMessage(dst []byte, h Header, records []byte, count int) ([]byte, error) {
	start := len(dst)
	dst = BeginMessage(dst)
	dst = append(dst, records...)
	if err := FinishMessage(dst[start:], h, count); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// BeginMessage appends room for a message header. Append the records after
// it, then call FinishMessage on the message's bytes.
func BeginMessage(dst []byte) []byte { return append(dst, make([]byte, HdrSize)...) }

// FinishMessage writes h into msg[:64], with MsgSize = len(msg), RecCount =
// count and RecOff = 64 (0 without records).
func FinishMessage(msg []byte, h Header, count int) error {
	if len(msg) < HdrSize {
		return formatErr("header", RsnMsgSize, "message shorter than its header")
	}
	if uint64(len(msg)) > 1<<32-1 || count < 0 || uint64(count) > 1<<32-1 {
		return formatErr("NMsMMsgSize", RsnExcessiveSize, "message too large")
	}
	if count == 0 && len(msg) != HdrSize {
		return formatErr("NMsMRecCount", RsnMsgSize, "record bytes without a record count")
	}
	h.MsgSize = uint32(len(msg))
	h.RecCount = uint32(count)
	h.RecOff = 0
	if count > 0 {
		h.RecOff = HdrSize
	}
	h.put(msg[:HdrSize])
	return nil
}
