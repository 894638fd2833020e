package nmi

import "net/netip"

// Typed records: one per kind of response (and the request records). Decode
// fills the value from a Record, reusing the value's own memory (identity
// slices, cascade slices) so that decoding into the same value again does
// not allocate. Append appends the record. A record may carry more sections
// than the kind needs (a later version); fewer is an error (rsn 12).

type sectionDecoder interface{ UnmarshalBinary([]byte) error }

// decodeSections decodes the first len(ds) sections of r.
func decodeSections(r Record, ds ...sectionDecoder) error { return decodeSectionsAt(r, 0, ds...) }

// decodeSectionsAt decodes sections first, first+1, ... of r.
func decodeSectionsAt(r Record, first int, ds ...sectionDecoder) error {
	if r.NumSections() < first+len(ds) {
		return formatErr("NMsRSecCount", RsnBadSection, "record has too few sections")
	}
	for i, d := range ds {
		if err := d.UnmarshalBinary(r.Section(first + i)); err != nil {
			return at(indexPath("section", first+i), err)
		}
	}
	return nil
}

type sectionAppender interface {
	AppendBinary([]byte) ([]byte, error)
}

// appendSections appends a record made of the given sections.
func appendSections(b []byte, ss ...sectionAppender) ([]byte, error) {
	b, rb := BeginRecord(b, len(ss), 0)
	for i, s := range ss {
		start := len(b)
		var err error
		if b, err = s.AppendBinary(b); err != nil {
			return b[:rb.start], at(indexPath("section", i), err)
		}
		b = rb.Section(b, start)
	}
	return rb.Finish(b)
}

// StackRecord is one record of NMsec_GET_STACKINFO.
type StackRecord struct{ Stack Stack }

func (r *StackRecord) Decode(rec Record) error { return decodeSections(rec, &r.Stack) }
func (r *StackRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Stack)
}

// NSSRecord is one record of NMsec_GET_IKENSINFO.
type NSSRecord struct{ NSS NSS }

func (r *NSSRecord) Decode(rec Record) error         { return decodeSections(rec, &r.NSS) }
func (r *NSSRecord) Append(b []byte) ([]byte, error) { return appendSections(b, &r.NSS) }

// ClientInfoRecord is one record of NMsec_GET_CLIENTINFO (NSS server).
type ClientInfoRecord struct{ ClientInfo ClientInfo }

func (r *ClientInfoRecord) Decode(rec Record) error         { return decodeSections(rec, &r.ClientInfo) }
func (r *ClientInfoRecord) Append(b []byte) ([]byte, error) { return appendSections(b, &r.ClientInfo) }

// InterfaceRecord is one record of NMsec_GET_IPINTERFACES.
type InterfaceRecord struct{ Interface Interface }

func (r *InterfaceRecord) Decode(rec Record) error { return decodeSections(rec, &r.Interface) }
func (r *InterfaceRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Interface)
}

// SummaryRecord is the record of NMsec_GET_SUMMARY.
type SummaryRecord struct{ Statistics Statistics }

func (r *SummaryRecord) Decode(rec Record) error { return decodeSections(rec, &r.Statistics) }
func (r *SummaryRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Statistics)
}

// FilterRecord is one record of NMsec_GET_IPFLTCURR, _IPFLTDEFAULT, _IPFLTPOLICY.
type FilterRecord struct{ Filter IPFilter }

func (r *FilterRecord) Decode(rec Record) error { return decodeSections(rec, &r.Filter) }
func (r *FilterRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Filter)
}

// PortTransRecord is one record of NMsec_GET_PORTTRANS.
type PortTransRecord struct{ PortTrans PortTrans }

func (r *PortTransRecord) Decode(rec Record) error { return decodeSections(rec, &r.PortTrans) }
func (r *PortTransRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.PortTrans)
}

// TunnelRecord is one control record (request or response).
type TunnelRecord struct{ Tunnel Tunnel }

func (r *TunnelRecord) Decode(rec Record) error { return decodeSections(rec, &r.Tunnel) }
func (r *TunnelRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Tunnel)
}

// PolicySourceRecord is the record of NMsec_LOAD_POLICY (request and response).
type PolicySourceRecord struct{ PolicySource PolicySource }

func (r *PolicySourceRecord) Decode(rec Record) error { return decodeSections(rec, &r.PolicySource) }
func (r *PolicySourceRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.PolicySource)
}

// InFilterRecord is one input filter record of a display request.
type InFilterRecord struct{ Filter InFilter }

func (r *InFilterRecord) Decode(rec Record) error { return decodeSections(rec, &r.Filter) }
func (r *InFilterRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Filter)
}

// ManualTunnelRecord is one record of NMsec_GET_IPTUNMANUAL.
type ManualTunnelRecord struct {
	Tunnel IPTunnel
	Manual IPManualTunnel
}

func (r *ManualTunnelRecord) Decode(rec Record) error {
	return decodeSections(rec, &r.Tunnel, &r.Manual)
}
func (r *ManualTunnelRecord) Append(b []byte) ([]byte, error) {
	return appendSections(b, &r.Tunnel, &r.Manual)
}

// DynStackRecord is one record of NMsec_GET_IPTUNDYNSTACK. Dyn.IPv6 follows
// Tunnel.IPv6.
type DynStackRecord struct {
	Tunnel IPTunnel
	Dyn    IPDynTunnel
	Stack  IPDynamicStack
}

func (r *DynStackRecord) Decode(rec Record) error {
	if err := decodeSections(rec, &r.Tunnel); err != nil {
		return err
	}
	r.Dyn.IPv6 = r.Tunnel.IPv6
	return decodeSectionsAt(rec, 1, &r.Dyn, &r.Stack)
}

func (r *DynStackRecord) Append(b []byte) ([]byte, error) {
	r.Dyn.IPv6 = r.Tunnel.IPv6
	return appendSections(b, &r.Tunnel, &r.Dyn, &r.Stack)
}

// DynIKERecord is one record of NMsec_GET_IPTUNDYNIKE (also the format of
// the records cascaded under an IKE tunnel): five sections, the last two
// the local and remote client identities (possibly empty). Dyn.IPv6
// follows Tunnel.IPv6. The identity bytes are as on the wire; see Identity.
type DynIKERecord struct {
	Tunnel   IPTunnel
	Dyn      IPDynTunnel
	IKE      IPDynamicIKE
	LocalID  []byte
	RemoteID []byte
}

// idBytes is a variable-length identity section.
type idBytes struct{ p *[]byte }

func (d idBytes) UnmarshalBinary(b []byte) error {
	if len(b) > identityMaxLength {
		return formatErr("", RsnBadSection, "identity longer than 65536 bytes")
	}
	*d.p = append((*d.p)[:0], b...)
	return nil
}

func (d idBytes) AppendBinary(b []byte) ([]byte, error) {
	if len(*d.p) > identityMaxLength {
		return b, formatErr("", RsnBadSection, "identity longer than 65536 bytes")
	}
	return append(b, *d.p...), nil
}

func (r *DynIKERecord) Decode(rec Record) error {
	if err := decodeSections(rec, &r.Tunnel); err != nil {
		return err
	}
	r.Dyn.IPv6 = r.Tunnel.IPv6
	return decodeSectionsAt(rec, 1, &r.Dyn, &r.IKE, idBytes{&r.LocalID}, idBytes{&r.RemoteID})
}

func (r *DynIKERecord) Append(b []byte) ([]byte, error) {
	r.Dyn.IPv6 = r.Tunnel.IPv6
	return appendSections(b, &r.Tunnel, &r.Dyn, &r.IKE, idBytes{&r.LocalID}, idBytes{&r.RemoteID})
}

// IKETunnelRecord is one record of NMsec_GET_IKETUN and
// NMsec_GET_IKETUNCASCADE: the IKE tunnel, its phase 2 statistics, the
// local and remote identities, and (cascade only) the phase 2 tunnels in
// NMsec_GET_IPTUNDYNIKE format. HasCascade tells whether the record carries
// a cascade container (possibly empty).
type IKETunnelRecord struct {
	Tunnel     IKETunnel
	Stats      IKETunStats
	LocalID    []byte
	RemoteID   []byte
	HasCascade bool
	Cascade    []DynIKERecord
}

func (r *IKETunnelRecord) Decode(rec Record) error {
	if err := decodeSections(rec, &r.Tunnel, &r.Stats, idBytes{&r.LocalID}, idBytes{&r.RemoteID}); err != nil {
		return err
	}
	d, ok := rec.Cascade()
	r.HasCascade = ok
	r.Cascade = r.Cascade[:0]
	for d.Next() {
		if len(r.Cascade) < cap(r.Cascade) {
			r.Cascade = r.Cascade[:len(r.Cascade)+1]
		} else {
			r.Cascade = append(r.Cascade, DynIKERecord{})
		}
		if err := r.Cascade[len(r.Cascade)-1].Decode(d.Record()); err != nil {
			return at(indexPath("cascade.record", d.Index()), err)
		}
	}
	return d.Err()
}

func (r *IKETunnelRecord) Append(b []byte) ([]byte, error) {
	ncasc := 0
	if r.HasCascade || len(r.Cascade) > 0 {
		ncasc = 1
	}
	b, rb := BeginRecord(b, 4, ncasc)
	for i, s := range [...]sectionAppender{&r.Tunnel, &r.Stats, idBytes{&r.LocalID}, idBytes{&r.RemoteID}} {
		start := len(b)
		var err error
		if b, err = s.AppendBinary(b); err != nil {
			return b[:rb.start], at(indexPath("section", i), err)
		}
		b = rb.Section(b, start)
	}
	if ncasc == 1 {
		start := len(b)
		for i := range r.Cascade {
			var err error
			if b, err = r.Cascade[i].Append(b); err != nil {
				return b[:rb.start], at(indexPath("cascade.record", i), err)
			}
		}
		b = rb.Cascade(b, start, len(r.Cascade))
	}
	return rb.Finish(b)
}

// Identity returns an IKE identity section as text: an address for the
// address types, IBM-1047 text for FQDN, user FQDN and distinguished name,
// and hexadecimal for a key ID or an unknown type. (PROPOSED: the contract
// does not say how identities are encoded.)
func Identity(t IDType, b []byte) string {
	switch t {
	case IDIPv4Addr:
		if len(b) == 4 {
			return netip.AddrFrom4([4]byte(b)).String()
		}
	case IDIPv6Addr:
		if len(b) == 16 {
			return netip.AddrFrom16([16]byte(b)).String()
		}
	case IDFQDN, IDUserFQDN, IDDERASN1DN:
		return Text(b)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// AppendIdentity appends the wire form of an identity of type t given as
// text (the inverse of Identity for the address and text types; a key ID is
// taken as raw bytes of s).
func AppendIdentity(b []byte, t IDType, s string) ([]byte, error) {
	switch t {
	case IDIPv4Addr, IDIPv6Addr:
		a, err := netip.ParseAddr(s)
		if err != nil || (t == IDIPv4Addr) != a.Is4() {
			return b, formatErr("identity", RsnNone, "not an address of the identity's type")
		}
		return append(b, a.AsSlice()...), nil
	case IDFQDN, IDUserFQDN, IDDERASN1DN:
		start := len(b)
		b = append(b, make([]byte, len(s))...)
		n := len([]rune(s))
		if err := PutText(b[start:start+n], s); err != nil {
			return b[:start], &FormatError{Path: "identity", Msg: "bad identity", Err: err}
		}
		return b[:start+n], nil
	}
	return append(b, s...), nil
}

// Names of the sections that can arrive partial (see PartialRecords): the
// IBM section names.
const (
	SectionStack      = "NMsecStack"
	SectionStatistics = "NMsecStatistics"
	SectionIPTunnel   = "NMsecIPTunnel"
)

// PartialRecords tells whether a response record of type t (and the
// records cascaded in it) carries a section shorter than this build's
// PROPOSED size but at least IBM's prefix: the section's name and how many
// records have it partial, or "" and 0. It reads the descriptors only; a
// section shorter than IBM's prefix is left to the decoder's error.
func PartialRecords(t MsgType, r Record) (section string, n int) {
	switch t {
	case GetStackInfo:
		return SectionStack, partialAt(r, StackIBMSize, StackSize)
	case GetSummary:
		return SectionStatistics, partialAt(r, StatisticsIBMSize, StatisticsSize)
	case GetIPTunManual, GetIPTunDynStack, GetIPTunDynIKE:
		return SectionIPTunnel, partialAt(r, IPTunnelIBMSize, IPTunnelSize)
	case GetIKETunCascade:
		d, ok := r.Cascade()
		for ok && d.Next() {
			n += partialAt(d.Record(), IPTunnelIBMSize, IPTunnelSize)
		}
		return SectionIPTunnel, n
	}
	return "", 0
}

// partialAt is 1 if section 0 of r is partial, else 0.
func partialAt(r Record, ibm, full int) int {
	if n := len(r.Section(0)); n >= ibm && n < full {
		return 1
	}
	return 0
}
