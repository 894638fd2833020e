package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestReplicaOverClientLimit: two replicas of the gateway and another
// tool share an IKED whose client limit they exceed. The replica that
// IKED refuses (TERM with EAGAIN before INIT) is not ready, and its
// /readyz says why in words: the client limit, and the endpoint that
// refused. Once the other tool lets go of its connection, that replica
// gets in and is ready, while the first one kept serving throughout.
func TestReplicaOverClientLimit(t *testing.T) {
	path, _ := simServerConfig(t, ikedsim.Config{MaxClients: 2})
	endpoint := "unix://" + path
	args := []string{"--nmi", endpoint, "--pool-size", "1", "--exporter=false"}

	first := startRun(t, args...)
	first.waitStatus("/readyz", http.StatusOK, 20*time.Second) // holds one of the two

	// Another tool (an `ipsec` command, OMEGAMON) holds the other.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := nmi.DialUnix(path)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := nmi.NewClient(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	second := startRun(t, args...)
	resp, body := second.get("/readyz")
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("readyz: %v: %s", err, body)
	}
	want := "not ready: NMI refused the client at " + endpoint +
		": client limit reached (EAGAIN; IKED serves at most 50 clients)"
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!bytes.HasPrefix([]byte(p.Detail), []byte(want)) {
		t.Fatalf("readyz of the refused replica: %d %q\n%s\nwant the detail to start with %q",
			resp.StatusCode, resp.Header.Get("Retry-After"), body, want)
	}
	// While the pool waits to dial again, the cause stays the same.
	if _, body := second.get("/readyz"); !bytes.Contains(body, []byte(want)) {
		t.Errorf("readyz while waiting to dial again: %s", body)
	}
	// The refused replica's API answers 503 naming the limit as well.
	if resp, body := second.get("/v1/stacks"); resp.StatusCode != http.StatusServiceUnavailable ||
		!bytes.Contains(body, []byte("at most 50 clients")) {
		t.Errorf("GET /v1/stacks of the refused replica: %d %s", resp.StatusCode, body)
	}
	// The replica that got in keeps serving.
	first.waitStatus("/v1/stacks", http.StatusOK, 5*time.Second)

	other.Close()
	second.waitStatus("/readyz", http.StatusOK, 30*time.Second)
	second.waitStatus("/v1/stacks", http.StatusOK, 5*time.Second)
}
