package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The tests that need signals run iked-sim as a process, built once.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func simBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "iked-sim-test"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "iked-sim")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	err    error
	output string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.output }

// simProcess is a running iked-sim.
type simProcess struct {
	t           *testing.T
	cmd         *exec.Cmd
	sock        string
	out, stderr *lockedBuffer
}

// startProcess runs iked-sim on a socket in a temporary directory with
// args and waits for its ready line; the process is killed at the end of
// the test if it is still running.
func startProcess(t *testing.T, args ...string) *simProcess {
	t.Helper()
	p := &simProcess{t: t, sock: filepath.Join(t.TempDir(), "ipsecmgmt"), out: &lockedBuffer{}, stderr: &lockedBuffer{}}
	p.cmd = exec.Command(simBinary(t), append([]string{"--socket", p.sock}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil { // not yet waited for by the test
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	waitFor(t, "the ready line", func() bool {
		if strings.Contains(p.stderr.String(), "iked-sim:") {
			t.Fatalf("iked-sim failed: %s", p.stderr.String())
		}
		return strings.Contains(p.out.String(), "iked-sim ready")
	})
	return p
}

func (p *simProcess) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}
