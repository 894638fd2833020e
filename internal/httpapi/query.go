package httpapi

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/nmigw/nmigw/internal/nmi"
)

// crit is a set of NMI input filter criteria a resource accepts
// (shared/nmi README, framing rule 7).
type crit uint8

const (
	critName crit = 1 << iota
	critTunnelID
	critLocalAddr
	critRemoteAddr
	critProtocol
	critLocalPort
	critRemotePort
)

// Query parameter names and the criterion each one sets, in the order the
// cross product is built.
var critParams = [...]struct {
	name string
	c    crit
}{
	{"name", critName},
	{"tunnelId", critTunnelID},
	{"localAddress", critLocalAddr},
	{"remoteAddress", critRemoteAddr},
	{"protocol", critProtocol},
	{"localPort", critLocalPort},
	{"remotePort", critRemotePort},
}

// maxFilterRecords caps the OR combinations of one request.
const maxFilterRecords = 64

// Common query parameters every list takes.
const (
	qPageSize  = "pageSize"
	qPageToken = "pageToken"
)

var protocolNames = map[string]uint8{
	"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ospf": 89, "sctp": 132,
}

// setter applies one parsed query value to a filter record.
type setter func(*nmi.InFilter)

// addrValue is a parsed address criterion.
type addrValue struct {
	addr   netip.Addr
	prefix uint8 // 0 = exact (NMsFltLclPrefix semantics)
	any    bool  // /0: matches everything, no criterion
}

func parseAddrQuery(name, s string) (addrValue, error) {
	bad := &paramError{Name: name, Reason: "not an IPv4 or IPv6 address with optional /prefix"}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return addrValue{}, bad
		}
		a := p.Addr().Unmap()
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
			if bits < 0 {
				return addrValue{}, bad
			}
		}
		if bits == 0 {
			return addrValue{any: true}, nil
		}
		p = netip.PrefixFrom(a, bits).Masked()
		v := addrValue{addr: p.Addr()}
		if bits < a.BitLen() {
			v.prefix = uint8(bits)
		}
		return v, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return addrValue{}, bad
	}
	return addrValue{addr: a.Unmap()}, nil
}

func parseProtocol(s string) (uint8, error) {
	if p, ok := protocolNames[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n == 0 {
		return 0, &paramError{Name: "protocol", Reason: "not a protocol number 1-255 or a known protocol name"}
	}
	return uint8(n), nil
}

func parsePort(name, s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, &paramError{Name: name, Reason: "not a port 1-65535"}
	}
	return uint16(n), nil
}

// textSetter validates s for a 48-byte EBCDIC field.
func textSetter(name, s string, field func(*nmi.InFilter) *nmi.Text48, flag func(*nmi.InFilter)) (setter, error) {
	var t nmi.Text48
	if s == "" || strings.TrimRight(s, " ") != s {
		return nil, &paramError{Name: name, Reason: "empty or with trailing blanks"}
	}
	if err := t.Set(s); err != nil {
		return nil, &paramError{Name: name, Reason: "longer than 48 characters or not representable in EBCDIC (IBM-1047)"}
	}
	return func(f *nmi.InFilter) { *field(f) = t; flag(f) }, nil
}

// parseValue turns one query value into a setter. family is 4 or 6 for an
// address criterion and 0 otherwise; a nil setter with no error means "no
// criterion" (an address with /0).
func parseValue(name, s string) (set setter, family int, err error) {
	switch name {
	case "name":
		set, err = textSetter(name, s, func(f *nmi.InFilter) *nmi.Text48 { return &f.Name },
			func(f *nmi.InFilter) { f.HasName = true })
	case "tunnelId":
		set, err = textSetter(name, s, func(f *nmi.InFilter) *nmi.Text48 { return &f.TunnelID },
			func(f *nmi.InFilter) { f.HasTunnelID = true })
	case "localAddress", "remoteAddress":
		v, perr := parseAddrQuery(name, s)
		if perr != nil || v.any {
			return nil, 0, perr
		}
		family = 4
		if v.addr.Is6() {
			family = 6
		}
		if name == "localAddress" {
			set = func(f *nmi.InFilter) { f.HasLclAddr, f.LclAddr, f.LclPrefix = true, v.addr, v.prefix }
		} else {
			set = func(f *nmi.InFilter) { f.HasRmtAddr, f.RmtAddr, f.RmtPrefix = true, v.addr, v.prefix }
		}
	case "protocol":
		p, perr := parseProtocol(s)
		err = perr
		set = func(f *nmi.InFilter) { f.HasProtocol, f.Protocol = true, p }
	case "localPort", "remotePort":
		p, perr := parsePort(name, s)
		err = perr
		if name == "localPort" {
			set = func(f *nmi.InFilter) { f.HasLclPort, f.LclPort = true, p }
		} else {
			set = func(f *nmi.InFilter) { f.HasRmtPort, f.RmtPort = true, p }
		}
	}
	return set, family, err
}

type choice struct {
	set    setter
	family int
}

// inFilters translates the criteria query parameters into NMI input filter
// records: AND across parameters, OR across the values of one parameter
// (one record per combination). No criteria gives no records (everything).
// Combinations that mix IPv4 and IPv6 addresses cannot match and are left
// out; if none is left the request is rejected.
func inFilters(q url.Values, allowed crit) ([]nmi.InFilter, error) {
	var dims [][]choice
	for _, p := range critParams {
		vals := q[p.name]
		if allowed&p.c == 0 || len(vals) == 0 {
			continue
		}
		var cs []choice
		for _, s := range vals {
			set, fam, err := parseValue(p.name, s)
			if err != nil {
				return nil, err
			}
			if set == nil { // an address with /0 matches everything
				cs = nil
				break
			}
			cs = append(cs, choice{set, fam})
		}
		if cs != nil {
			dims = append(dims, cs)
		}
	}
	if len(dims) == 0 {
		return nil, nil
	}
	total := 1
	for _, d := range dims {
		total *= len(d)
		if total > maxFilterRecords {
			return nil, &paramError{Name: "query", Reason: "more than " + strconv.Itoa(maxFilterRecords) + " combinations of filter values"}
		}
	}
	out := make([]nmi.InFilter, 0, total)
	idx := make([]int, len(dims))
	for {
		var f nmi.InFilter
		family := 0
		ok := true
		for i, d := range dims {
			c := d[idx[i]]
			if c.family != 0 {
				if family != 0 && family != c.family {
					ok = false
				}
				family = c.family
			}
			c.set(&f)
		}
		if ok {
			f.IPv6 = family == 6
			out = append(out, f)
		}
		// next combination
		i := len(dims) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(dims[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			break
		}
	}
	if len(out) == 0 {
		return nil, &paramError{Name: "remoteAddress", Reason: "localAddress and remoteAddress must be of the same IP family"}
	}
	return out, nil
}
