package ikedsim

import "github.com/nmigw/nmigw/internal/nmi"

// names are the words a YAML data set uses for each enumeration: the
// codec's String, the lower-case words the REST API shows.
var names = struct {
	filterSet, ipTunState, ikeTunState, encap, authProto, authAlg, encryptAlg, dhGroup, exchangeMode,
	authMethod, idType, role, filterType, filterAction, filterDirection, filterScope, filterLogging,
	filterState, activation, protocol, granularity func(uint8) string
}{
	filterSet:       func(c uint8) string { return nmi.FilterSet(c).String() },
	ipTunState:      func(c uint8) string { return nmi.IPTunState(c).String() },
	ikeTunState:     func(c uint8) string { return nmi.IKETunState(c).String() },
	encap:           func(c uint8) string { return nmi.EncapMode(c).String() },
	authProto:       func(c uint8) string { return nmi.AuthProto(c).String() },
	authAlg:         func(c uint8) string { return nmi.AuthAlg(c).String() },
	encryptAlg:      func(c uint8) string { return nmi.EncryptAlg(c).String() },
	dhGroup:         func(c uint8) string { return nmi.DHGroup(c).String() },
	exchangeMode:    func(c uint8) string { return nmi.ExchangeMode(c).String() },
	authMethod:      func(c uint8) string { return nmi.AuthMethod(c).String() },
	idType:          func(c uint8) string { return nmi.IDType(c).String() },
	role:            func(c uint8) string { return nmi.Role(c).String() },
	filterType:      func(c uint8) string { return nmi.FilterType(c).String() },
	filterAction:    func(c uint8) string { return nmi.FilterAction(c).String() },
	filterDirection: func(c uint8) string { return nmi.FilterDirection(c).String() },
	filterScope:     func(c uint8) string { return nmi.FilterScope(c).String() },
	filterLogging:   func(c uint8) string { return nmi.FilterLogging(c).String() },
	filterState:     func(c uint8) string { return nmi.FilterState(c).String() },
	activation:      func(c uint8) string { return nmi.ActivationMethod(c).String() },
	protocol: table(map[uint8]string{0: "any", 1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah",
		58: "icmpv6", 89: "ospf"}),
	// Filter.Granularity bits: the flag word's bits 2-8 (protocol ... ICMP code).
	granularity: table(map[uint8]string{granProtocol: "protocol", granSrcAddr: "sourceAddress",
		granDstAddr: "destinationAddress", granSrcPort: "sourcePort", granDstPort: "destinationPort",
		granICMPType: "icmpType", granICMPCode: "icmpCode"}),
}

// Bits of Filter.Granularity.
const (
	granProtocol uint8 = 0x40 >> iota
	granSrcAddr
	granDstAddr
	granSrcPort
	granDstPort
	granICMPType
	granICMPCode
)

func table(m map[uint8]string) func(uint8) string {
	return func(c uint8) string { return m[c] }
}
