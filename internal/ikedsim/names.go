package ikedsim

import "strconv"

// names are the words a YAML data set uses for each enumeration: the
// lower-case words the REST API shows.
var names = struct {
	filterSet, ipTunState, ikeTunState, encap, authProto, authAlg, encryptAlg, dhGroup, exchangeMode,
	authMethod, idType, role, filterType, filterAction, filterDirection, filterScope, filterLogging,
	filterState, activation, protocol, granularity func(uint8) string
}{
	filterSet:   table(map[uint8]string{0: "default", 1: "policy"}),
	ipTunState:  table(map[uint8]string{1: "inactive", 2: "pending", 3: "incomplete", 4: "active", 5: "expired"}),
	ikeTunState: table(map[uint8]string{1: "pending", 2: "negotiating", 3: "active", 4: "expired"}),
	encap:       table(map[uint8]string{1: "tunnel", 2: "transport"}),
	authProto:   table(map[uint8]string{0: "none", 50: "esp", 51: "ah"}),
	authAlg:     table(map[uint8]string{0: "none", 4: "aes-gmac-128", 6: "aes-gmac-256", 7: "hmac-sha2-256-128", 9: "aes-xcbc-96", 13: "hmac-sha2-384-192", 14: "hmac-sha2-512-256", 38: "hmac-md5", 39: "hmac-sha1", 40: "hmac-md5-96", 41: "hmac-sha1-96"}),
	encryptAlg:  table(map[uint8]string{0: "none", 2: "des", 3: "3des", 11: "null", 12: "aes-cbc", 20: "aes-gcm-16"}),
	dhGroup: func(c uint8) string {
		return map[bool]string{true: "none", false: "group" + strconv.Itoa(int(c))}[c == 0]
	},
	exchangeMode:    table(map[uint8]string{2: "main", 4: "aggressive", 34: "ikev2"}),
	authMethod:      table(map[uint8]string{1: "pre-shared-key", 3: "rsa-signature", 9: "ecdsa-p256"}),
	idType:          table(map[uint8]string{1: "ipv4-addr", 2: "fqdn", 3: "user-fqdn", 5: "ipv6-addr", 9: "der-asn1-dn", 11: "key-id"}),
	role:            table(map[uint8]string{1: "initiator", 2: "responder"}),
	filterType:      table(map[uint8]string{1: "generic", 2: "dynamic-anchor", 3: "dynamic", 4: "natt-anchor", 5: "natt-dynamic", 6: "nrf", 7: "defensive"}),
	filterAction:    table(map[uint8]string{1: "permit", 2: "deny", 3: "ipsec", 4: "defensive-block"}),
	filterDirection: table(map[uint8]string{1: "inbound", 2: "outbound"}),
	filterScope:     table(map[uint8]string{1: "local", 2: "routed", 3: "both"}),
	filterLogging:   table(map[uint8]string{0: "none", 1: "permit", 2: "deny", 3: "all"}),
	filterState:     table(map[uint8]string{1: "active", 2: "inactive"}),
	activation:      table(map[uint8]string{1: "user", 2: "remote", 3: "on-demand", 5: "takeover", 6: "autoact"}),
	protocol:        table(map[uint8]string{0: "any", 1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6", 89: "ospf"}),
	// Filter.Granularity bits: the flag word's bits 2-8 (protocol ... ICMP code).
	granularity: table(map[uint8]string{0x40: "protocol", 0x20: "sourceAddress", 0x10: "destinationAddress", 0x08: "sourcePort", 0x04: "destinationPort", 0x02: "icmpType", 0x01: "icmpCode"}),
}

func table(m map[uint8]string) func(uint8) string {
	return func(c uint8) string { return m[c] }
}
