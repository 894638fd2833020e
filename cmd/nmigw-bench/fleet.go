package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
)

// The fleet mode measures a fleet-wide list against the requests it
// replaces: --systems IKED simulators (in this process, on AF_UNIX
// sockets), each with --stacks stacks of --tunnels IKE tunnels, behind
// one gateway configuration with systems:. Side (a) is one
// GET /v1/ike/tunnels over every system and stack; side (b) is one
// GET /v1/systems/{system}/stacks/{stack}/ike/tunnels per stack, one after
// the other. Each side has a gateway process of its own (the same binary
// and configuration), so that each one's peak RSS (VmHWM) is its side's;
// the sides alternate --repeat times and the medians are reported.

const fleetCmd = "fleet"

type fleetOptions struct {
	gatewayBin string
	systems    int
	stacks     int
	tunnels    int
	repeat     int
	pool       int
}

func runFleet(ctx context.Context, args []string, out io.Writer) error {
	var o fleetOptions
	fs := flag.NewFlagSet("nmigw-bench fleet", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "gateway binary (default: go build ./cmd/gateway)")
	fs.IntVar(&o.systems, "systems", 10, "IKED simulators, one system each")
	fs.IntVar(&o.stacks, "stacks", 2, "stacks of each system")
	fs.IntVar(&o.tunnels, "tunnels", 100, "IKE tunnel records of each stack")
	fs.IntVar(&o.repeat, "repeat", 5, "measurements of each side (the median is reported)")
	fs.IntVar(&o.pool, "pool", 2, "NMI connections of each gateway to each system")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("fleet: unexpected argument %q", fs.Arg(0))
	case o.systems < 1 || o.systems > 99:
		return errors.New("fleet: systems must be 1-99")
	case o.stacks < 1 || o.stacks > ikedsim.MaxGenStacks:
		return fmt.Errorf("fleet: stacks must be 1-%d", ikedsim.MaxGenStacks)
	case o.tunnels < 1 || o.tunnels > ikedsim.MaxGenTunnels:
		return fmt.Errorf("fleet: tunnels must be 1-%d", ikedsim.MaxGenTunnels)
	case o.repeat < 1 || o.pool < 1 || o.pool > 25:
		return errors.New("fleet: repeat must be at least 1, pool 1-25 (two gateways share each IKED's 50 clients)")
	}
	dir, err := os.MkdirTemp("", "nmigw-bench-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	paths, stop, err := startFleetSims(dir, o)
	defer stop()
	if err != nil {
		return err
	}
	cfg, pol, auth, err := writeFleetConfig(dir, paths, o)
	if err != nil {
		return err
	}
	bin := o.gatewayBin
	if bin == "" {
		bin = filepath.Join(dir, "gateway")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gateway")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building the gateway (run from the repository root, or give --gateway-bin): %w", err)
		}
	}
	gwArgs := []string{"--listen", "127.0.0.1:0", "--config", cfg, "--policy", pol, "--log-level", "error",
		"--exporter=false"}
	var gws [2]*gateway
	for i := range gws {
		if gws[i], err = startChild(bin, gwArgs, auth, nil); err != nil {
			return err
		}
		defer gws[i].stop()
	}
	var rssBefore [2]int64
	for i, gw := range gws {
		if rssBefore[i], err = procStatus(gw.pid, "VmRSS"); err != nil {
			return err
		}
	}

	client := &http.Client{Transport: &http.Transport{DisableCompression: true, ReadBufferSize: 64 << 10}}
	fleetURL := gws[0].base + "/v1/ike/tunnels"
	var stackURLs []string
	for s := range o.systems {
		for k := range o.stacks {
			stackURLs = append(stackURLs, gws[1].base+"/v1/systems/"+fleetSystem(s)+"/stacks/"+fleetStack(k)+"/ike/tunnels")
		}
	}
	want := o.systems * o.stacks * o.tunnels
	// Warm-up, and the check that both sides list every tunnel.
	n, err := countItems(ctx, client, fleetURL, auth)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("fleet list: %d items, want %d", n, want)
	}
	n = 0
	for _, u := range stackURLs {
		m, err := countItems(ctx, client, u, auth)
		if err != nil {
			return err
		}
		n += m
	}
	if n != want {
		return fmt.Errorf("per-stack lists: %d items, want %d", n, want)
	}

	var tFleet, tStacks []time.Duration
	var bytesFleet, bytesStacks int64
	for range o.repeat {
		start := time.Now()
		b, err := fetch(ctx, client, fleetURL, auth)
		if err != nil {
			return err
		}
		tFleet = append(tFleet, time.Since(start))
		bytesFleet = b
		start = time.Now()
		bytesStacks = 0
		for _, u := range stackURLs {
			b, err := fetch(ctx, client, u, auth)
			if err != nil {
				return err
			}
			bytesStacks += b
		}
		tStacks = append(tStacks, time.Since(start))
	}
	var peak [2]int64
	for i, gw := range gws {
		if peak[i], err = procStatus(gw.pid, "VmHWM"); err != nil {
			return err
		}
	}
	a, b := median(tFleet), median(tStacks)
	fmt.Fprintf(out, "nmigw-bench fleet: %d systems x %d stacks x %d IKE tunnels (%d in all), pool %d per system, median of %d\n",
		o.systems, o.stacks, o.tunnels, want, o.pool, o.repeat)
	fmt.Fprintf(out, "  (a) GET /v1/ike/tunnels, one request:        %10s  %8d bytes  gateway peak RSS %.1f MiB (%.1f MiB at start)\n",
		ms(a), bytesFleet, mib(peak[0]), mib(rssBefore[0]))
	fmt.Fprintf(out, "  (b) %3d sequential per-stack requests:       %10s  %8d bytes  gateway peak RSS %.1f MiB (%.1f MiB at start)\n",
		len(stackURLs), ms(b), bytesStacks, mib(peak[1]), mib(rssBefore[1]))
	fmt.Fprintf(out, "  ratio (a)/(b) time: %.2f, peak RSS: %.2f\n", float64(a)/float64(b), float64(peak[0])/float64(peak[1]))
	return nil
}

// fleetSystem and fleetStack name the simulated systems and stacks.
func fleetSystem(i int) string { return fmt.Sprintf("SYS%02d", i+1) }
func fleetStack(i int) string {
	if i == 0 {
		return "TCPIP"
	}
	return "TCPIP" + string(rune('A'+i)) // as ikedsim.Generate names them
}

// startFleetSims serves one generated data set per system, each on a
// socket of its own in dir.
func startFleetSims(dir string, o fleetOptions) (paths []string, stop func(), err error) {
	var srvs []*ikedsim.Server
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range srvs {
			_ = s.Shutdown(ctx)
		}
	}
	for i := range o.systems {
		ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: o.stacks, Filters: 10, Tunnels: o.tunnels, Seed: uint64(i + 1), System: fleetSystem(i)})
		if err != nil {
			return nil, stop, err
		}
		for k, st := range ds.Stacks {
			if st.Name != fleetStack(k) {
				return nil, stop, fmt.Errorf("generated stack %d is %s, want %s", k, st.Name, fleetStack(k))
			}
		}
		srv, err := ikedsim.NewServer(ikedsim.Config{Data: ds, Now: ikedsim.NewClock(ds.Epoch).Now})
		if err != nil {
			return nil, stop, err
		}
		path := filepath.Join(dir, strings.ToLower(fleetSystem(i))+".sock")
		ln, err := ikedsim.Listen(path, 0o600)
		if err != nil {
			return nil, stop, err
		}
		srvs = append(srvs, srv)
		go func() { _ = srv.Serve(ln) }()
		paths = append(paths, path)
	}
	return paths, stop, nil
}

// writeFleetConfig writes the gateways' config file (systems:) and
// policy (one bearer token whose user may display every stack of every
// system), and returns their paths and the Authorization header.
func writeFleetConfig(dir string, paths []string, o fleetOptions) (cfg, pol, auth string, err error) {
	var b strings.Builder
	b.WriteString("systems:\n")
	for i, p := range paths {
		fmt.Fprintf(&b, "  - {name: %s, nmi: \"unix://%s\", pool: %d}\n", fleetSystem(i), p, o.pool)
	}
	cfg = filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return "", "", "", err
	}
	var key [32]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read does not fail
	token := hex.EncodeToString(key[:])
	sum := sha256.Sum256([]byte(token))
	pol = filepath.Join(dir, "policy.yaml")
	err = os.WriteFile(pol, []byte("system: "+fleetSystem(0)+"\nprofiles:\n"+
		"  - {name: EZB.NETMGMT.*.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: BENCH, level: READ}]}\n"+
		"identities:\n  tokens: [{sha256: \""+hex.EncodeToString(sum[:])+"\", user: BENCH}]\n"), 0o600)
	return cfg, pol, "Bearer " + token, err
}

// countItems GETs url and counts the items of its list; a fleet list that
// names unreachable systems is an error.
func countItems(ctx context.Context, client *http.Client, url, auth string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", auth)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	var v struct {
		Items       []json.RawMessage `json:"items"`
		Unreachable []json.RawMessage `json:"unreachable"`
		Next        string            `json:"nextPageToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(v.Unreachable) > 0 || v.Next != "" {
		return 0, fmt.Errorf("GET %s: %d unreachable, next page %q: want every item in one answer", url, len(v.Unreachable), v.Next)
	}
	return len(v.Items), nil
}
