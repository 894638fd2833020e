package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// newTLS prepares the dial function of a tls:// endpoint: TCP, then TLS
// 1.2 or later, verifying the relay against TLSCA (or the system's roots)
// and the endpoint's host name, with a client certificate when one is
// configured.
func newTLS(t *Transport, ep Endpoint, o Options) (func(context.Context) (net.Conn, error), error) {
	cfgErr := func(err error) error { return &Error{Endpoint: ep.String(), Op: OpConfigure, Err: err} }
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: ep.Host}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, cfgErr(fmt.Errorf("--nmi-tls-ca: %w", pathErr(err)))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, cfgErr(errors.New("--nmi-tls-ca " + o.TLSCA + ": no PEM certificate in it"))
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.TLSCert != "" && o.TLSKey != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			// LoadX509KeyPair's errors name no key material.
			return nil, cfgErr(fmt.Errorf("--nmi-tls-cert/--nmi-tls-key: %w", pathErr(err)))
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.TLSCert != "" || o.TLSKey != "":
		return nil, cfgErr(errors.New("--nmi-tls-cert and --nmi-tls-key go together"))
	}
	d := &tls.Dialer{Config: cfg}
	return func(ctx context.Context) (net.Conn, error) {
		c, err := d.DialContext(ctx, "tcp", ep.Address())
		if err != nil {
			op := OpTLSHandshake
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Op == "dial" {
				op = OpDial
			}
			return nil, t.wrap(ctx, op, err)
		}
		return c, nil
	}, nil
}
