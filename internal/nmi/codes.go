package nmi

import "strconv"

// The numeric values of these types are in layout.go. String methods give
// the lower-case words the REST API shows, and unknown(N) for a value this
// build does not know; no value is ever an error.

func unknown(n int64) string { return "unknown(" + strconv.FormatInt(n, 10) + ")" }

// MsgType is NMsMType: INIT, TERM or a request type.
type MsgType uint16

// String returns IBM's constant name, for example "NMsec_GET_STACKINFO".
func (t MsgType) String() string {
	switch t {
	case MsgInit:
		return "NMsec_INIT"
	case MsgTerm:
		return "NMsec_TERM"
	case GetStackInfo:
		return "NMsec_GET_STACKINFO"
	case GetIPFltCurr:
		return "NMsec_GET_IPFLTCURR"
	case GetIPFltDefault:
		return "NMsec_GET_IPFLTDEFAULT"
	case GetIPFltPolicy:
		return "NMsec_GET_IPFLTPOLICY"
	case GetIPInterfaces:
		return "NMsec_GET_IPINTERFACES"
	case GetIPTunManual:
		return "NMsec_GET_IPTUNMANUAL"
	case GetIPTunDynStack:
		return "NMsec_GET_IPTUNDYNSTACK"
	case GetIPTunDynIKE:
		return "NMsec_GET_IPTUNDYNIKE"
	case GetIKETun:
		return "NMsec_GET_IKETUN"
	case GetIKETunCascade:
		return "NMsec_GET_IKETUNCASCADE"
	case GetPortTrans:
		return "NMsec_GET_PORTTRANS"
	case GetSummary:
		return "NMsec_GET_SUMMARY"
	case GetIKENSInfo:
		return "NMsec_GET_IKENSINFO"
	case GetClientInfo:
		return "NMsec_GET_CLIENTINFO"
	case ActManTun:
		return "NMsec_ACT_MANTUN"
	case DeactManTun:
		return "NMsec_DEACT_MANTUN"
	case ActDynTun:
		return "NMsec_ACT_DYNTUN"
	case DeactDynTun:
		return "NMsec_DEACT_DYNTUN"
	case RefreshDynTun:
		return "NMsec_REFRESH_DYNTUN"
	case DeactIKETun:
		return "NMsec_DEACT_IKETUN"
	case RefreshIKETun:
		return "NMsec_REFRESH_IKETUN"
	case LoadPolicy:
		return "NMsec_LOAD_POLICY"
	}
	return unknown(int64(t))
}

// IsDisplay reports whether t is a display (monitoring) request: SAF DISPLAY access.
// NMsec_GET_CLIENTINFO is one too: IKED refuses it (only the NSS server
// serves it), but its access is a DISPLAY resource.
func (t MsgType) IsDisplay() bool { return t >= GetStackInfo && t <= GetClientInfo }

// IsControl reports whether t is a control request: SAF CONTROL access.
func (t MsgType) IsControl() bool { return t >= ActManTun && t <= LoadPolicy }

// IsRequest reports whether a client may send t.
func (t MsgType) IsRequest() bool { return t.IsDisplay() || t.IsControl() }

// SystemWide reports whether t is answered for the whole system and so
// carries a blank target (NMsec_GET_STACKINFO, NMsec_GET_IKENSINFO).
func (t MsgType) SystemWide() bool { return t == GetStackInfo || t == GetIKENSInfo }

// AnyTarget reports whether t may carry a blank target or a named one:
// NMsec_GET_CLIENTINFO, blank for every connected NSS client, or one
// client's name.
func (t MsgType) AnyTarget() bool { return t == GetClientInfo }

// TakesFilters reports whether t accepts NMsecInFilter records.
func (t MsgType) TakesFilters() bool {
	switch t {
	case GetIPFltCurr, GetIPFltDefault, GetIPFltPolicy, GetIPTunManual, GetIPTunDynStack,
		GetIPTunDynIKE, GetIKETun, GetIKETunCascade, GetPortTrans, GetClientInfo:
		return true
	}
	return false
}

// TakesTunnels reports whether t carries NMsecTunnel control records.
func (t MsgType) TakesTunnels() bool { return t >= ActManTun && t <= RefreshIKETun }

// ReturnCode is NMsMRc, a z/OS UNIX errno value.
type ReturnCode int32

// String returns the errno name, for example "EINVAL".
func (c ReturnCode) String() string {
	switch c {
	case RcOK:
		return "OK"
	case EACCES:
		return "EACCES"
	case EAGAIN:
		return "EAGAIN"
	case EBUSY:
		return "EBUSY"
	case EINVAL:
		return "EINVAL"
	case EIO:
		return "EIO"
	case ENOENT:
		return "ENOENT"
	case ENOMEM:
		return "ENOMEM"
	case ENOSYS:
		return "ENOSYS"
	case ENXIO:
		return "ENXIO"
	case EPERM:
		return "EPERM"
	case ESRCH:
		return "ESRCH"
	case EMVSERR:
		return "EMVSERR"
	case EOPNOTSUPP:
		return "EOPNOTSUPP"
	case ENOBUFS:
		return "ENOBUFS"
	case EGSKSIGN:
		return "EGSKSIGN"
	}
	return unknown(int64(c))
}

// ReasonCode is NMsMRsn.
type ReasonCode int32

// String returns the reason code's name, for example "NMsRsnBadIdent".
func (r ReasonCode) String() string {
	switch r {
	case RsnNone:
		return "none"
	case RsnBadIdent:
		return "NMsRsnBadIdent"
	case RsnBadVersion:
		return "NMsRsnBadVersion"
	case RsnBadType:
		return "NMsRsnBadType"
	case RsnExcessiveSize:
		return "NMsRsnExcessiveSize"
	case RsnHdrSize:
		return "NMsRsnHdrSize"
	case RsnMsgSize:
		return "NMsRsnMsgSize"
	case RsnReservedNonzero:
		return "NMsRsnReservedNonzero"
	case RsnRecordLength:
		return "NMsRsnRecordLength"
	case RsnBadFilter:
		return "NMsRsnBadFilter"
	case RsnBadControlRecord:
		return "NMsRsnBadControlRecord"
	case RsnNotReady:
		return "NMsRsnNotReady"
	case RsnBadSection:
		return "NMsRsnBadSection"
	}
	return unknown(int64(r))
}

// TunStatus is NMsTunStatus, the outcome of one control record.
type TunStatus uint8

// String returns the REST API's word for the status, for example "stateUpdated".
func (s TunStatus) String() string {
	switch s {
	case TunStatusNone:
		return "none"
	case TunStatusNotFound:
		return "notFound"
	case TunStatusStateUpdated:
		return "stateUpdated"
	case TunStatusStateAlreadySet:
		return "stateAlreadySet"
	case TunStatusNoKER:
		return "noKeyExchangeRule"
	case TunStatusNoFilter:
		return "noFilter"
	case TunStatusNoDataOffer:
		return "noDataOffer"
	}
	return unknown(int64(s))
}

// FilterSet is NMsStackFilterSet / NMsPolicySource.
type FilterSet uint8

func (s FilterSet) String() string {
	switch s {
	case FilterSetDefault:
		return "default"
	case FilterSetPolicy:
		return "policy"
	}
	return unknown(int64(s))
}

// IPTunType is NMsIPTunType.
type IPTunType uint8

func (t IPTunType) String() string {
	switch t {
	case IPTunManual:
		return "manual"
	case IPTunStack:
		return "stack"
	case IPTunIKE:
		return "ike"
	}
	return unknown(int64(t))
}

// IPTunState is NMsIPTunState. Active is 4 here but 3 in IKETunState.
type IPTunState uint8

func (s IPTunState) String() string {
	switch s {
	case IPTunInactive:
		return "inactive"
	case IPTunPending:
		return "pending"
	case IPTunIncomplete:
		return "incomplete"
	case IPTunActive:
		return "active"
	case IPTunExpired:
		return "expired"
	}
	return unknown(int64(s))
}

// IKETunState is NMsIKETunState.
type IKETunState uint8

func (s IKETunState) String() string {
	switch s {
	case IKETunPending:
		return "pending"
	case IKETunNegotiating:
		return "negotiating"
	case IKETunActive:
		return "active"
	case IKETunExpired:
		return "expired"
	}
	return unknown(int64(s))
}

// EncapMode is the IPSec encapsulation mode.
type EncapMode uint8

func (m EncapMode) String() string {
	switch m {
	case EncapTunnel:
		return "tunnel"
	case EncapTransport:
		return "transport"
	}
	return unknown(int64(m))
}

// AuthProto is the IPSec protocol (IP protocol number).
type AuthProto uint8

func (p AuthProto) String() string {
	switch p {
	case AuthProtoNone:
		return "none"
	case AuthProtoESP:
		return "esp"
	case AuthProtoAH:
		return "ah"
	}
	return unknown(int64(p))
}

// AuthAlg is an integrity algorithm (IBM's codes, not IANA's).
type AuthAlg uint8

func (a AuthAlg) String() string {
	switch a {
	case AuthAlgNone:
		return "none"
	case AuthAlgAESGMAC128:
		return "aes-gmac-128"
	case AuthAlgAESGMAC256:
		return "aes-gmac-256"
	case AuthAlgHMACSHA256128:
		return "hmac-sha2-256-128"
	case AuthAlgAESXCBC96:
		return "aes-xcbc-96"
	case AuthAlgHMACSHA384192:
		return "hmac-sha2-384-192"
	case AuthAlgHMACSHA512256:
		return "hmac-sha2-512-256"
	case AuthAlgHMACMD5:
		return "hmac-md5"
	case AuthAlgHMACSHA1:
		return "hmac-sha1"
	case AuthAlgHMACMD596:
		return "hmac-md5-96"
	case AuthAlgHMACSHA196:
		return "hmac-sha1-96"
	}
	return unknown(int64(a))
}

// EncryptAlg is an encryption algorithm.
type EncryptAlg uint8

func (a EncryptAlg) String() string {
	switch a {
	case EncryptNone:
		return "none"
	case EncryptDES:
		return "des"
	case Encrypt3DES:
		return "3des"
	case EncryptNull:
		return "null"
	case EncryptAESCBC:
		return "aes-cbc"
	case EncryptAESGCM16:
		return "aes-gcm-16"
	}
	return unknown(int64(a))
}

// DHGroup is a Diffie-Hellman group (IANA number).
type DHGroup uint8

func (g DHGroup) String() string {
	switch g {
	case DHNone:
		return "none"
	case DHGroup1:
		return "group1"
	case DHGroup2:
		return "group2"
	case DHGroup5:
		return "group5"
	case DHGroup14:
		return "group14"
	case DHGroup19:
		return "group19"
	case DHGroup20:
		return "group20"
	case DHGroup21:
		return "group21"
	case DHGroup24:
		return "group24"
	}
	return unknown(int64(g))
}

// ExchangeMode is the IKE exchange mode.
type ExchangeMode uint8

func (m ExchangeMode) String() string {
	switch m {
	case ExchangeMain:
		return "main"
	case ExchangeAggressive:
		return "aggressive"
	case ExchangeIKEv2:
		return "ikev2"
	}
	return unknown(int64(m))
}

// AuthMethod is the IKE peer authentication method.
type AuthMethod uint8

func (m AuthMethod) String() string {
	switch m {
	case AuthMethodPSK:
		return "pre-shared-key"
	case AuthMethodRSA:
		return "rsa-signature"
	case AuthMethodECDSA:
		return "ecdsa-p256"
	}
	return unknown(int64(m))
}

// IDType is an IKE identity type.
type IDType uint8

func (t IDType) String() string {
	switch t {
	case IDIPv4Addr:
		return "ipv4-addr"
	case IDFQDN:
		return "fqdn"
	case IDUserFQDN:
		return "user-fqdn"
	case IDIPv6Addr:
		return "ipv6-addr"
	case IDDERASN1DN:
		return "der-asn1-dn"
	case IDKeyID:
		return "key-id"
	}
	return unknown(int64(t))
}

// Role is the local end's role in a negotiation.
type Role uint8

func (r Role) String() string {
	switch r {
	case RoleInitiator:
		return "initiator"
	case RoleResponder:
		return "responder"
	}
	return unknown(int64(r))
}

// FilterType is the type of an IP filter rule.
type FilterType uint8

func (t FilterType) String() string {
	switch t {
	case FilterGeneric:
		return "generic"
	case FilterDynamicAnchor:
		return "dynamic-anchor"
	case FilterDynamic:
		return "dynamic"
	case FilterNATTAnchor:
		return "natt-anchor"
	case FilterNATTDynamic:
		return "natt-dynamic"
	case FilterNRF:
		return "nrf"
	case FilterDefensive:
		return "defensive"
	}
	return unknown(int64(t))
}

// FilterAction is what an IP filter rule does with matching packets.
type FilterAction uint8

func (a FilterAction) String() string {
	switch a {
	case ActionPermit:
		return "permit"
	case ActionDeny:
		return "deny"
	case ActionIPSec:
		return "ipsec"
	case ActionDefensiveBlock:
		return "defensive-block"
	}
	return unknown(int64(a))
}

// FilterDirection is the direction an IP filter rule applies to.
type FilterDirection uint8

func (d FilterDirection) String() string {
	switch d {
	case DirectionInbound:
		return "inbound"
	case DirectionOutbound:
		return "outbound"
	}
	return unknown(int64(d))
}

// FilterScope is the routing scope of an IP filter rule.
type FilterScope uint8

func (s FilterScope) String() string {
	switch s {
	case ScopeLocal:
		return "local"
	case ScopeRouted:
		return "routed"
	case ScopeBoth:
		return "both"
	}
	return unknown(int64(s))
}

// FilterLogging is the logging setting of an IP filter rule.
type FilterLogging uint8

func (l FilterLogging) String() string {
	switch l {
	case LoggingNone:
		return "none"
	case LoggingPermit:
		return "permit"
	case LoggingDeny:
		return "deny"
	case LoggingAll:
		return "all"
	}
	return unknown(int64(l))
}

// FilterState is the state of an IP filter rule.
type FilterState uint8

func (s FilterState) String() string {
	switch s {
	case FilterActive:
		return "active"
	case FilterInactive:
		return "inactive"
	}
	return unknown(int64(s))
}

// ActivationMethod tells how a dynamic tunnel was activated.
type ActivationMethod uint8

func (m ActivationMethod) String() string {
	switch m {
	case ActivationUser:
		return "user"
	case ActivationRemote:
		return "remote"
	case ActivationOnDemand:
		return "on-demand"
	case ActivationTakeover:
		return "takeover"
	case ActivationAutoAct:
		return "autoact"
	}
	return unknown(int64(m))
}

// AddrFormat tells how a pair of address fields is to be read.
type AddrFormat uint8

func (f AddrFormat) String() string {
	switch f {
	case AddrAny:
		return "any"
	case AddrHost:
		return "host"
	case AddrPrefix:
		return "prefix"
	case AddrRange:
		return "range"
	}
	return unknown(int64(f))
}

// ClientDiscipline is NMsCIDiscipline: the NSS discipline a client uses.
type ClientDiscipline uint8

// String returns IBM's discipline name ("IPSec", "XMLAppliance"), the
// value of a GET_CLIENTINFO input filter's NMsFltName.
func (d ClientDiscipline) String() string {
	switch d {
	case DisciplineIPSec:
		return "IPSec"
	case DisciplineXMLAppliance:
		return "XMLAppliance"
	}
	return unknown(int64(d))
}
