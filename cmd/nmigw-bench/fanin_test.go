package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestMain lets the test binary serve the floor, as the harness's binary
// does: the harness starts its own executable for it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == floorCmd {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestParseCounts: the exchanges and the requests of the IKE tunnel route
// are summed from an exposition written by client_golang.
func TestParseCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	ex := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nmigw_nmi_exchanges_total", Help: "x"}, []string{"type", "outcome"})
	hr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nmigw_http_requests_total", Help: "x"}, []string{"route", "method", "code"})
	reg.MustRegister(ex, hr)
	ex.WithLabelValues("NMsec_GET_IKETUN", "ok").Add(7)
	ex.WithLabelValues("NMsec_GET_STACKINFO", "ok").Add(2)
	ex.WithLabelValues("NMsec_GET_IKETUN", "timeout").Add(1)
	hr.WithLabelValues(ikeRoute, "GET", "200").Add(100)
	hr.WithLabelValues(ikeRoute, "GET", "503").Add(5)
	hr.WithLabelValues("/v1/stacks", "GET", "200").Add(50)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	c, err := parseCounts(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if c.exchanges != 10 || c.requests != 105 {
		t.Errorf("counts %+v, want 10 exchanges and 105 requests", c)
	}
	if _, err := parseCounts(strings.NewReader("# TYPE other counter\nother 1\n")); err == nil {
		t.Error("an exposition without NMI exchanges was accepted")
	}
}

// TestCountedListener: the peak of connections open at once is kept.
func TestCountedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countedListener{Listener: ln}
	defer cl.Close()
	var served []net.Conn
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := cl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		served = append(served, s)
		return c
	}
	a, b := dial(), dial()
	a.Close()
	served[0].Close()
	served[0].Close() // counted once
	c := dial()
	for _, x := range []net.Conn{b, c, served[1], served[2]} {
		x.Close()
	}
	if p := cl.Peak(); p != 2 {
		t.Errorf("peak %d, want 2", p)
	}
}

// TestRunFanIn runs the harness with the gateway as a process: the
// fan-in case and the exporter's cost are reported.
func TestRunFanIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway")
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/nmigw/nmigw/cmd/gateway").CombinedOutput(); err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	var out bytes.Buffer
	args := []string{"nmigw-bench", "--gateway-bin", bin, "--filters", "2000", "--tunnels", "10", "--fan-in", "3",
		"--duration", "250ms", "--warmup", "50ms", "--concurrency", "2", "--repeat", "1", "--scrapes", "1"}
	if err := run(t.Context(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"(b) NMI exchanges per HTTP request", "3 clients, coalescing on", "3 clients, coalescing off",
		"peak NMI connections", "exporter, 2000-filter stack: NMI bytes per scrape"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Without coalescing every request is an exchange of its own.
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "coalescing off") && !strings.Contains(line, " 1.000 ") {
			t.Errorf("coalescing off, not one exchange per request: %q", line)
		}
	}
}
