package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The simulator shares the gateway's policy file but not its token hashes:
// a policy naming a tokens file the simulator cannot see still loads.
func TestPolicyTokensFileNotRead(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ipsecmgmt")
	pol := filepath.Join(dir, "policy.yaml")
	err := os.WriteFile(pol, []byte("system: SYS1\nidentities: {tokensFile: not-mounted/tokens.yaml}\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--socket", sock, "--policy", pol}, func(string) string { return "" }, &out)
	}()
	waitFor(t, "the ready line", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run: %v", err)
		default:
		}
		return strings.Contains(out.String(), "iked-sim ready")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
