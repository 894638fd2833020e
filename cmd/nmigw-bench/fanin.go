package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nmigw/nmigw/internal/ikedsim"
)

// The fan-in case: many HTTP clients read the same IKE tunnel list from
// one gateway, with the gateway's coalescing of NMI exchanges on and off
// (--coalesce=false). Per side the harness reports the NMI exchanges per
// HTTP request, from the gateway's own /metrics
// (nmigw_nmi_exchanges_total over nmigw_http_requests_total of the
// route), and the peak of NMI connections the gateway held, counted on
// the simulator's side of its socket.

// parseFanIn parses --fan-in: client counts separated by commas; "" or
// "0" for none.
func parseFanIn(s string) ([]int, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("--fan-in: %q is not a client count 1-10000", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// countedListener counts the connections accepted on it and keeps the
// peak of those open at once. Its connections are not *net.UnixConn, so
// the simulator cannot read their peer's credentials: it must run without
// a SAF policy (as the harness's does).
type countedListener struct {
	net.Listener
	mu         sync.Mutex
	open, peak int
}

func (l *countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.peak = max(l.peak, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

// Peak is the most connections that were open at once.
func (l *countedListener) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

type countedConn struct {
	net.Conn
	l    *countedListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// serveCounted serves srv on another socket, counting its connections.
func serveCounted(srv *ikedsim.Server, socket string) (*countedListener, error) {
	ln, err := ikedsim.Listen(socket, 0o600)
	if err != nil {
		return nil, err
	}
	cl := &countedListener{Listener: ln}
	go func() { _ = srv.Serve(cl) }()
	return cl, nil
}

// errRefused is a 503 answer: the gateway's concurrency limit refused
// the request (counted, not fatal).
var errRefused = errors.New("503 Service Unavailable")

// counts are the gateway's counters that the fan-in case reads.
type counts struct {
	exchanges float64 // NMI exchanges through its pool
	requests  float64 // HTTP requests answered on the IKE tunnel list route
	opened    float64 // NMI connections its pool opened
}

// ikeRoute is the route label of the IKE tunnel list in the HTTP metrics.
const ikeRoute = "/v1/stacks/{stack}/ike/tunnels"

// scrapeCounts reads the gateway's /metrics (unauthenticated: the process
// and HTTP metrics only, so that the scrape costs no NMI exchange) and
// parses it with Prometheus's parser.
func scrapeCounts(ctx context.Context, client *http.Client, base string) (counts, error) {
	var c counts
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return c, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return c, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseCounts(resp.Body)
}

// parseCounts sums the counters of the fan-in case in an exposition.
func parseCounts(r io.Reader) (counts, error) {
	var c counts
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return c, fmt.Errorf("parsing /metrics: %w", err)
	}
	ex, ok := fams["nmigw_nmi_exchanges_total"]
	if !ok {
		return c, errors.New("/metrics has no nmigw_nmi_exchanges_total")
	}
	for _, m := range ex.GetMetric() {
		c.exchanges += m.GetCounter().GetValue()
	}
	if o, ok := fams["nmigw_nmi_pool_connections_opened_total"]; ok {
		for _, m := range o.GetMetric() {
			c.opened += m.GetCounter().GetValue()
		}
	}
	if hr, ok := fams["nmigw_http_requests_total"]; ok {
		for _, m := range hr.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == ikeRoute {
					c.requests += m.GetCounter().GetValue()
				}
			}
		}
	}
	return c, nil
}

// fanInClient is an HTTP client keeping a connection per worker.
func fanInClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true,
		ReadBufferSize: 64 << 10}}
}

// exporterCost measures the NMI bytes the simulator sends for scrapes of
// the gateway's IPsec metrics (authenticated, so that the exporter reads
// the stack): the first scrape and the median of steady ones. Nothing
// else may use the simulator meanwhile.
func exporterCost(ctx context.Context, srv *ikedsim.Server, gw *gateway, steady int) (first uint64, rest []uint64, err error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	scrape := func() (uint64, error) {
		before := srv.SentBytes()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, gw.base+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", gw.auth)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
		}
		if !strings.Contains(string(body), "nmigw_ipsec_filters") {
			return 0, errors.New("GET /metrics: no nmigw_ipsec_filters: the exporter did not read the stack")
		}
		return srv.SentBytes() - before, nil
	}
	if first, err = scrape(); err != nil {
		return 0, nil, err
	}
	for range steady {
		n, err := scrape()
		if err != nil {
			return 0, nil, err
		}
		rest = append(rest, n)
	}
	return first, rest, nil
}

// sinceCounts runs op and returns how the gateway's counters moved.
func sinceCounts(ctx context.Context, client *http.Client, base string, op func() error) (counts, error) {
	c0, err := scrapeCounts(ctx, client, base)
	if err != nil {
		return counts{}, err
	}
	if err := op(); err != nil {
		return counts{}, err
	}
	c1, err := scrapeCounts(ctx, client, base)
	if err != nil {
		return counts{}, err
	}
	return counts{exchanges: c1.exchanges - c0.exchanges, requests: c1.requests - c0.requests}, nil
}
