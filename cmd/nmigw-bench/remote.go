package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport"
)

// remoteOptions: --nmi ssh://... measures the same table over SSH as over
// the local socket, in one run.
type remoteOptions struct {
	nmi, sshKey, knownHosts string
}

func remoteFlags(fs *flag.FlagSet, r *remoteOptions) {
	fs.StringVar(&r.nmi, "nmi", "", "also measure over this ssh:// endpoint: an sshd on this host whose user can open the URL's path, where the benchmark serves its simulator; reports SSH/local ratios")
	fs.StringVar(&r.sshKey, "ssh-key", "", "with --nmi: the SSH private key")
	fs.StringVar(&r.knownHosts, "ssh-known-hosts", "", "with --nmi: known_hosts pinning the sshd's host key")
}

// runRemote serves the simulator on the ssh:// URL's path and measures,
// alternating, the direct NMI client and the gateway over the local
// socket and over SSH: the IKE tunnel list's throughput and the filter
// listing's time.
func runRemote(ctx context.Context, o options, out io.Writer) error {
	ep, err := transport.Parse(o.remote.nmi)
	if err != nil {
		return err
	}
	if ep.Scheme != transport.SchemeSSH {
		return errors.New("--nmi: the benchmark measures ssh:// endpoints")
	}
	if o.inproc || o.pin {
		return errors.New("--nmi: drop --inproc and --pin")
	}
	tr, err := transport.New(ep, transport.Options{SSHKey: o.remote.sshKey, SSHKnownHosts: o.remote.knownHosts})
	if err != nil {
		return err
	}
	defer tr.Close()
	dir, err := os.MkdirTemp("", "nmigw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	socket := ep.Path
	stopSim, err := startSim(socket, o)
	if err != nil {
		return err
	}
	defer stopSim()

	local := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(socket), Addr: socket, Size: o.concurrency})
	defer local.Close()
	remote := nmi.NewPool(nmi.PoolConfig{Dial: tr.Dial, Addr: tr.Addr(), Size: o.concurrency})
	defer remote.Close()
	gwLocal, err := startGateway(ctx, dir, socket, o)
	if err != nil {
		return err
	}
	defer gwLocal.stop()
	if o.gatewayBin == "" {
		o.gatewayBin = filepath.Join(dir, "gateway") // built by the first start
	}
	gwSSH, err := startGatewayAt(ctx, dir, socket, []string{"--nmi", o.remote.nmi,
		"--ssh-key", o.remote.sshKey, "--ssh-known-hosts", o.remote.knownHosts}, o)
	if err != nil {
		return err
	}
	defer gwSSH.stop()

	fmt.Fprintf(out, "nmigw-bench: local socket against %s; %d IKE tunnel records, %d policy filter rules, concurrency %d, %s per side in %d alternating slices, %d CPUs\n\n",
		tr.Addr(), o.tunnels, o.filters, o.concurrency, o.duration, rounds, runtime.NumCPU())

	// The filter listings alternate between local and SSH, one of each
	// at a time, so that a change in the machine's load affects both.
	var flLocal, flSSH listingTimes
	one := o
	one.repeat = 1
	for range o.repeat {
		l, err := filterListing(ctx, local, gwLocal, nil, one)
		if err != nil {
			return err
		}
		r, err := filterListing(ctx, remote, gwSSH, nil, one)
		if err != nil {
			return fmt.Errorf("over SSH: %w", err)
		}
		flLocal.add(l)
		flSSH.add(r)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, DisableCompression: true,
		ReadBufferSize: 64 << 10}}
	directIKE := func(p *nmi.Pool) func(context.Context) error {
		return func(ctx context.Context) error {
			var rec nmi.IKETunnelRecord
			n := 0
			_, err := p.Do(ctx, &nmi.Request{Type: nmi.GetIKETun, Target: stack}, func(r nmi.Record) error {
				n++
				return rec.Decode(r)
			})
			if err == nil && n != o.tunnels {
				err = fmt.Errorf("%d IKE tunnel records, want %d", n, o.tunnels)
			}
			return err
		}
	}
	gatewayIKE := func(g *gateway) func(context.Context) error {
		url := g.base + "/v1/stacks/" + stack + "/ike/tunnels"
		return func(ctx context.Context) error { _, err := fetch(ctx, client, url, g.auth); return err }
	}
	sides := []side{
		{name: "direct NMI, local", op: directIKE(local)}, {name: "direct NMI, SSH", op: directIKE(remote)},
		{name: "gateway, local", op: gatewayIKE(gwLocal), pid: gwLocal.pid}, {name: "gateway, SSH", op: gatewayIKE(gwSSH), pid: gwSSH.pid},
	}
	res, err := compare(ctx, o, sides)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "GET .../ike/tunnels (%d IKE tunnels), concurrency %d:\n", o.tunnels, o.concurrency)
	fmt.Fprintf(out, "  %-22s %8s %9s %9s\n", "", "req/s", "p50", "p99")
	for i, r := range res {
		fmt.Fprintf(out, "  %-22s %8.0f %9s %9s\n", sides[i].name, r.rate, ms(r.p50), ms(r.p99))
	}
	fmt.Fprintf(out, "  ratio SSH/local throughput: direct %.2f, gateway %.2f\n\n", res[1].rate/res[0].rate, res[3].rate/res[2].rate)
	fmt.Fprintf(out, "%d-filter listing (median of %d):\n", o.filters, o.repeat)
	l, r := flLocal.median(), flSSH.median()
	fmt.Fprintf(out, "  %-22s direct decode %s, gateway first byte %s, total %s\n", "local", ms(l.direct), ms(l.ttfb), ms(l.total))
	fmt.Fprintf(out, "  %-22s direct decode %s, gateway first byte %s, total %s\n", "SSH", ms(r.direct), ms(r.ttfb), ms(r.total))
	fmt.Fprintf(out, "  ratio SSH/local total time: direct %.2f, gateway %.2f\n",
		float64(r.direct)/float64(l.direct), float64(r.total)/float64(l.total))
	return nil
}

// listingTimes collects filter listings for their medians.
type listingTimes struct{ direct, ttfb, total []time.Duration }

func (t *listingTimes) add(r listingResult) {
	t.direct, t.ttfb, t.total = append(t.direct, r.direct), append(t.ttfb, r.ttfb), append(t.total, r.total)
}

func (t *listingTimes) median() listingResult {
	return listingResult{direct: median(t.direct), ttfb: median(t.ttfb), total: median(t.total)}
}
