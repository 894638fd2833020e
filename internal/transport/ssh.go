package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	defaultKeepalive      = 15 * time.Second
	defaultKeepaliveCount = 3
	// defaultHandshakeTimeout bounds the TCP connect and SSH handshake
	// when the caller's context has no deadline.
	defaultHandshakeTimeout = 30 * time.Second
	// probeTimeout bounds the check of a connection under a stream that
	// ended.
	probeTimeout = 5 * time.Second
)

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)

// sshTransport holds one SSH connection to the endpoint's host and opens
// one direct-streamlocal@openssh.com channel per stream on it. When the
// connection is lost, every stream on it fails and the next dial connects
// again (the caller's backoff governs how often).
type sshTransport struct {
	t         *Transport
	ep        Endpoint
	signer    ssh.Signer
	hostKeys  ssh.HostKeyCallback
	hostAlgos []string
	knownFile string
	keepalive time.Duration
	count     int

	lock chan struct{} // one token: held while connecting

	mu     sync.Mutex
	cur    *sshConn
	closed bool
}

func newSSH(t *Transport, ep Endpoint, o Options) (*sshTransport, error) {
	cfgErr := func(err error) error { return &Error{Endpoint: ep.String(), Op: OpConfigure, Err: err} }
	if o.SSHKey == "" {
		return nil, cfgErr(errors.New("--ssh-key is required"))
	}
	if o.SSHKnownHosts == "" {
		return nil, cfgErr(errors.New("--ssh-known-hosts is required (host keys are always checked)"))
	}
	signer, err := loadSigner(o.SSHKey, o.SSHKeyPassphraseFile)
	if err != nil {
		return nil, cfgErr(err)
	}
	s := &sshTransport{
		t: t, ep: ep, signer: signer, knownFile: o.SSHKnownHosts,
		keepalive: o.SSHKeepalive, count: o.SSHKeepaliveCount,
		lock: make(chan struct{}, 1),
	}
	if s.keepalive == 0 {
		s.keepalive = defaultKeepalive
	}
	if s.count <= 0 {
		s.count = defaultKeepaliveCount
	}
	cb, err := knownhosts.New(o.SSHKnownHosts)
	if err != nil {
		return nil, cfgErr(fmt.Errorf("--ssh-known-hosts: %w", pathErr(err)))
	}
	s.hostKeys = cb
	s.hostAlgos = hostKeyAlgorithms(cb, ep)
	return s, nil
}

// loadSigner reads a PEM private key, decrypting it with the passphrase
// in passFile when it is encrypted. Errors name the file, never its
// contents.
func loadSigner(keyFile, passFile string) (ssh.Signer, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--ssh-key: %w", pathErr(err))
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, nil
	case errors.As(err, &missing):
		if passFile == "" {
			return nil, errors.New("--ssh-key " + keyFile + " is encrypted and no --ssh-key-passphrase-file is given")
		}
		pass, err := os.ReadFile(passFile)
		if err != nil {
			return nil, fmt.Errorf("--ssh-key-passphrase-file: %w", pathErr(err))
		}
		pass = bytes.TrimRight(pass, "\r\n")
		signer, err := ssh.ParsePrivateKeyWithPassphrase(pem, pass)
		clear(pass)
		if err != nil {
			return nil, errors.New("--ssh-key " + keyFile + ": cannot decrypt with the passphrase from --ssh-key-passphrase-file")
		}
		return signer, nil
	default:
		return nil, errors.New("--ssh-key " + keyFile + ": not a private key this build reads (PEM or OpenSSH format)")
	}
}

// pathErr keeps an *os.PathError's path and cause only.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// probeKey is a key no known_hosts line holds: checking it lists the keys
// known for a host.
type probeKey struct{}

func (probeKey) Type() string                             { return "nmigw-probe" }
func (probeKey) Marshal() []byte                          { return []byte("nmigw-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error      { return errors.New("probe key") }
func (probeKey) String() string                           { return "probe" }
func (probeKey) Equal(ssh.PublicKey) bool                 { return false }
func (probeKey) VerifyWithAlgorithm(string) (bool, error) { return false, nil }

// hostKeyAlgorithms lists the host key algorithms known_hosts holds keys
// of for the endpoint's host, so that the server is asked for a key that
// can be checked. Nil (the library's default) when the host is unknown.
func hostKeyAlgorithms(cb ssh.HostKeyCallback, ep Endpoint) []string {
	port, _ := strconv.Atoi(ep.Port)
	err := cb(ep.Address(), &net.TCPAddr{IP: net.IPv4zero, Port: port}, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// sshConn is one SSH connection and the goroutines that watch it.
type sshConn struct {
	client *ssh.Client
	done   chan struct{} // closed once the connection has ended

	mu    sync.Mutex
	cause error // why the connection ended; nil while it is up
}

// lost returns why the connection ended, or nil while it is up.
func (c *sshConn) lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// check returns why the connection ended, or nil while it is up. A
// stream that ends cannot tell a channel closed by the server from a
// connection that died, and the connection may not know yet that it died:
// check asks the server (a keepalive request fails at once on a dead
// connection).
func (c *sshConn) check() error {
	if err := c.lost(); err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		res <- err
	}()
	t := time.NewTimer(probeTimeout)
	defer t.Stop()
	select {
	case err := <-res:
		if err == nil {
			return nil
		}
	case <-c.done:
	case <-t.C:
		return nil
	}
	select {
	case <-c.done:
	case <-t.C:
	}
	return c.lost()
}

// fail ends the connection with cause (the first cause wins).
func (c *sshConn) fail(cause error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.client.Close()
}

func (c *sshConn) wait() {
	err := c.client.Wait()
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("closed by the server")
	}
	c.mu.Lock()
	if c.cause == nil {
		c.cause = fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	c.mu.Unlock()
	close(c.done)
}

// keepaliveLoop sends keepalive@openssh.com every interval; when count of
// them in a row go unanswered, the peer is dead and the connection ends.
// OpenSSH answers the request with a failure, which is an answer.
func (c *sshConn) keepaliveLoop(interval time.Duration, count int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	answered := make(chan error, 1)
	outstanding, missed := false, 0
	for {
		select {
		case <-c.done:
			return
		case err := <-answered:
			outstanding, missed = false, 0
			if err != nil {
				c.fail(fmt.Errorf("%w: keepalive: %v", ErrConnectionLost, err))
				return
			}
		case <-tick.C:
			if outstanding {
				missed++
				if missed >= count {
					c.fail(fmt.Errorf("%w: no answer to keepalive for %s", ErrConnectionLost, time.Duration(count)*interval))
					return
				}
				continue
			}
			outstanding = true
			go func() {
				_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
				answered <- err
			}()
		}
	}
}

func (s *sshTransport) dial(ctx context.Context) (net.Conn, error) {
	c, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := c.client.DialContext(ctx, "unix", s.ep.Path)
	if err != nil {
		var oce *ssh.OpenChannelError
		if cause := c.lost(); cause != nil {
			err = cause
		} else if errors.As(err, &oce) {
			err = fmt.Errorf("%w (no socket there, or no access to it, or the SSH server refuses stream-local forwarding for this user: it needs AllowStreamLocalForwarding and AllowTcpForwarding local)", err)
		}
		return nil, s.t.wrap(ctx, OpChannel, fmt.Errorf("%s: %w", s.ep.Path, err))
	}
	local := streamAddr{"ssh", s.ep.User + "@" + s.ep.Address()}
	remote := streamAddr{"unix", s.ep.Path}
	lost := func() error {
		if err := c.check(); err != nil {
			return &Error{Endpoint: s.ep.String(), Op: OpStream, Err: err}
		}
		return nil
	}
	return newDeadlineConn(ch, local, remote, lost), nil
}

// get returns the live SSH connection, connecting when there is none.
func (s *sshTransport) get(ctx context.Context) (*sshConn, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	s.mu.Lock()
	closed, cur := s.closed, s.cur
	s.mu.Unlock()
	if closed {
		return nil, &Error{Endpoint: s.ep.String(), Op: OpDial, Err: net.ErrClosed}
	}
	if cur != nil && cur.lost() == nil {
		return cur, nil
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.fail(net.ErrClosed)
		<-c.done
		return nil, &Error{Endpoint: s.ep.String(), Op: OpDial, Err: net.ErrClosed}
	}
	s.cur = c
	s.mu.Unlock()
	return c, nil
}

// connect dials TCP and runs the SSH handshake: host key check, then
// public key authentication.
func (s *sshTransport) connect(ctx context.Context) (*sshConn, error) {
	hctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, defaultHandshakeTimeout)
		defer cancel()
	}
	var d net.Dialer
	nc, err := d.DialContext(hctx, "tcp", s.ep.Address())
	if err != nil {
		return nil, s.t.wrap(ctx, OpDial, err)
	}
	dl, _ := hctx.Deadline()
	nc.SetDeadline(dl)
	stop := context.AfterFunc(hctx, func() { nc.SetDeadline(aLongTimeAgo) })

	// The callbacks run on the handshake's goroutines.
	var (
		mu                     sync.Mutex
		hostErr                error
		hostChecked, authTried bool
	)
	cfg := &ssh.ClientConfig{
		User: s.ep.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			mu.Lock()
			authTried = true
			mu.Unlock()
			return []ssh.Signer{s.signer}, nil
		})},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := s.checkHostKey(host, remote, key)
			mu.Lock()
			hostErr, hostChecked = err, err == nil
			mu.Unlock()
			return err
		},
		HostKeyAlgorithms: s.hostAlgos,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, s.ep.Address(), cfg)
	stopped := stop()
	mu.Lock()
	defer mu.Unlock()
	if err == nil && !stopped {
		err = hctx.Err()
		sc.Close()
	}
	if err != nil {
		nc.Close()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case hostErr != nil:
			return nil, &Error{Endpoint: s.ep.String(), Op: OpHostKey, Err: hostErr}
		case hostChecked && authTried && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded):
			return nil, &Error{Endpoint: s.ep.String(), Op: OpAuth,
				Err: fmt.Errorf("%w for user %s with key %s", ErrAuthRefused, s.ep.User, ssh.FingerprintSHA256(s.signer.PublicKey()))}
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, &Error{Endpoint: s.ep.String(), Op: OpSSHHandshake, Err: fmt.Errorf("timed out: %w", err)}
		}
		return nil, &Error{Endpoint: s.ep.String(), Op: OpSSHHandshake, Err: err}
	}
	nc.SetDeadline(time.Time{})
	c := &sshConn{client: ssh.NewClient(sc, chans, reqs), done: make(chan struct{})}
	go c.wait()
	if s.keepalive > 0 {
		go c.keepaliveLoop(s.keepalive, s.count)
	}
	return c, nil
}

// checkHostKey checks the server's key against known_hosts and says
// plainly what is wrong.
func (s *sshTransport) checkHostKey(host string, remote net.Addr, key ssh.PublicKey) error {
	err := s.hostKeys(host, remote, key)
	if err == nil {
		return nil
	}
	got := key.Type() + " " + ssh.FingerprintSHA256(key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return fmt.Errorf("%w: %s offers %s, not in %s", ErrHostKeyUnknown, host, got, s.knownFile)
	case errors.As(err, &ke):
		w := ke.Want[0]
		return fmt.Errorf("%w: %s offers %s, %s:%d holds %s %s", ErrHostKeyChanged, host, got,
			w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
	case errors.As(err, &re):
		return fmt.Errorf("%w: %s offers %s, revoked in %s:%d", ErrHostKeyChanged, host, got, re.Revoked.Filename, re.Revoked.Line)
	}
	return err
}

// Close ends the SSH connection and waits for its goroutines.
func (s *sshTransport) Close() error {
	s.lock <- struct{}{} // no connect in progress
	defer func() { <-s.lock }()
	s.mu.Lock()
	s.closed = true
	c := s.cur
	s.cur = nil
	s.mu.Unlock()
	if c != nil {
		c.fail(fmt.Errorf("%w: transport closed", ErrConnectionLost))
		<-c.done
	}
	return nil
}
