package nmi

import "net/netip"

// Sections. Each has AppendBinary (appends exactly its version 1 length)
// and UnmarshalBinary, which accepts a longer section (a later interface
// version) and ignores the bytes it does not know, and rejects a shorter one
// with a *FormatError (rsn 12). Reserved bits and bytes are written as zero
// and ignored when read. Offsets are in layout.go.
//
// The sections IBM publishes in part (Stack, Statistics, IPTunnel) accept
// any length from IBM's prefix on: a section shorter than the PROPOSED size
// decodes the IBM fields, sets Partial and leaves the PROPOSED fields zero;
// they are absent, not zero. AppendBinary of a Partial value writes IBM's
// prefix only. Interface and NSS accept their IBM prefix too; no field of
// theirs lies beyond it.

// Stack is NMsecStack (NMsec_GET_STACKINFO).
type Stack struct {
	IPSecurity   bool      // NMsStackIPSecurity
	IPv6Security bool      // NMsStackIPv6Security
	DVIPSec      bool      // NMsStackDVIPSec
	Logging      bool      // NMsStackLogging
	PreDecap     bool      // NMsStackPreDecap
	FilterSet    FilterSet // NMsStackFilterSet (one bit)
	FIPS140      bool      // NMsStackFIPS140
	Name         Text24    // NMsStackName
	NATKeepAlive uint32    // NMsStackNATKeepAlive, seconds (PROPOSED length)
	// Partial: the section ended after IBM's prefix, so NATKeepAlive is
	// absent (and zero).
	Partial bool
}

func (s *Stack) AppendBinary(b []byte) ([]byte, error) {
	if s.FilterSet > FilterSetPolicy {
		return b, formatErr("NMsStackFilterSet", RsnNone, "filter set is one bit")
	}
	b, d := grow(b, sizeIf(s.Partial, StackIBMSize, StackSize))
	var w uint32
	setFlag(&w, bitStackIPSecurity, s.IPSecurity)
	setFlag(&w, bitStackIPv6Security, s.IPv6Security)
	setFlag(&w, bitStackDVIPSec, s.DVIPSec)
	setFlag(&w, bitStackLogging, s.Logging)
	setFlag(&w, bitStackPreDecap, s.PreDecap)
	setFlag(&w, bitStackFilterSet, s.FilterSet == FilterSetPolicy)
	setFlag(&w, bitStackFIPS140, s.FIPS140)
	be.PutUint32(d[offStackFlags:], w)
	putField(d[offStackName:offStackName+lenStackName], s.Name[:])
	if !s.Partial {
		be.PutUint32(d[offStackNATKeepAlive:], s.NATKeepAlive)
	}
	return b, nil
}

func (s *Stack) UnmarshalBinary(b []byte) error {
	partial, err := ibmPrefix("NMsecStack", len(b), StackIBMSize, StackSize)
	if err != nil {
		return err
	}
	s.Partial = partial
	w := be.Uint32(b[offStackFlags:])
	s.IPSecurity = flag(w, bitStackIPSecurity)
	s.IPv6Security = flag(w, bitStackIPv6Security)
	s.DVIPSec = flag(w, bitStackDVIPSec)
	s.Logging = flag(w, bitStackLogging)
	s.PreDecap = flag(w, bitStackPreDecap)
	s.FilterSet = FilterSetDefault
	if flag(w, bitStackFilterSet) {
		s.FilterSet = FilterSetPolicy
	}
	s.FIPS140 = flag(w, bitStackFIPS140)
	copy(s.Name[:], b[offStackName:])
	s.NATKeepAlive = 0
	if !partial {
		s.NATKeepAlive = be.Uint32(b[offStackNATKeepAlive:])
	}
	return nil
}

// StatsBlock is one block of IKE (phase 1) or IPSec (phase 2) counters:
// current gauges, then cumulative counters.
type StatsBlock struct {
	Active        uint32 // current active tunnels
	InProgress    uint32 // current tunnels pending or in negotiation
	Expired       uint32 // current expired tunnels
	LclActSuccess uint64 // cumulative locally started activations that succeeded
	RmtActSuccess uint64 // cumulative remotely started activations that succeeded
	LclActFailure uint64 // cumulative locally started activations that failed
	RmtActFailure uint64 // cumulative remotely started activations that failed
	Retransmit    uint64 // cumulative retransmitted negotiation messages
}

func (s *StatsBlock) put(d []byte) {
	be.PutUint32(d[offBlkActive:], s.Active)
	be.PutUint32(d[offBlkInProgress:], s.InProgress)
	be.PutUint32(d[offBlkExpired:], s.Expired)
	be.PutUint64(d[offBlkLclActOK:], s.LclActSuccess)
	be.PutUint64(d[offBlkRmtActOK:], s.RmtActSuccess)
	be.PutUint64(d[offBlkLclActErr:], s.LclActFailure)
	be.PutUint64(d[offBlkRmtActErr:], s.RmtActFailure)
	be.PutUint64(d[offBlkRetransmit:], s.Retransmit)
}

func (s *StatsBlock) get(d []byte) {
	s.Active = be.Uint32(d[offBlkActive:])
	s.InProgress = be.Uint32(d[offBlkInProgress:])
	s.Expired = be.Uint32(d[offBlkExpired:])
	s.LclActSuccess = be.Uint64(d[offBlkLclActOK:])
	s.RmtActSuccess = be.Uint64(d[offBlkRmtActOK:])
	s.LclActFailure = be.Uint64(d[offBlkLclActErr:])
	s.RmtActFailure = be.Uint64(d[offBlkRmtActErr:])
	s.Retransmit = be.Uint64(d[offBlkRetransmit:])
}

// Statistics is NMsecStatistics (NMsec_GET_SUMMARY): phase 1 (IKE, IBM)
// then phase 2 (IPSec, PROPOSED) counters.
type Statistics struct {
	P1 StatsBlock // NMsStatP1*
	P2 StatsBlock // NMsStatP2* (PROPOSED)
	// Partial: the section ended after IBM's prefix, so P2 is absent (and
	// zero).
	Partial bool
}

func (s *Statistics) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, sizeIf(s.Partial, StatisticsIBMSize, StatisticsSize))
	s.P1.put(d[offStatP1Active:])
	if !s.Partial {
		s.P2.put(d[offStatP2Active:])
	}
	return b, nil
}

func (s *Statistics) UnmarshalBinary(b []byte) error {
	partial, err := ibmPrefix("NMsecStatistics", len(b), StatisticsIBMSize, StatisticsSize)
	if err != nil {
		return err
	}
	s.Partial = partial
	s.P1.get(b[offStatP1Active:])
	s.P2 = StatsBlock{}
	if !partial {
		s.P2.get(b[offStatP2Active:])
	}
	return nil
}

// IKETunStats is NMsecIKETunStats: counters of the phase 2 tunnels
// negotiated under one IKE tunnel.
type IKETunStats struct {
	StatsBlock // NMsIKEStatP2*
}

func (s *IKETunStats) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, IKETunStatsSize)
	s.put(d)
	return b, nil
}

func (s *IKETunStats) UnmarshalBinary(b []byte) error {
	if len(b) < IKETunStatsSize {
		return short("NMsecIKETunStats", len(b), IKETunStatsSize)
	}
	s.get(b)
	return nil
}

// NSS is NMsecNSS (NMsec_GET_IKENSINFO).
type NSS struct {
	ClientName    Text24 // NMsIKENSClientName
	StackName     Text8  // NMsIKENSStackName
	Userid        Text8  // NMsIKENSUserid
	ServerSysName Text8  // NMsIKENSServerSysName
	Configured    bool   // NMsIKENSSConfigured
	SvcSelCert    bool   // NMsIKENSSvcSelCert
	SvcEnblCert   bool   // NMsIKENSSvcEnblCert
	Connected     bool   // NMsIKENSConnected (PROPOSED)
}

func (s *NSS) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, NSSSize)
	putField(d[offNSSClientName:offNSSClientName+lenNSSClientName], s.ClientName[:])
	putField(d[offNSSStackName:offNSSStackName+lenNSSShort], s.StackName[:])
	putField(d[offNSSUserid:offNSSUserid+lenNSSShort], s.Userid[:])
	putField(d[offNSSServerSysName:offNSSServerSysName+lenNSSShort], s.ServerSysName[:])
	var w uint32
	setFlag(&w, bitNSSConfigured, s.Configured)
	setFlag(&w, bitNSSSvcSelCert, s.SvcSelCert)
	setFlag(&w, bitNSSSvcEnblCert, s.SvcEnblCert)
	setFlag(&w, bitNSSConnected, s.Connected)
	be.PutUint32(d[offNSSFlags:], w)
	return b, nil
}

func (s *NSS) UnmarshalBinary(b []byte) error {
	if len(b) < NSSIBMSize {
		return short("NMsecNSS", len(b), NSSIBMSize)
	}
	copy(s.ClientName[:], b[offNSSClientName:])
	copy(s.StackName[:], b[offNSSStackName:])
	copy(s.Userid[:], b[offNSSUserid:])
	copy(s.ServerSysName[:], b[offNSSServerSysName:])
	w := uint32(b[offNSSFlags]) << 24 // every known bit is in IBM's byte 48
	s.Configured = flag(w, bitNSSConfigured)
	s.SvcSelCert = flag(w, bitNSSSvcSelCert)
	s.SvcEnblCert = flag(w, bitNSSSvcEnblCert)
	s.Connected = flag(w, bitNSSConnected)
	return nil
}

// ClientInfo is NMsecClientInfo (NMsec_GET_CLIENTINFO, NSS server only):
// one connected NSS client. Layout PROPOSED (layout.go).
type ClientInfo struct {
	ClientName  Text24           // NMsCIClientName
	SysName     Text8            // NMsCISysName
	StackName   Text8            // NMsCIStackName
	Userid      Text8            // NMsCIUserid
	Discipline  ClientDiscipline // NMsCIDiscipline
	RemoteMgmt  bool             // NMsCIFlags: takes routed IPSec NMI requests
	CertSvc     bool             // NMsCIFlags: uses certificate services
	ConnectTime uint32           // NMsCIConnectTime, seconds since 1970
}

func (s *ClientInfo) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, ClientInfoSize)
	putField(d[offCIClientName:offCIClientName+lenNSSClientName], s.ClientName[:])
	putField(d[offCISysName:offCISysName+lenNSSShort], s.SysName[:])
	putField(d[offCIStackName:offCIStackName+lenNSSShort], s.StackName[:])
	putField(d[offCIUserid:offCIUserid+lenNSSShort], s.Userid[:])
	d[offCIDiscipline] = byte(s.Discipline)
	var w uint32
	setFlag(&w, bitCIRemoteMgmt, s.RemoteMgmt)
	setFlag(&w, bitCICertSvc, s.CertSvc)
	be.PutUint32(d[offCIFlags:], w)
	be.PutUint32(d[offCIConnectTime:], s.ConnectTime)
	return b, nil
}

func (s *ClientInfo) UnmarshalBinary(b []byte) error {
	if len(b) < ClientInfoSize {
		return short("NMsecClientInfo", len(b), ClientInfoSize)
	}
	copy(s.ClientName[:], b[offCIClientName:])
	copy(s.SysName[:], b[offCISysName:])
	copy(s.StackName[:], b[offCIStackName:])
	copy(s.Userid[:], b[offCIUserid:])
	s.Discipline = ClientDiscipline(b[offCIDiscipline])
	w := be.Uint32(b[offCIFlags:])
	s.RemoteMgmt = flag(w, bitCIRemoteMgmt)
	s.CertSvc = flag(w, bitCICertSvc)
	s.ConnectTime = be.Uint32(b[offCIConnectTime:])
	return nil
}

// Interface is NMsecInterface (NMsec_GET_IPINTERFACES).
type Interface struct {
	Name     Text16     // NMsInterfaceName
	Addr     netip.Addr // NMsInterfaceAddr
	SecClass uint8      // NMsInterfaceSecClass
	IPv6     bool       // NMsIPv6
	Active   bool       // NMsInterfaceActive
	DVIPA    bool       // NMsInterfaceDVIPA
}

func (s *Interface) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, InterfaceSize)
	putField(d[offIfName:offIfName+lenIfName], s.Name[:])
	if err := putAddr(d[offIfAddr:], s.Addr, s.IPv6, "NMsInterfaceAddr"); err != nil {
		return b[:start], err
	}
	d[offIfSecClass] = s.SecClass
	var f byte
	if s.IPv6 {
		f |= bitIfIPv6
	}
	if s.Active {
		f |= bitIfActive
	}
	if s.DVIPA {
		f |= bitIfDVIPA
	}
	d[offIfFlags] = f
	return b, nil
}

func (s *Interface) UnmarshalBinary(b []byte) error {
	if len(b) < InterfaceIBMSize {
		return short("NMsecInterface", len(b), InterfaceIBMSize)
	}
	copy(s.Name[:], b[offIfName:])
	f := b[offIfFlags]
	s.IPv6 = f&bitIfIPv6 != 0
	s.Active = f&bitIfActive != 0
	s.DVIPA = f&bitIfDVIPA != 0
	s.Addr = getAddr(b[offIfAddr:], s.IPv6)
	s.SecClass = b[offIfSecClass]
	return nil
}

// IPTunnel is NMsecIPTunnel, shared by manual and dynamic tunnels.
type IPTunnel struct {
	ID             Text48     // NMsIPTunID
	VPNAction      Text48     // NMsIPTunVPNAction
	IPv6           bool       // NMsIPTunFlagIPv6: security and data endpoints are IPv6
	FIPS140        bool       // NMsIPTunFIPS140
	Type           IPTunType  // NMsIPTunType
	State          IPTunState // NMsIPTunState
	EncapMode      EncapMode
	AuthProto      AuthProto
	AuthAlg        AuthAlg
	EncryptAlg     EncryptAlg
	EncryptKeyLen  uint16 // bits, 0 if implied
	LclSecEndpoint netip.Addr
	RmtSecEndpoint netip.Addr
	AuthInSPI      uint32
	AuthOutSPI     uint32
	EncryptInSPI   uint32
	EncryptOutSPI  uint32
	// Partial: the section ended after IBM's prefix (NMsIPTunState), so
	// every field from EncapMode on is absent (and zero).
	Partial bool
}

func (s *IPTunnel) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, sizeIf(s.Partial, IPTunnelIBMSize, IPTunnelSize))
	putField(d[offIPTunID:offIPTunID+NameLen], s.ID[:])
	putField(d[offIPTunVPNAction:offIPTunVPNAction+NameLen], s.VPNAction[:])
	var w uint32
	setFlag(&w, bitIPTunIPv6, s.IPv6)
	setFlag(&w, bitIPTunFIPS140, s.FIPS140)
	be.PutUint32(d[offIPTunFlags:], w)
	d[offIPTunType] = byte(s.Type)
	d[offIPTunState] = byte(s.State)
	if s.Partial {
		return b, nil
	}
	d[offIPTunEncapMode] = byte(s.EncapMode)
	d[offIPTunAuthProto] = byte(s.AuthProto)
	d[offIPTunAuthAlg] = byte(s.AuthAlg)
	d[offIPTunEncryptAlg] = byte(s.EncryptAlg)
	be.PutUint16(d[offIPTunEncryptKeyLen:], s.EncryptKeyLen)
	if err := putAddr(d[offIPTunLclSecEndpt:], s.LclSecEndpoint, s.IPv6, "NMsIPTunLclSecEndpoint"); err != nil {
		return b[:start], err
	}
	if err := putAddr(d[offIPTunRmtSecEndpt:], s.RmtSecEndpoint, s.IPv6, "NMsIPTunRmtSecEndpoint"); err != nil {
		return b[:start], err
	}
	be.PutUint32(d[offIPTunAuthInSPI:], s.AuthInSPI)
	be.PutUint32(d[offIPTunAuthOutSPI:], s.AuthOutSPI)
	be.PutUint32(d[offIPTunEncInSPI:], s.EncryptInSPI)
	be.PutUint32(d[offIPTunEncOutSPI:], s.EncryptOutSPI)
	return b, nil
}

func (s *IPTunnel) UnmarshalBinary(b []byte) error {
	partial, err := ibmPrefix("NMsecIPTunnel", len(b), IPTunnelIBMSize, IPTunnelSize)
	if err != nil {
		return err
	}
	copy(s.ID[:], b[offIPTunID:])
	copy(s.VPNAction[:], b[offIPTunVPNAction:])
	w := be.Uint32(b[offIPTunFlags:])
	s.IPv6 = flag(w, bitIPTunIPv6)
	s.FIPS140 = flag(w, bitIPTunFIPS140)
	s.Type = IPTunType(b[offIPTunType])
	s.State = IPTunState(b[offIPTunState])
	if partial {
		s.clearProposed()
		return nil
	}
	s.Partial = false
	s.EncapMode = EncapMode(b[offIPTunEncapMode])
	s.AuthProto = AuthProto(b[offIPTunAuthProto])
	s.AuthAlg = AuthAlg(b[offIPTunAuthAlg])
	s.EncryptAlg = EncryptAlg(b[offIPTunEncryptAlg])
	s.EncryptKeyLen = be.Uint16(b[offIPTunEncryptKeyLen:])
	s.LclSecEndpoint = getAddr(b[offIPTunLclSecEndpt:], s.IPv6)
	s.RmtSecEndpoint = getAddr(b[offIPTunRmtSecEndpt:], s.IPv6)
	s.AuthInSPI = be.Uint32(b[offIPTunAuthInSPI:])
	s.AuthOutSPI = be.Uint32(b[offIPTunAuthOutSPI:])
	s.EncryptInSPI = be.Uint32(b[offIPTunEncInSPI:])
	s.EncryptOutSPI = be.Uint32(b[offIPTunEncOutSPI:])
	return nil
}

// clearProposed marks the PROPOSED fields absent.
func (s *IPTunnel) clearProposed() {
	*s = IPTunnel{ID: s.ID, VPNAction: s.VPNAction, IPv6: s.IPv6, FIPS140: s.FIPS140, Type: s.Type, State: s.State, Partial: true}
}

// IPManualTunnel is NMsecIPManualTunnel.
type IPManualTunnel struct {
	ActivateTime uint32 // seconds since 1970, 0 = not active
	OutBytes     uint64
	InBytes      uint64
	OutPackets   uint64
	InPackets    uint64
}

func (s *IPManualTunnel) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, IPManualTunnelSize)
	be.PutUint32(d[offIPManActivate:], s.ActivateTime)
	be.PutUint64(d[offIPManOutBytes:], s.OutBytes)
	be.PutUint64(d[offIPManInBytes:], s.InBytes)
	be.PutUint64(d[offIPManOutPackets:], s.OutPackets)
	be.PutUint64(d[offIPManInPackets:], s.InPackets)
	return b, nil
}

func (s *IPManualTunnel) UnmarshalBinary(b []byte) error {
	if len(b) < IPManualTunnelSize {
		return short("NMsecIPManualTunnel", len(b), IPManualTunnelSize)
	}
	s.ActivateTime = be.Uint32(b[offIPManActivate:])
	s.OutBytes = be.Uint64(b[offIPManOutBytes:])
	s.InBytes = be.Uint64(b[offIPManInBytes:])
	s.OutPackets = be.Uint64(b[offIPManOutPackets:])
	s.InPackets = be.Uint64(b[offIPManInPackets:])
	return nil
}

// IPDynTunnel is NMsecIPDynTunnel.
//
// IPv6 is not a field of this section: it is NMsIPTunFlagIPv6 of the
// record's NMsecIPTunnel, which says in which family the addresses are.
// The typed records copy it in; set it yourself when using this section
// alone.
type IPDynTunnel struct {
	IPv6             bool // not on the wire; see above
	UDPEncap         bool // NAT traversal
	SWSAShadow       bool
	ClearDF          bool
	ClearDSCP        bool
	LocalDynVpnRule  Text48 // NMsIPDynLocalDynVpnRule
	Generation       uint32 // first SA of the tunnel = 1
	IKETunnelID      Text48 // owning IKE tunnel, blank if none
	ActivationMethod ActivationMethod
	PFSGroup         DHGroup
	Protocol         uint8 // data protocol, 0 = any
	SrcAddr          netip.Addr
	SrcAddr2         netip.Addr
	DstAddr          netip.Addr
	DstAddr2         netip.Addr
	SrcAddrFmt       AddrFormat
	DstAddrFmt       AddrFormat
	SrcPrefixLen     uint8
	DstPrefixLen     uint8
	SrcPort          uint16 // 0 = any
	DstPort          uint16
	Lifesize         uint64 // bytes
	Lifetime         uint32 // seconds
	ExpireTime       uint32
	RefreshTime      uint32
	RmtUDPPort       uint16
	LclUDPPort       uint16
	SrcNATOA         netip.Addr
	DstNATOA         netip.Addr
}

func (s *IPDynTunnel) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, IPDynTunnelSize)
	var w uint32
	setFlag(&w, bitIPDynUDPEncap, s.UDPEncap)
	setFlag(&w, bitIPDynSWSAShadow, s.SWSAShadow)
	setFlag(&w, bitIPDynClearDF, s.ClearDF)
	setFlag(&w, bitIPDynClearDSCP, s.ClearDSCP)
	be.PutUint32(d[offIPDynFlags:], w)
	putField(d[offIPDynLocalDynVpn:offIPDynLocalDynVpn+NameLen], s.LocalDynVpnRule[:])
	be.PutUint32(d[offIPDynGeneration:], s.Generation)
	putField(d[offIPDynIKETunnelID:offIPDynIKETunnelID+NameLen], s.IKETunnelID[:])
	d[offIPDynActMethod] = byte(s.ActivationMethod)
	d[offIPDynPFSGroup] = byte(s.PFSGroup)
	d[offIPDynProtocol] = s.Protocol
	addrs := [...]struct {
		off  int
		a    netip.Addr
		name string
	}{
		{offIPDynSrcAddr, s.SrcAddr, "NMsIPDynSrcAddr"},
		{offIPDynSrcAddr2, s.SrcAddr2, "NMsIPDynSrcAddr2"},
		{offIPDynDstAddr, s.DstAddr, "NMsIPDynDstAddr"},
		{offIPDynDstAddr2, s.DstAddr2, "NMsIPDynDstAddr2"},
		{offIPDynSrcNATOA, s.SrcNATOA, "NMsIPDynSrcNATOA"},
		{offIPDynDstNATOA, s.DstNATOA, "NMsIPDynDstNATOA"},
	}
	for _, a := range addrs {
		if err := putAddr(d[a.off:], a.a, s.IPv6, a.name); err != nil {
			return b[:start], err
		}
	}
	d[offIPDynSrcAddrFmt] = byte(s.SrcAddrFmt)
	d[offIPDynDstAddrFmt] = byte(s.DstAddrFmt)
	d[offIPDynSrcPrefixLen] = s.SrcPrefixLen
	d[offIPDynDstPrefixLen] = s.DstPrefixLen
	be.PutUint16(d[offIPDynSrcPort:], s.SrcPort)
	be.PutUint16(d[offIPDynDstPort:], s.DstPort)
	be.PutUint64(d[offIPDynLifesize:], s.Lifesize)
	be.PutUint32(d[offIPDynLifetime:], s.Lifetime)
	be.PutUint32(d[offIPDynExpireTime:], s.ExpireTime)
	be.PutUint32(d[offIPDynRefreshTime:], s.RefreshTime)
	be.PutUint16(d[offIPDynRmtUDPPort:], s.RmtUDPPort)
	be.PutUint16(d[offIPDynLclUDPPort:], s.LclUDPPort)
	return b, nil
}

// UnmarshalBinary decodes the section; addresses are read in the family
// s.IPv6 names.
func (s *IPDynTunnel) UnmarshalBinary(b []byte) error {
	if len(b) < IPDynTunnelSize {
		return short("NMsecIPDynTunnel", len(b), IPDynTunnelSize)
	}
	w := be.Uint32(b[offIPDynFlags:])
	s.UDPEncap = flag(w, bitIPDynUDPEncap)
	s.SWSAShadow = flag(w, bitIPDynSWSAShadow)
	s.ClearDF = flag(w, bitIPDynClearDF)
	s.ClearDSCP = flag(w, bitIPDynClearDSCP)
	copy(s.LocalDynVpnRule[:], b[offIPDynLocalDynVpn:])
	s.Generation = be.Uint32(b[offIPDynGeneration:])
	copy(s.IKETunnelID[:], b[offIPDynIKETunnelID:])
	s.ActivationMethod = ActivationMethod(b[offIPDynActMethod])
	s.PFSGroup = DHGroup(b[offIPDynPFSGroup])
	s.Protocol = b[offIPDynProtocol]
	s.SrcAddr = getAddr(b[offIPDynSrcAddr:], s.IPv6)
	s.SrcAddr2 = getAddr(b[offIPDynSrcAddr2:], s.IPv6)
	s.DstAddr = getAddr(b[offIPDynDstAddr:], s.IPv6)
	s.DstAddr2 = getAddr(b[offIPDynDstAddr2:], s.IPv6)
	s.SrcAddrFmt = AddrFormat(b[offIPDynSrcAddrFmt])
	s.DstAddrFmt = AddrFormat(b[offIPDynDstAddrFmt])
	s.SrcPrefixLen = b[offIPDynSrcPrefixLen]
	s.DstPrefixLen = b[offIPDynDstPrefixLen]
	s.SrcPort = be.Uint16(b[offIPDynSrcPort:])
	s.DstPort = be.Uint16(b[offIPDynDstPort:])
	s.Lifesize = be.Uint64(b[offIPDynLifesize:])
	s.Lifetime = be.Uint32(b[offIPDynLifetime:])
	s.ExpireTime = be.Uint32(b[offIPDynExpireTime:])
	s.RefreshTime = be.Uint32(b[offIPDynRefreshTime:])
	s.RmtUDPPort = be.Uint16(b[offIPDynRmtUDPPort:])
	s.LclUDPPort = be.Uint16(b[offIPDynLclUDPPort:])
	s.SrcNATOA = getAddr(b[offIPDynSrcNATOA:], s.IPv6)
	s.DstNATOA = getAddr(b[offIPDynDstNATOA:], s.IPv6)
	return nil
}

// IPDynamicStack is NMsecIPDynamicStack: a dynamic tunnel as the stack sees it.
type IPDynamicStack struct {
	OutBytes        uint64
	InBytes         uint64
	OutPackets      uint64
	InPackets       uint64
	CurrentLifesize uint64 // bytes since activation
	InstallTime     uint32
}

func (s *IPDynamicStack) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, IPDynamicStackSize)
	be.PutUint64(d[offIPDynStkOutBytes:], s.OutBytes)
	be.PutUint64(d[offIPDynStkInBytes:], s.InBytes)
	be.PutUint64(d[offIPDynStkOutPkts:], s.OutPackets)
	be.PutUint64(d[offIPDynStkInPkts:], s.InPackets)
	be.PutUint64(d[offIPDynStkCurLife:], s.CurrentLifesize)
	be.PutUint32(d[offIPDynStkInstall:], s.InstallTime)
	return b, nil
}

func (s *IPDynamicStack) UnmarshalBinary(b []byte) error {
	if len(b) < IPDynamicStackSize {
		return short("NMsecIPDynamicStack", len(b), IPDynamicStackSize)
	}
	s.OutBytes = be.Uint64(b[offIPDynStkOutBytes:])
	s.InBytes = be.Uint64(b[offIPDynStkInBytes:])
	s.OutPackets = be.Uint64(b[offIPDynStkOutPkts:])
	s.InPackets = be.Uint64(b[offIPDynStkInPkts:])
	s.CurrentLifesize = be.Uint64(b[offIPDynStkCurLife:])
	s.InstallTime = be.Uint32(b[offIPDynStkInstall:])
	return nil
}

// IPDynamicIKE is NMsecIPDynamicIKE: a dynamic tunnel as IKE sees it. The
// client identities follow it as two variable-length sections.
type IPDynamicIKE struct {
	LocallyInitiated bool
	ExtState         uint8
	LclIDType        IDType // type of the local client ID section
	RmtIDType        IDType // type of the remote client ID section
	Retransmits      uint32
}

func (s *IPDynamicIKE) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, IPDynamicIKESize)
	var w uint32
	setFlag(&w, bitIPDynIKELocalInit, s.LocallyInitiated)
	be.PutUint32(d[offIPDynIKEFlags:], w)
	d[offIPDynIKEExtState] = s.ExtState
	d[offIPDynIKELclIDType] = byte(s.LclIDType)
	d[offIPDynIKERmtIDType] = byte(s.RmtIDType)
	be.PutUint32(d[offIPDynIKERetrans:], s.Retransmits)
	return b, nil
}

func (s *IPDynamicIKE) UnmarshalBinary(b []byte) error {
	if len(b) < IPDynamicIKESize {
		return short("NMsecIPDynamicIKE", len(b), IPDynamicIKESize)
	}
	s.LocallyInitiated = flag(be.Uint32(b[offIPDynIKEFlags:]), bitIPDynIKELocalInit)
	s.ExtState = b[offIPDynIKEExtState]
	s.LclIDType = IDType(b[offIPDynIKELclIDType])
	s.RmtIDType = IDType(b[offIPDynIKERmtIDType])
	s.Retransmits = be.Uint32(b[offIPDynIKERetrans:])
	return nil
}

// IKETunnel is NMsecIKETunnel: one IKE (phase 1) SA.
type IKETunnel struct {
	IPv6          bool // NMsIKETunIPv6
	NATAllowed    bool // NMsIKETunNATAllowed
	LclNAT        bool // NMsIKETunLclNAT
	RmtNAT        bool // NMsIKETunRmtNAT
	RmtNAPT       bool // NMsIKETunRmtNAPT
	CanInitP1     bool // NMsIKETunCanInitP1
	ID            Text48
	Generation    uint32
	KeyExchRule   Text48
	KeyExchAction Text48
	LclEndpoint   netip.Addr
	RmtEndpoint   netip.Addr
	State         IKETunState
	ExchangeMode  ExchangeMode
	Role          Role
	AuthMethod    AuthMethod
	EncryptAlg    EncryptAlg
	AuthAlg       AuthAlg
	DHGroup       DHGroup
	LclIDType     IDType
	RmtIDType     IDType
	MajorVer      uint8
	MinorVer      uint8
	EncryptKeyLen uint16
	LclUDPPort    uint16
	RmtUDPPort    uint16
	Lifesize      uint32 // kilobytes, 0 = none
	Lifetime      uint32 // seconds
	ActivateTime  uint32
	ExpireTime    uint32
	InitCookie    uint64
	RespCookie    uint64
	Bytes         uint64 // bytes protected by its phase 2 tunnels
}

func (s *IKETunnel) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, IKETunnelSize)
	var w uint32
	setFlag(&w, bitIKETunIPv6, s.IPv6)
	setFlag(&w, bitIKETunNATAllowed, s.NATAllowed)
	setFlag(&w, bitIKETunLclNAT, s.LclNAT)
	setFlag(&w, bitIKETunRmtNAT, s.RmtNAT)
	setFlag(&w, bitIKETunRmtNAPT, s.RmtNAPT)
	setFlag(&w, bitIKETunCanInitP1, s.CanInitP1)
	be.PutUint32(d[offIKETunFlags:], w)
	putField(d[offIKETunID:offIKETunID+NameLen], s.ID[:])
	be.PutUint32(d[offIKETunGeneration:], s.Generation)
	putField(d[offIKETunKeyExchRule:offIKETunKeyExchRule+NameLen], s.KeyExchRule[:])
	putField(d[offIKETunKeyExchAction:offIKETunKeyExchAction+NameLen], s.KeyExchAction[:])
	if err := putAddr(d[offIKETunLclEndpoint:], s.LclEndpoint, s.IPv6, "NMsIKETunLclEndpoint"); err != nil {
		return b[:start], err
	}
	if err := putAddr(d[offIKETunRmtEndpoint:], s.RmtEndpoint, s.IPv6, "NMsIKETunRmtEndpoint"); err != nil {
		return b[:start], err
	}
	d[offIKETunState] = byte(s.State)
	d[offIKETunExchangeMode] = byte(s.ExchangeMode)
	d[offIKETunRole] = byte(s.Role)
	d[offIKETunAuthMethod] = byte(s.AuthMethod)
	d[offIKETunEncryptAlg] = byte(s.EncryptAlg)
	d[offIKETunAuthAlg] = byte(s.AuthAlg)
	d[offIKETunDHGroup] = byte(s.DHGroup)
	d[offIKETunLclIDType] = byte(s.LclIDType)
	d[offIKETunRmtIDType] = byte(s.RmtIDType)
	d[offIKETunMajorVer] = s.MajorVer
	d[offIKETunMinorVer] = s.MinorVer
	be.PutUint16(d[offIKETunEncryptKeyLen:], s.EncryptKeyLen)
	be.PutUint16(d[offIKETunLclUDPPort:], s.LclUDPPort)
	be.PutUint16(d[offIKETunRmtUDPPort:], s.RmtUDPPort)
	be.PutUint32(d[offIKETunLifesize:], s.Lifesize)
	be.PutUint32(d[offIKETunLifetime:], s.Lifetime)
	be.PutUint32(d[offIKETunActivateTime:], s.ActivateTime)
	be.PutUint32(d[offIKETunExpireTime:], s.ExpireTime)
	be.PutUint64(d[offIKETunInitCookie:], s.InitCookie)
	be.PutUint64(d[offIKETunRespCookie:], s.RespCookie)
	be.PutUint64(d[offIKETunBytes:], s.Bytes)
	return b, nil
}

func (s *IKETunnel) UnmarshalBinary(b []byte) error {
	if len(b) < IKETunnelSize {
		return short("NMsecIKETunnel", len(b), IKETunnelSize)
	}
	w := be.Uint32(b[offIKETunFlags:])
	s.IPv6 = flag(w, bitIKETunIPv6)
	s.NATAllowed = flag(w, bitIKETunNATAllowed)
	s.LclNAT = flag(w, bitIKETunLclNAT)
	s.RmtNAT = flag(w, bitIKETunRmtNAT)
	s.RmtNAPT = flag(w, bitIKETunRmtNAPT)
	s.CanInitP1 = flag(w, bitIKETunCanInitP1)
	copy(s.ID[:], b[offIKETunID:])
	s.Generation = be.Uint32(b[offIKETunGeneration:])
	copy(s.KeyExchRule[:], b[offIKETunKeyExchRule:])
	copy(s.KeyExchAction[:], b[offIKETunKeyExchAction:])
	s.LclEndpoint = getAddr(b[offIKETunLclEndpoint:], s.IPv6)
	s.RmtEndpoint = getAddr(b[offIKETunRmtEndpoint:], s.IPv6)
	s.State = IKETunState(b[offIKETunState])
	s.ExchangeMode = ExchangeMode(b[offIKETunExchangeMode])
	s.Role = Role(b[offIKETunRole])
	s.AuthMethod = AuthMethod(b[offIKETunAuthMethod])
	s.EncryptAlg = EncryptAlg(b[offIKETunEncryptAlg])
	s.AuthAlg = AuthAlg(b[offIKETunAuthAlg])
	s.DHGroup = DHGroup(b[offIKETunDHGroup])
	s.LclIDType = IDType(b[offIKETunLclIDType])
	s.RmtIDType = IDType(b[offIKETunRmtIDType])
	s.MajorVer = b[offIKETunMajorVer]
	s.MinorVer = b[offIKETunMinorVer]
	s.EncryptKeyLen = be.Uint16(b[offIKETunEncryptKeyLen:])
	s.LclUDPPort = be.Uint16(b[offIKETunLclUDPPort:])
	s.RmtUDPPort = be.Uint16(b[offIKETunRmtUDPPort:])
	s.Lifesize = be.Uint32(b[offIKETunLifesize:])
	s.Lifetime = be.Uint32(b[offIKETunLifetime:])
	s.ActivateTime = be.Uint32(b[offIKETunActivateTime:])
	s.ExpireTime = be.Uint32(b[offIKETunExpireTime:])
	s.InitCookie = be.Uint64(b[offIKETunInitCookie:])
	s.RespCookie = be.Uint64(b[offIKETunRespCookie:])
	s.Bytes = be.Uint64(b[offIKETunBytes:])
	return nil
}

// IPFilter is the IP filter rule section (working name NMsecIPFilter).
// The Gran* flags are true when the value is taken from the packet
// (PACKET granularity) rather than from the rule (FILTER).
type IPFilter struct {
	Name           Text48 // NMsIPFltName
	NameExt        uint32 // FilterNameExtension
	GroupName      Text48
	LclStartAction Text48
	VpnAction      Text48
	TunnelID       Text48
	IPv6           bool
	OnDemand       bool
	GranProtocol   bool
	GranSrcAddr    bool
	GranDstAddr    bool
	GranSrcPort    bool
	GranDstPort    bool
	GranICMPType   bool
	GranICMPCode   bool
	Type           FilterType
	State          FilterState
	Action         FilterAction
	Scope          FilterScope
	Direction      FilterDirection
	Logging        FilterLogging
	SecClass       uint8 // 0 = any
	Protocol       uint8 // 0 = any
	SrcAddrFmt     AddrFormat
	SrcPrefixLen   uint8
	DstAddrFmt     AddrFormat
	DstPrefixLen   uint8
	SrcAddr        netip.Addr
	SrcAddr2       netip.Addr
	DstAddr        netip.Addr
	DstAddr2       netip.Addr
	SrcPortLow     uint16
	SrcPortHigh    uint16
	DstPortLow     uint16
	DstPortHigh    uint16
	ICMPType       uint8 // 255 = any
	ICMPCode       uint8 // 255 = any
	OSPFType       uint8 // 0 = any
	TCPQualifier   uint8 // 0 none, 1 connection-initiating segments only
	MatchCount     uint64
	CreateTime     uint32
	LogLimit       uint32
}

func (s *IPFilter) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, IPFilterSize)
	putField(d[offIPFltName:offIPFltName+NameLen], s.Name[:])
	be.PutUint32(d[offIPFltNameExt:], s.NameExt)
	putField(d[offIPFltGroupName:offIPFltGroupName+NameLen], s.GroupName[:])
	putField(d[offIPFltLclStartAction:offIPFltLclStartAction+NameLen], s.LclStartAction[:])
	putField(d[offIPFltVpnAction:offIPFltVpnAction+NameLen], s.VpnAction[:])
	putField(d[offIPFltTunnelID:offIPFltTunnelID+NameLen], s.TunnelID[:])
	var w uint32
	setFlag(&w, bitIPFltIPv6, s.IPv6)
	setFlag(&w, bitIPFltOnDemand, s.OnDemand)
	setFlag(&w, bitIPFltGranProto, s.GranProtocol)
	setFlag(&w, bitIPFltGranSrcAddr, s.GranSrcAddr)
	setFlag(&w, bitIPFltGranDstAddr, s.GranDstAddr)
	setFlag(&w, bitIPFltGranSrcPort, s.GranSrcPort)
	setFlag(&w, bitIPFltGranDstPort, s.GranDstPort)
	setFlag(&w, bitIPFltGranICMPType, s.GranICMPType)
	setFlag(&w, bitIPFltGranICMPCode, s.GranICMPCode)
	be.PutUint32(d[offIPFltFlags:], w)
	d[offIPFltType] = byte(s.Type)
	d[offIPFltState] = byte(s.State)
	d[offIPFltAction] = byte(s.Action)
	d[offIPFltScope] = byte(s.Scope)
	d[offIPFltDirection] = byte(s.Direction)
	d[offIPFltLogging] = byte(s.Logging)
	d[offIPFltSecClass] = s.SecClass
	d[offIPFltProtocol] = s.Protocol
	d[offIPFltSrcAddrFmt] = byte(s.SrcAddrFmt)
	d[offIPFltSrcPrefixLen] = s.SrcPrefixLen
	d[offIPFltDstAddrFmt] = byte(s.DstAddrFmt)
	d[offIPFltDstPrefixLen] = s.DstPrefixLen
	addrs := [...]struct {
		off  int
		a    netip.Addr
		name string
	}{
		{offIPFltSrcAddr, s.SrcAddr, "NMsIPFltSrcAddr"},
		{offIPFltSrcAddr2, s.SrcAddr2, "NMsIPFltSrcAddr2"},
		{offIPFltDstAddr, s.DstAddr, "NMsIPFltDstAddr"},
		{offIPFltDstAddr2, s.DstAddr2, "NMsIPFltDstAddr2"},
	}
	for _, a := range addrs {
		if err := putAddr(d[a.off:], a.a, s.IPv6, a.name); err != nil {
			return b[:start], err
		}
	}
	be.PutUint16(d[offIPFltSrcPortLow:], s.SrcPortLow)
	be.PutUint16(d[offIPFltSrcPortHigh:], s.SrcPortHigh)
	be.PutUint16(d[offIPFltDstPortLow:], s.DstPortLow)
	be.PutUint16(d[offIPFltDstPortHigh:], s.DstPortHigh)
	d[offIPFltICMPType] = s.ICMPType
	d[offIPFltICMPCode] = s.ICMPCode
	d[offIPFltOSPFType] = s.OSPFType
	d[offIPFltTCPQualifier] = s.TCPQualifier
	be.PutUint64(d[offIPFltMatchCount:], s.MatchCount)
	be.PutUint32(d[offIPFltCreateTime:], s.CreateTime)
	be.PutUint32(d[offIPFltLogLimit:], s.LogLimit)
	return b, nil
}

func (s *IPFilter) UnmarshalBinary(b []byte) error {
	if len(b) < IPFilterSize {
		return short("NMsecIPFilter", len(b), IPFilterSize)
	}
	copy(s.Name[:], b[offIPFltName:])
	s.NameExt = be.Uint32(b[offIPFltNameExt:])
	copy(s.GroupName[:], b[offIPFltGroupName:])
	copy(s.LclStartAction[:], b[offIPFltLclStartAction:])
	copy(s.VpnAction[:], b[offIPFltVpnAction:])
	copy(s.TunnelID[:], b[offIPFltTunnelID:])
	w := be.Uint32(b[offIPFltFlags:])
	s.IPv6 = flag(w, bitIPFltIPv6)
	s.OnDemand = flag(w, bitIPFltOnDemand)
	s.GranProtocol = flag(w, bitIPFltGranProto)
	s.GranSrcAddr = flag(w, bitIPFltGranSrcAddr)
	s.GranDstAddr = flag(w, bitIPFltGranDstAddr)
	s.GranSrcPort = flag(w, bitIPFltGranSrcPort)
	s.GranDstPort = flag(w, bitIPFltGranDstPort)
	s.GranICMPType = flag(w, bitIPFltGranICMPType)
	s.GranICMPCode = flag(w, bitIPFltGranICMPCode)
	s.Type = FilterType(b[offIPFltType])
	s.State = FilterState(b[offIPFltState])
	s.Action = FilterAction(b[offIPFltAction])
	s.Scope = FilterScope(b[offIPFltScope])
	s.Direction = FilterDirection(b[offIPFltDirection])
	s.Logging = FilterLogging(b[offIPFltLogging])
	s.SecClass = b[offIPFltSecClass]
	s.Protocol = b[offIPFltProtocol]
	s.SrcAddrFmt = AddrFormat(b[offIPFltSrcAddrFmt])
	s.SrcPrefixLen = b[offIPFltSrcPrefixLen]
	s.DstAddrFmt = AddrFormat(b[offIPFltDstAddrFmt])
	s.DstPrefixLen = b[offIPFltDstPrefixLen]
	s.SrcAddr = getAddr(b[offIPFltSrcAddr:], s.IPv6)
	s.SrcAddr2 = getAddr(b[offIPFltSrcAddr2:], s.IPv6)
	s.DstAddr = getAddr(b[offIPFltDstAddr:], s.IPv6)
	s.DstAddr2 = getAddr(b[offIPFltDstAddr2:], s.IPv6)
	s.SrcPortLow = be.Uint16(b[offIPFltSrcPortLow:])
	s.SrcPortHigh = be.Uint16(b[offIPFltSrcPortHigh:])
	s.DstPortLow = be.Uint16(b[offIPFltDstPortLow:])
	s.DstPortHigh = be.Uint16(b[offIPFltDstPortHigh:])
	s.ICMPType = b[offIPFltICMPType]
	s.ICMPCode = b[offIPFltICMPCode]
	s.OSPFType = b[offIPFltOSPFType]
	s.TCPQualifier = b[offIPFltTCPQualifier]
	s.MatchCount = be.Uint64(b[offIPFltMatchCount:])
	s.CreateTime = be.Uint32(b[offIPFltCreateTime:])
	s.LogLimit = be.Uint32(b[offIPFltLogLimit:])
	return nil
}

// PortTrans is the NAT traversal port translation section. NAT traversal
// is IPv4 only and the section has no IPv6 bit: both addresses are IPv4.
type PortTrans struct {
	TunnelID        Text48
	Protocol        uint8 // 6 TCP, 17 UDP
	RmtSecEndpoint  netip.Addr
	RmtUDPEncapPort uint16
	RmtOrigPort     uint16
	TranslatedPort  uint16
	LclPort         uint16
	RmtOrigAddr     netip.Addr // NAT-OA
}

func (s *PortTrans) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, PortTransSize)
	putField(d[offPTTunnelID:offPTTunnelID+NameLen], s.TunnelID[:])
	d[offPTProtocol] = s.Protocol
	if err := putAddr(d[offPTRmtSecEndpoint:], s.RmtSecEndpoint, false, "RmtSecEndpoint"); err != nil {
		return b[:start], err
	}
	be.PutUint16(d[offPTRmtUDPEncapPort:], s.RmtUDPEncapPort)
	be.PutUint16(d[offPTRmtOrigPort:], s.RmtOrigPort)
	be.PutUint16(d[offPTTranslatedPort:], s.TranslatedPort)
	be.PutUint16(d[offPTLclPort:], s.LclPort)
	if err := putAddr(d[offPTRmtOrigAddr:], s.RmtOrigAddr, false, "RmtOrigAddr"); err != nil {
		return b[:start], err
	}
	return b, nil
}

func (s *PortTrans) UnmarshalBinary(b []byte) error {
	if len(b) < PortTransSize {
		return short("NMsecPortTrans", len(b), PortTransSize)
	}
	copy(s.TunnelID[:], b[offPTTunnelID:])
	s.Protocol = b[offPTProtocol]
	s.RmtSecEndpoint = getAddr(b[offPTRmtSecEndpoint:], false)
	s.RmtUDPEncapPort = be.Uint16(b[offPTRmtUDPEncapPort:])
	s.RmtOrigPort = be.Uint16(b[offPTRmtOrigPort:])
	s.TranslatedPort = be.Uint16(b[offPTTranslatedPort:])
	s.LclPort = be.Uint16(b[offPTLclPort:])
	s.RmtOrigAddr = getAddr(b[offPTRmtOrigAddr:], false)
	return nil
}

// Tunnel is NMsecTunnel, the section of control records (request and response).
type Tunnel struct {
	Name     Text48    // NMsTunName: IpManVpnAction, LocalDynVpnRule or KeyExchangeRule name
	TunnelID Text48    // NMsTunTunnelID
	Status   TunStatus // NMsTunStatus: 0 in requests
}

func (s *Tunnel) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, TunnelSize)
	putField(d[offTunName:offTunName+NameLen], s.Name[:])
	putField(d[offTunTunnelID:offTunTunnelID+NameLen], s.TunnelID[:])
	d[offTunStatus] = byte(s.Status)
	return b, nil
}

func (s *Tunnel) UnmarshalBinary(b []byte) error {
	if len(b) < TunnelSize {
		return short("NMsecTunnel", len(b), TunnelSize)
	}
	copy(s.Name[:], b[offTunName:])
	copy(s.TunnelID[:], b[offTunTunnelID:])
	s.Status = TunStatus(b[offTunStatus])
	return nil
}

// PolicySource is NMsecPolicySource (NMsec_LOAD_POLICY).
type PolicySource struct {
	Source FilterSet // NMsPolicySource
}

func (s *PolicySource) AppendBinary(b []byte) ([]byte, error) {
	b, d := grow(b, PolicySourceSize)
	d[offPolicySource] = byte(s.Source)
	return b, nil
}

func (s *PolicySource) UnmarshalBinary(b []byte) error {
	if len(b) < PolicySourceSize {
		return short("NMsecPolicySource", len(b), PolicySourceSize)
	}
	s.Source = FilterSet(b[offPolicySource])
	return nil
}

// InFilter is NMsecInFilter, one input filter record of a display request.
// Only the criteria whose Has* flag is set take part (AND inside a record;
// records are ORed). A prefix length of 0 asks for an exact match of the
// full address.
type InFilter struct {
	HasName     bool
	HasTunnelID bool
	HasLclAddr  bool
	HasRmtAddr  bool
	HasProtocol bool
	HasLclPort  bool
	HasRmtPort  bool
	IPv6        bool // both addresses are IPv6
	Name        Text48
	TunnelID    Text48
	LclAddr     netip.Addr
	LclPrefix   uint8
	RmtPrefix   uint8
	Protocol    uint8
	RmtAddr     netip.Addr
	LclPort     uint16
	RmtPort     uint16
}

func (s *InFilter) flags() uint32 {
	var w uint32
	setFlag(&w, bitFltName, s.HasName)
	setFlag(&w, bitFltTunnelID, s.HasTunnelID)
	setFlag(&w, bitFltLclAddr, s.HasLclAddr)
	setFlag(&w, bitFltRmtAddr, s.HasRmtAddr)
	setFlag(&w, bitFltProto, s.HasProtocol)
	setFlag(&w, bitFltLclPort, s.HasLclPort)
	setFlag(&w, bitFltRmtPort, s.HasRmtPort)
	setFlag(&w, bitFltIPv6, s.IPv6)
	return w
}

func (s *InFilter) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, d := grow(b, InFilterSize)
	be.PutUint32(d[offFltFlags:], s.flags())
	putField(d[offFltName:offFltName+NameLen], s.Name[:])
	putField(d[offFltTunnelID:offFltTunnelID+NameLen], s.TunnelID[:])
	if err := putAddr(d[offFltLclAddr:], s.LclAddr, s.IPv6, "NMsFltLclAddr"); err != nil {
		return b[:start], err
	}
	d[offFltLclPrefix] = s.LclPrefix
	d[offFltRmtPrefix] = s.RmtPrefix
	d[offFltProto] = s.Protocol
	if err := putAddr(d[offFltRmtAddr:], s.RmtAddr, s.IPv6, "NMsFltRmtAddr"); err != nil {
		return b[:start], err
	}
	be.PutUint16(d[offFltLclPort:], s.LclPort)
	be.PutUint16(d[offFltRmtPort:], s.RmtPort)
	return b, nil
}

func (s *InFilter) UnmarshalBinary(b []byte) error {
	if len(b) < InFilterSize {
		return short("NMsecInFilter", len(b), InFilterSize)
	}
	w := be.Uint32(b[offFltFlags:])
	s.HasName = flag(w, bitFltName)
	s.HasTunnelID = flag(w, bitFltTunnelID)
	s.HasLclAddr = flag(w, bitFltLclAddr)
	s.HasRmtAddr = flag(w, bitFltRmtAddr)
	s.HasProtocol = flag(w, bitFltProto)
	s.HasLclPort = flag(w, bitFltLclPort)
	s.HasRmtPort = flag(w, bitFltRmtPort)
	s.IPv6 = flag(w, bitFltIPv6)
	copy(s.Name[:], b[offFltName:])
	copy(s.TunnelID[:], b[offFltTunnelID:])
	s.LclAddr = getAddr(b[offFltLclAddr:], s.IPv6)
	s.LclPrefix = b[offFltLclPrefix]
	s.RmtPrefix = b[offFltRmtPrefix]
	s.Protocol = b[offFltProto]
	s.RmtAddr = getAddr(b[offFltRmtAddr:], s.IPv6)
	s.LclPort = be.Uint16(b[offFltLclPort:])
	s.RmtPort = be.Uint16(b[offFltRmtPort:])
	return nil
}
