package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/flagenv"
	"github.com/nmigw/nmigw/internal/metrics"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport"
	"gopkg.in/yaml.v3"
)

// config is the gateway's configuration. Each field is a flag; each flag
// can also come from the environment (NMIGW_<NAME>, e.g. NMIGW_LISTEN,
// NMIGW_POOL_SIZE) or from the YAML file named by --config (keys are the
// flag names). A flag on the command line beats the environment, which
// beats the file, which beats the default.
type config struct {
	Listen         string
	NMI            string
	NMISocket      string
	NMICapture     string
	SSHKey         string
	SSHKeyPass     string
	SSHKnownHosts  string
	NMITLSCA       string
	NMITLSCert     string
	NMITLSKey      string
	Sim            bool
	Policy         string
	InsecureNoAuth bool
	Config         string
	PoolSize       int
	TLSCert        string
	TLSKey         string
	TLSClientCA    string
	CORSOrigins    []string
	LogLevel       string
	AuditLog       string
	Exporter       bool
	RequestTimeout time.Duration
	// EventStreamLifetime ends event streams after this long.
	EventStreamLifetime time.Duration
	// Overload and hang limits.
	MaxConcurrent   int
	QueueWait       time.Duration
	ExchangeTimeout time.Duration

	ExporterTunnels   []string
	ExporterTopN      int
	ExporterMaxSeries int
	ExporterTimeout   time.Duration
	ExporterMaxAge    time.Duration
	ExporterFilterInt time.Duration

	Coalesce     bool
	MaxStaleness time.Duration

	// Systems is the config file's systems: (systems.go); empty: the one
	// endpoint of --nmi.
	Systems []systemConfig
	// given are the flags set on the command line, in the environment or
	// in the file.
	given map[string]bool
}

// listFlag is a comma-separated list.
type listFlag struct{ p *[]string }

func (l listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listFlag) Set(s string) error {
	*l.p = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.p = append(*l.p, v)
		}
	}
	return nil
}

func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Listen, "listen", ":8080", "address to serve HTTP on")
	fs.StringVar(&c.NMI, "nmi", "", "the IKE daemon's NMI endpoint: unix:///PATH, ssh://USER@HOST[:PORT]/PATH or tls://HOST:PORT (default: unix:// of --nmi-socket)")
	fs.StringVar(&c.NMISocket, "nmi-socket", "/var/sock/ipsecmgmt", "the IKE daemon's NMI socket; a synonym of --nmi unix://PATH (--nmi wins)")
	fs.StringVar(&c.NMICapture, "nmi-capture", "", "record every NMI exchange in this capture file (docs/capture.md); it holds addresses and names")
	transportFlags(fs, c)
	fs.BoolVar(&c.Sim, "sim", false, "start an in-process simulator with the demo data set on a private socket (ignores --nmi and --nmi-socket)")
	fs.StringVar(&c.Policy, "policy", "", "policy file (authentication and SAF authorization); re-read on SIGHUP. Required unless -sim (demo policy) or --insecure-no-auth")
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", false, "serve without --policy: no authentication and no authorization, every caller may display and control every stack (tests and closed labs only)")
	fs.StringVar(&c.Config, "config", "", "YAML file of flag values (keys are flag names), and of systems: (the systems the gateway reaches)")
	fs.IntVar(&c.PoolSize, "pool-size", 4, "NMI connections at most (1-50), per system (systems: may set pool: per system)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "CA bundle (PEM) that verifies client certificates (mutual TLS)")
	fs.Var(listFlag{&c.CORSOrigins}, "cors-origins", "comma-separated origins allowed to call the API from a browser (* for any); empty: CORS off")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.AuditLog, "audit-log", "-", "audit sink of control requests: a file (reopened on SIGHUP, for log rotation), or - for standard output")
	fs.BoolVar(&c.Exporter, "exporter", true, "export IPsec metrics on /metrics")
	fs.Var(listFlag{&c.ExporterTunnels}, "exporter-tunnels", "comma-separated tunnel IDs (Y12, K3, M1) or names (rule or action names) that get per-tunnel IPsec series")
	fs.IntVar(&c.ExporterTopN, "exporter-top-n", 0, "also give per-tunnel series to the N tunnels that carried the most bytes")
	fs.IntVar(&c.ExporterMaxSeries, "exporter-max-series", metrics.DefaultMaxTunnelSeries, "hard cap on per-tunnel series")
	fs.DurationVar(&c.ExporterTimeout, "exporter-timeout", metrics.DefaultScrapeTimeout, "longest NMI round of one scrape (keep it under Prometheus's scrape_timeout)")
	fs.DurationVar(&c.ExporterMaxAge, "exporter-max-age", 0, "let scrapes reuse an NMI round younger than this (0: only concurrent scrapes share one)")
	fs.DurationVar(&c.ExporterFilterInt, "exporter-filter-interval", metrics.DefaultFilterInterval, "count a stack's filter rules again after this long, if its filter set has not changed before (counting reads every rule)")
	fs.BoolVar(&c.Coalesce, "coalesce", true, "let concurrent reads that ask IKED the same question share one NMI exchange")
	fs.DurationVar(&c.MaxStaleness, "max-staleness", 0, "let reads reuse an NMI answer younger than this, with an Age header (0: never; Cache-Control: no-cache asks afresh)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second, "longest NMI work of one request")
	fs.DurationVar(&c.EventStreamLifetime, "event-stream-lifetime", time.Hour, "longest life of one event stream; the client then reconnects with Last-Event-ID and is authorized afresh")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent-requests", 0, "API requests served at once (event streams apart); past it 503 with Retry-After. 0: 16 per NMI connection (--pool-size, or the pools of every system of systems:)")
	fs.DurationVar(&c.QueueWait, "queue-wait", 2*time.Second, "how long a request past --max-concurrent-requests waits for a turn before its 503 (0: refused at once)")
	fs.DurationVar(&c.ExchangeTimeout, "nmi-exchange-timeout", nmi.DefaultExchangeTimeout, "longest IKED may stay silent in an NMI exchange: before its answer starts, and between parts of an answer that streams; then the exchange is abandoned and its connection closed, so a hung request type does not hold every connection (the request's deadline bounds the whole answer)")
	return fs
}

// parseConfig reads args, then fills every flag not given on the command
// line from the environment, then from the config file.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set, err := flagenv.Apply(fs, "NMIGW_", getenv)
	if err != nil {
		return nil, err
	}
	c.given = maps.Clone(set)
	if c.Config != "" {
		file, systems, err := readConfigFile(c.Config, fs)
		if err != nil {
			return nil, err
		}
		for _, kv := range file {
			c.given[kv.key] = true
			if set[kv.key] {
				continue
			}
			if err := fs.Set(kv.key, kv.value); err != nil {
				return nil, fmt.Errorf("%s: line %d: %s: %w", c.Config, kv.line, kv.key, err)
			}
		}
		if systems != nil {
			if c.Systems, err = parseSystems(c.Config, systems); err != nil {
				return nil, err
			}
		}
	}
	return c, c.check()
}

type fileValue struct {
	key, value string
	line       int
}

// readConfigFile reads a YAML mapping of flag names to scalars (or, for
// list flags such as cors-origins, a list), and the key systems: (a list
// of mappings, returned as it is for parseSystems). Unknown keys are
// errors naming line and key.
func readConfigFile(path string, fs *flag.FlagSet) ([]fileValue, *yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: line %d: want a mapping of flag names to values", path, m.Line)
	}
	var out []fileValue
	var systems *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := k.Value
		if key != "systems" && (key == "config" || fs.Lookup(key) == nil) {
			return nil, nil, fmt.Errorf("%s: line %d: unknown key %q", path, k.Line, key)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("%s: line %d: key %q given twice", path, k.Line, key)
		}
		seen[key] = true
		if key == "systems" {
			systems = v
			continue
		}
		var val string
		switch v.Kind {
		case yaml.ScalarNode:
			val = v.Value
		case yaml.SequenceNode:
			if _, ok := fs.Lookup(key).Value.(listFlag); !ok {
				return nil, nil, fmt.Errorf("%s: line %d: %s: want a single value", path, v.Line, key)
			}
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, nil, fmt.Errorf("%s: line %d: %s: want a list of strings", path, it.Line, key)
				}
				items = append(items, it.Value)
			}
			val = strings.Join(items, ",")
		default:
			return nil, nil, fmt.Errorf("%s: line %d: %s: want a value", path, v.Line, key)
		}
		out = append(out, fileValue{key: key, value: val, line: k.Line})
	}
	return out, systems, nil
}

func (c *config) check() error {
	if c.PoolSize < 1 || c.PoolSize > 50 {
		return fmt.Errorf("pool-size: %d is not 1-50", c.PoolSize)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key: give both or neither")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return errors.New("tls-client-ca: needs tls-cert and tls-key")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("request-timeout: %s is not positive", c.RequestTimeout)
	}
	if c.EventStreamLifetime <= 0 {
		return fmt.Errorf("event-stream-lifetime: %s is not positive", c.EventStreamLifetime)
	}
	if c.MaxConcurrent < 0 {
		return fmt.Errorf("max-concurrent-requests: %d is negative", c.MaxConcurrent)
	}
	if err := c.checkSystems(); err != nil {
		return err
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = requestsPerConnection * c.PoolSize
		if len(c.Systems) > 0 {
			c.MaxConcurrent = requestsPerConnection * totalPool(c.Systems)
		}
	}
	if c.QueueWait < 0 {
		return fmt.Errorf("queue-wait: %s is negative", c.QueueWait)
	}
	if c.ExchangeTimeout <= 0 {
		return fmt.Errorf("nmi-exchange-timeout: %s is not positive", c.ExchangeTimeout)
	}
	if c.ExporterTopN < 0 {
		return fmt.Errorf("exporter-top-n: %d is negative", c.ExporterTopN)
	}
	if c.ExporterMaxSeries < 1 {
		return fmt.Errorf("exporter-max-series: %d is not 1 or more", c.ExporterMaxSeries)
	}
	if c.ExporterTimeout <= 0 {
		return fmt.Errorf("exporter-timeout: %s is not positive", c.ExporterTimeout)
	}
	if c.ExporterFilterInt <= 0 {
		return fmt.Errorf("exporter-filter-interval: %s is not positive", c.ExporterFilterInt)
	}
	if c.MaxStaleness < 0 {
		return fmt.Errorf("max-staleness: %s is negative", c.MaxStaleness)
	}
	if c.ExporterMaxAge < 0 {
		return fmt.Errorf("exporter-max-age: %s is negative", c.ExporterMaxAge)
	}
	if len(c.Systems) > 0 {
		return nil
	}
	if !c.Sim && c.NMI == "" && c.NMISocket == "" {
		return errors.New("nmi-socket: empty")
	}
	if !c.Sim {
		if _, err := transport.Parse(c.endpoint()); err != nil {
			return err
		}
	}
	return nil
}

// requestsPerConnection sizes the default concurrency limit from the pool:
// requests beyond the NMI connections wait in the pool (up to its
// MaxWait), a few per connection keep them busy, and more only hold
// memory.
const requestsPerConnection = 16

var levels = map[string]int{"debug": -4, "info": 0, "warn": 4, "error": 8}

func parseLevel(s string) (int, error) {
	l, ok := levels[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}
