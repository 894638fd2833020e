package ikedsim

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DataSet is what the simulated IKE daemon knows when it starts. Every time
// in it is relative to Epoch: a model started at T moves them by T-Epoch.
// Numeric codes (algorithms, filter types, ...) are the wire codes of the
// contract.
type DataSet struct {
	System string // default SYS1
	Epoch  time.Time
	Stacks []*Stack
}

// Stack is one TCP/IP stack and everything IKED keeps for it.
type Stack struct {
	Name string // job name, 1-8 characters

	IPSecurity, IPv6Security, DVIPSec, Logging, PreDecap, FIPS140 bool

	FilterSet    FilterSet // the set in effect
	NATKeepAlive uint32    // seconds

	Interfaces []Interface
	NSS        NSS

	DefaultFilters []Filter // the TCP/IP profile's IPSEC statement
	PolicyFilters  []Filter // the Policy Agent's rules (dynamic filters are added by tunnels)

	IKETunnels       []IKETunnel
	DynTunnels       []DynTunnel
	ManualTunnels    []ManualTunnel
	PortTranslations []PortTranslation
	DynVpnRules      []DynVpnRule

	Counters Counters // cumulative statistics (NMsecStatistics)
}

// Interface is one NMsecInterface.
type Interface struct {
	Name     string
	Addr     netip.Addr
	SecClass uint8
	Active   bool
	DVIPA    bool
}

// NSS is the stack's network security services settings (NMsecNSS).
type NSS struct {
	ClientName, Userid, ServerSysName     string
	Configured, CertSelected, CertEnabled bool
	Connected                             bool
}

// AddrSpec is an address selector: any, one host, a prefix, or a range.
type AddrSpec struct {
	Format AddrFormat
	Addr   netip.Addr // host, prefix base or range low
	Addr2  netip.Addr // range high
	Prefix uint8
}

// PortRange is an inclusive port range; 0-0 means any.
type PortRange struct{ Low, High uint16 }

// Filter is one IP filter rule (P.12).
type Filter struct {
	Name                                       string
	NameExt                                    uint32
	Group, LocalStartAction, VpnAction         string
	TunnelID                                   string
	IPv6, OnDemand                             bool
	Granularity                                uint8 // bits 2-8 of the flag word, bit 2 = 0x40
	Type, State, Action, Scope, Direction      uint8
	Logging, SecClass, Protocol                uint8
	Src, Dst                                   AddrSpec
	SrcPorts, DstPorts                         PortRange
	ICMPType, ICMPCode, OSPFType, TCPQualifier uint8 // ICMP 255 = any
	MatchCount                                 uint64
	MatchRate                                  uint32 // packets per second while the filter's set is in effect
	Created                                    time.Time
	LogLimit                                   uint32
}

// Traffic holds the counters of a security association and the rate at
// which they grow while it is active and the policy filters are in effect.
type Traffic struct {
	OutBytes, InBytes, OutPackets, InPackets uint64
	OutRate, InRate                          uint32 // packets per second
	PacketSize                               uint32 // bytes per packet; 0 = 512
}

// IKEStats are the cumulative phase 2 counters of one IKE tunnel (P.11);
// the gauges are computed from the dynamic tunnels.
type IKEStats struct {
	LclActSuccess, RmtActSuccess, LclActFailure, RmtActFailure, Retransmit uint64
}

// Counters are the cumulative counters of NMsecStatistics for phase 1 and
// phase 2; the gauges are computed from the tunnels.
type Counters struct {
	P1, P2 IKEStats
}

// IKETunnel is one IKE (phase 1) security association: one generation of
// the tunnel family ID.
type IKETunnel struct {
	ID                                 string // K<n>
	Generation                         uint32
	KeyExchangeRule, KeyExchangeAction string
	Local, Remote                      netip.Addr
	NATAllowed, LocalNAT, RemoteNAT    bool
	RemoteNAPT, CanInitP1              bool
	State                              IKETunState
	ExchangeMode, Role, AuthMethod     uint8
	EncryptAlg, AuthAlg, DHGroup       uint8
	EncryptKeyLen                      uint16
	LocalIDType, RemoteIDType          uint8
	LocalID, RemoteID                  string
	MajorVer, MinorVer                 uint8
	LocalUDPPort, RemoteUDPPort        uint16
	Lifesize                           uint32 // KB
	Lifetime                           time.Duration
	Activated, Expires                 time.Time
	InitCookie, RespCookie             uint64
	Bytes                              uint64
	Stats                              IKEStats
	AutoRefresh                        bool // a new generation replaces it before it expires
	Next                               time.Time
	// Next is when a pending or negotiating tunnel moves on; zero = it
	// stays where it is (the peer does not answer).
}

// DynTunnel is one dynamic IPSec (phase 2) security association: one
// generation of the tunnel family ID, seen by the stack and by IKE.
type DynTunnel struct {
	ID                            string // Y<n>
	Generation                    uint32
	VpnAction, LocalDynVpnRule    string
	IKETunnelID                   string
	State                         IPTunState
	FIPS140                       bool
	Encap, AuthProto, AuthAlg     uint8
	EncryptAlg                    uint8
	EncryptKeyLen                 uint16
	LocalEndpoint, RemoteEndpoint netip.Addr // security endpoints
	AuthInSPI, AuthOutSPI         uint32
	EncryptInSPI, EncryptOutSPI   uint32
	UDPEncap, SWSAShadow          bool
	ClearDF, ClearDSCP            bool
	Activation, PFSGroup          uint8
	Protocol                      uint8
	Src, Dst                      AddrSpec // data endpoints
	SrcPort, DstPort              uint16
	Lifesize                      uint64 // bytes
	Lifetime                      time.Duration
	Activated, Expires            time.Time
	RemoteUDPPort, LocalUDPPort   uint16
	SrcNATOA, DstNATOA            netip.Addr
	Traffic                       Traffic
	Installed                     time.Time // zero until the stack has the SA
	LocallyInitiated              bool
	ExtState                      uint8
	LocalClientIDType             uint8
	RemoteClientIDType            uint8
	LocalClientID, RemoteClientID string
	Retransmits                   uint32
	AutoRefresh                   bool
	Next                          time.Time // as IKETunnel.Next
}

// ManualTunnel is one manual IPSec tunnel (P.5, P.6).
type ManualTunnel struct {
	ID, VpnAction               string
	State                       IPTunState // inactive or active
	FIPS140                     bool
	Encap, AuthProto, AuthAlg   uint8
	EncryptAlg                  uint8
	EncryptKeyLen               uint16
	Local, Remote               netip.Addr
	AuthInSPI, AuthOutSPI       uint32
	EncryptInSPI, EncryptOutSPI uint32
	Activated                   time.Time
	Traffic                     Traffic
}

// PortTranslation is one NAT traversal port translation (P.13). NAT
// traversal is IPv4 only.
type PortTranslation struct {
	TunnelID       string
	Protocol       uint8 // 6 or 17
	RemoteEndpoint netip.Addr
	RemoteUDPPort  uint16
	RemoteOrigPort uint16
	TranslatedPort uint16
	LocalPort      uint16
	RemoteOrigAddr netip.Addr
}

// DynVpnRule is a LocalDynVpnRule: what NMsec_ACT_DYNTUN activates. What
// activation answers follows from it: no KeyExchangeRule is NOKER; no
// dynamic anchor filter named AnchorFilter in the filter set in effect is
// NOFILTER; no VpnAction (the IpDynVpnAction carrying the data offers) is
// NODATAOFFER.
type DynVpnRule struct {
	Name                               string
	KeyExchangeRule, KeyExchangeAction string
	AnchorFilter                       string
	VpnAction                          string
	Local, Remote                      netip.Addr // security endpoints
	LocalID, RemoteID                  string     // IKE identities (FQDN or address)
	Src, Dst                           AddrSpec
	Protocol                           uint8
	SrcPort, DstPort                   uint16
	Encap, AuthProto, AuthAlg          uint8
	EncryptAlg                         uint8
	EncryptKeyLen                      uint16
	PFSGroup                           uint8
	Lifetime                           time.Duration
	IKELifetime                        time.Duration
}

// Validation errors name the object.
var errDataSet = errors.New("invalid data set")

func dsErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDataSet, fmt.Sprintf(format, args...))
}

// dsMsg is the message of a dsErr error, for a ValidationError.
func dsMsg(err error) string { return strings.TrimPrefix(err.Error(), errDataSet.Error()+": ") }

// ParseAddrSpec reads "any", "192.0.2.1", "192.0.2.0/24" or
// "192.0.2.1-192.0.2.9" (IPv6 alike).
func ParseAddrSpec(s string) (AddrSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "any") {
		return AddrSpec{}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a.Is4() != b.Is4() || b.Less(a) || a.Zone() != "" || b.Zone() != "" {
			return AddrSpec{}, fmt.Errorf("bad address range %q", s)
		}
		return AddrSpec{Format: AddrRange, Addr: a, Addr2: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return AddrSpec{}, fmt.Errorf("bad address prefix %q", s)
		}
		return AddrSpec{Format: AddrPrefix, Addr: p.Masked().Addr(), Prefix: uint8(p.Bits())}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return AddrSpec{}, fmt.Errorf("bad address %q", s)
	}
	return AddrSpec{Format: AddrSingle, Addr: a.Unmap()}, nil
}

// String is the form ParseAddrSpec reads.
func (a AddrSpec) String() string {
	switch a.Format {
	case AddrSingle:
		return a.Addr.String()
	case AddrPrefix:
		return netip.PrefixFrom(a.Addr, int(a.Prefix)).String()
	case AddrRange:
		return a.Addr.String() + "-" + a.Addr2.String()
	}
	return "any"
}

// bounds gives the lowest and highest address a covers; ok is false for any.
func (a AddrSpec) bounds() (lo, hi netip.Addr, ok bool) {
	switch a.Format {
	case AddrSingle:
		return a.Addr, a.Addr, true
	case AddrRange:
		return a.Addr, a.Addr2, true
	case AddrPrefix:
		p := netip.PrefixFrom(a.Addr, int(a.Prefix)).Masked()
		return p.Addr(), lastAddr(p), true
	}
	return netip.Addr{}, netip.Addr{}, false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// family tells whether a is IPv6; ok is false when a is "any".
func (a AddrSpec) family() (v6, ok bool) {
	if a.Format == AddrAny {
		return false, false
	}
	return a.Addr.Is6(), true
}

// ParsePortRange reads "any", "443" or "1024-65535".
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "any") {
		return PortRange{}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	h := l
	var err2 error
	if isRange {
		h, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	if err1 != nil || err2 != nil || h < l || (l == 0 && h != 0) {
		return PortRange{}, fmt.Errorf("bad port range %q", s)
	}
	return PortRange{uint16(l), uint16(h)}, nil
}

// String is the form ParsePortRange reads.
func (p PortRange) String() string {
	switch {
	case p.Low == 0 && p.High == 0:
		return "any"
	case p.Low == p.High:
		return strconv.Itoa(int(p.Low))
	}
	return strconv.Itoa(int(p.Low)) + "-" + strconv.Itoa(int(p.High))
}

// Stack returns the named stack or nil.
func (d *DataSet) Stack(name string) *Stack {
	for _, s := range d.Stacks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Validate checks what a model relies on: names that fit their fields,
// unique stacks and tunnel generations, consistent address families, tunnel
// IDs of the contract's forms, and references between objects. Errors about
// one object are *ValidationError.
func (d *DataSet) Validate() error {
	if err := checkName("system", d.System, shortLen); err != nil {
		return &ValidationError{Kind: "system", Index: -1, Msg: dsMsg(err)}
	}
	if len(d.Stacks) == 0 {
		return &ValidationError{Kind: "stacks", Index: -1, Msg: "none given"}
	}
	seen := map[string]bool{}
	for i, s := range d.Stacks {
		if s.Name == "" {
			return &ValidationError{Kind: "stacks", Index: i, Msg: "no name"}
		}
		if err := checkName("stack name", s.Name, shortLen); err != nil {
			return &ValidationError{Kind: "stacks", Index: i, Msg: dsMsg(err)}
		}
		if seen[s.Name] {
			return &ValidationError{Stack: s.Name, Msg: "the stack appears twice"}
		}
		seen[s.Name] = true
		if err := s.validate(); err != nil {
			return err
		}
	}
	return nil
}

func checkName(what, s string, max int) error {
	if len(s) > max {
		return dsErr("%s %q is longer than %d characters", what, s, max)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return dsErr("%s %q has a character outside printable ASCII", what, s)
		}
	}
	return nil
}

// Field sizes of the contract's EBCDIC fields that data sets fill.
const (
	nameLen   = 48
	ifNameLen = 16
	nssLen    = 24
	shortLen  = 8
)

func (s *Stack) validate() error {
	fail := func(kind string, i int, err error) error {
		if err == nil {
			return nil
		}
		return &ValidationError{Stack: s.Name, Kind: kind, Index: i, Msg: dsMsg(err)}
	}
	if s.FilterSet > FilterSetPolicy {
		return fail("", 0, dsErr("filter set %d", s.FilterSet))
	}
	for i, f := range s.Interfaces {
		err := checkName("interface name", f.Name, ifNameLen)
		if err == nil && !f.Addr.IsValid() {
			err = dsErr("interface %s has no address", f.Name)
		}
		if err != nil {
			return fail("interfaces", i, err)
		}
	}
	for _, c := range []struct {
		what string
		v    string
		n    int
	}{{"NSS client name", s.NSS.ClientName, nssLen}, {"NSS user ID", s.NSS.Userid, shortLen}, {"NSS server system", s.NSS.ServerSysName, shortLen}} {
		if err := checkName(c.what, c.v, c.n); err != nil {
			return fail("", 0, err)
		}
	}
	for i := range s.DefaultFilters {
		if err := s.DefaultFilters[i].validate(); err != nil {
			return fail("filters.default", i, err)
		}
	}
	for i := range s.PolicyFilters {
		if err := s.PolicyFilters[i].validate(); err != nil {
			return fail("filters.policy", i, err)
		}
	}
	gens := map[string]map[uint32]bool{}
	addGen := func(id string, g uint32) error {
		if gens[id] == nil {
			gens[id] = map[uint32]bool{}
		}
		if g == 0 {
			return dsErr("tunnel %s has generation 0", id)
		}
		if gens[id][g] {
			return dsErr("tunnel %s generation %d appears twice", id, g)
		}
		gens[id][g] = true
		return nil
	}
	for i, t := range s.IKETunnels {
		if err := fail("ikeTunnels", i, t.validate(addGen)); err != nil {
			return err
		}
	}
	for i, t := range s.DynTunnels {
		err := t.validate(addGen)
		if err == nil && t.IKETunnelID != "" && gens[t.IKETunnelID] == nil {
			err = dsErr("dynamic tunnel %s: IKE tunnel %s unknown", t.ID, t.IKETunnelID)
		}
		if err != nil {
			return fail("dynamicTunnels", i, err)
		}
	}
	for i, t := range s.ManualTunnels {
		if err := fail("manualTunnels", i, t.validate(addGen)); err != nil {
			return err
		}
	}
	for i, p := range s.PortTranslations {
		err := checkNames(p.TunnelID)
		if err == nil && (!p.RemoteEndpoint.Is4() || (p.RemoteOrigAddr.IsValid() && !p.RemoteOrigAddr.Is4())) {
			err = dsErr("port translation of %s: NAT traversal addresses are IPv4", p.TunnelID)
		}
		if err != nil {
			return fail("portTranslations", i, err)
		}
	}
	rules := map[string]bool{}
	for i, r := range s.DynVpnRules {
		err := r.validate()
		if err == nil && rules[r.Name] {
			err = dsErr("LocalDynVpnRule %s appears twice", r.Name)
		}
		if err != nil {
			return fail("localDynVpnRules", i, err)
		}
		rules[r.Name] = true
	}
	return nil
}

func pairOK(a, b netip.Addr) bool { return a.IsValid() && b.IsValid() && a.Is4() == b.Is4() }

func (t *IKETunnel) validate(addGen func(string, uint32) error) error {
	if !tunnelIDOK(t.ID, 'K') {
		return dsErr("IKE tunnel ID %q is not K<digits>", t.ID)
	}
	if err := addGen(t.ID, t.Generation); err != nil {
		return err
	}
	if err := checkNames(t.KeyExchangeRule, t.KeyExchangeAction, t.LocalID, t.RemoteID); err != nil {
		return err
	}
	if !pairOK(t.Local, t.Remote) {
		return dsErr("IKE tunnel %s: endpoints must be two addresses of one family", t.ID)
	}
	if t.State < IKEPending || t.State > IKEExpired {
		return dsErr("IKE tunnel %s: state %d", t.ID, t.State)
	}
	return nil
}

func (t *DynTunnel) validate(addGen func(string, uint32) error) error {
	if !tunnelIDOK(t.ID, 'Y') {
		return dsErr("dynamic tunnel ID %q is not Y<digits>", t.ID)
	}
	if err := addGen(t.ID, t.Generation); err != nil {
		return err
	}
	if err := checkNames(t.VpnAction, t.LocalDynVpnRule, t.IKETunnelID, t.LocalClientID, t.RemoteClientID); err != nil {
		return err
	}
	if !pairOK(t.LocalEndpoint, t.RemoteEndpoint) {
		return dsErr("dynamic tunnel %s: security endpoints must be two addresses of one family", t.ID)
	}
	if err := sameFamily(t.LocalEndpoint.Is6(), t.Src, t.Dst); err != nil {
		return dsErr("dynamic tunnel %s: %v", t.ID, err)
	}
	if t.State < TunPending || t.State > TunExpired {
		return dsErr("dynamic tunnel %s: state must be pending, incomplete, active or expired", t.ID)
	}
	return nil
}

func (t *ManualTunnel) validate(addGen func(string, uint32) error) error {
	if strings.TrimSpace(t.ID) == "" {
		return dsErr("a manual tunnel has no ID")
	}
	if err := addGen(t.ID, 1); err != nil {
		return err
	}
	if err := checkNames(t.ID, t.VpnAction); err != nil {
		return err
	}
	if !pairOK(t.Local, t.Remote) {
		return dsErr("manual tunnel %s: endpoints must be two addresses of one family", t.ID)
	}
	if t.State != TunInactive && t.State != TunActive {
		return dsErr("manual tunnel %s: state must be inactive or active", t.ID)
	}
	return nil
}

func (r *DynVpnRule) validate() error {
	if r.Name == "" {
		return dsErr("a LocalDynVpnRule has no name")
	}
	if err := checkNames(r.Name, r.KeyExchangeRule, r.KeyExchangeAction, r.AnchorFilter, r.VpnAction, r.LocalID, r.RemoteID); err != nil {
		return err
	}
	if !pairOK(r.Local, r.Remote) {
		return dsErr("LocalDynVpnRule %s: endpoints must be two addresses of one family", r.Name)
	}
	if err := sameFamily(r.Local.Is6(), r.Src, r.Dst); err != nil {
		return dsErr("LocalDynVpnRule %s: %v", r.Name, err)
	}
	return nil
}

func checkNames(names ...string) error {
	for _, n := range names {
		if err := checkName("name", n, nameLen); err != nil {
			return err
		}
	}
	return nil
}

func sameFamily(v6 bool, specs ...AddrSpec) error {
	for _, a := range specs {
		if f, ok := a.family(); ok && f != v6 {
			return fmt.Errorf("address %s is not of the object's family", a)
		}
		if a.Format == AddrRange && a.Addr.Is6() != a.Addr2.Is6() {
			return fmt.Errorf("range %s mixes families", a)
		}
	}
	return nil
}

func tunnelIDOK(id string, prefix byte) bool {
	if len(id) < 2 || len(id) > nameLen || id[0] != prefix {
		return false
	}
	for i := 1; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func (f *Filter) validate() error {
	if f.Name == "" {
		return dsErr("filter has no name")
	}
	if err := checkNames(f.Name, f.Group, f.LocalStartAction, f.VpnAction, f.TunnelID); err != nil {
		return err
	}
	if err := sameFamily(f.IPv6, f.Src, f.Dst); err != nil {
		return dsErr("filter %s: %v", f.Name, err)
	}
	if f.SrcPorts.High < f.SrcPorts.Low || f.DstPorts.High < f.DstPorts.Low {
		return dsErr("filter %s: port range high below low", f.Name)
	}
	if f.Direction != dirInbound && f.Direction != dirOutbound {
		return dsErr("filter %s: direction %d", f.Name, f.Direction)
	}
	return nil
}
