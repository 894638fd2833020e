package nmi

import (
	"io"
	"strconv"
)

// Request is one NMI request as the client builds it and the server
// decodes it.
type Request struct {
	Type    MsgType
	Target  string        // stack job name; empty for NMsec_GET_STACKINFO and NMsec_GET_IKENSINFO
	Filters []InFilter    // display requests that take filters: ORed records
	Tunnels []Tunnel      // control requests 201-207; none = act on all eligible objects
	Policy  *PolicySource // NMsec_LOAD_POLICY only (required there)
}

// filterCriteria returns the NMsFltFlags criteria bits request type t
// accepts (framing rule 7); 0 when t takes no filter records.
func filterCriteria(t MsgType) uint32 {
	const all = bitFltName | bitFltTunnelID | bitFltLclAddr | bitFltRmtAddr | bitFltProto | bitFltLclPort | bitFltRmtPort
	switch t {
	case GetIPFltCurr, GetIPFltDefault, GetIPFltPolicy, GetIPTunDynStack, GetIPTunDynIKE:
		return all
	case GetIPTunManual, GetIKETun, GetIKETunCascade:
		return bitFltName | bitFltTunnelID | bitFltLclAddr | bitFltRmtAddr
	case GetPortTrans:
		return bitFltTunnelID | bitFltRmtAddr | bitFltProto | bitFltLclPort | bitFltRmtPort
	case GetClientInfo:
		return bitFltName // the discipline's name (PROPOSED)
	}
	return 0
}

// Check reports whether f is a valid filter for request type t: every
// criterion it sets applies to t (framing rule 7) and prefix lengths fit
// the address family. Errors are *FormatError with rsn 9.
func (f *InFilter) Check(t MsgType) error {
	allowed := filterCriteria(t)
	if allowed == 0 {
		return formatErr("", RsnBadFilter, t.String()+" takes no filter records")
	}
	if w := f.flags() &^ bitFltIPv6; w&^allowed != 0 {
		return formatErr("NMsFltFlags", RsnBadFilter, "criterion does not apply to "+t.String())
	}
	maxPrefix := uint8(maxPrefixV4)
	if f.IPv6 {
		maxPrefix = maxPrefixV6
	}
	for _, a := range [...]struct {
		has    bool
		prefix uint8
		name   string
	}{{f.HasLclAddr, f.LclPrefix, "NMsFltLclPrefix"}, {f.HasRmtAddr, f.RmtPrefix, "NMsFltRmtPrefix"}} {
		if a.has && a.prefix > maxPrefix {
			return formatErr(a.name, RsnBadFilter, "prefix length "+strconv.Itoa(int(a.prefix))+" too long")
		}
	}
	return nil
}

// checkTunnelRecord checks a control record of a request (rsn 10).
func checkTunnel(s *Tunnel) error {
	if s.Status != TunStatusNone {
		return formatErr("NMsTunStatus", RsnBadControlRecord, "status not zero in a request")
	}
	if s.Name.IsBlank() && s.TunnelID.IsBlank() {
		return formatErr("", RsnBadControlRecord, "neither name nor tunnel ID")
	}
	return nil
}

func checkPolicy(p *PolicySource) error {
	if p.Source > FilterSetPolicy {
		return formatErr("NMsPolicySource", RsnBadControlRecord, "policy source is neither 0 nor 1")
	}
	return nil
}

// AppendRequest appends the request message. It refuses what the server
// would refuse: records the type does not take, filter criteria that do not
// apply, control records without name and tunnel ID, a missing or bad
// policy source, a target that does not fit, and messages over 1 MiB.
func AppendRequest(b []byte, req *Request, correlator uint32) ([]byte, error) {
	start := len(b)
	fail := func(err error) ([]byte, error) { return b[:start], err }
	t := req.Type
	if !t.IsRequest() {
		return fail(formatErr("NMsMType", RsnBadType, t.String()+" is not a request"))
	}
	h := Header{Version: Version, Type: t, Correlator: correlator}
	if !t.AnyTarget() && t.SystemWide() != (req.Target == "") {
		return fail(formatErr("NMsMTarget", RsnNone, "target must be blank exactly for system-wide requests"))
	}
	if err := h.SetTarget(req.Target); err != nil {
		return fail(err)
	}
	if len(req.Filters) > 0 && !t.TakesFilters() {
		return fail(formatErr("", RsnBadFilter, t.String()+" takes no filter records"))
	}
	if len(req.Tunnels) > 0 && !t.TakesTunnels() {
		return fail(formatErr("", RsnBadControlRecord, t.String()+" takes no control records"))
	}
	if (req.Policy != nil) != (t == LoadPolicy) {
		return fail(formatErr("", RsnBadControlRecord, "a policy source goes with NMsec_LOAD_POLICY only, and it needs one"))
	}
	b = BeginMessage(b)
	count := 0
	var err error
	for i := range req.Filters {
		f := &req.Filters[i]
		if err = f.Check(t); err == nil {
			b, err = appendSections(b, f)
		}
		if err != nil {
			return fail(at(indexPath("record", i), err))
		}
		count++
	}
	for i := range req.Tunnels {
		s := &req.Tunnels[i]
		if err = checkTunnel(s); err == nil {
			b, err = appendSections(b, s)
		}
		if err != nil {
			return fail(at(indexPath("record", i), err))
		}
		count++
	}
	if req.Policy != nil {
		if err = checkPolicy(req.Policy); err == nil {
			b, err = appendSections(b, req.Policy)
		}
		if err != nil {
			return fail(at("record[0]", err))
		}
		count++
	}
	if len(b)-start > MaxRequestSize {
		return fail(formatErr("NMsMMsgSize", RsnExcessiveSize, "request larger than 1 MiB"))
	}
	if err := FinishMessage(b[start:], h, count); err != nil {
		return fail(err)
	}
	return b, nil
}

// ReadMessage reads one message from r into buf (grown as needed) and
// returns the header and the message's bytes. It reads the 64-byte header
// first and checks it before reading the rest: a bad identifier (1), a
// message size below 64 (6) or above max (4) give a Fatal *FormatError
// without reading further; a bad header size (5) with a plausible message
// size skips the message and gives a non-fatal one. Other errors are those
// of r (io.EOF when r ends cleanly before a message). On error the returned
// slice is buf[:0], for reuse.
func ReadMessage(r io.Reader, buf []byte, max uint32) (Header, []byte, error) {
	var h Header
	if cap(buf) < HdrSize {
		buf = make([]byte, HdrSize, 4096)
	}
	buf = buf[:HdrSize]
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, buf[:0], err
	}
	h.fill(buf)
	if err := h.checkFraming(buf); err != nil {
		fe := err.(*FormatError)
		if !fe.Fatal && h.MsgSize <= max {
			if _, err := io.CopyN(io.Discard, r, int64(h.MsgSize-HdrSize)); err != nil {
				return h, buf[:0], err
			}
			return h, buf[:0], fe
		}
		fe.Fatal = true
		return h, buf[:0], fe
	}
	if h.MsgSize > max {
		return h, buf[:0], &FormatError{Path: "NMsMMsgSize", Rsn: RsnExcessiveSize,
			Msg: "message size " + strconv.FormatUint(uint64(h.MsgSize), 10) + " over the maximum", Fatal: true}
	}
	if cap(buf) < int(h.MsgSize) {
		nb := make([]byte, h.MsgSize)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:h.MsgSize]
	if _, err := io.ReadFull(r, buf[HdrSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, buf[:0], err
	}
	return h, buf, nil
}

// DecodeRequest decodes and checks a whole request message (as ReadMessage
// returns it) for a server that speaks versions 1..maxVersion. The header
// is returned even on error, so that the server can answer with the
// request's type and correlator. A *FormatError carries the reason code
// to answer with (return code EINVAL); when it is Fatal, the server sends
// TERM and closes the connection.
func DecodeRequest(msg []byte, maxVersion uint16) (Header, Request, error) {
	var h Header
	var req Request
	if len(msg) < HdrSize {
		return h, req, &FormatError{Path: "header", Rsn: RsnMsgSize, Msg: "message shorter than its header", Fatal: true}
	}
	h.fill(msg)
	req.Type = h.Type
	if err := h.checkFraming(msg); err != nil {
		return h, req, err
	}
	switch {
	case h.MsgSize > MaxRequestSize:
		return h, req, &FormatError{Path: "NMsMMsgSize", Rsn: RsnExcessiveSize, Msg: "request larger than 1 MiB", Fatal: true}
	case int(h.MsgSize) != len(msg):
		return h, req, &FormatError{Path: "NMsMMsgSize", Rsn: RsnMsgSize, Msg: "message size is not the length read", Fatal: true}
	case h.Version < 1 || h.Version > maxVersion:
		return h, req, formatErr("NMsMVersion", RsnBadVersion, "unsupported version "+strconv.Itoa(int(h.Version)))
	case !h.Type.IsRequest():
		return h, req, formatErr("NMsMType", RsnBadType, "unknown request type "+strconv.Itoa(int(h.Type)))
	}
	if err := checkHeaderReserved(msg); err != nil {
		return h, req, err
	}
	if err := h.checkRecords(); err != nil {
		return h, req, err
	}
	req.Target = h.Target.String()
	if h.RecCount == 0 {
		if h.Type == LoadPolicy {
			return h, req, formatErr("NMsMRecCount", RsnBadControlRecord, "NMsec_LOAD_POLICY needs one record")
		}
		return h, req, nil
	}
	if !allZero(msg[HdrSize:h.RecOff]) {
		return h, req, formatErr("NMsMRecOff", RsnReservedNonzero, "bytes before the first record not zero")
	}
	d := NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
	for d.Next() {
		if err := req.decodeRecord(d.Record(), d.Index(), int(h.RecCount)); err != nil {
			return h, req, at(indexPath("record", d.Index()), err)
		}
	}
	if err := d.Err(); err != nil {
		return h, req, err
	}
	return h, req, nil
}

// decodeRecord decodes request record i of n into req.
func (req *Request) decodeRecord(r Record, i, n int) error {
	t := req.Type
	sec := r.Section(0)
	switch {
	case t.TakesFilters():
		if r.NumSections() != 1 || r.ncasc != 0 {
			return formatErr("", RsnBadFilter, "a filter record has one section")
		}
		if len(sec) < InFilterSize {
			return at("section[0]", short("NMsecInFilter", len(sec), InFilterSize))
		}
		if be.Uint32(sec[offFltFlags:])&maskFltRsvd != 0 || sec[offFltRsvd1] != 0 ||
			!allZero(sec[offFltRsvd2:offFltRsvd2+lenFltRsvd2]) {
			return formatErr("section[0]", RsnReservedNonzero, "reserved bits or bytes not zero")
		}
		var f InFilter
		_ = f.UnmarshalBinary(sec)
		if !f.IPv6 && (f.HasLclAddr && !allZero(sec[offFltLclAddr:offFltLclAddr+addrV4Off]) ||
			f.HasRmtAddr && !allZero(sec[offFltRmtAddr:offFltRmtAddr+addrV4Off])) {
			return formatErr("section[0]", RsnBadFilter, "IPv4 address with nonzero bytes 0-11")
		}
		if err := f.Check(t); err != nil {
			return at("section[0]", err)
		}
		req.Filters = append(req.Filters, f)
	case t.TakesTunnels():
		if r.NumSections() != 1 || r.ncasc != 0 {
			return formatErr("", RsnBadControlRecord, "a control record has one section")
		}
		if len(sec) < TunnelSize {
			return at("section[0]", short("NMsecTunnel", len(sec), TunnelSize))
		}
		if !allZero(sec[offTunRsvd : offTunRsvd+lenTunRsvd]) {
			return formatErr("section[0].NMsTunRsvd", RsnReservedNonzero, "reserved bytes not zero")
		}
		var s Tunnel
		_ = s.UnmarshalBinary(sec)
		if err := checkTunnel(&s); err != nil {
			return at("section[0]", err)
		}
		req.Tunnels = append(req.Tunnels, s)
	case t == LoadPolicy:
		if n != 1 || r.NumSections() != 1 || r.ncasc != 0 || len(sec) < PolicySourceSize {
			return formatErr("", RsnBadControlRecord, "NMsec_LOAD_POLICY carries one record with one NMsecPolicySource")
		}
		if !allZero(sec[offPolicySrcRsvd : offPolicySrcRsvd+lenPolicySrcRsvd]) {
			return formatErr("section[0].NMsPolicySourceRsvd", RsnReservedNonzero, "reserved bytes not zero")
		}
		p := &PolicySource{Source: FilterSet(sec[offPolicySource])}
		if err := checkPolicy(p); err != nil {
			return at("section[0]", err)
		}
		req.Policy = p
	default:
		return formatErr("", RsnBadFilter, t.String()+" takes no filter records")
	}
	return nil
}

// AppendInit appends an NMsec_INIT message announcing version.
func AppendInit(b []byte, version uint16) []byte {
	h := Header{Version: version, Type: MsgInit, MsgSize: HdrSize}
	b, _ = h.AppendBinary(b)
	return b
}

// AppendTerm appends an NMsec_TERM message carrying the cause of the close.
func AppendTerm(b []byte, version uint16, rc ReturnCode, rsn ReasonCode) []byte {
	h := Header{Version: version, Type: MsgTerm, MsgSize: HdrSize, Rc: rc, Rsn: rsn}
	b, _ = h.AppendBinary(b)
	return b
}

// AppendError appends an error response to the request with header req:
// its type and correlator, the return and reason codes, no records.
func AppendError(b []byte, req Header, version uint16, rc ReturnCode, rsn ReasonCode) []byte {
	h := Header{Version: version, Type: req.Type, MsgSize: HdrSize, Correlator: req.Correlator,
		Target: req.Target, Rc: rc, Rsn: rsn}
	b, _ = h.AppendBinary(b)
	return b
}
