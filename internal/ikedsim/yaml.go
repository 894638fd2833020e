package ikedsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// LoadDataSet reads a YAML data set (format: testdata/example-dataset.yaml).
// Unknown keys, bad values and inconsistent objects are errors that name
// the file and line.
func LoadDataSet(path string) (*DataSet, error) { return loadFile(path, ParseDataSet) }

// loadFile reads the file at path with parse; parse errors name the file.
func loadFile[T any](path string, parse func([]byte) (*T, error)) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// ParseDataSet reads a YAML data set from memory.
func ParseDataSet(b []byte) (*DataSet, error) {
	var doc yDataSet
	root, err := decodeStrict(b, &doc)
	if err != nil {
		return nil, err
	}
	ds, err := doc.dataSet()
	if err != nil {
		return nil, err
	}
	if err := validateAt(ds, root); err != nil {
		return nil, err
	}
	return ds, nil
}

// decodeStrict decodes the YAML document b into doc, unknown keys being
// errors, and returns its node tree, for locating later errors.
func decodeStrict(b []byte, doc any) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty data set")
		}
		return nil, withLine(b, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, withLine(b, err)
	}
	return &root, nil
}

// validateAt validates ds, whose document is root; an error about one
// object names its line.
func validateAt(ds *DataSet, root *yaml.Node) error {
	err := ds.Validate()
	var ve *ValidationError
	if errors.As(err, &ve) {
		if line := ve.line(root); line > 0 {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return err
}

// yamlLine is how the YAML package names the line in its errors.
var yamlLine = regexp.MustCompile(`\bline [0-9]+:`)

// withLine gives a line to the YAML package's errors that have none: it
// leaves it out for errors on the first line and for bytes it cannot read
// (not UTF-8, or characters YAML does not allow). Those are located here.
func withLine(b []byte, err error) error {
	if yamlLine.MatchString(err.Error()) {
		return err
	}
	line := 1
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 || !yamlChar(r) {
			break
		}
		if r == '\n' {
			line++
		}
		i += n
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// yamlChar tells whether YAML allows r in a document (YAML 1.2, 5.1).
func yamlChar(r rune) bool {
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r == 0x85:
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
	default:
		return false
	}
	return true
}

// Scalars that parse themselves, so that their errors carry the line.

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", &lineError{n.Line, "expected a single value"}
	}
	return n.Value, nil
}

// parseScalar reads n with parse; its error gets n's line.
func parseScalar[T any](n *yaml.Node, parse func(string) (T, error)) (T, error) {
	var zero T
	s, err := scalar(n)
	if err != nil {
		return zero, err
	}
	v, err := parse(s)
	if err != nil {
		return zero, &lineError{n.Line, err.Error()}
	}
	return v, nil
}

func parseAddr(s string) (netip.Addr, error) {
	v, err := netip.ParseAddr(s)
	if err != nil || v.Zone() != "" {
		return v, fmt.Errorf("bad IP address %q", s)
	}
	return v.Unmap(), nil
}

type yAddr struct{ netip.Addr }

func (a *yAddr) UnmarshalYAML(n *yaml.Node) (err error) {
	a.Addr, err = parseScalar(n, parseAddr)
	return err
}

type ySpec struct{ AddrSpec }

func (a *ySpec) UnmarshalYAML(n *yaml.Node) (err error) {
	a.AddrSpec, err = parseScalar(n, ParseAddrSpec)
	return err
}

type yPorts struct{ PortRange }

func (p *yPorts) UnmarshalYAML(n *yaml.Node) (err error) {
	p.PortRange, err = parseScalar(n, ParsePortRange)
	return err
}

// yDur is a Go duration ("8h", "-90m") or a number of seconds.
type yDur struct{ time.Duration }

func (d *yDur) UnmarshalYAML(n *yaml.Node) (err error) {
	d.Duration, err = parseScalar(n, func(s string) (time.Duration, error) {
		if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Duration(secs) * time.Second, nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return v, nil
	})
	return err
}

// yWord is an enumeration's word or number, converted by code().
type yWord struct {
	s    string
	line int
}

func (w *yWord) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n)
	if err != nil {
		return err
	}
	w.s, w.line = s, n.Line
	return nil
}

// code converts w with an enumeration's namer; a number is taken as is, an
// empty word gives def.
func (w yWord) code(namer func(uint8) string, def uint8) (uint8, error) {
	if w.s == "" {
		return def, nil
	}
	if v, err := strconv.ParseUint(w.s, 0, 8); err == nil {
		return uint8(v), nil
	}
	for c := 0; c < 256; c++ {
		if strings.EqualFold(namer(uint8(c)), w.s) {
			return uint8(c), nil
		}
	}
	return 0, &lineError{w.line, fmt.Sprintf("unknown value %q", w.s)}
}

// yU64 is a number, also in hexadecimal (0x...).
type yU64 struct{ v uint64 }

func (u *yU64) UnmarshalYAML(n *yaml.Node) (err error) {
	u.v, err = parseScalar(n, func(s string) (uint64, error) {
		v, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, 64)
		if err != nil {
			return 0, fmt.Errorf("bad number %q", s)
		}
		return v, nil
	})
	return err
}

// The document.

type yDataSet struct {
	System string   `yaml:"system"`
	Stacks []yStack `yaml:"stacks"`
}

type yStack struct {
	Name         string   `yaml:"name"`
	IPSecurity   *bool    `yaml:"ipSecurity"`
	IPv6Security bool     `yaml:"ipv6Security"`
	DVIPSec      bool     `yaml:"dvipsec"`
	Logging      bool     `yaml:"logging"`
	PreDecap     bool     `yaml:"preDecap"`
	FIPS140      bool     `yaml:"fips140"`
	FilterSet    yWord    `yaml:"filterSet"`
	NATKeepAlive uint32   `yaml:"natKeepAlive"`
	Interfaces   []yIface `yaml:"interfaces"`
	NSS          struct {
		ClientName   string `yaml:"clientName"`
		Userid       string `yaml:"userid"`
		ServerSystem string `yaml:"serverSystem"`
		Configured   bool   `yaml:"configured"`
		CertSelected bool   `yaml:"certSelected"`
		CertEnabled  bool   `yaml:"certEnabled"`
		Connected    bool   `yaml:"connected"`
	} `yaml:"nss"`
	Counters struct {
		P1 yStats `yaml:"phase1"`
		P2 yStats `yaml:"phase2"`
	} `yaml:"counters"`
	Filters struct {
		Default []yFilter `yaml:"default"`
		Policy  []yFilter `yaml:"policy"`
	} `yaml:"filters"`
	IKETunnels       []yIKE    `yaml:"ikeTunnels"`
	DynTunnels       []yDyn    `yaml:"dynamicTunnels"`
	ManualTunnels    []yManual `yaml:"manualTunnels"`
	PortTranslations []yPortTr `yaml:"portTranslations"`
	DynVpnRules      []yRule   `yaml:"localDynVpnRules"`
}

type yIface struct {
	Name     string `yaml:"name"`
	Address  yAddr  `yaml:"address"`
	SecClass uint8  `yaml:"secClass"`
	Active   *bool  `yaml:"active"`
	DVIPA    bool   `yaml:"dvipa"`
}

type yStats struct {
	LocalSuccess  uint64 `yaml:"localSuccess"`
	RemoteSuccess uint64 `yaml:"remoteSuccess"`
	LocalFailure  uint64 `yaml:"localFailure"`
	RemoteFailure uint64 `yaml:"remoteFailure"`
	Retransmits   uint64 `yaml:"retransmits"`
}

func (s yStats) stats() IKEStats {
	return IKEStats{s.LocalSuccess, s.RemoteSuccess, s.LocalFailure, s.RemoteFailure, s.Retransmits}
}

type yFilter struct {
	Name             string  `yaml:"name"`
	NameExt          uint32  `yaml:"nameExt"`
	Group            string  `yaml:"group"`
	LocalStartAction string  `yaml:"localStartAction"`
	VpnAction        string  `yaml:"vpnAction"`
	TunnelID         string  `yaml:"tunnelId"`
	IPv6             bool    `yaml:"ipv6"`
	OnDemand         bool    `yaml:"onDemand"`
	Granularity      []yWord `yaml:"packetGranularity"`
	Type             yWord   `yaml:"type"`
	State            yWord   `yaml:"state"`
	Action           yWord   `yaml:"action"`
	Scope            yWord   `yaml:"scope"`
	Direction        yWord   `yaml:"direction"`
	Both             bool    `yaml:"bothDirections"`
	Logging          yWord   `yaml:"logging"`
	SecClass         uint8   `yaml:"secClass"`
	Protocol         yWord   `yaml:"protocol"`
	Source           ySpec   `yaml:"source"`
	Destination      ySpec   `yaml:"destination"`
	SourcePorts      yPorts  `yaml:"sourcePorts"`
	DestPorts        yPorts  `yaml:"destinationPorts"`
	ICMPType         *uint8  `yaml:"icmpType"`
	ICMPCode         *uint8  `yaml:"icmpCode"`
	OSPFType         uint8   `yaml:"ospfType"`
	TCPQualifier     uint8   `yaml:"tcpQualifier"`
	MatchCount       yU64    `yaml:"matchCount"`
	MatchRate        uint32  `yaml:"matchRate"`
	Created          yDur    `yaml:"created"`
	LogLimit         uint32  `yaml:"logLimit"`
}

type ySA struct {
	Encap         yWord  `yaml:"encapsulation"`
	AuthProto     yWord  `yaml:"protocol"`
	AuthAlg       yWord  `yaml:"integrity"`
	EncryptAlg    yWord  `yaml:"encryption"`
	EncryptKeyLen uint16 `yaml:"keyLength"`
	AuthInSPI     yU64   `yaml:"ahInSpi"`
	AuthOutSPI    yU64   `yaml:"ahOutSpi"`
	EncryptInSPI  yU64   `yaml:"espInSpi"`
	EncryptOutSPI yU64   `yaml:"espOutSpi"`
}

type yTraffic struct {
	OutBytes   yU64   `yaml:"outBytes"`
	InBytes    yU64   `yaml:"inBytes"`
	OutPackets yU64   `yaml:"outPackets"`
	InPackets  yU64   `yaml:"inPackets"`
	OutRate    uint32 `yaml:"outRate"`
	InRate     uint32 `yaml:"inRate"`
	PacketSize uint32 `yaml:"packetSize"`
}

func (t yTraffic) traffic() Traffic {
	return Traffic{t.OutBytes.v, t.InBytes.v, t.OutPackets.v, t.InPackets.v, t.OutRate, t.InRate, t.PacketSize}
}

type yIKE struct {
	ID                string `yaml:"id"`
	Generation        uint32 `yaml:"generation"`
	KeyExchangeRule   string `yaml:"keyExchangeRule"`
	KeyExchangeAction string `yaml:"keyExchangeAction"`
	Local             yAddr  `yaml:"local"`
	Remote            yAddr  `yaml:"remote"`
	NATAllowed        bool   `yaml:"natAllowed"`
	LocalNAT          bool   `yaml:"localNat"`
	RemoteNAT         bool   `yaml:"remoteNat"`
	RemoteNAPT        bool   `yaml:"remoteNapt"`
	CanInitP1         *bool  `yaml:"canInitiate"`
	State             yWord  `yaml:"state"`
	ExchangeMode      yWord  `yaml:"exchangeMode"`
	Role              yWord  `yaml:"role"`
	AuthMethod        yWord  `yaml:"authMethod"`
	EncryptAlg        yWord  `yaml:"encryption"`
	AuthAlg           yWord  `yaml:"integrity"`
	DHGroup           yWord  `yaml:"dhGroup"`
	EncryptKeyLen     uint16 `yaml:"keyLength"`
	LocalIDType       yWord  `yaml:"localIdType"`
	LocalID           string `yaml:"localId"`
	RemoteIDType      yWord  `yaml:"remoteIdType"`
	RemoteID          string `yaml:"remoteId"`
	MajorVer          *uint8 `yaml:"majorVersion"`
	MinorVer          uint8  `yaml:"minorVersion"`
	LocalUDPPort      uint16 `yaml:"localUdpPort"`
	RemoteUDPPort     uint16 `yaml:"remoteUdpPort"`
	LifesizeKB        uint32 `yaml:"lifesizeKB"`
	Lifetime          yDur   `yaml:"lifetime"`
	Activated         *yDur  `yaml:"activated"`
	Expires           *yDur  `yaml:"expires"`
	Next              *yDur  `yaml:"next"`
	InitCookie        yU64   `yaml:"initiatorCookie"`
	RespCookie        yU64   `yaml:"responderCookie"`
	Bytes             yU64   `yaml:"bytes"`
	Stats             yStats `yaml:"stats"`
	AutoRefresh       bool   `yaml:"autoRefresh"`
}

type yDyn struct {
	ID                 string   `yaml:"id"`
	Generation         uint32   `yaml:"generation"`
	VpnAction          string   `yaml:"vpnAction"`
	LocalDynVpnRule    string   `yaml:"localDynVpnRule"`
	IKETunnelID        string   `yaml:"ikeTunnelId"`
	State              yWord    `yaml:"state"`
	FIPS140            bool     `yaml:"fips140"`
	SA                 ySA      `yaml:",inline"`
	Local              yAddr    `yaml:"local"`
	Remote             yAddr    `yaml:"remote"`
	UDPEncap           bool     `yaml:"udpEncapsulated"`
	SWSAShadow         bool     `yaml:"swsaShadow"`
	ClearDF            bool     `yaml:"clearDF"`
	ClearDSCP          bool     `yaml:"clearDSCP"`
	Activation         yWord    `yaml:"activation"`
	PFSGroup           yWord    `yaml:"pfsGroup"`
	Protocol           yWord    `yaml:"dataProtocol"`
	Source             ySpec    `yaml:"source"`
	Destination        ySpec    `yaml:"destination"`
	SourcePort         uint16   `yaml:"sourcePort"`
	DestPort           uint16   `yaml:"destinationPort"`
	Lifesize           yU64     `yaml:"lifesize"`
	Lifetime           yDur     `yaml:"lifetime"`
	Activated          *yDur    `yaml:"activated"`
	Expires            *yDur    `yaml:"expires"`
	Next               *yDur    `yaml:"next"`
	LocalUDPPort       uint16   `yaml:"localUdpPort"`
	RemoteUDPPort      uint16   `yaml:"remoteUdpPort"`
	SrcNATOA           *yAddr   `yaml:"sourceNatOA"`
	DstNATOA           *yAddr   `yaml:"destinationNatOA"`
	Traffic            yTraffic `yaml:"traffic"`
	LocallyInitiated   *bool    `yaml:"locallyInitiated"`
	LocalClientIDType  yWord    `yaml:"localClientIdType"`
	LocalClientID      string   `yaml:"localClientId"`
	RemoteClientIDType yWord    `yaml:"remoteClientIdType"`
	RemoteClientID     string   `yaml:"remoteClientId"`
	Retransmits        uint32   `yaml:"retransmits"`
	AutoRefresh        bool     `yaml:"autoRefresh"`
}

type yManual struct {
	ID        string   `yaml:"id"`
	VpnAction string   `yaml:"vpnAction"`
	State     yWord    `yaml:"state"`
	FIPS140   bool     `yaml:"fips140"`
	SA        ySA      `yaml:",inline"`
	Local     yAddr    `yaml:"local"`
	Remote    yAddr    `yaml:"remote"`
	Activated *yDur    `yaml:"activated"`
	Traffic   yTraffic `yaml:"traffic"`
}

type yPortTr struct {
	TunnelID       string `yaml:"tunnelId"`
	Protocol       yWord  `yaml:"protocol"`
	RemoteEndpoint yAddr  `yaml:"remoteEndpoint"`
	RemoteUDPPort  uint16 `yaml:"remoteUdpPort"`
	RemoteOrigPort uint16 `yaml:"remoteOriginalPort"`
	TranslatedPort uint16 `yaml:"translatedPort"`
	LocalPort      uint16 `yaml:"localPort"`
	RemoteOrigAddr *yAddr `yaml:"remoteOriginalAddress"`
}

type yRule struct {
	Name              string `yaml:"name"`
	KeyExchangeRule   string `yaml:"keyExchangeRule"`
	KeyExchangeAction string `yaml:"keyExchangeAction"`
	AnchorFilter      string `yaml:"anchorFilter"`
	VpnAction         string `yaml:"vpnAction"`
	Local             yAddr  `yaml:"local"`
	Remote            yAddr  `yaml:"remote"`
	LocalID           string `yaml:"localId"`
	RemoteID          string `yaml:"remoteId"`
	Source            ySpec  `yaml:"source"`
	Destination       ySpec  `yaml:"destination"`
	Protocol          yWord  `yaml:"dataProtocol"`
	SourcePort        uint16 `yaml:"sourcePort"`
	DestPort          uint16 `yaml:"destinationPort"`
	SA                ySA    `yaml:",inline"`
	PFSGroup          yWord  `yaml:"pfsGroup"`
	Lifetime          yDur   `yaml:"lifetime"`
	IKELifetime       yDur   `yaml:"ikeLifetime"`
}

// conv collects the first conversion error, so that the field-by-field code
// stays straight.
type conv struct{ err error }

func (c *conv) code(w yWord, namer func(uint8) string, def uint8) uint8 {
	v, err := w.code(namer, def)
	if err != nil && c.err == nil {
		c.err = err
	}
	return v
}

func at(epoch time.Time, d *yDur) time.Time {
	if d == nil {
		return time.Time{}
	}
	return epoch.Add(d.Duration)
}

func addr(a *yAddr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	return a.Addr
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// yamlEpoch is the Epoch of data sets read from YAML; their times are
// durations relative to it.
var yamlEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (d *yDataSet) dataSet() (*DataSet, error) {
	ds := &DataSet{System: d.System, Epoch: yamlEpoch}
	if ds.System == "" {
		ds.System = "SYS1"
	}
	c := &conv{}
	for _, ys := range d.Stacks {
		s := &Stack{Name: ys.Name, IPSecurity: boolOr(ys.IPSecurity, true), IPv6Security: ys.IPv6Security,
			DVIPSec: ys.DVIPSec, Logging: ys.Logging, PreDecap: ys.PreDecap, FIPS140: ys.FIPS140,
			FilterSet: FilterSet(c.code(ys.FilterSet, names.filterSet, uint8(FilterSetPolicy))), NATKeepAlive: ys.NATKeepAlive,
			NSS: NSS{ClientName: ys.NSS.ClientName, Userid: ys.NSS.Userid, ServerSysName: ys.NSS.ServerSystem,
				Configured: ys.NSS.Configured, CertSelected: ys.NSS.CertSelected, CertEnabled: ys.NSS.CertEnabled,
				Connected: ys.NSS.Connected},
			Counters: Counters{P1: ys.Counters.P1.stats(), P2: ys.Counters.P2.stats()}}
		for _, i := range ys.Interfaces {
			s.Interfaces = append(s.Interfaces, Interface{Name: i.Name, Addr: i.Address.Addr, SecClass: i.SecClass,
				Active: boolOr(i.Active, true), DVIPA: i.DVIPA})
		}
		for _, f := range ys.Filters.Default {
			s.DefaultFilters = append(s.DefaultFilters, c.filters(f)...)
		}
		for _, f := range ys.Filters.Policy {
			s.PolicyFilters = append(s.PolicyFilters, c.filters(f)...)
		}
		for _, t := range ys.IKETunnels {
			s.IKETunnels = append(s.IKETunnels, c.ike(t))
		}
		for _, t := range ys.DynTunnels {
			s.DynTunnels = append(s.DynTunnels, c.dyn(t))
		}
		for _, t := range ys.ManualTunnels {
			m := ManualTunnel{ID: t.ID, VpnAction: t.VpnAction, State: IPTunState(c.code(t.State, names.ipTunState, uint8(TunInactive))),
				FIPS140: t.FIPS140, Local: t.Local.Addr, Remote: t.Remote.Addr, Activated: at(yamlEpoch, t.Activated),
				Traffic: t.Traffic.traffic()}
			m.Encap, m.AuthProto, m.AuthAlg, m.EncryptAlg, m.EncryptKeyLen, m.AuthInSPI, m.AuthOutSPI, m.EncryptInSPI, m.EncryptOutSPI = c.sa(t.SA)
			s.ManualTunnels = append(s.ManualTunnels, m)
		}
		for _, p := range ys.PortTranslations {
			s.PortTranslations = append(s.PortTranslations, PortTranslation{TunnelID: p.TunnelID,
				Protocol: c.code(p.Protocol, names.protocol, 0), RemoteEndpoint: p.RemoteEndpoint.Addr,
				RemoteUDPPort: p.RemoteUDPPort, RemoteOrigPort: p.RemoteOrigPort, TranslatedPort: p.TranslatedPort,
				LocalPort: p.LocalPort, RemoteOrigAddr: addr(p.RemoteOrigAddr)})
		}
		for _, r := range ys.DynVpnRules {
			rule := DynVpnRule{Name: r.Name, KeyExchangeRule: r.KeyExchangeRule, KeyExchangeAction: r.KeyExchangeAction,
				AnchorFilter: r.AnchorFilter, VpnAction: r.VpnAction, Local: r.Local.Addr, Remote: r.Remote.Addr,
				LocalID: r.LocalID, RemoteID: r.RemoteID, Src: r.Source.AddrSpec, Dst: r.Destination.AddrSpec,
				Protocol: c.code(r.Protocol, names.protocol, 0), SrcPort: r.SourcePort, DstPort: r.DestPort,
				PFSGroup: c.code(r.PFSGroup, names.dhGroup, 0), Lifetime: r.Lifetime.Duration, IKELifetime: r.IKELifetime.Duration}
			rule.Encap, rule.AuthProto, rule.AuthAlg, rule.EncryptAlg, rule.EncryptKeyLen, _, _, _, _ = c.sa(r.SA)
			if rule.AnchorFilter == "" {
				rule.AnchorFilter = rule.Name
			}
			s.DynVpnRules = append(s.DynVpnRules, rule)
		}
		ds.Stacks = append(ds.Stacks, s)
	}
	return ds, c.err
}

func (c *conv) sa(s ySA) (encap, proto, auth, enc uint8, keyLen uint16, ahIn, ahOut, espIn, espOut uint32) {
	spi := func(u yU64) uint32 {
		if u.v > 0xffffffff && c.err == nil {
			c.err = errors.New("an SPI is larger than 32 bits")
		}
		return uint32(u.v)
	}
	return c.code(s.Encap, names.encap, encapTunnel), c.code(s.AuthProto, names.authProto, protoESP),
		c.code(s.AuthAlg, names.authAlg, authHMACSHA1), c.code(s.EncryptAlg, names.encryptAlg, encAESCBC),
		s.EncryptKeyLen, spi(s.AuthInSPI), spi(s.AuthOutSPI), spi(s.EncryptInSPI), spi(s.EncryptOutSPI)
}

// filters converts one filter entry; with bothDirections it is a rule that
// gives an outbound filter as written and the mirrored inbound filter.
func (c *conv) filters(y yFilter) []Filter {
	f := Filter{Name: y.Name, NameExt: y.NameExt, Group: y.Group, LocalStartAction: y.LocalStartAction,
		VpnAction: y.VpnAction, TunnelID: y.TunnelID, IPv6: y.IPv6, OnDemand: y.OnDemand,
		Type: c.code(y.Type, names.filterType, fltGeneric), State: c.code(y.State, names.filterState, fltActive),
		Action: c.code(y.Action, names.filterAction, actPermit), Scope: c.code(y.Scope, names.filterScope, scopeLocal),
		Direction: c.code(y.Direction, names.filterDirection, dirOutbound), Logging: c.code(y.Logging, names.filterLogging, logNone),
		SecClass: y.SecClass, Protocol: c.code(y.Protocol, names.protocol, 0),
		Src: y.Source.AddrSpec, Dst: y.Destination.AddrSpec, SrcPorts: y.SourcePorts.PortRange, DstPorts: y.DestPorts.PortRange,
		ICMPType: 255, ICMPCode: 255, OSPFType: y.OSPFType, TCPQualifier: y.TCPQualifier, MatchCount: y.MatchCount.v,
		MatchRate: y.MatchRate, Created: yamlEpoch.Add(y.Created.Duration), LogLimit: y.LogLimit}
	if y.ICMPType != nil {
		f.ICMPType = *y.ICMPType
	}
	if y.ICMPCode != nil {
		f.ICMPCode = *y.ICMPCode
	}
	if v6, ok := f.Src.family(); ok {
		f.IPv6 = v6
	} else if v6, ok := f.Dst.family(); ok {
		f.IPv6 = v6
	}
	for _, g := range y.Granularity {
		if bit := c.code(g, names.granularity, 0); bit != 0 {
			f.Granularity |= bit
		}
	}
	if !y.Both {
		return []Filter{f}
	}
	in := f
	in.Direction = dirInbound
	if f.Direction == dirInbound {
		in.Direction = dirOutbound
	}
	in.Src, in.Dst, in.SrcPorts, in.DstPorts = f.Dst, f.Src, f.DstPorts, f.SrcPorts
	return []Filter{f, in}
}

func (c *conv) ike(y yIKE) IKETunnel {
	t := IKETunnel{ID: y.ID, Generation: max(y.Generation, 1), KeyExchangeRule: y.KeyExchangeRule,
		KeyExchangeAction: y.KeyExchangeAction, Local: y.Local.Addr, Remote: y.Remote.Addr, NATAllowed: y.NATAllowed,
		LocalNAT: y.LocalNAT, RemoteNAT: y.RemoteNAT, RemoteNAPT: y.RemoteNAPT, CanInitP1: boolOr(y.CanInitP1, true),
		State:        IKETunState(c.code(y.State, names.ikeTunState, uint8(IKEActive))),
		ExchangeMode: c.code(y.ExchangeMode, names.exchangeMode, modeMain), Role: c.code(y.Role, names.role, roleInitiator),
		AuthMethod: c.code(y.AuthMethod, names.authMethod, authPSK), EncryptAlg: c.code(y.EncryptAlg, names.encryptAlg, encAESCBC),
		AuthAlg: c.code(y.AuthAlg, names.authAlg, authHMACSHA1), DHGroup: c.code(y.DHGroup, names.dhGroup, 14),
		EncryptKeyLen: y.EncryptKeyLen, LocalIDType: c.code(y.LocalIDType, names.idType, 0), LocalID: y.LocalID,
		RemoteIDType: c.code(y.RemoteIDType, names.idType, 0), RemoteID: y.RemoteID, MajorVer: 1, MinorVer: y.MinorVer,
		LocalUDPPort: y.LocalUDPPort, RemoteUDPPort: y.RemoteUDPPort, Lifesize: y.LifesizeKB, Lifetime: y.Lifetime.Duration,
		Activated: at(yamlEpoch, y.Activated), Expires: at(yamlEpoch, y.Expires), Next: at(yamlEpoch, y.Next),
		InitCookie: y.InitCookie.v, RespCookie: y.RespCookie.v, Bytes: y.Bytes.v, Stats: y.Stats.stats(), AutoRefresh: y.AutoRefresh}
	if y.MajorVer != nil {
		t.MajorVer = *y.MajorVer
	}
	if t.LocalUDPPort == 0 {
		t.LocalUDPPort = 500
	}
	if t.RemoteUDPPort == 0 {
		t.RemoteUDPPort = 500
	}
	return t
}

func (c *conv) dyn(y yDyn) DynTunnel {
	t := DynTunnel{ID: y.ID, Generation: max(y.Generation, 1), VpnAction: y.VpnAction, LocalDynVpnRule: y.LocalDynVpnRule,
		IKETunnelID: y.IKETunnelID, State: IPTunState(c.code(y.State, names.ipTunState, uint8(TunActive))), FIPS140: y.FIPS140,
		LocalEndpoint: y.Local.Addr, RemoteEndpoint: y.Remote.Addr, UDPEncap: y.UDPEncap, SWSAShadow: y.SWSAShadow,
		ClearDF: y.ClearDF, ClearDSCP: y.ClearDSCP, Activation: c.code(y.Activation, names.activation, activUser),
		PFSGroup: c.code(y.PFSGroup, names.dhGroup, 0), Protocol: c.code(y.Protocol, names.protocol, 0),
		Src: y.Source.AddrSpec, Dst: y.Destination.AddrSpec, SrcPort: y.SourcePort, DstPort: y.DestPort,
		Lifesize: y.Lifesize.v, Lifetime: y.Lifetime.Duration, Activated: at(yamlEpoch, y.Activated),
		Expires: at(yamlEpoch, y.Expires), Next: at(yamlEpoch, y.Next), LocalUDPPort: y.LocalUDPPort,
		RemoteUDPPort: y.RemoteUDPPort, SrcNATOA: addr(y.SrcNATOA), DstNATOA: addr(y.DstNATOA), Traffic: y.Traffic.traffic(),
		LocallyInitiated: boolOr(y.LocallyInitiated, true), LocalClientIDType: c.code(y.LocalClientIDType, names.idType, 0),
		LocalClientID: y.LocalClientID, RemoteClientIDType: c.code(y.RemoteClientIDType, names.idType, 0),
		RemoteClientID: y.RemoteClientID, Retransmits: y.Retransmits, AutoRefresh: y.AutoRefresh}
	t.Encap, t.AuthProto, t.AuthAlg, t.EncryptAlg, t.EncryptKeyLen, t.AuthInSPI, t.AuthOutSPI, t.EncryptInSPI, t.EncryptOutSPI = c.sa(y.SA)
	return t
}

// ValidationError is a data set inconsistency, located by stack, kind of
// object and index in its list. Without a stack it concerns the data set
// itself: Kind "system", or "stacks" with the stack's Index (-1: the list).
type ValidationError struct {
	Stack string
	Kind  string // a key of the YAML format: "ikeTunnels", "filters.policy", ...
	Index int
	Msg   string
}

func (e *ValidationError) Error() string {
	switch {
	case e.Stack == "" && e.Index >= 0:
		return fmt.Sprintf("%s[%d]: %s", e.Kind, e.Index, e.Msg)
	case e.Stack == "":
		return fmt.Sprintf("%s: %s", e.Kind, e.Msg)
	case e.Kind == "":
		return fmt.Sprintf("stack %s: %s", e.Stack, e.Msg)
	}
	return fmt.Sprintf("stack %s: %s[%d]: %s", e.Stack, e.Kind, e.Index, e.Msg)
}

// line finds the line of the object in the YAML document, or the nearest
// enclosing one that can be found (0 only for an empty document). Filters
// written with bothDirections count twice in the data set, so their index
// is looked up by counting.
func (e *ValidationError) line(root *yaml.Node) int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return 0
	}
	top := root.Content[0]
	if e.Stack == "" {
		n := mapValue(top, e.Kind)
		switch {
		case n == nil:
			return top.Line
		case n.Kind == yaml.SequenceNode && e.Index >= 0 && e.Index < len(n.Content):
			return n.Content[e.Index].Line
		}
		return n.Line
	}
	stacks := mapValue(top, "stacks")
	if stacks == nil {
		return top.Line
	}
	if stacks.Kind != yaml.SequenceNode {
		return stacks.Line
	}
	for _, st := range stacks.Content {
		if n := mapValue(st, "name"); n == nil || n.Value != e.Stack {
			continue
		}
		if e.Kind == "" {
			return st.Line
		}
		list := st
		for _, k := range strings.Split(e.Kind, ".") {
			list = mapValue(list, k)
		}
		if list == nil || list.Kind != yaml.SequenceNode {
			return st.Line
		}
		idx := 0
		for _, item := range list.Content {
			width := 1
			if strings.HasPrefix(e.Kind, "filters.") {
				if b := mapValue(item, "bothDirections"); b != nil && b.Value == "true" {
					width = 2
				}
			}
			if e.Index < idx+width {
				return item.Line
			}
			idx += width
		}
		return st.Line
	}
	return stacks.Line
}

// mapValue is the value of key in mapping n, aliases followed.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if deref(n.Content[i]).Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 16; depth++ {
		n = n.Alias
	}
	return n
}
