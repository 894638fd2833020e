package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestFloor: the floor answers the stored body after an NMI exchange
// with the simulator, and 502 when the simulator's answer does not have
// the records it expects.
func TestFloor(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "ipsecmgmt")
	stop, err := startSim(socket, options{tunnels: 7, filters: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	body := []byte(`{"items":[{"tunnelId":"K1"}]}`)
	file := filepath.Join(dir, "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		records string
		status  int
	}{{"7", http.StatusOK}, {"8", http.StatusBadGateway}} {
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- runFloor(ctx, []string{socket, file, c.records, "2"}, pw); pw.Close() }()
		line := make([]byte, 200)
		n, err := pr.Read(line)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		m := regexp.MustCompile(`listening on (http://\S+)`).FindSubmatch(line[:n])
		if m == nil {
			t.Fatalf("no address in %q", line[:n])
		}
		resp, err := http.Get(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("records %s: %s, want %d", c.records, resp.Status, c.status)
		}
		if c.status == http.StatusOK && !bytes.Equal(got, body) {
			t.Errorf("body %q, want %q", got, body)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runFloor: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("runFloor did not stop")
		}
	}
	if err := runFloor(t.Context(), []string{socket}, io.Discard); err == nil {
		t.Error("runFloor with one argument: no error")
	}
}
