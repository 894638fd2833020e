package ikedsim

import "github.com/nmigw/nmigw/internal/nmi"

// The model keeps the wire codes of the contract in its fields, so that a
// record is built by copying them. The codes are the codec's (layout.go);
// these names are the model's shorthand for them.

// IPTunState is NMsIPTunState.
type IPTunState = nmi.IPTunState

// IP tunnel states.
const (
	TunInactive    = nmi.IPTunInactive
	TunPending     = nmi.IPTunPending
	TunNegotiating = nmi.IPTunIncomplete
	TunActive      = nmi.IPTunActive
	TunExpired     = nmi.IPTunExpired
)

// IKETunState is NMsIKETunState.
type IKETunState = nmi.IKETunState

// IKE tunnel states.
const (
	IKEPending     = nmi.IKETunPending
	IKENegotiating = nmi.IKETunNegotiating
	IKEActive      = nmi.IKETunActive
	IKEExpired     = nmi.IKETunExpired
)

// FilterSet is NMsStackFilterSet.
type FilterSet = nmi.FilterSet

// Filter sets.
const (
	FilterSetDefault = nmi.FilterSetDefault
	FilterSetPolicy  = nmi.FilterSetPolicy
)

// AddrFormat tells how an address selector is given.
type AddrFormat = nmi.AddrFormat

// Address formats.
const (
	AddrAny    = nmi.AddrAny
	AddrSingle = nmi.AddrHost
	AddrPrefix = nmi.AddrPrefix
	AddrRange  = nmi.AddrRange
)

// TunStatus is NMsTunStatus in control responses.
type TunStatus = nmi.TunStatus

// Control statuses.
const (
	StatusNotFound        = nmi.TunStatusNotFound
	StatusStateUpdated    = nmi.TunStatusStateUpdated
	StatusStateAlreadySet = nmi.TunStatusStateAlreadySet
	StatusNoKER           = nmi.TunStatusNoKER
	StatusNoFilter        = nmi.TunStatusNoFilter
	StatusNoDataOffer     = nmi.TunStatusNoDataOffer
)

// Codes the data sets use, as the plain bytes the model's fields hold.
const (
	fltGeneric       = uint8(nmi.FilterGeneric)
	fltDynamicAnchor = uint8(nmi.FilterDynamicAnchor)
	fltDynamic       = uint8(nmi.FilterDynamic)
	fltNATTAnchor    = uint8(nmi.FilterNATTAnchor)

	actPermit = uint8(nmi.ActionPermit)
	actDeny   = uint8(nmi.ActionDeny)
	actIPSec  = uint8(nmi.ActionIPSec)

	dirInbound  = uint8(nmi.DirectionInbound)
	dirOutbound = uint8(nmi.DirectionOutbound)

	scopeLocal = uint8(nmi.ScopeLocal)
	scopeBoth  = uint8(nmi.ScopeBoth)

	logNone = uint8(nmi.LoggingNone)
	logAll  = uint8(nmi.LoggingAll)

	fltActive   = uint8(nmi.FilterActive)
	fltInactive = uint8(nmi.FilterInactive)

	encapTunnel = uint8(nmi.EncapTunnel)
	protoESP    = uint8(nmi.AuthProtoESP)
	protoAH     = uint8(nmi.AuthProtoAH)

	authHMACSHA1   = uint8(nmi.AuthAlgHMACSHA1)
	authHMACSHA256 = uint8(nmi.AuthAlgHMACSHA256128)

	enc3DES   = uint8(nmi.Encrypt3DES)
	encAESCBC = uint8(nmi.EncryptAESCBC)

	modeMain = uint8(nmi.ExchangeMain)
	authPSK  = uint8(nmi.AuthMethodPSK)
	authRSA  = uint8(nmi.AuthMethodRSA)

	idIPv4 = uint8(nmi.IDIPv4Addr)
	idFQDN = uint8(nmi.IDFQDN)
	idIPv6 = uint8(nmi.IDIPv6Addr)

	roleInitiator = uint8(nmi.RoleInitiator)
	roleResponder = uint8(nmi.RoleResponder)

	activUser    = uint8(nmi.ActivationUser)
	activRemote  = uint8(nmi.ActivationRemote)
	activAutoAct = uint8(nmi.ActivationAutoAct)
)

// Extended states of a dynamic tunnel's phase 2 negotiation
// (NMsIPDynIKEExtState). IBM publishes neither names nor numbers for them
// (PROPOSED): the simulator moves a tunnel through these as it negotiates.
const (
	ExtNone      uint8 = 0 // no exchange yet: pending, or waiting for its IKE tunnel
	ExtSentFirst uint8 = 1 // this end sent the first Quick Mode message and waits for the answer
	ExtSentReply uint8 = 2 // the peer started; this end answered and waits for the last message
	ExtDone      uint8 = 3 // the exchange completed: the SAs are installed
	ExtDeleted   uint8 = 4 // the SAs' lifetime ended, or a newer generation replaced them
)

// extState is the extended state that goes with a dynamic tunnel's state.
func extState(s IPTunState, locallyInitiated bool) uint8 {
	switch s {
	case TunNegotiating:
		if locallyInitiated {
			return ExtSentFirst
		}
		return ExtSentReply
	case TunActive:
		return ExtDone
	case TunExpired:
		return ExtDeleted
	}
	return ExtNone
}
