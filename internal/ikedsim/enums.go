package ikedsim

// The model keeps the wire codes of the contract (protocol-records.md P.1
// and section 5) in its fields, so that a record is built by copying them.

// IPTunState is NMsIPTunState.
type IPTunState uint8

// IP tunnel states.
const (
	TunInactive    IPTunState = 1
	TunPending     IPTunState = 2
	TunNegotiating IPTunState = 3 // "incomplete" in P.1
	TunActive      IPTunState = 4
	TunExpired     IPTunState = 5
)

// IKETunState is NMsIKETunState.
type IKETunState uint8

// IKE tunnel states.
const (
	IKEPending     IKETunState = 1
	IKENegotiating IKETunState = 2
	IKEActive      IKETunState = 3
	IKEExpired     IKETunState = 4
)

// FilterSet is NMsStackFilterSet.
type FilterSet uint8

// Filter sets.
const (
	FilterSetDefault FilterSet = 0
	FilterSetPolicy  FilterSet = 1
)

// AddrFormat tells how an address field is given (P: 0 any, 1 single host,
// 2 prefix, 3 range).
type AddrFormat uint8

// Address formats.
const (
	AddrAny    AddrFormat = 0
	AddrSingle AddrFormat = 1
	AddrPrefix AddrFormat = 2
	AddrRange  AddrFormat = 3
)

// TunStatus is NMsTunStatus in control responses.
type TunStatus uint8

// Control statuses (IBM values).
const (
	StatusNotFound        TunStatus = 1
	StatusStateUpdated    TunStatus = 2
	StatusStateAlreadySet TunStatus = 3
	StatusNoKER           TunStatus = 5
	StatusNoFilter        TunStatus = 6
	StatusNoDataOffer     TunStatus = 7
)

// Filter enumerations (P.1).
const (
	fltGeneric       uint8 = 1
	fltDynamicAnchor uint8 = 2
	fltDynamic       uint8 = 3
	fltNATTAnchor    uint8 = 4
	fltNATTDynamic   uint8 = 5

	actPermit uint8 = 1
	actDeny   uint8 = 2
	actIPSec  uint8 = 3

	dirInbound  uint8 = 1
	dirOutbound uint8 = 2

	scopeLocal  uint8 = 1
	scopeRouted uint8 = 2
	scopeBoth   uint8 = 3

	logNone uint8 = 0
	logAll  uint8 = 3

	fltActive   uint8 = 1
	fltInactive uint8 = 2
)

// Algorithm and mode codes used by the data sets (P.1, section 5.2).
const (
	encapTunnel    uint8 = 1
	encapTransport uint8 = 2

	protoESP uint8 = 50
	protoAH  uint8 = 51

	authHMACMD5    uint8 = 38
	authHMACSHA1   uint8 = 39
	authHMACSHA256 uint8 = 7

	encDES    uint8 = 2
	enc3DES   uint8 = 3
	encNull   uint8 = 11
	encAESCBC uint8 = 12
	encAESGCM uint8 = 20

	modeMain       uint8 = 2
	modeAggressive uint8 = 4

	authPSK uint8 = 1
	authRSA uint8 = 3

	idIPv4     uint8 = 1
	idFQDN     uint8 = 2
	idUserFQDN uint8 = 3
	idIPv6     uint8 = 5
	idDN       uint8 = 9
	idKeyID    uint8 = 11

	roleInitiator uint8 = 1
	roleResponder uint8 = 2

	activUser     uint8 = 1
	activRemote   uint8 = 2
	activOnDemand uint8 = 3
	activAutoAct  uint8 = 6
)
