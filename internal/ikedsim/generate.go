package ikedsim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// GenSpec sizes a generated data set. Filters is the size of each stack's
// policy filter set (its default set has Filters/100, at least 2); Tunnels
// is the number of IKE tunnel records and of dynamic tunnel records per
// stack (about one in five families has two generations).
type GenSpec struct {
	Stacks  int
	Filters int
	Tunnels int
	Seed    uint64
	System  string
}

// Limits of the generator.
const (
	MaxGenStacks  = 64
	MaxGenFilters = 1_000_000
	MaxGenTunnels = 100_000
)

// ParseGenSpec reads "stacks=2,filters=100000,tunnels=10000,seed=1"; each
// key is optional (defaults 1 stack, 100 filters, 10 tunnels, seed 1).
func ParseGenSpec(s string) (GenSpec, error) {
	g := GenSpec{Stacks: 1, Filters: 100, Tunnels: 10, Seed: 1}
	err := keyValues("generate", s, func(k, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("generate: %s: %q is not a number", k, v)
		}
		switch k {
		case "stacks":
			g.Stacks = int(min(n, MaxGenStacks+1))
		case "filters":
			g.Filters = int(min(n, MaxGenFilters+1))
		case "tunnels":
			g.Tunnels = int(min(n, MaxGenTunnels+1))
		case "seed":
			g.Seed = n
		default:
			return fmt.Errorf("generate: unknown key %q (stacks, filters, tunnels, seed)", k)
		}
		return nil
	})
	if err != nil {
		return g, err
	}
	return g, g.check()
}

// keyValues calls fn with each key and value, blanks trimmed, of a
// comma-separated list of key=value (a command line spec); what names the
// spec in errors.
func keyValues(what, s string, fn func(k, v string) error) error {
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%s: %q is not key=value", what, kv)
		}
		if err := fn(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return nil
}

func (g GenSpec) check() error {
	switch {
	case g.Stacks < 1 || g.Stacks > MaxGenStacks:
		return fmt.Errorf("generate: stacks must be 1-%d", MaxGenStacks)
	case g.Filters < 0 || g.Filters > MaxGenFilters:
		return fmt.Errorf("generate: filters must be 0-%d", MaxGenFilters)
	case g.Tunnels < 0 || g.Tunnels > MaxGenTunnels:
		return fmt.Errorf("generate: tunnels must be 0-%d", MaxGenTunnels)
	}
	return nil
}

// genStackName is TCPIP, TCPIPB, TCPIPC, ... then TCPIP027 and on.
func genStackName(i int) string {
	switch {
	case i == 0:
		return "TCPIP"
	case i < 26:
		return "TCPIP" + string(rune('A'+i))
	}
	return fmt.Sprintf("TCPIP%03d", i+1)
}

// Generate builds a data set of the given size, the same for the same spec.
func Generate(spec GenSpec) (*DataSet, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	ds := &DataSet{System: spec.System, Epoch: demoEpoch}
	if ds.System == "" {
		ds.System = "SYS1"
	}
	for i := 0; i < spec.Stacks; i++ {
		g := &gen{r: rand.New(rand.NewPCG(spec.Seed, uint64(i)+1)), e: demoEpoch, stackNo: i}
		ds.Stacks = append(ds.Stacks, g.stack(genStackName(i), spec.Filters, spec.Tunnels))
	}
	return ds, nil
}

type gen struct {
	r       *rand.Rand
	e       time.Time
	stackNo int
}

// v4 is an address in one of the three documentation ranges.
func (g *gen) v4(net int) netip.Addr {
	nets := [3][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
	n := nets[net%3]
	return netip.AddrFrom4([4]byte{n[0], n[1], n[2], byte(1 + g.r.IntN(254))})
}

// v6 is an address in 2001:db8::/32.
func (g *gen) v6(net int) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[5] = byte(net)
	b[6] = byte(g.stackNo)
	b[14], b[15] = byte(g.r.IntN(256)), byte(1+g.r.IntN(254))
	return netip.AddrFrom16(b)
}

func (g *gen) addr(v6 bool, net int) netip.Addr {
	if v6 {
		return g.v6(net)
	}
	return g.v4(net)
}

// spec is a random selector of the family: host, prefix, range or any.
func (g *gen) spec(v6 bool, net int) AddrSpec {
	a := g.addr(v6, net)
	switch g.r.IntN(8) {
	case 0:
		return AddrSpec{}
	case 1, 2, 3:
		bits := 24 + g.r.IntN(8)
		if v6 {
			bits = 48 + 8*g.r.IntN(10)
		}
		return AddrSpec{Format: AddrPrefix, Addr: netip.PrefixFrom(a, bits).Masked().Addr(), Prefix: uint8(bits)}
	case 4:
		b := a.AsSlice()
		last := len(b) - 1
		b[last] = byte(min(int(b[last])+1+g.r.IntN(16), 255))
		hi, _ := netip.AddrFromSlice(b)
		return AddrSpec{Format: AddrRange, Addr: a, Addr2: hi}
	}
	return AddrSpec{Format: AddrSingle, Addr: a}
}

func (g *gen) ports() PortRange {
	switch g.r.IntN(4) {
	case 0:
		p := uint16([]int{22, 23, 25, 53, 80, 443, 446, 1521, 3270, 5000}[g.r.IntN(10)])
		return PortRange{p, p}
	case 1:
		return PortRange{1024, 65535}
	}
	return PortRange{}
}

func (g *gen) stack(name string, nFilters, nTunnels int) *Stack {
	s := &Stack{Name: name, IPSecurity: true, IPv6Security: true, Logging: g.r.IntN(2) == 0,
		FilterSet: FilterSetPolicy, NATKeepAlive: 20}
	for i := 0; i < 4; i++ {
		s.Interfaces = append(s.Interfaces, Interface{Name: fmt.Sprintf("OSAQDIO%d", i+1),
			Addr: g.addr(i == 3, 0), Active: i != 2, DVIPA: i == 1})
	}
	s.NSS = NSS{ClientName: "SYS1_" + name, Userid: "NSSCLNT", ServerSysName: "SYS2", Configured: true, Connected: true}

	// LocalDynVpnRules, one dynamic anchor pair each, about one per four tunnels.
	nRules := 0
	if nTunnels > 0 {
		nRules = max(nTunnels/4, 1)
	}
	local4, local6 := g.v4(0), g.v6(0)
	for i := 0; i < nRules; i++ {
		v6 := i%5 == 4
		local := local4
		if v6 {
			local = local6
		}
		r := DynVpnRule{Name: fmt.Sprintf("GEN-VPN-%05d", i+1), KeyExchangeRule: fmt.Sprintf("KER-GEN-%05d", i+1),
			KeyExchangeAction: "KEA-AES256-SHA1-G14", VpnAction: "ESP-AES256-SHA1", Local: local,
			Remote: g.addr(v6, 1+i%2), Src: g.spec(v6, 0), Dst: g.spec(v6, 1+i%2), Encap: encapTunnel,
			AuthProto: protoESP, AuthAlg: authHMACSHA1, EncryptAlg: encAESCBC, EncryptKeyLen: 256, PFSGroup: 14,
			Lifetime: time.Hour, IKELifetime: 8 * time.Hour}
		r.AnchorFilter = r.Name
		switch i % 17 {
		case 7:
			r.KeyExchangeRule = "" // NOKER
		case 11:
			r.AnchorFilter = r.Name + "-MISSING" // NOFILTER
		case 13:
			r.VpnAction = "" // NODATAOFFER
		}
		s.DynVpnRules = append(s.DynVpnRules, r)
	}

	s.DefaultFilters = g.filters(max(nFilters/100, 2), nil, "PROFILE")
	s.PolicyFilters = g.filters(nFilters, s.DynVpnRules, "GEN")
	g.tunnels(s, nTunnels)
	s.Counters = Counters{P1: IKEStats{LclActSuccess: uint64(nTunnels), RmtActSuccess: uint64(nTunnels / 3)},
		P2: IKEStats{LclActSuccess: uint64(2 * nTunnels), RmtActSuccess: uint64(nTunnels / 2), LclActFailure: uint64(nTunnels / 50)}}
	return s
}

// filters makes n filters: an anchor pair per rule (while they fit), then
// generic rules in pairs, closed by deny-all filters for both families.
func (g *gen) filters(n int, rules []DynVpnRule, prefix string) []Filter {
	out := make([]Filter, 0, n)
	created := g.e.Add(-48 * time.Hour)
	pair := func(f Filter) {
		in := f
		in.Direction = dirInbound
		in.Src, in.Dst, in.SrcPorts, in.DstPorts = f.Dst, f.Src, f.DstPorts, f.SrcPorts
		in.MatchCount = f.MatchCount / 2
		out = append(out, f)
		if len(out) < n {
			out = append(out, in)
		}
	}
	closing := min(n, 4)
	for _, r := range rules {
		if len(out)+2 > n-closing || r.AnchorFilter != r.Name {
			continue
		}
		pair(Filter{Name: r.Name, Group: "VPN", VpnAction: r.VpnAction, IPv6: r.Local.Is6(), OnDemand: true,
			Type: fltDynamicAnchor, State: fltActive, Action: actIPSec, Scope: scopeLocal, Direction: dirOutbound,
			Logging: logAll, Src: r.Src, Dst: r.Dst, ICMPType: 255, ICMPCode: 255, Created: created})
	}
	actions := []uint8{actPermit, actPermit, actPermit, actDeny}
	protos := []uint8{0, 6, 6, 17, 1, 89}
	for i := 1; len(out) < n-closing; i++ {
		v6 := i%4 == 0
		p := protos[g.r.IntN(len(protos))]
		if v6 && p == 1 {
			p = 58
		}
		f := Filter{Name: fmt.Sprintf("%s-RULE-%06d", prefix, i), Group: "GRP" + strconv.Itoa(i%16), IPv6: v6,
			Type: fltGeneric, State: fltActive, Action: actions[g.r.IntN(len(actions))], Scope: scopeLocal,
			Direction: dirOutbound, Protocol: p, Src: g.spec(v6, 0), Dst: g.spec(v6, 1+g.r.IntN(2)),
			ICMPType: 255, ICMPCode: 255, MatchCount: uint64(g.r.IntN(1_000_000)), MatchRate: uint32(g.r.IntN(4)),
			Created: created}
		if p == 6 || p == 17 {
			f.SrcPorts, f.DstPorts = g.ports(), g.ports()
		}
		if f.Action == actDeny {
			f.Logging = logAll
		}
		pair(f)
	}
	for i := 0; len(out) < n; i++ {
		out = append(out, Filter{Name: prefix + "-DENY-ALL" + map[bool]string{true: "6", false: ""}[i >= 2],
			IPv6: i >= 2, Type: fltGeneric, State: fltActive, Action: actDeny, Scope: scopeBoth,
			Direction: []uint8{dirOutbound, dirInbound}[i%2], Logging: logAll, ICMPType: 255, ICMPCode: 255,
			MatchCount: uint64(g.r.IntN(10000)), Created: created})
	}
	return out
}

// tunnels makes n IKE and n dynamic tunnel records, manual tunnels and port
// translations.
func (g *gen) tunnels(s *Stack, n int) {
	if n == 0 {
		return
	}
	e := g.e
	type family struct {
		ike  IKETunnel // its newest generation
		rule int
	}
	k, y := 0, 0
	var families []family
	for len(s.IKETunnels) < n {
		k++
		ri := (k - 1) % len(s.DynVpnRules)
		r := s.DynVpnRules[ri]
		v6 := r.Local.Is6()
		t := IKETunnel{ID: "K" + strconv.Itoa(k), Generation: 1, KeyExchangeRule: r.KeyExchangeRule,
			KeyExchangeAction: r.KeyExchangeAction, Local: r.Local, Remote: g.addr(v6, 1+k%2), CanInitP1: true,
			State: IKEActive, ExchangeMode: modeMain, Role: roleInitiator, AuthMethod: authPSK, EncryptAlg: encAESCBC,
			AuthAlg: authHMACSHA1, DHGroup: 14, EncryptKeyLen: 256, LocalIDType: idFQDN, LocalID: "zos1.example.com",
			RemoteIDType: idFQDN, RemoteID: fmt.Sprintf("peer%d.example.net", k), MajorVer: 1, LocalUDPPort: 500,
			RemoteUDPPort: 500, Lifetime: 8 * time.Hour, AutoRefresh: true, InitCookie: g.r.Uint64(), RespCookie: g.r.Uint64()}
		if t.KeyExchangeRule == "" {
			t.KeyExchangeRule = "KER-GEN-REMOTE"
			t.Role = roleResponder
		}
		age := time.Duration(g.r.IntN(7*3600)) * time.Second
		t.Activated, t.Expires = e.Add(-age), e.Add(-age+t.Lifetime)
		switch g.r.IntN(20) {
		case 0:
			t.State, t.Activated, t.Expires = IKEPending, time.Time{}, time.Time{}
		case 1:
			t.State, t.Activated, t.Expires = IKENegotiating, time.Time{}, time.Time{}
		}
		if g.r.IntN(5) == 0 && t.State == IKEActive && len(s.IKETunnels)+2 <= n {
			t.Generation = 2
			old := t
			old.Generation, old.State = 1, IKEExpired
			// Replaced at 7/8 of its life: it expired when the new generation started.
			old.Activated, old.Expires = t.Activated.Add(-7*time.Hour), t.Activated
			old.InitCookie, old.RespCookie = g.r.Uint64(), g.r.Uint64()
			s.IKETunnels = append(s.IKETunnels, t, old)
		} else {
			s.IKETunnels = append(s.IKETunnels, t)
		}
		families = append(families, family{t, ri})
	}
	for len(s.DynTunnels) < n {
		y++
		f := families[(y-1)%len(families)]
		ike, rule := &f.ike, &s.DynVpnRules[f.rule]
		t := DynTunnel{ID: "Y" + strconv.Itoa(y), Generation: 1, VpnAction: "ESP-AES256-SHA1",
			LocalDynVpnRule: rule.Name, IKETunnelID: ike.ID,
			State: TunActive, Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA1, EncryptAlg: encAESCBC,
			EncryptKeyLen: 256, LocalEndpoint: ike.Local, RemoteEndpoint: ike.Remote, Activation: activUser,
			PFSGroup: 14, Src: rule.Src, Dst: rule.Dst, Lifetime: time.Hour, AutoRefresh: true,
			EncryptInSPI: g.r.Uint32(), EncryptOutSPI: g.r.Uint32(), LocallyInitiated: ike.Role == roleInitiator,
			Traffic: Traffic{OutRate: uint32(g.r.IntN(200)), InRate: uint32(g.r.IntN(200)), PacketSize: 600}}
		if ike.State != IKEActive {
			t.State = TunPending
		} else {
			age := time.Duration(g.r.IntN(3000)) * time.Second
			t.Activated, t.Expires = e.Add(-age), e.Add(-age+t.Lifetime)
			t.Traffic = t.Traffic.at(t.Activated, e)
			if g.r.IntN(25) == 0 {
				t.State, t.AutoRefresh = TunExpired, false
				t.Activated, t.Expires = e.Add(-2*time.Hour), e.Add(-time.Hour)
			}
		}
		if g.r.IntN(5) == 0 && t.State == TunActive && len(s.DynTunnels)+2 <= n {
			old := t
			t.Generation = 2
			old.State = TunExpired
			old.Activated, old.Expires = t.Activated.Add(-54*time.Minute), t.Activated
			old.EncryptInSPI, old.EncryptOutSPI = g.r.Uint32(), g.r.Uint32()
			s.DynTunnels = append(s.DynTunnels, t, old)
		} else {
			s.DynTunnels = append(s.DynTunnels, t)
		}
	}
	for i := 0; i < max(n/100, 1); i++ {
		st := TunActive
		if i%2 == 1 {
			st = TunInactive
		}
		m := ManualTunnel{ID: fmt.Sprintf("M%d", i+1), VpnAction: fmt.Sprintf("MANUAL-%04d", i+1), State: st,
			Encap: encapTunnel, AuthProto: protoESP, AuthAlg: authHMACSHA1, EncryptAlg: encAESCBC, EncryptKeyLen: 128,
			Local: g.v4(0), Remote: g.v4(1), EncryptInSPI: 0x10000 + uint32(i), EncryptOutSPI: 0x20000 + uint32(i),
			Traffic: Traffic{OutRate: 50, InRate: 50, PacketSize: 1000}}
		if st == TunActive {
			m.Activated = e.Add(-24 * time.Hour)
		}
		s.ManualTunnels = append(s.ManualTunnels, m)
	}
	for i := 0; i < n/50; i++ {
		s.PortTranslations = append(s.PortTranslations, PortTranslation{TunnelID: s.DynTunnels[i%len(s.DynTunnels)].ID,
			Protocol: []uint8{6, 17}[i%2], RemoteEndpoint: g.v4(2), RemoteUDPPort: 4500,
			RemoteOrigPort: uint16(1024 + g.r.IntN(60000)), TranslatedPort: uint16(4096 + i), LocalPort: 443,
			RemoteOrigAddr: g.v4(2)})
	}
}
