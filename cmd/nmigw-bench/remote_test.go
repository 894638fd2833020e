package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/transport/sshdtest"
)

// TestRunOverSSH runs the SSH comparison on a small data set through a
// real sshd: every side answers and the ratios are reported.
func TestRunOverSSH(t *testing.T) {
	sshd := sshdtest.Start(t)
	bin := filepath.Join(t.TempDir(), "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nmigw/nmigw/cmd/gateway").CombinedOutput(); err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	sock := filepath.Join(sshd.MkdirShared("bench"), "ipsecmgmt")
	var out bytes.Buffer
	args := []string{"nmigw-bench", "--gateway-bin", bin, "--filters", "2000", "--tunnels", "10",
		"--duration", "200ms", "--warmup", "50ms", "--concurrency", "2", "--repeat", "1",
		"--nmi", sshd.URL(sock), "--ssh-key", sshd.Key, "--ssh-known-hosts", sshd.Known}
	if err := run(t.Context(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"direct NMI, SSH", "gateway, SSH", "ratio SSH/local throughput", "ratio SSH/local total time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunOverSSHOptions(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--nmi", "tls://relay:1"}, "measures ssh:// endpoints"},
		{[]string{"--nmi", "ssh://u@h/s", "--inproc"}, "drop --inproc and --pin"},
		{[]string{"--nmi", "ssh://u@h/s"}, "--ssh-key is required"},
	} {
		err := run(t.Context(), append([]string{"nmigw-bench"}, c.args...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.args, err, c.msg)
		}
	}
}
