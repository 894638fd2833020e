package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// The floor is the least any HTTP gateway written with net/http can do for
// GET .../ike/tunnels: per request, the same NMI exchange as the direct
// client (every record read and decoded) and the gateway's own answer
// sent from memory. It has no routing, validation, authentication,
// metrics, logging or JSON rendering, so the floor's throughput against
// the direct client's bounds what the gateway could reach on this machine.

// floorCmd is the subcommand that serves the floor in a child process,
// so that its CPU time is counted apart as the gateway's is.
const floorCmd = "floor-server"

// runFloor serves the floor: args are the NMI socket, the file holding
// the answer, the records each NMI answer must have and the pool size. It
// prints "listening on http://ADDR" and serves until ctx ends.
func runFloor(ctx context.Context, args []string, out io.Writer) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: nmigw-bench %s SOCKET BODYFILE RECORDS POOLSIZE", floorCmd)
	}
	body, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	records, err1 := strconv.Atoi(args[2])
	size, err2 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("%s: %w", floorCmd, err)
	}
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(args[0]), Addr: args[0], Size: size})
	defer pool.Close()
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec nmi.IKETunnelRecord
		n := 0
		_, err := pool.Do(r.Context(), &nmi.Request{Type: nmi.GetIKETun, Target: stack}, func(raw nmi.Record) error {
			n++
			return rec.Decode(raw)
		})
		if err == nil && n != records {
			err = fmt.Errorf("%d IKE tunnel records, want %d", n, records)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startFloor captures the gateway's answer to url and starts the floor
// serving it, on the gateway's CPUs under --pin.
func startFloor(ctx context.Context, dir, socket string, client *http.Client, gw *gateway, url string, o options) (*gateway, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", gw.auth)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	file := filepath.Join(dir, "floor.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild(self, []string{floorCmd, socket, file, strconv.Itoa(o.tunnels), strconv.Itoa(o.concurrency)}, "", o.plan)
}
