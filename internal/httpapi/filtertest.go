package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/nmigw/nmigw/internal/filtermatch"
	"github.com/nmigw/nmigw/internal/nmi"
)

// filterTestBody is the body of POST .../filters:test. Addresses come as
// source/destination or as local/remote (mapped by direction).
type filterTestBody struct {
	Direction            string          `json:"direction"`
	Routed               bool            `json:"routed"`
	Source               *string         `json:"source"`
	Destination          *string         `json:"destination"`
	LocalAddress         *string         `json:"localAddress"`
	RemoteAddress        *string         `json:"remoteAddress"`
	Protocol             json.RawMessage `json:"protocol"`
	SourcePort           *uint16         `json:"sourcePort"`
	DestinationPort      *uint16         `json:"destinationPort"`
	LocalPort            *uint16         `json:"localPort"`
	RemotePort           *uint16         `json:"remotePort"`
	ICMPType             *uint8          `json:"icmpType"`
	ICMPCode             *uint8          `json:"icmpCode"`
	OSPFType             *uint8          `json:"ospfType"`
	ConnectionInitiating bool            `json:"connectionInitiating"`
	SecurityClass        uint8           `json:"securityClass"`
}

// errFound ends the filter stream once the answer is known.
var errFound = errors.New("httpapi: rule found")

// isAnchor and isDynamic tell the rules that hold a place for dynamic
// filters and the dynamic filters themselves (NAT traversal ones too).
func isAnchor(t nmi.FilterType) bool {
	return t == nmi.FilterDynamicAnchor || t == nmi.FilterNATTAnchor
}

func isDynamic(t nmi.FilterType) bool {
	return t == nmi.FilterDynamic || t == nmi.FilterNATTDynamic
}

// ruleSearch finds the rule of a filter set, streamed in the stack's
// order, that decides a packet, the way the stack does: the first rule
// that matches, where the dynamic filters of a dynamic anchor stand in
// the anchor's place. The record names no anchor: a dynamic filter
// carries the name of the anchor it was installed for, and the anchor
// is the rule of that name and an anchor type next to it. The stack tries
// the dynamic filters before the anchor's own action; an IKED that lists
// them after the anchor is read the same way (an anchor that matches
// gives way to a dynamic filter of its own that follows it and matches).
type ruleSearch struct {
	scan filtermatch.Scan

	found    bool
	rule     nmi.IPFilter // the deciding rule once found
	position int          // its place in the set, from 1

	anchor    nmi.IPFilter // the anchor of a dynamic rule, or a matching anchor waiting for its dynamic filters
	anchorPos int          // its place; 0 when there is none
}

// next takes the set's next rule and reports whether the answer is
// complete.
func (s *ruleSearch) next(f *nmi.IPFilter) bool {
	matched := s.scan.Try(f)
	pos := s.scan.Position()
	switch {
	case s.found && isDynamic(s.rule.Type):
		// A dynamic filter decided: read on to its anchor, the one of the
		// same direction (the other of the pair if that is all there is).
		if f.Name != s.rule.Name || !isDynamic(f.Type) && !isAnchor(f.Type) {
			return true // no more of its own next to it
		}
		if isAnchor(f.Type) && (s.anchorPos == 0 || f.Direction == s.rule.Direction) {
			s.anchor, s.anchorPos = *f, pos
			return f.Direction == s.rule.Direction
		}
		return false
	case s.found:
		// An anchor matched: a dynamic filter of its own that follows it
		// (past the other anchor of the pair) comes first.
		if f.Name != s.rule.Name || !isDynamic(f.Type) && !isAnchor(f.Type) {
			return true
		}
		if matched {
			s.anchor, s.anchorPos = s.rule, s.position
			s.rule, s.position = *f, pos
			return true
		}
		return false
	case matched:
		s.found, s.rule, s.position = true, *f, pos
		return !isDynamic(f.Type) && !isAnchor(f.Type)
	}
	return false
}

// testFilters answers which rule of the current filter set a packet
// would match, evaluated here from the NMI's filter records (as
// `ipsec -t`). It needs DISPLAY: it only reads.
func (a *api) testFilters(w http.ResponseWriter, r *http.Request) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := readFilterTest(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The whole current set is read, without input filters: the rule's
	// position counts every rule before it. The records come in the order
	// the stack evaluates them.
	req := &nmi.Request{Type: nmi.GetIPFltCurr, Target: stack}
	var rec nmi.FilterRecord
	s := ruleSearch{scan: filtermatch.Scan{Packet: p}}
	err = a.do(r.Context(), req, func(raw nmi.Record) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		if s.next(&rec.Filter) {
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		a.writeError(w, r, err)
		return
	}
	var jw jsonw
	jw.beginObject()
	jw.str("stack", stack)
	jw.boolean("matched", s.found)
	if s.found {
		jw.str("action", s.rule.Action.String())
		jw.uint("position", uint64(s.position))
		jw.object("rule")
		viewFilter(&jw, &s.rule)
		jw.endObject()
		if isDynamic(s.rule.Type) && s.anchorPos > 0 {
			jw.object("anchor")
			jw.text("name", s.anchor.Name[:])
			jw.uint("nameExtension", uint64(s.anchor.NameExt))
			jw.enum("type", s.anchor.Type.String())
			jw.enum("direction", s.anchor.Direction.String())
			jw.uint("position", uint64(s.anchorPos))
			jw.endObject()
		}
	} else {
		// IP filtering denies what no rule permits.
		jw.str("action", nmi.ActionDeny.String())
	}
	jw.object("packet")
	viewPacket(&jw, p)
	jw.endObject()
	jw.endObject()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(jw.b)))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(jw.b)
}

// viewPacket shows the packet as the gateway tested it.
func viewPacket(w *jsonw, p *filtermatch.Packet) {
	dir := "inbound"
	if p.Outbound {
		dir = "outbound"
	}
	w.str("direction", dir)
	w.boolean("routed", p.Routed)
	w.addr("source", p.Src)
	w.addr("destination", p.Dst)
	w.uint("protocol", uint64(p.Protocol))
	w.optUint("sourcePort", uint64(p.SrcPort))
	w.optUint("destinationPort", uint64(p.DstPort))
	if p.HasICMPType {
		w.uint("icmpType", uint64(p.ICMPType))
	}
	if p.HasICMPCode {
		w.uint("icmpCode", uint64(p.ICMPCode))
	}
	w.optUint("ospfType", uint64(p.OSPFType))
	w.optUint("securityClass", uint64(p.SecClass))
}

// readFilterTest decodes and checks the packet of a filters:test body.
func readFilterTest(r *http.Request) (*filtermatch.Packet, error) {
	var b filterTestBody
	if err := decodeStrict(r, &b); err != nil {
		return nil, err
	}
	p := &filtermatch.Packet{Routed: b.Routed, Initiating: b.ConnectionInitiating, SecClass: b.SecurityClass}
	switch b.Direction {
	case "outbound":
		p.Outbound = true
	case "inbound":
	default:
		return nil, &paramError{Name: "body/direction", Reason: "not inbound or outbound"}
	}
	var err error
	if p.Protocol, err = bodyProtocol(b.Protocol); err != nil {
		return nil, err
	}
	sd := b.Source != nil || b.Destination != nil || b.SourcePort != nil || b.DestinationPort != nil
	lr := b.LocalAddress != nil || b.RemoteAddress != nil || b.LocalPort != nil || b.RemotePort != nil
	var a1, a2 netip.Addr
	var p1, p2 *uint16
	switch {
	case sd && lr:
		return nil, &paramError{Name: "body", Reason: "give source and destination, or localAddress and remoteAddress, not both"}
	case lr:
		if a1, err = bodyAddr("body/localAddress", b.LocalAddress); err == nil {
			a2, err = bodyAddr("body/remoteAddress", b.RemoteAddress)
		}
		p1, p2 = b.LocalPort, b.RemotePort
		if !p.Outbound { // inbound: the remote side sends
			a1, a2, p1, p2 = a2, a1, p2, p1
		}
	default:
		if a1, err = bodyAddr("body/source", b.Source); err == nil {
			a2, err = bodyAddr("body/destination", b.Destination)
		}
		p1, p2 = b.SourcePort, b.DestinationPort
	}
	if err != nil {
		return nil, err
	}
	if a1.Is4() != a2.Is4() {
		return nil, &paramError{Name: "body", Reason: "the two addresses must be of the same IP family"}
	}
	p.Src, p.Dst = a1, a2
	if p1 != nil || p2 != nil {
		if !filtermatch.TakesPorts(p.Protocol) {
			return nil, &paramError{Name: "body", Reason: "ports apply to tcp, udp and sctp only"}
		}
		p.SrcPort, p.DstPort = deref16(p1), deref16(p2)
		if p1 != nil && *p1 == 0 || p2 != nil && *p2 == 0 {
			return nil, &paramError{Name: "body", Reason: "a port is 1-65535"}
		}
	}
	if b.ICMPType != nil || b.ICMPCode != nil {
		if !filtermatch.TakesICMP(p.Protocol) {
			return nil, &paramError{Name: "body", Reason: "icmpType and icmpCode apply to icmp and icmpv6 only"}
		}
		if b.ICMPType != nil {
			p.ICMPType, p.HasICMPType = *b.ICMPType, true
		}
		if b.ICMPCode != nil {
			p.ICMPCode, p.HasICMPCode = *b.ICMPCode, true
		}
	}
	if b.OSPFType != nil {
		if p.Protocol != filtermatch.ProtoOSPF || *b.OSPFType == 0 {
			return nil, &paramError{Name: "body/ospfType", Reason: "1-255, with protocol ospf only"}
		}
		p.OSPFType = *b.OSPFType
	}
	if p.Initiating && p.Protocol != filtermatch.ProtoTCP {
		return nil, &paramError{Name: "body/connectionInitiating", Reason: "applies to tcp only"}
	}
	return p, nil
}

func deref16(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}

// decodeStrict decodes a required JSON object body into v, refusing
// unknown members and trailing data.
func decodeStrict(r *http.Request, v any) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return &paramError{Name: "body", Reason: "could not be read"}
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return &paramError{Name: "body", Reason: "required"}
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return &paramError{Name: "body", Reason: "not a JSON object of the documented shape"}
	}
	return nil
}

func bodyAddr(name string, s *string) (netip.Addr, error) {
	if s == nil {
		return netip.Addr{}, &paramError{Name: name, Reason: "required"}
	}
	a, err := netip.ParseAddr(*s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, &paramError{Name: name, Reason: "not an IPv4 or IPv6 address"}
	}
	return a.Unmap(), nil
}

// bodyProtocol reads a protocol given as a number or a name.
func bodyProtocol(raw json.RawMessage) (uint8, error) {
	bad := &paramError{Name: "body/protocol", Reason: "not a protocol number 1-255 or a known protocol name"}
	if len(raw) == 0 {
		return 0, &paramError{Name: "body/protocol", Reason: "required"}
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		if n < 1 || n > 255 {
			return 0, bad
		}
		return uint8(n), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, bad
	}
	p, err := parseProtocol(s)
	if err != nil {
		return 0, bad
	}
	return p, nil
}
