// Package transport names an NMI endpoint with a URL and dials it: a local
// AF_UNIX socket (unix:///var/sock/ipsecmgmt), the same socket on a remote
// z/OS system through OpenSSH's stream-local forwarding
// (ssh://USER@HOST[:PORT]/var/sock/ipsecmgmt), or a TLS relay in front of
// it (tls://HOST:PORT). Each gives the NMI pool a net.Conn with the same
// semantics: deadlines on every read and write, and an I/O error once the
// path to IKED is gone.
//
// The package knows nothing of the NMI itself and logs nothing. Its errors
// are one line naming the endpoint and the cause; they never hold a key,
// a passphrase or the contents of a file.
package transport

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is the kind of an endpoint.
type Scheme string

const (
	SchemeUnix Scheme = "unix"
	SchemeSSH  Scheme = "ssh"
	SchemeTLS  Scheme = "tls"
)

// DefaultSSHPort is the port of an ssh:// endpoint without one.
const DefaultSSHPort = "22"

// Endpoint is a parsed NMI endpoint URL.
type Endpoint struct {
	Scheme Scheme
	User   string // ssh: the login name IKED then authorizes
	Host   string // ssh, tls: host name or address, without brackets
	Port   string // ssh, tls
	Path   string // unix, ssh: the absolute path of the NMI socket
}

// Parse parses an endpoint URL: unix:///PATH, ssh://USER@HOST[:PORT]/PATH
// or tls://HOST:PORT. A bare absolute path is taken as unix://PATH. The
// error names the URL and what is wrong with it.
func Parse(s string) (Endpoint, error) {
	if strings.HasPrefix(s, "/") {
		return parseUnixPath(s, s)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's own message repeats the URL; keep only its cause.
		msg := err.Error()
		if ue, ok := err.(*url.Error); ok {
			msg = ue.Err.Error()
		}
		return Endpoint{}, parseErr(s, msg)
	}
	if u.Opaque != "" {
		return Endpoint{}, parseErr(s, "want "+u.Scheme+"://...")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Endpoint{}, parseErr(s, "a query or fragment is not allowed")
	}
	switch Scheme(u.Scheme) {
	case SchemeUnix:
		if u.Host != "" || u.User != nil {
			return Endpoint{}, parseErr(s, "unix:// takes no host (write unix:///path, three slashes)")
		}
		return parseUnixPath(s, u.Path)
	case SchemeSSH:
		return parseSSH(s, u)
	case SchemeTLS:
		return parseTLS(s, u)
	case "":
		return Endpoint{}, parseErr(s, "no scheme (want unix:///path, ssh://user@host/path or tls://host:port)")
	default:
		return Endpoint{}, parseErr(s, "unknown scheme "+strconv.Quote(u.Scheme)+" (want unix, ssh or tls)")
	}
}

func parseUnixPath(s, p string) (Endpoint, error) {
	if err := checkPath(p); err != "" {
		return Endpoint{}, parseErr(s, err)
	}
	return Endpoint{Scheme: SchemeUnix, Path: p}, nil
}

func checkPath(p string) string {
	switch {
	case p == "" || p == "/":
		return "no socket path"
	case !strings.HasPrefix(p, "/"):
		return "the socket path must be absolute"
	case strings.ContainsRune(p, 0):
		return "the socket path holds a NUL byte"
	}
	return ""
}

func parseSSH(s string, u *url.URL) (Endpoint, error) {
	if u.User == nil || u.User.Username() == "" {
		return Endpoint{}, parseErr(s, "no user (want ssh://USER@HOST[:PORT]/PATH)")
	}
	if _, ok := u.User.Password(); ok {
		return Endpoint{}, parseErr(s, "a password in the URL is not supported (use --ssh-key)")
	}
	host, port, err := hostPort(u, DefaultSSHPort)
	if err != "" {
		return Endpoint{}, parseErr(s, err)
	}
	if e := checkPath(u.Path); e != "" {
		return Endpoint{}, parseErr(s, e)
	}
	return Endpoint{Scheme: SchemeSSH, User: u.User.Username(), Host: host, Port: port, Path: u.Path}, nil
}

func parseTLS(s string, u *url.URL) (Endpoint, error) {
	if u.User != nil {
		return Endpoint{}, parseErr(s, "tls:// takes no user")
	}
	if u.Path != "" && u.Path != "/" {
		return Endpoint{}, parseErr(s, "tls:// takes no path (the relay knows the socket)")
	}
	host, port, err := hostPort(u, "")
	if err != "" {
		return Endpoint{}, parseErr(s, err)
	}
	return Endpoint{Scheme: SchemeTLS, Host: host, Port: port}, nil
}

// hostPort checks the URL's host and port; def is the default port ("":
// the port is required).
func hostPort(u *url.URL, def string) (host, port, msg string) {
	host, port = u.Hostname(), u.Port()
	if host == "" {
		return "", "", "no host"
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", "", "empty port"
	}
	if port == "" {
		if def == "" {
			return "", "", "no port (want tls://HOST:PORT)"
		}
		port = def
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", "", "bad port " + strconv.Quote(port)
	}
	return host, port, ""
}

// Address is host:port of an ssh or tls endpoint.
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, e.Port) }

// String is the endpoint in canonical form; it holds no secret.
func (e Endpoint) String() string {
	switch e.Scheme {
	case SchemeUnix:
		u := url.URL{Scheme: "unix", Path: e.Path}
		return u.String()
	case SchemeSSH:
		u := url.URL{Scheme: "ssh", User: url.User(e.User), Host: e.Address(), Path: e.Path}
		return u.String()
	case SchemeTLS:
		return "tls://" + e.Address()
	}
	return ""
}

// ParseError is a malformed endpoint URL.
type ParseError struct {
	URL string
	Msg string
}

func (e *ParseError) Error() string { return "nmi endpoint " + strconv.Quote(e.URL) + ": " + e.Msg }

func parseErr(s, msg string) error { return &ParseError{URL: redact(s), Msg: msg} }

// redact hides a password in a URL's user information, so that an error
// about the URL can be logged.
func redact(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	auth := s[i+3:]
	if j := strings.IndexByte(auth, '/'); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(auth[:at], ':')
	if colon < 0 {
		return s
	}
	return s[:i+3] + auth[:colon] + ":xxxxx" + s[i+3+at:]
}
