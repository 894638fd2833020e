package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/metrics"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(file, []byte("listen: \":9000\"\npool-size: 7\nlog-level: debug\ncors-origins: [https://a.example, https://b.example]\nrequest-timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NMIGW_CONFIG": file, "NMIGW_POOL_SIZE": "9", "NMIGW_NMI_SOCKET": "/env/sock"}
	c, err := parseConfig([]string{"--log-level", "warn"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" { // file
		t.Errorf("listen %q", c.Listen)
	}
	if c.PoolSize != 9 { // environment beats file
		t.Errorf("pool-size %d", c.PoolSize)
	}
	if c.LogLevel != "warn" { // flag beats file
		t.Errorf("log-level %q", c.LogLevel)
	}
	if c.NMISocket != "/env/sock" || c.RequestTimeout != 5*time.Second {
		t.Errorf("nmi-socket %q, request-timeout %s", c.NMISocket, c.RequestTimeout)
	}
	if !slices.Equal(c.CORSOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("cors-origins %v", c.CORSOrigins)
	}

	c, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Listen != ":8080" || c.NMISocket != "/var/sock/ipsecmgmt" || c.PoolSize != 4 || c.Sim || len(c.CORSOrigins) != 0 {
		t.Errorf("defaults %+v, %v", c, err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--pool-size", "51"}, nil, "pool-size"},
		{nil, map[string]string{"NMIGW_POOL_SIZE": "many"}, "NMIGW_POOL_SIZE"},
		{[]string{"--log-level", "loud"}, nil, "log-level"},
		{[]string{"--tls-cert", "c.pem"}, nil, "tls-key"},
		{[]string{"--config", write("bad1.yaml", "listen: :1\nbogus: 1\n")}, nil, `line 2: unknown key "bogus"`},
		{[]string{"--config", write("bad2.yaml", "pool-size: [1, 2]\n")}, nil, "pool-size"},
		{[]string{"--config", write("bad3.yaml", "request-timeout: soon\n")}, nil, "line 1: request-timeout"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, nil, "config file"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{[]string{"--max-concurrent-requests", "-1"}, nil, "max-concurrent-requests"},
		{[]string{"--queue-wait", "-1s"}, nil, "queue-wait"},
		{[]string{"--nmi-exchange-timeout", "0s"}, nil, "nmi-exchange-timeout"},
	}
	for _, c := range cases {
		_, err := parseConfig(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want it to name %q", c.args, c.env, err, c.want)
		}
	}
}

// TestRunFailsToStart checks that run refuses bad settings instead of
// serving.
func TestRunFailsToStart(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{
		{"gateway", "--insecure-no-auth", "--listen", "127.0.0.1:-1"},
		{"gateway", "--policy", filepath.Join(t.TempDir(), "none.yaml")},
		{"gateway", "--insecure-no-auth", "--tls-cert", "x", "--tls-key", "y", "--tls-client-ca", filepath.Join(t.TempDir(), "none.pem")},
	} {
		if err := run(t.Context(), args, env, io.Discard); err == nil {
			t.Errorf("%v: started", args)
		}
	}
}

// Anonymous access is off unless configured: without --policy the gateway
// starts only with -sim (its demo policy) or --insecure-no-auth.
func TestRunNeedsPolicy(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("system: SYS1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "--policy FILE is required"},
		{[]string{"--nmi-socket", "/x"}, map[string]string{"NMIGW_INSECURE_NO_AUTH": "false"}, "--policy FILE is required"},
		{[]string{"--policy", pol, "--insecure-no-auth"}, nil, "--policy and --insecure-no-auth"},
		{[]string{"--policy", pol}, map[string]string{"NMIGW_INSECURE_NO_AUTH": "true"}, "--policy and --insecure-no-auth"},
	} {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"gateway", "--listen", "127.0.0.1:0"}, c.args...),
			func(k string) string { return c.env[k] }, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(out.String(), "listening") {
			t.Errorf("%v %v: error %v, want %q; output:\n%s", c.args, c.env, err, c.want, out.String())
		}
	}
	if err := run(t.Context(), []string{"gateway", "--listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "-sim") || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Errorf("the error does not name the ways to start without a policy: %v", err)
	}
}

func TestConfigExporter(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || !c.Exporter || c.ExporterTopN != 0 || c.ExporterMaxSeries != metrics.DefaultMaxTunnelSeries ||
		c.ExporterTimeout != metrics.DefaultScrapeTimeout || c.ExporterMaxAge != 0 || len(c.ExporterTunnels) != 0 {
		t.Fatalf("exporter defaults %+v, %v", c, err)
	}

	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte("exporter-tunnels: [Y2, BRANCH1-DB-VPN]\nexporter-top-n: 5\nexporter-timeout: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NMIGW_EXPORTER": "false", "NMIGW_EXPORTER_MAX_SERIES": "50", "NMIGW_EXPORTER_TOP_N": "7"}
	c, err = parseConfig([]string{"--config", file, "--exporter-max-age", "10s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Exporter || c.ExporterTopN != 7 || c.ExporterMaxSeries != 50 || c.ExporterTimeout != 3*time.Second ||
		c.ExporterMaxAge != 10*time.Second || !slices.Equal(c.ExporterTunnels, []string{"Y2", "BRANCH1-DB-VPN"}) {
		t.Errorf("exporter settings %+v", c)
	}

	for _, args := range [][]string{
		{"--exporter-top-n", "-1"},
		{"--exporter-max-series", "0"},
		{"--exporter-timeout", "0s"},
		{"--exporter-max-age", "-1s"},
	} {
		_, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if name := strings.TrimPrefix(args[0], "--"); err == nil || !strings.HasPrefix(err.Error(), name) {
			t.Errorf("%v: error %v, want it to name %s", args, err, name)
		}
	}
}

// TestConcurrencyDefault: the concurrency limit defaults from the pool
// size; a given one stays.
func TestConcurrencyDefault(t *testing.T) {
	env := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 4 * requestsPerConnection},
		{[]string{"--pool-size", "10"}, 10 * requestsPerConnection},
		{[]string{"--pool-size", "10", "--max-concurrent-requests", "7"}, 7},
	} {
		cfg, err := parseConfig(append([]string{"--insecure-no-auth"}, c.args...), env, io.Discard)
		if err != nil || cfg.MaxConcurrent != c.want {
			t.Errorf("%v: %v, limit %d, want %d", c.args, err, cfg.MaxConcurrent, c.want)
		}
	}
}
