package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The whole-program tests of outages run iked-sim as a process, killed
// and restarted as IKED would be. Their time bounds are generous: they
// catch a gateway that does not come back, not a slow machine.

var (
	simOnce sync.Once
	simPath string
	simErr  error
)

// TestMain removes the iked-sim binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if simPath != "" {
		os.RemoveAll(filepath.Dir(simPath))
	}
	os.Exit(code)
}

// simBinary builds cmd/iked-sim once per test run.
func simBinary(t *testing.T) string {
	t.Helper()
	simOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gateway-test-sim")
		if err != nil {
			simErr = err
			return
		}
		simPath = filepath.Join(dir, "iked-sim")
		if out, err := exec.Command("go", "build", "-o", simPath, "../iked-sim").CombinedOutput(); err != nil {
			simErr = &simBuildError{err, string(out)}
		}
	})
	if simErr != nil {
		t.Fatal(simErr)
	}
	return simPath
}

type simBuildError struct {
	err error
	out string
}

func (e *simBuildError) Error() string { return "go build iked-sim: " + e.err.Error() + "\n" + e.out }

// simProc is an iked-sim process serving sock.
type simProc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startSimProc starts iked-sim on sock with args and waits for its ready
// line; it is killed at the end of the test if still running.
func startSimProc(t *testing.T, sock string, args ...string) *simProc {
	t.Helper()
	p := &simProc{out: &syncBuffer{}}
	p.cmd = exec.Command(simBinary(t), append([]string{"--socket", sock}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.out.String(), "iked-sim ready"); {
		if time.Now().After(deadline) || p.cmd.ProcessState != nil {
			t.Fatalf("iked-sim did not start:\n%s", p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p
}

func (p *simProc) kill(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
}

func (p *simProc) stop() {
	if p.cmd.ProcessState == nil {
		p.kill(syscall.SIGKILL)
	}
}

// rawGet is a GET without contract validation, for load loops.
func rawGet(c *http.Client, url string) (status int, retryAfter string, body []byte, err error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b.Bytes(), err
}

// TestIKEDRestartUnderLoad: iked-sim killed (SIGKILL, then SIGTERM) under
// load and started again: every refusal meanwhile is a 503 with
// Retry-After, and the first 200 comes soon after the restart, without
// waiting for a long backoff.
func TestIKEDRestartUnderLoad(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ipsecmgmt")
	sim := startSimProc(t, sock)
	g := startRun(t, "--nmi-socket", sock)
	if resp, body := g.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before: %d %s", resp.StatusCode, body)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			var (
				stop      atomic.Bool
				refused   atomic.Int64
				lastOK    atomic.Int64 // unix nanoseconds of the latest 200
				wg        sync.WaitGroup
				badMu     sync.Mutex
				bad       []string
				transport = &http.Transport{MaxIdleConnsPerHost: 8}
			)
			client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
			defer transport.CloseIdleConnections()
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						status, retry, body, err := rawGet(client, g.base+"/v1/stacks")
						switch {
						case err != nil:
							badMu.Lock()
							bad = append(bad, err.Error())
							badMu.Unlock()
						case status == http.StatusOK:
							lastOK.Store(time.Now().UnixNano())
						case status == http.StatusServiceUnavailable && retry != "" && bytes.Contains(body, []byte("urn:nmigw:problem:")):
							refused.Add(1)
						default:
							badMu.Lock()
							bad = append(bad, string(body))
							badMu.Unlock()
						}
						time.Sleep(2 * time.Millisecond)
					}
				}()
			}
			sim.kill(sig)
			for deadline := time.Now().Add(20 * time.Second); refused.Load() < 10; {
				if time.Now().After(deadline) {
					t.Fatal("no refusals while iked-sim was down")
				}
				time.Sleep(5 * time.Millisecond)
			}
			sim = startSimProc(t, sock)
			restarted := time.Now()
			var firstOK time.Duration
			for deadline := restarted.Add(20 * time.Second); firstOK == 0; {
				if ok := lastOK.Load(); ok > restarted.UnixNano() {
					firstOK = time.Duration(ok - restarted.UnixNano())
				}
				if time.Now().After(deadline) {
					t.Fatal("no 200 after iked-sim came back")
				}
				time.Sleep(time.Millisecond)
			}
			stop.Store(true)
			wg.Wait()
			// The prober waits at most 500ms; 5s is generous.
			if firstOK > 5*time.Second {
				t.Errorf("first 200 %v after the restart", firstOK)
			}
			if len(bad) > 0 {
				t.Errorf("%d answers neither 200 nor 503 with Retry-After, e.g. %s", len(bad), bad[0])
			}
			t.Logf("%s: %d refusals, first 200 %v after the restart", sig, refused.Load(), firstOK)
		})
	}
	if n := strings.Count(g.out.String(), `"msg":"IKE daemon down"`); n != 2 {
		t.Errorf("the two outages logged as down %d times:\n%s", n, g.out.String())
	}
}

// TestDeadlineThenSuccess: a request whose own time runs out (504) does
// not make the gateway refuse the next ones.
func TestDeadlineThenSuccess(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ipsecmgmt")
	startSimProc(t, sock, "--faults", "type=NMsec_GET_STACKINFO,delay=3s,times=1")
	g := startRun(t, "--nmi-socket", sock, "--request-timeout", "200ms")
	resp, body := g.get("/v1/stacks")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("the delayed request: %d %s", resp.StatusCode, body)
	}
	for i := range 5 {
		if resp, body := g.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d after the timeout: %d %s", i, resp.StatusCode, body)
		}
	}
}

// TestHungTypeDoesNotBlockAnother: requests of a type IKED never answers
// hold NMI connections only up to the exchange timeout; another type is
// served meanwhile, and the hung ones end in 504.
func TestHungTypeDoesNotBlockAnother(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ipsecmgmt")
	startSimProc(t, sock, "--faults", "type=NMsec_GET_IKETUN,no-reply=true")
	g := startRun(t, "--nmi-socket", sock, "--pool-size", "2", "--nmi-exchange-timeout", "300ms")
	var wg sync.WaitGroup
	hung := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, _, err := rawGet(g.client, g.base+"/v1/stacks/TCPIP/ike/tunnels")
			if err != nil {
				t.Error(err)
			}
			hung <- status
		}()
	}
	start := time.Now()
	for i := range 6 {
		if resp, body := g.get("/v1/stacks"); resp.StatusCode != http.StatusOK {
			t.Errorf("stacks %d beside the hung requests: %d %s", i, resp.StatusCode, body)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("6 stack lists took %v beside the hung requests", d)
	}
	wg.Wait()
	close(hung)
	for status := range hung {
		if status != http.StatusGatewayTimeout {
			t.Errorf("hung request answered %d, want 504", status)
		}
	}
}
