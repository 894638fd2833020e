package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport/sshdtest"
	"github.com/nmigw/nmigw/internal/transport/tlsrelaytest"
)

// remoteSim serves the simulator on a socket the SSH server's user can
// reach.
func remoteSim(t *testing.T, sshd *sshdtest.Server, cfg ikedsim.Config) string {
	t.Helper()
	path := filepath.Join(sshd.MkdirShared("sock"), "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return path
}

// waitStatus polls GET path until it answers status.
func (g *gateway) waitStatus(path string, status int, within time.Duration) (*http.Response, []byte) {
	g.t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, body := g.get(path)
		if resp.StatusCode == status {
			return resp, body
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("GET %s: still %d after %v: %s", path, resp.StatusCode, within, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestGatewayOverSSH(t *testing.T) {
	sshd := sshdtest.Start(t)
	faults := ikedsim.NewFaults()
	path := remoteSim(t, sshd, ikedsim.Config{Faults: faults})
	url := sshd.URL(path)
	g := startRun(t, "--nmi", url, "--ssh-key", sshd.Key, "--ssh-known-hosts", sshd.Known,
		"--pool-size", "2", "--exporter=false")
	if !strings.Contains(g.out.String(), "NMI endpoint "+url) {
		t.Errorf("start-up lines do not name the endpoint:\n%s", g.out.String())
	}

	// Display and control through sshd.
	if names := stackNames(g.list("/v1/stacks")); strings.Join(names, ",") != "TCPIP,TCPIPB" {
		t.Fatalf("stacks %q", names)
	}
	if len(g.list("/v1/stacks/TCPIP/ike/tunnels")) == 0 {
		t.Fatal("no IKE tunnels")
	}
	res := g.postObject("/v1/stacks/TCPIP/ike/tunnels:deactivate", `{"all": true}`, http.StatusOK)
	if rs, _ := res["results"].([]any); len(rs) == 0 {
		t.Fatalf("deactivate: %v", res)
	}
	if n := strings.Count(sshd.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("%d SSH logins, want 1 for the whole pool", n)
	}

	// Pool exhaustion: two slow answers hold both connections; a third
	// request waits poolMaxWait and gets 503. (Each asks another
	// question: requests for the same one would share one exchange.)
	faults.Set(nmi.GetSummary, ikedsim.Fault{Delay: poolMaxWait + 3*time.Second})
	var wg sync.WaitGroup
	for _, stack := range []string{"TCPIP", "TCPIPB"} {
		wg.Add(1)
		go func() { defer wg.Done(); g.get("/v1/stacks/" + stack + "/summary") }()
	}
	time.Sleep(500 * time.Millisecond)
	resp, body := g.get("/v1/stacks/TCPIP/interfaces")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte("busy")) {
		t.Errorf("third request with the pool held: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	wg.Wait()
	faults.Clear()

	// sshd killed: 503 with Retry-After naming the endpoint; restarted:
	// the gateway recovers by itself.
	sshd.Kill()
	resp, body = g.waitStatus("/v1/stacks", http.StatusServiceUnavailable, 30*time.Second)
	if resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte(" at "+url)) {
		t.Errorf("with sshd down: Retry-After %q, %s", resp.Header.Get("Retry-After"), body)
	}
	sshd.Restart()
	g.waitStatus("/v1/stacks", http.StatusOK, 60*time.Second)
	if names := stackNames(g.list("/v1/stacks")); len(names) != 2 {
		t.Errorf("after restart: stacks %q", names)
	}
}

func TestGatewayOverSSHRefusesChangedHostKey(t *testing.T) {
	sshd := sshdtest.Start(t)
	path := remoteSim(t, sshd, ikedsim.Config{})
	other, _ := sshdtest.NewKey(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(sshdtest.KnownHostsLine(sshd.Addr(), other)), 0o600); err != nil {
		t.Fatal(err)
	}
	url := sshd.URL(path)
	g := startRun(t, "--nmi", url, "--ssh-key", sshd.Key, "--ssh-known-hosts", known, "--exporter=false")
	const cause = "SSH host key does not match known_hosts at "
	resp, body := g.get("/v1/stacks")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte(cause+url)) {
		t.Errorf("GET /v1/stacks: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = g.get("/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("not ready: "+cause+url)) {
		t.Errorf("GET /readyz: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(sshd.Log(), "Accepted publickey") {
		t.Error("the gateway logged in to a server whose host key changed")
	}
	key, _ := os.ReadFile(sshd.Key)
	if strings.Contains(g.out.String(), "PRIVATE KEY") || bytes.Contains([]byte(g.out.String()), key[40:80]) {
		t.Error("the log holds the private key")
	}
}

func TestGatewayOverTLS(t *testing.T) {
	path, _ := simServerConfig(t, ikedsim.Config{})
	relay := tlsrelaytest.Start(t, path, true)
	g := startRun(t, "--nmi", relay.URL(), "--nmi-tls-ca", relay.CA, "--nmi-tls-cert", relay.Cert, "--nmi-tls-key", relay.Key, "--exporter=false")
	if names := stackNames(g.list("/v1/stacks")); strings.Join(names, ",") != "TCPIP,TCPIPB" {
		t.Fatalf("stacks %q", names)
	}
	relay.Kill()
	// The pooled connection breaks first ("not reachable"); the dials
	// after it fail naming the endpoint.
	want := []byte("cannot connect at " + relay.URL())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, body := g.get("/v1/stacks")
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && bytes.Contains(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the relay down: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	relay.Restart()
	g.waitStatus("/v1/stacks", http.StatusOK, 60*time.Second)
}

func TestNMIConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--nmi", "ssh://lpar1/var/sock/ipsecmgmt"}, `nmi endpoint "ssh://lpar1/var/sock/ipsecmgmt": no user`},
		{[]string{"--nmi", "ftp://x/y"}, `unknown scheme "ftp"`},
		{[]string{"--nmi", "ssh://u@lpar1/var/sock/ipsecmgmt"}, "nmi endpoint ssh://u@lpar1:22/var/sock/ipsecmgmt: configure: --ssh-key is required"},
		{[]string{"--nmi", "ssh://u@lpar1/s", "--ssh-key", filepath.Join(dir, "absent"), "--ssh-known-hosts", filepath.Join(dir, "kh")}, "--ssh-key: " + dir},
		{[]string{"--nmi", "tls://relay:4443", "--nmi-tls-cert", "c.pem"}, "--nmi-tls-cert and --nmi-tls-key go together"},
		{[]string{"--nmi", "unix:///x", "--nmi-capture", filepath.Join(dir, "no", "such", "dir", "c.jsonl")}, "nmi-capture: open"},
	} {
		err := run(context.Background(), append([]string{"gateway", "--insecure-no-auth", "--listen", "127.0.0.1:0"}, c.args...),
			func(string) string { return "" }, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", c.args, err, c.msg)
		}
	}
}

func stackNames(items []item) []string {
	var out []string
	for _, it := range items {
		out = append(out, str(it, "name"))
	}
	return out
}

func TestNMIFromEnvironmentAndFile(t *testing.T) {
	env := map[string]string{"NMIGW_NMI": "ssh://NMIGW@zos1/var/sock/ipsecmgmt", "NMIGW_SSH_KNOWN_HOSTS": "/kh"}
	c, err := parseConfig(nil, func(k string) string { return env[k] }, &syncBuffer{})
	if err != nil || c.endpoint() != env["NMIGW_NMI"] || c.transportOptions().SSHKnownHosts != "/kh" {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	os.WriteFile(file, []byte("nmi: tls://relay:4443\nnmi-tls-ca: /ca.pem\n"), 0o600)
	c, err = parseConfig([]string{"--config", file}, func(string) string { return "" }, &syncBuffer{})
	if err != nil || c.endpoint() != "tls://relay:4443" || c.transportOptions().TLSCA != "/ca.pem" {
		t.Fatalf("from the file: %+v, %v", c, err)
	}
	// --nmi-socket alone is unix:// of its path; --nmi wins over it.
	c, _ = parseConfig([]string{"--nmi-socket", "/s"}, func(string) string { return "" }, &syncBuffer{})
	if c.endpoint() != "unix:///s" {
		t.Errorf("--nmi-socket /s: endpoint %q", c.endpoint())
	}
	c, _ = parseConfig([]string{"--nmi-socket", "/s", "--nmi", "unix:///t"}, func(string) string { return "" }, &syncBuffer{})
	if c.endpoint() != "unix:///t" {
		t.Errorf("--nmi beside --nmi-socket: endpoint %q", c.endpoint())
	}
}
