package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/transport"
)

// endpoint is the NMI endpoint URL: --nmi, else unix:// of --nmi-socket.
func (c *config) endpoint() string {
	if c.NMI != "" {
		return c.NMI
	}
	return "unix://" + c.NMISocket
}

// transportFlags defines the credential flags of the ssh and tls
// transports, for the gateway and for `gateway doctor`.
func transportFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.SSHKey, "ssh-key", "", "ssh:// endpoints: private key file (PEM or OpenSSH format)")
	fs.StringVar(&c.SSHKeyPass, "ssh-key-passphrase-file", "", "ssh:// endpoints: file holding the private key's passphrase")
	fs.StringVar(&c.SSHKnownHosts, "ssh-known-hosts", "", "ssh:// endpoints: known_hosts file pinning the server's host key (required)")
	fs.StringVar(&c.NMITLSCA, "nmi-tls-ca", "", "tls:// endpoints: CA bundle (PEM) that verifies the relay (default: the system's roots)")
	fs.StringVar(&c.NMITLSCert, "nmi-tls-cert", "", "tls:// endpoints: client certificate (PEM)")
	fs.StringVar(&c.NMITLSKey, "nmi-tls-key", "", "tls:// endpoints: client private key (PEM)")
}

func (c *config) transportOptions() transport.Options {
	return transport.Options{
		SSHKey: c.SSHKey, SSHKeyPassphraseFile: c.SSHKeyPass, SSHKnownHosts: c.SSHKnownHosts,
		TLSCA: c.NMITLSCA, TLSCert: c.NMITLSCert, TLSKey: c.NMITLSKey,
	}
}

// nmiEndpoint is what the pool dials: the transport of the configured
// endpoint, with a capture tee when --nmi-capture is set.
type nmiEndpoint struct {
	tr      *transport.Transport
	capture *capture.Writer
	dial    func(context.Context) (net.Conn, error)
}

// openNMI prepares the endpoint at url; it reads the credentials the
// options name, and fails at start with one line naming the endpoint.
func openNMI(url string, o transport.Options, captureFile, program string) (*nmiEndpoint, error) {
	tr, err := transport.Open(url, o)
	if err != nil {
		return nil, err
	}
	e := &nmiEndpoint{tr: tr, dial: tr.Dial}
	if captureFile != "" {
		f, err := os.OpenFile(captureFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			tr.Close()
			return nil, fmt.Errorf("nmi-capture: %w", err)
		}
		w, err := capture.NewWriter(f, capture.Header{Endpoint: tr.Addr(), Program: program})
		if err != nil {
			f.Close()
			tr.Close()
			return nil, fmt.Errorf("nmi-capture: %w", err)
		}
		e.capture = w
		e.dial = w.Dial(tr.Dial)
	}
	return e, nil
}

// Close closes the transport (the SSH connection), then the capture.
func (e *nmiEndpoint) Close() error {
	err := e.tr.Close()
	if e.capture != nil {
		if cerr := e.capture.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
