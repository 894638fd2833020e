package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// The files of deploy/ checked here, relative to this package.
const (
	rulesFile     = "../deploy/prometheus/rules.yaml"
	dashboardFile = "../deploy/grafana/nmigw.json"
)

// Labels Prometheus adds to every scraped series, and the bucket label.
var targetLabels = []string{"job", "instance", "le"}

// exposition is a parsed /metrics.
type exposition map[string]*dto.MetricFamily

// fullExposition runs the gateway in front of a simulator whose clock
// stands still, and makes every collector produce series: an HTTP
// request, NMI exchanges with a return code and a TERM, the exporter with
// per-tunnel series.
func fullExposition(t *testing.T) exposition {
	t.Helper()
	ds := ikedsim.Demo()
	faults := ikedsim.NewFaults()
	path, _ := simServerConfig(t, ikedsim.Config{Data: ds, Now: func() time.Time { return ds.Epoch }, Faults: faults})
	// A policy file, so that the policy reload metrics exist, and a token
	// for the scrape, so that the IPsec series are served.
	const scrapeToken = "e2e-rules-scrape-token"
	sum := sha256.Sum256([]byte(scrapeToken))
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(`system: SYS1
profiles:
  - {name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: PROMSCR, level: READ}]}
anonymous: PROMSCR
identities:
  tokens:
    - {sha256: `+hex.EncodeToString(sum[:])+`, user: PROMSCR}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startRun(t, "--nmi-socket", path, "--policy", pol, "--exporter-top-n", "20")
	g.scrape = scrapeToken
	g.object("/v1/stacks/TCPIP", http.StatusOK)
	g.object("/v1/stacks/NOSUCH/summary", http.StatusNotFound)
	faults.Set(nmi.GetSummary, ikedsim.Fault{TermClose: true, Rc: nmi.EAGAIN, Times: 1})
	if resp, body := g.get("/v1/stacks/TCPIP/summary"); resp.StatusCode < 400 {
		t.Fatalf("summary with a TERM: %d %s", resp.StatusCode, body)
	}
	return g.metricsOf()
}

// checker resolves metric names used in PromQL against an exposition.
type checker struct {
	t *testing.T
	e exposition
}

// family returns the exposed family a name in a query refers to: the name
// itself, or a histogram's _bucket, _sum or _count series.
func (c checker) family(name string) *dto.MetricFamily {
	if mf := c.e[name]; mf != nil {
		return mf
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf := c.e[base]; mf != nil && mf.GetType() == dto.MetricType_HISTOGRAM {
				return mf
			}
		}
	}
	return nil
}

// checkExpr parses a PromQL expression and checks that every metric it
// selects is exposed, and every label its selectors match or group by is
// one of that metric's labels.
func (c checker) checkExpr(where, expr string) {
	c.t.Helper()
	p := parser.NewParser(parser.Options{})
	node, err := p.ParseExpr(expr)
	if err != nil {
		c.t.Errorf("%s: %v", where, err)
		return
	}
	labelsOf := map[string]bool{}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			c.t.Errorf("%s: selector without a metric name: %s", where, vs)
			return nil
		}
		names = append(names, vs.Name)
		mf := c.family(vs.Name)
		if mf == nil {
			c.t.Errorf("%s: metric %s is not exposed by the gateway", where, vs.Name)
			return nil
		}
		have := map[string]bool{model.MetricNameLabel: true}
		for _, l := range targetLabels {
			have[l] = true
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				have[l.GetName()] = true
				labelsOf[l.GetName()] = true
			}
		}
		for _, m := range vs.LabelMatchers {
			if !have[m.Name] {
				c.t.Errorf("%s: %s has no label %q", where, vs.Name, m.Name)
			}
		}
		return nil
	})
	if len(names) == 0 {
		c.t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, l := range targetLabels {
		labelsOf[l] = true
	}
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if ag, ok := n.(*parser.AggregateExpr); ok && !ag.Without {
			for _, l := range ag.Grouping {
				if !labelsOf[l] {
					c.t.Errorf("%s: grouping by %q, a label none of %v has", where, l, names)
				}
			}
		}
		return nil
	})
}

// TestRulesFile validates deploy/prometheus/rules.yaml the way promtool
// check rules does (rulefmt.Parse: YAML schema, PromQL of every
// expression, templates of annotations, durations), then checks each
// alert's form and that every metric it uses is exposed.
func TestRulesFile(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", rulesFile, err)
	}
	if groups == nil {
		t.FailNow()
	}
	c := checker{t: t, e: fullExposition(t)}
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: rule %q is not an alert", g.Name, r.Record)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s twice", r.Alert)
			}
			seen[r.Alert] = true
			if r.For <= 0 {
				t.Errorf("alert %s: no for", r.Alert)
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: summary and description annotations needed", r.Alert)
			}
			c.checkExpr("alert "+r.Alert, r.Expr)
		}
	}
	for _, a := range []string{"NmigwIKEDUnreachable", "NmigwTunnelDown", "NmigwControlErrors", "NmigwNMILatencyHigh"} {
		if !seen[a] {
			t.Errorf("alert %s missing", a)
		}
	}
}

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// grafanaVars are Grafana's variables in a query: $name, ${name} or
// ${name:format}.
var grafanaVars = regexp.MustCompile(`\$\{?([A-Za-z0-9_]+)(:[a-z]+)?\}?`)

// expandGrafana replaces Grafana's variables the way Grafana would before
// sending a query: interval variables by a duration, others by a regexp.
func expandGrafana(q string) string {
	return grafanaVars.ReplaceAllStringFunc(q, func(v string) string {
		switch grafanaVars.FindStringSubmatch(v)[1] {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return ".*"
	})
}

// TestGrafanaDashboard checks deploy/grafana/nmigw.json: a dashboard with
// the datasource as a template variable used by every panel, and queries
// that parse as PromQL over metrics the gateway exposes.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Name == "datasource" && (v.Type != "datasource" || string(v.Query) != `"prometheus"`) {
			t.Errorf("datasource variable: type %q query %s", v.Type, v.Query)
		}
	}
	if !vars["datasource"] {
		t.Fatal("no datasource template variable")
	}
	c := checker{t: t, e: fullExposition(t)}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s does not use the datasource variable", v.Name)
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
			continue
		}
		// label_values(selector, label)
		inner, ok := strings.CutPrefix(q.Query, "label_values(")
		if i := strings.LastIndex(inner, ","); ok && i > 0 {
			c.checkExpr("variable "+v.Name, expandGrafana(inner[:i]))
		} else {
			t.Errorf("variable %s: query %q", v.Name, q.Query)
		}
	}
	ids := map[int]bool{}
	var walk func(ps []panel)
	queries := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the datasource variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q query %s: datasource %q", p.Title, tg.RefID, tg.Datasource.UID)
				}
				for _, m := range grafanaVars.FindAllStringSubmatch(tg.Expr, -1) {
					if !strings.HasPrefix(m[1], "__") && !vars[m[1]] {
						t.Errorf("panel %q: undefined variable $%s", p.Title, m[1])
					}
				}
				c.checkExpr("panel "+p.Title+" "+tg.RefID, expandGrafana(tg.Expr))
				queries++
			}
		}
	}
	walk(d.Panels)
	// The views the dashboard promises.
	for _, want := range []string{"nmigw_ipsec_dynamic_tunnels", "nmigw_ipsec_tunnel_bytes_total",
		"nmigw_http_request_duration_seconds_bucket", "nmigw_nmi_exchange_duration_seconds_bucket", `outcome!=`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	if queries == 0 {
		t.Error("no queries")
	}
}
