package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"time"
)

// Options are the credentials and tuning of the ssh and tls transports.
// Files are read by New; their contents never appear in an error.
type Options struct {
	SSHKey               string // PEM private key file (ssh)
	SSHKeyPassphraseFile string // file holding the key's passphrase; optional
	SSHKnownHosts        string // known_hosts file that pins the host key (ssh)
	// SSHKeepalive is the interval of keepalive@openssh.com requests; the
	// connection is closed when SSHKeepaliveCount of them in a row go
	// unanswered. Defaults 15s and 3; a negative interval turns them off.
	SSHKeepalive      time.Duration
	SSHKeepaliveCount int

	TLSCA   string // CA bundle (PEM) that verifies the relay; empty: the system's roots
	TLSCert string // client certificate (PEM); optional, with TLSKey
	TLSKey  string // client key (PEM)
}

// Transport dials one endpoint. Dial is safe for concurrent use.
type Transport struct {
	ep    Endpoint
	dial  func(context.Context) (net.Conn, error)
	close func() error
}

// New prepares the transport of ep: it reads and checks the files that
// Options names, but does not connect. A missing or unusable credential is
// an *Error naming the endpoint.
func New(ep Endpoint, opts Options) (*Transport, error) {
	t := &Transport{ep: ep, close: func() error { return nil }}
	switch ep.Scheme {
	case SchemeUnix:
		// The local socket's errors stay the dialer's own (*net.OpError,
		// which names the path): the NMI client reports them as before.
		var d net.Dialer
		path := ep.Path
		t.dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
	case SchemeSSH:
		s, err := newSSH(t, ep, opts)
		if err != nil {
			return nil, err
		}
		t.dial, t.close = s.dial, s.Close
	case SchemeTLS:
		d, err := newTLS(t, ep, opts)
		if err != nil {
			return nil, err
		}
		t.dial = d
	default:
		return nil, &Error{Endpoint: ep.String(), Op: OpConfigure, Err: errors.New("unknown scheme " + string(ep.Scheme))}
	}
	return t, nil
}

// Open parses rawURL and prepares its transport.
func Open(rawURL string, opts Options) (*Transport, error) {
	ep, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return New(ep, opts)
}

// Dial opens one stream to the NMI socket. When ctx ends first, the error
// is ctx.Err(); other failures are *Error, except a local socket's, which
// are the dialer's own.
func (t *Transport) Dial(ctx context.Context) (net.Conn, error) { return t.dial(ctx) }

// Addr is the endpoint in canonical form, for errors and logs.
func (t *Transport) Addr() string { return t.ep.String() }

// Endpoint returns the endpoint.
func (t *Transport) Endpoint() Endpoint { return t.ep }

// Close releases what the transport holds (the SSH connection); streams
// already open fail and later dials fail with net.ErrClosed.
func (t *Transport) Close() error { return t.close() }

// wrap makes err an *Error naming the endpoint, or returns ctx's error when
// ctx ended.
func (t *Transport) wrap(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{Endpoint: t.ep.String(), Op: op, Err: err}
}

// What an Error's transport was doing.
const (
	OpConfigure    = "configure"      // reading the options' files
	OpDial         = "dial"           // connecting (TCP or AF_UNIX)
	OpSSHHandshake = "ssh handshake"  // SSH key exchange
	OpHostKey      = "host key"       // checking the SSH server's host key
	OpAuth         = "authenticate"   // SSH public key authentication
	OpChannel      = "open channel"   // opening the stream-local channel to the socket
	OpStream       = "ssh connection" // a stream whose SSH connection ended
	OpTLSHandshake = "tls handshake"  // TLS handshake with the relay
)

// Error is a transport failure. Its text is one line: the endpoint, what
// was being done, and the cause.
type Error struct {
	Endpoint string // canonical URL
	Op       string // one of the Op constants
	Err      error
}

// NMIEndpoint is the endpoint's canonical URL; it holds no secret.
func (e *Error) NMIEndpoint() string { return e.Endpoint }

// NMICause names the failure with a fixed phrase, for places that must
// not show the error's text (a readiness probe's answer).
func (e *Error) NMICause() string {
	switch {
	case errors.Is(e.Err, ErrHostKeyUnknown):
		return "SSH host key not in known_hosts"
	case errors.Is(e.Err, ErrHostKeyChanged):
		return "SSH host key does not match known_hosts"
	case errors.Is(e.Err, ErrAuthRefused):
		return "SSH authentication refused"
	case errors.Is(e.Err, ErrConnectionLost):
		return "SSH connection lost"
	}
	phrase := map[string]string{
		OpConfigure: "configuration error", OpDial: "cannot connect", OpSSHHandshake: "SSH handshake failed",
		OpHostKey: "SSH host key refused", OpAuth: "SSH authentication refused",
		OpChannel: "SSH server refused the channel to the socket", OpStream: "SSH connection lost",
		OpTLSHandshake: "TLS handshake failed",
	}[e.Op]
	if phrase == "" {
		phrase = "connection failed"
	}
	if e.Timeout() {
		phrase += " (timed out)"
	}
	return phrase
}

func (e *Error) Error() string {
	return "nmi endpoint " + e.Endpoint + ": " + e.Op + ": " + oneLine(e.Err.Error())
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the failure was a timeout.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, os.ErrDeadlineExceeded) || (errors.As(e.Err, &t) && t.Timeout())
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Sentinel causes callers may branch on (with errors.Is).
var (
	// ErrHostKeyUnknown: the server's host key is not in known_hosts.
	ErrHostKeyUnknown = errors.New("host key not in known_hosts")
	// ErrHostKeyChanged: known_hosts holds another key for the server.
	ErrHostKeyChanged = errors.New("host key does not match known_hosts (changed or spoofed)")
	// ErrAuthRefused: the SSH server refused every key offered.
	ErrAuthRefused = errors.New("authentication refused")
	// ErrConnectionLost: the SSH connection carrying the stream ended.
	ErrConnectionLost = errors.New("ssh connection lost")
)
