package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"gopkg.in/yaml.v3"
)

// prometheusPath is the Prometheus server the scrape test runs (Debian's
// prometheus package; .ci/run installs it).
const prometheusPath = "/usr/bin/prometheus"

// promServer is a Prometheus server run for a test, and its HTTP API.
type promServer struct {
	t    *testing.T
	base string
	out  *syncBuffer
}

// startPrometheus runs Prometheus with the configuration cfg (rule files
// relative to dir) on a loopback port; it is killed when the test ends.
func startPrometheus(t *testing.T, dir, cfg string) *promServer {
	t.Helper()
	if _, err := os.Stat(prometheusPath); err != nil {
		t.Fatalf("the scrape test runs Prometheus at %s, which is missing (%v): "+
			"install it with `apt-get install -y prometheus` (.ci/run does so)", prometheusPath, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// A free port: Prometheus does not say which port it took for :0.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := &syncBuffer{}
	cmd := exec.Command(prometheusPath, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := &promServer{t: t, base: "http://" + addr, out: out}
	p.wait("Prometheus ready", func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// wait polls ok until it holds; after 60 s the test fails with
// Prometheus's output.
func (p *promServer) wait(what string, ok func() bool) {
	p.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s; Prometheus said:\n%s", what, p.out.String())
		}
	}
}

// api GETs path of Prometheus's HTTP API and decodes its data into v.
func (p *promServer) api(path string, v any) {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		p.t.Fatalf("GET %s: %s %s %v", path, resp.Status, b, err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		p.t.Fatal(err)
	}
}

// query runs an instant PromQL query and returns the label sets of its
// result.
func (p *promServer) query(q string) []map[string]string {
	p.t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	p.api("/api/v1/query?query="+url.QueryEscape(q), &data)
	out := make([]map[string]string, len(data.Result))
	for i, r := range data.Result {
		out[i] = r.Metric
	}
	return out
}

// labelValues are the distinct values of label in a query's result.
func labelValues(res []map[string]string, label string) []string {
	var out []string
	for _, m := range res {
		if !slices.Contains(out, m[label]) {
			out = append(out, m[label])
		}
	}
	sort.Strings(out)
	return out
}

// A real Prometheus scrapes the gateway as the documentation says: with a
// bearer token (authorization.credentials_file), it gets the IPsec series
// of the stacks the token's user may display and no other; a scrape
// without credentials gets the gateway's own metrics and no IPsec series;
// the shipped alert rules load; and NmigwIKEDUnreachable fires when IKED
// (the simulator) stops. The rules are a copy of
// deploy/prometheus/rules.yaml whose "for:" durations are cut to 1s, so
// that the alert fires within the test's bounds.
func TestWholeProgramPrometheusScrape(t *testing.T) {
	dir := t.TempDir()
	sock, stopSim := simServer(t, ikedsim.Demo())
	const token = "prometheus-scrape-token-3f9c1a"
	pol := filepath.Join(dir, "policy.yaml")
	// PROMSCR may display TCPIP only; the anonymous user may display
	// every stack, which must not open the IPsec series to a scrape
	// without credentials.
	policyYAML := "system: SYS1\nanonymous: ANONYM\nprofiles:\n" +
		"  - {name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY, uacc: NONE, access: [{id: PROMSCR, level: READ}, {id: ANONYM, level: READ}]}\n" +
		"  - {name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: ANONYM, level: READ}]}\n" +
		"identities:\n  tokens: [{sha256: \"" + sha256Hex(token) + "\", user: PROMSCR}]\n"
	if err := os.WriteFile(pol, []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startRun(t, "--nmi-socket", sock, "--policy", pol, "--exporter-top-n", "100", "--exporter-timeout", "800ms")
	target := strings.TrimPrefix(g.base, "http://")

	rules, err := os.ReadFile("../../deploy/prometheus/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shortRules := regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(rules, []byte("$1 1s"))
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), shortRules, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startPrometheus(t, dir, fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [%s]
scrape_configs:
  - job_name: nmigw
    authorization: {type: Bearer, credentials_file: %s}
    static_configs: [{targets: ["%s"]}]
  - job_name: nmigw-anonymous
    static_configs: [{targets: ["%s"]}]
`, filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "token"), target, target))

	p.wait("both jobs scraped, with IPsec series", func() bool {
		return len(p.query(`up == 1`)) == 2 && len(p.query(`nmigw_ipsec_up{job="nmigw"} == 1`)) == 1
	})
	// The token's user sees TCPIP, stack and tunnel series, and only it.
	if got := labelValues(p.query(`nmigw_ipsec_filters{job="nmigw"}`), "stack"); !slices.Equal(got, []string{"TCPIP"}) {
		t.Errorf("stacks the scraper with the token sees: %v, want [TCPIP]", got)
	}
	if got := labelValues(p.query(`{__name__=~"nmigw_ipsec_.+", job="nmigw", stack!=""}`), "stack"); !slices.Equal(got, []string{"TCPIP"}) {
		t.Errorf("stacks of every IPsec series: %v, want [TCPIP]", got)
	}
	if got := labelValues(p.query(`nmigw_ipsec_tunnel_state{job="nmigw"}`), "stack"); !slices.Equal(got, []string{"TCPIP"}) {
		t.Errorf("stacks of the per-tunnel series: %v, want [TCPIP]", got)
	}
	// Without credentials: the gateway's own metrics, no IPsec series.
	if got := p.query(`{__name__=~"nmigw_ipsec_.+", job="nmigw-anonymous"}`); len(got) != 0 {
		t.Errorf("a scrape without credentials got %d IPsec series, e.g. %v", len(got), got[0])
	}
	if got := p.query(`nmigw_build_info{job="nmigw-anonymous"}`); len(got) != 1 {
		t.Errorf("a scrape without credentials lacks the gateway's own metrics: %v", got)
	}

	// Every alert of the shipped rule file loaded, and is healthy.
	var want struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &want); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, grp := range want.Groups {
		for _, r := range grp.Rules {
			alerts = append(alerts, r.Alert)
		}
	}
	var loaded struct {
		Groups []struct {
			Rules []struct {
				Name   string `json:"name"`
				Health string `json:"health"`
			} `json:"rules"`
		} `json:"groups"`
	}
	p.wait("the rules evaluated", func() bool {
		p.api("/api/v1/rules?type=alert", &loaded)
		n := 0
		for _, grp := range loaded.Groups {
			for _, r := range grp.Rules {
				if r.Health == "ok" {
					n++
				}
			}
		}
		return n == len(alerts)
	})
	var names []string
	for _, grp := range loaded.Groups {
		for _, r := range grp.Rules {
			names = append(names, r.Name)
		}
	}
	sort.Strings(names)
	sort.Strings(alerts)
	if !slices.Equal(names, alerts) {
		t.Errorf("alerts loaded %v, want those of rules.yaml %v", names, alerts)
	}
	if got := firing(p, "NmigwIKEDUnreachable"); got {
		t.Fatal("NmigwIKEDUnreachable fires while IKED answers")
	}

	stopSim()
	p.wait("NmigwIKEDUnreachable firing", func() bool { return firing(p, "NmigwIKEDUnreachable") })
}

// firing reports whether Prometheus has the alert firing.
func firing(p *promServer, alert string) bool {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.api("/api/v1/alerts", &data)
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == alert && a.State == "firing" {
			return true
		}
	}
	return false
}

// sha256Hex is the hex SHA-256 of a token, as the policy holds it.
func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
