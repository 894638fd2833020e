package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/coalesce"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/metrics"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/policy"
	"github.com/nmigw/nmigw/internal/transport"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// The systems the gateway reaches. The config file's key systems: lists
// them (it has no flag and no environment variable: a list of mappings
// does not fit in one); without it the gateway reaches one IKED, the
// endpoint of --nmi (or --nmi-socket, or the simulator of -sim), named by
// the policy's system (SYS1 without a policy).
//
//	systems:
//	  - {name: SYSA, nmi: "unix:///var/sock/ipsecmgmt", default: true}
//	  - {name: SYSB, nmi: "ssh://nmigw@sysb.example.com/var/sock/ipsecmgmt", pool: 2}
//	  - {name: NSSSYS, kind: nss, nmi: "tls://nss.example.com:4159"}

// maxPool is the most NMI connections one system's pool may hold: IKED
// (and the NSS server) serve at most 50 NMI clients, and every replica of
// the gateway, and every other tool using the NMI, counts against them.
const maxPool = 50

// systemConfig is one entry of systems:.
type systemConfig struct {
	Name    string
	Kind    fleet.Kind
	NMI     string
	Pool    int // 0: --pool-size
	Default bool
	// Capture records the system's NMI exchanges (as --nmi-capture).
	Capture string
	// SAFSystem names the system in SAF resources; "" for the single
	// endpoint of --nmi: the policy's own system, even after a reload
	// changes it (fleet.Endpoint.PolicySystem).
	SAFSystem string

	line int // in the config file, for messages
}

// systemKeys are the keys of one entry of systems:.
var systemKeys = []string{"name", "kind", "nmi", "pool", "default", "capture"}

// parseSystems reads the value of systems: in file path: a list of
// mappings with the keys of systemKeys. Each error names the file, the
// line and the key (systems[i].key).
func parseSystems(path string, v *yaml.Node) ([]systemConfig, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: line %d: systems: want a list of systems (name, kind, nmi, pool, default, capture)", path, v.Line)
	}
	if len(v.Content) == 0 {
		return nil, fmt.Errorf("%s: line %d: systems: empty (leave the key out to use --nmi)", path, v.Line)
	}
	out := make([]systemConfig, 0, len(v.Content))
	for i, it := range v.Content {
		at := func(line int, key, format string, a ...any) error {
			return fmt.Errorf("%s: line %d: systems[%d]%s: %s", path, line, i, key, fmt.Sprintf(format, a...))
		}
		if it.Kind != yaml.MappingNode {
			return nil, at(it.Line, "", "want a mapping (name, kind, nmi, pool, default, capture)")
		}
		s := systemConfig{line: it.Line, Kind: fleet.IKED}
		seen := map[string]bool{}
		for j := 0; j+1 < len(it.Content); j += 2 {
			k, val := it.Content[j], it.Content[j+1]
			key := "." + k.Value
			switch {
			case !slices.Contains(systemKeys, k.Value):
				return nil, at(k.Line, key, "unknown key (want %s)", strings.Join(systemKeys, ", "))
			case seen[k.Value]:
				return nil, at(k.Line, key, "given twice")
			case val.Kind != yaml.ScalarNode:
				return nil, at(val.Line, key, "want a single value")
			}
			seen[k.Value] = true
			var err error
			switch k.Value {
			case "name":
				s.Name = val.Value
			case "kind":
				if s.Kind, err = fleet.ParseKind(val.Value); err != nil {
					err = fmt.Errorf("%q is neither iked nor nss", val.Value)
				}
			case "nmi":
				s.NMI = val.Value
			case "pool":
				err = val.Decode(&s.Pool)
				if err == nil && (s.Pool < 1 || s.Pool > maxPool) {
					err = fmt.Errorf("%d is not 1-%d: IKED serves at most %d NMI clients, and every replica's pool and every other NMI tool count against them", s.Pool, maxPool, maxPool)
				}
			case "default":
				err = val.Decode(&s.Default)
			case "capture":
				s.Capture = val.Value
			}
			if err != nil {
				var te *yaml.TypeError
				if errors.As(err, &te) {
					err = fmt.Errorf("%q is not a %s", val.Value, map[string]string{"pool": "number", "default": "boolean (true or false)"}[k.Value])
				}
				return nil, at(val.Line, key, "%v", err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// checkSystems validates c.Systems and fills in their defaults: names
// valid and unique, an endpoint URL each, one default at most, captures
// apart. It refuses systems: beside --sim, --nmi, --nmi-socket or
// --nmi-capture, which say what systems: says.
func (c *config) checkSystems() error {
	if len(c.Systems) == 0 {
		return nil
	}
	file := c.Config
	at := func(i int, key, format string, a ...any) error {
		return fmt.Errorf("%s: line %d: systems[%d].%s: %s", file, c.Systems[i].line, i, key, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Sim:
		return errors.New("systems: and -sim: the simulator is one system of its own; give one or the other")
	case c.given["nmi"] || c.given["nmi-socket"]:
		return errors.New("systems: and --nmi (or --nmi-socket): systems: names every endpoint; give one or the other")
	case c.NMICapture != "":
		return errors.New("systems: and --nmi-capture: give each system a capture: of its own instead")
	}
	names := map[string]int{}
	captures := map[string]int{}
	def := -1
	for i := range c.Systems {
		s := &c.Systems[i]
		if s.Name == "" {
			return at(i, "name", "missing")
		}
		name, err := authz.NormalizeSystem(s.Name)
		if err != nil {
			return at(i, "name", "%v", err)
		}
		if j, ok := names[name]; ok {
			return at(i, "name", "%s is listed twice (systems[%d])", name, j)
		}
		names[name] = i
		s.Name, s.SAFSystem = name, name
		if s.NMI == "" {
			return at(i, "nmi", "missing (the endpoint: unix:///PATH, ssh://USER@HOST[:PORT]/PATH or tls://HOST:PORT)")
		}
		if _, err := transport.Parse(s.NMI); err != nil {
			return at(i, "nmi", "%v", err)
		}
		if s.Pool == 0 {
			s.Pool = c.PoolSize
		}
		if s.Default {
			if def >= 0 {
				return at(i, "default", "%s is the default already", c.Systems[def].Name)
			}
			def = i
		}
		if s.Capture != "" {
			if j, ok := captures[s.Capture]; ok {
				return at(i, "capture", "%s is the capture of systems[%d] already", s.Capture, j)
			}
			captures[s.Capture] = i
		}
	}
	return nil
}

// systems are the systems the gateway reaches: those of systems:, or the
// one endpoint of --nmi named system (the policy's), with the SAF system
// of the policy. simSocket, if not empty, is the -sim simulator's socket.
func (c *config) systems(system, simSocket string) []systemConfig {
	if len(c.Systems) > 0 {
		return c.Systems
	}
	url := c.endpoint()
	if simSocket != "" {
		url = "unix://" + simSocket
	}
	return []systemConfig{{Name: system, Kind: fleet.IKED, NMI: url, Pool: c.PoolSize, Default: true, Capture: c.NMICapture}}
}

// defaultSystem is the name of the system marked default, else the
// first.
func defaultSystem(systems []systemConfig) string {
	for _, s := range systems {
		if s.Default {
			return s.Name
		}
	}
	return systems[0].Name
}

// totalPool is the NMI connections of every system's pool.
func totalPool(systems []systemConfig) int {
	n := 0
	for _, s := range systems {
		n += s.Pool
	}
	return n
}

// policySystem is the SAF system of the policy in store, SYS1 without
// one: the name of the single system of --nmi.
func policySystem(store *policy.Store) string {
	if store != nil {
		if p := store.Current(); p != nil && p.Authz.System != "" {
			return p.Authz.System
		}
	}
	return "SYS1"
}

// system is one system's NMI: its transport (with a capture tee when
// configured), its pool, and the Reader every reader of it shares.
type system struct {
	name   string
	ep     *nmiEndpoint
	pool   *nmi.Pool
	reader *coalesce.Reader
}

// systemSet is every system the gateway reaches, and their fleet.
type systemSet struct {
	fleet  *fleet.Fleet
	list   []*system
	byName map[string]*system
}

// openSystems opens each system: its transport, its pool (of its pool
// size, with an outage log naming the system and the shared NMI
// metrics), its pool's collector (series labelled with the system) and
// its Reader; then their fleet. Close the set even when it fails: it
// closes what was opened.
func openSystems(cfg *config, systems []systemConfig, log *slog.Logger, observer *metrics.NMIObserver, reg prometheus.Registerer) (*systemSet, error) {
	set := &systemSet{byName: map[string]*system{}}
	eps := make([]fleet.Endpoint, 0, len(systems))
	for i, sc := range systems {
		ep, err := openNMI(sc.NMI, cfg.transportOptions(), sc.Capture, "gateway")
		if err != nil {
			if len(cfg.Systems) > 0 {
				return set, fmt.Errorf("systems[%d] (%s): %w", i, sc.Name, err)
			}
			return set, err
		}
		sys := &system{name: sc.Name, ep: ep}
		set.list = append(set.list, sys)
		set.byName[sc.Name] = sys
		sys.pool = nmi.NewPool(nmi.PoolConfig{
			Dial: ep.dial, Addr: ep.tr.Addr(),
			Size: sc.Pool, MaxWait: poolMaxWait, ExchangeTimeout: cfg.ExchangeTimeout,
			// Outages are logged once, with summaries, not once per request.
			Observer: httpapi.NewNMIOutageLog(log.With(slog.String("system", sc.Name)), ep.tr.Addr(), observer.System(sc.Name)),
		})
		if err := reg.Register(metrics.NewPoolCollector(sys.pool, sc.Name)); err != nil {
			return set, err
		}
		sys.reader = coalesce.New(sys.pool, coalesce.Config{Off: !cfg.Coalesce, MaxStaleness: cfg.MaxStaleness})
		eps = append(eps, fleet.Endpoint{Name: sc.Name, Kind: sc.Kind, NMI: sys.reader, Addr: ep.tr.Addr(), SAFSystem: sc.SAFSystem, PolicySystem: sc.SAFSystem == ""})
	}
	f, err := fleet.New(eps, defaultSystem(systems), fleet.Options{})
	if err != nil {
		return set, err
	}
	set.fleet = f
	return set, nil
}

// addrs are the systems' endpoints for people: the address alone for the
// single system of --nmi, else each with its system's name.
func (s *systemSet) addrs() []string {
	var out []string
	for _, sys := range s.list {
		if len(s.list) == 1 {
			out = append(out, sys.ep.tr.Addr())
		} else {
			out = append(out, sys.name+": "+sys.ep.tr.Addr())
		}
	}
	return out
}

// Close closes every pool, then every transport and capture.
func (s *systemSet) Close() {
	for _, sys := range s.list {
		if sys.pool != nil {
			sys.pool.Close()
		}
	}
	for _, sys := range s.list {
		sys.ep.Close()
	}
}
