// Package sshdtest runs a real OpenSSH server (Debian's openssh-server,
// /usr/sbin/sshd) for tests: unprivileged, on a loopback port, with its
// own host key, authorized_keys and sshd_config in a private directory,
// allowing stream-local forwarding and nothing else.
//
// When the test runs as root, sshd runs as the user "nobody" (without a
// privilege separation directory, sshd refuses to start as root); the SSH
// user is then "nobody", and the sockets it forwards to must live in a
// directory from Server.SocketDir.
package sshdtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Binary is the OpenSSH server the tests run.
const Binary = "/usr/sbin/sshd"

// Server is a running sshd.
type Server struct {
	t       testing.TB
	Dir     string // private directory: keys, config, logs
	Host    string // 127.0.0.1
	Port    int
	User    string // the login name the server accepts
	Key     string // client private key (PEM, unencrypted), in authorized_keys
	Known   string // known_hosts holding the server's host key
	HostKey ssh.PublicKey

	uid, gid int // credentials sshd runs with when the test is root; -1 otherwise

	mu  sync.Mutex
	cmd *exec.Cmd
	n   int // starts, for the log file name
}

// Start starts sshd and stops it when the test ends. Without
// /usr/sbin/sshd the test fails: the tests need the real server (the CI
// script installs openssh-server).
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("sshdtest: %s not found (install openssh-server): %v", Binary, err)
	}
	s := &Server{t: t, Host: "127.0.0.1", uid: -1, gid: -1}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	s.User = u.Username
	if os.Geteuid() == 0 {
		nb, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("sshdtest: running as root needs the user nobody: %v", err)
		}
		s.User = nb.Username
		s.uid, _ = strconv.Atoi(nb.Uid)
		s.gid, _ = strconv.Atoi(nb.Gid)
	}
	s.Dir = s.MkdirShared("sshd")

	hostPub, hostKey := NewKey(t)
	s.HostKey = hostPub
	s.write("host_ed25519", hostKey, 0o600)
	clientPub, clientKey := NewKey(t)
	s.Key = s.write("client_ed25519", clientKey, 0o600)
	s.write("authorized_keys", authorizedLine(clientPub), 0o600)
	s.Port = freePort(t)
	s.Known = s.write("known_hosts", []byte(KnownHostsLine(s.Addr(), hostPub)), 0o600)
	s.write("sshd_config", []byte(s.config()), 0o600)
	s.chownTree(s.Dir)
	s.Restart()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("sshd's log:\n%s", s.Log())
		}
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the ssh:// endpoint of the socket at path on this server.
func (s *Server) URL(path string) string { return "ssh://" + s.User + "@" + s.Addr() + path }

func (s *Server) config() string {
	return strings.Join([]string{
		"Port " + strconv.Itoa(s.Port),
		"ListenAddress " + s.Host,
		"HostKey " + filepath.Join(s.Dir, "host_ed25519"),
		"PidFile " + filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.Dir, "authorized_keys"),
		"StrictModes no",
		"UsePAM yes", // unprivileged, PAM's account check is what lets the login through
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		// Nothing for anyone; then, for the gateway's user only, the block
		// deploy/README.md gives for z/OS. OpenSSH checks stream-local
		// channels against the TCP forwarding permissions too:
		// "AllowTcpForwarding no" or any PermitOpen refuses them, so the
		// block needs "AllowTcpForwarding local".
		"AllowStreamLocalForwarding no",
		"AllowTcpForwarding no",
		"AllowAgentForwarding no",
		"X11Forwarding no",
		"PermitTTY no",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"Match User " + s.User,
		"    AllowStreamLocalForwarding local",
		"    AllowTcpForwarding local",
		"    PermitListen none",
		"    PermitTTY no",
		"    X11Forwarding no",
		"    AllowAgentForwarding no",
		"    PermitUserRC no",
		"    ForceCommand /bin/false",
		"",
	}, "\n")
}

// Restart starts sshd (again) on the same port with the same keys.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("sshdtest: Restart while running")
	}
	var last string
	for attempt := 0; attempt < 50; attempt++ {
		s.n++
		logf, err := os.Create(filepath.Join(s.Dir, "sshd-"+strconv.Itoa(s.n)+".log"))
		if err != nil {
			s.t.Fatal(err)
		}
		cmd := exec.Command(Binary, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
		pr, pw, err := os.Pipe()
		if err != nil {
			s.t.Fatal(err)
		}
		cmd.Stderr = pw
		if s.uid >= 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}}
		}
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("sshdtest: start %s: %v", Binary, err)
		}
		pw.Close()
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(pr)
			sent := false
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(logf, line)
				if !sent && strings.Contains(line, "Server listening on") {
					ready <- true
					sent = true
				}
			}
			if !sent {
				ready <- false
			}
			logf.Close()
		}()
		select {
		case ok := <-ready:
			if ok {
				s.cmd = cmd
				return
			}
		case <-time.After(10 * time.Second):
		}
		cmd.Process.Kill()
		cmd.Wait()
		b, _ := os.ReadFile(logf.Name())
		last = string(b)
		time.Sleep(100 * time.Millisecond) // the port may still be held by the previous server's children
	}
	s.t.Fatalf("sshdtest: sshd did not start: %s", last)
}

// Kill kills sshd and every process it started (the per-connection
// children), as a crash would: every SSH connection to it drops.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pids := descendants(s.cmd.Process.Pid)
	s.cmd.Process.Kill()
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	s.cmd.Wait()
	s.cmd = nil
}

// Authorize adds key to authorized_keys.
func (s *Server) Authorize(key ssh.PublicKey) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.Dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(authorizedLine(key)); err != nil {
		s.t.Fatal(err)
	}
}

// authorizedLine is an authorized_keys line with the options
// deploy/README.md gives: every restriction, then port forwarding (which
// covers stream-local channels) allowed again.
func authorizedLine(key ssh.PublicKey) []byte {
	return append([]byte("restrict,port-forwarding "), ssh.MarshalAuthorizedKey(key)...)
}

// Log returns what sshd logged so far.
func (s *Server) Log() string {
	var b bytes.Buffer
	for i := 1; i <= s.n; i++ {
		l, _ := os.ReadFile(filepath.Join(s.Dir, "sshd-"+strconv.Itoa(i)+".log"))
		b.Write(l)
	}
	return b.String()
}

// MkdirShared makes a directory the sshd user can enter and write (for the
// sockets sshd forwards to), removed when the test ends. Its path is short
// enough for an AF_UNIX socket name.
func (s *Server) MkdirShared(name string) string {
	dir, err := os.MkdirTemp("", "nmigw-"+name+"-")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		s.t.Fatal(err)
	}
	return dir
}

func (s *Server) write(name string, b []byte, mode os.FileMode) string {
	p := filepath.Join(s.Dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// chownTree gives sshd's user its directory and the files it reads (the
// host key). The client key stays the test's own.
func (s *Server) chownTree(dir string) {
	if s.uid < 0 {
		return
	}
	for _, n := range []string{"", "host_ed25519", "authorized_keys", "sshd_config"} {
		if err := os.Chown(filepath.Join(dir, n), s.uid, s.gid); err != nil {
			s.t.Fatal(err)
		}
	}
}

// NewKey makes an ed25519 key pair: the public key, and the private key in
// OpenSSH PEM form.
func NewKey(t testing.TB) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, pem.EncodeToMemory(blk)
}

// KnownHostsLine is a known_hosts line for addr (host:port) and key.
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[p] = pp
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
