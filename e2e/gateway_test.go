package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nmigw/nmigw/internal/httpapi/contract"
	"github.com/nmigw/nmigw/internal/ikedsim"
)

// gatewayBin is cmd/gateway, built once by TestMain (with -race when the
// tests run with it).
var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nmigw-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	args := []string{"build", "-o", gatewayBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	// Built in the gateway's own module, with its build list, not this
	// module's: the binary under test is the one the repository ships.
	build := exec.Command(goCmd, append(args, "./cmd/gateway")...)
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the gateway:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gateway is the built gateway running as a process on 127.0.0.1:0.
type gateway struct {
	t        *testing.T
	base     string
	out      *syncBuffer // its standard output and error
	client   *http.Client
	v        *contract.Validator
	viewer   string
	operator string
	// scrape, when set, is the bearer token /metrics is read with (the
	// IPsec series are served only to an authenticated scrape).
	scrape string
}

var (
	listenRe   = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)
	viewerRe   = regexp.MustCompile(`(?m)^viewer token: (\S+)$`)
	operatorRe = regexp.MustCompile(`(?m)^operator token: (\S+)$`)
)

// startGateway runs the gateway with -sim and args.
func startGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	return startRun(t, append([]string{"-sim"}, args...)...)
}

// startRun runs the gateway on 127.0.0.1:0 with args (no -sim unless
// given; --insecure-no-auth unless -sim or --policy is given) until the
// test ends, then stops it with SIGTERM, as a service manager would, and
// expects a clean exit.
func startRun(t *testing.T, args ...string) *gateway {
	t.Helper()
	auth := false
	for _, a := range args {
		auth = auth || a == "-sim" || a == "--policy" || a == "--insecure-no-auth"
	}
	if !auth {
		args = append([]string{"--insecure-no-auth"}, args...)
	}
	out := &syncBuffer{}
	cmd := exec.Command(gatewayBin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "NMIGW_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the gateway ended with %v after SIGTERM:\n%s", err, out.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("the gateway did not end after SIGTERM")
		}
	})
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; {
		select {
		case err := <-done:
			t.Fatalf("the gateway ended early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := listenRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line:\n%s", out.String())
		}
	}
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, base: base, out: out, client: &http.Client{Timeout: 30 * time.Second}, v: v}
	if m := viewerRe.FindStringSubmatch(out.String()); m != nil {
		g.viewer = m[1]
	}
	if m := operatorRe.FindStringSubmatch(out.String()); m != nil {
		g.operator = m[1]
	}
	return g
}

// do sends req and validates the answer against api/openapi.yaml.
func (g *gateway) do(req *http.Request, hdr []string) (*http.Response, []byte) {
	g.t.Helper()
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, body, err := g.v.Do(g.client, req)
	if err != nil {
		g.t.Fatal(err)
	}
	return resp, body
}

// get sends a GET (headers as name, value pairs).
func (g *gateway) get(path string, hdr ...string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.do(req, hdr)
}

// post sends a POST with a JSON body (or none).
func (g *gateway) post(path, body string, hdr ...string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return g.do(req, hdr)
}

type item = map[string]any

// decode checks the status and decodes a JSON object.
func (g *gateway) decode(what string, resp *http.Response, body []byte, status int) item {
	g.t.Helper()
	if resp.StatusCode != status {
		g.t.Fatalf("%s: %d, want %d: %s", what, resp.StatusCode, status, body)
	}
	var v item
	if err := json.Unmarshal(body, &v); err != nil {
		g.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (g *gateway) object(path string, status int, hdr ...string) item {
	g.t.Helper()
	resp, body := g.get(path, hdr...)
	return g.decode("GET "+path, resp, body, status)
}

func (g *gateway) postObject(path, body string, status int, hdr ...string) item {
	g.t.Helper()
	resp, b := g.post(path, body, hdr...)
	return g.decode("POST "+path+" "+body, resp, b, status)
}

// list follows every page of path.
func (g *gateway) list(path string) []item {
	g.t.Helper()
	var all []item
	next := path
	for range 1000 {
		v := g.object(next, http.StatusOK)
		for _, x := range v["items"].([]any) {
			all = append(all, x.(item))
		}
		tok, ok := v["nextPageToken"].(string)
		if !ok {
			return all
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "pageToken=" + url.QueryEscape(tok)
	}
	g.t.Fatalf("%s: pagination does not end", path)
	return nil
}

// metricsOf reads /metrics, lints it as testutil.GatherAndLint does (zero
// problems) and parses it with Prometheus's text parser.
func (g *gateway) metricsOf() map[string]*dto.MetricFamily {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+"/metrics", nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if g.scrape != "" {
		req.Header.Set("Authorization", "Bearer "+g.scrape)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, p := range problems {
		g.t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	return mfs
}

func str(it item, k string) string {
	switch v := it[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// simServerConfig serves the simulator on a socket of its own, like an
// IKED the gateway does not own, until the test ends.
func simServerConfig(t *testing.T, cfg ikedsim.Config) (path string, stop func()) {
	t.Helper()
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveSim(t, srv)
}

// serveSim serves srv on a socket of its own until the test ends.
func serveSim(t *testing.T, srv *ikedsim.Server) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		<-done
	}
	t.Cleanup(stop)
	return path, stop
}
