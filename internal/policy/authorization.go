package policy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The backends of authorization.backend.
const (
	// BackendPolicy decides from the profiles of the policy (the default).
	BackendPolicy = "policy"
	// BackendSAFEndpoint asks RACF through ZSS's saf-auth REST endpoint.
	BackendSAFEndpoint = "saf-endpoint"
)

// Defaults and bounds of authorization.safEndpoint (the gateway's
// internal/authz/safauth checks the same bounds).
const (
	DefaultSAFTimeout       = 5 * time.Second
	DefaultSAFCacheTTL      = 60 * time.Second
	DefaultSAFMaxConcurrent = 8
	MaxSAFTimeout           = time.Minute
	MaxSAFCacheTTL          = 10 * time.Minute
	MaxSAFConcurrent        = 64
)

// Authorization is the authorization key: which backend decides. The
// policy still says how callers become user IDs (identities), the system
// name and the anonymous user, whichever backend decides; with
// saf-endpoint its profiles and superusers decide nothing for the gateway
// (the simulator still uses them).
type Authorization struct {
	Backend string       // BackendPolicy or BackendSAFEndpoint; "" = BackendPolicy
	SAF     *SAFEndpoint // authorization.safEndpoint; set with BackendSAFEndpoint only
}

// SAFEndpoint is authorization.safEndpoint: where ZSS's saf-auth service
// is and how the gateway authenticates to it.
type SAFEndpoint struct {
	URL            string        // base URL up to and including saf-auth
	Timeout        time.Duration // one request; default DefaultSAFTimeout
	CacheTTL       time.Duration // grants; default DefaultSAFCacheTTL, 0s = no cache
	DenialCacheTTL time.Duration // denials; default CacheTTL, never more
	MaxConcurrent  int           // requests of one batch; default DefaultSAFMaxConcurrent

	CAFile, CertFile, KeyFile string // PEM; relative paths against the policy's directory
	User                      string // HTTP Basic user ID, with PasswordFile
	PasswordFile              string
	TokenFile                 string // a token sent as the apimlAuthenticationToken cookie

	// Read from the files above by Load and Parse (on every reload).
	RootCAs     *x509.CertPool   // nil: the system's roots
	Certificate *tls.Certificate // nil: no client certificate
	Password    string
	Token       string

	cacheSet, denialSet bool // the TTLs were given
}

const keyAuthorization = "authorization"

func (w *walker) authorization(v *yaml.Node, key string, p *Policy) error {
	a := &p.Authorization
	return w.mapping(v, key, map[string]fieldFunc{
		"backend": str(&a.Backend),
		"safEndpoint": func(v *yaml.Node, key string) error {
			s := &SAFEndpoint{}
			a.SAF = s
			return w.mapping(v, key, map[string]fieldFunc{
				"url":            str(&s.URL),
				"timeout":        duration(&s.Timeout, nil),
				"cacheTTL":       duration(&s.CacheTTL, &s.cacheSet),
				"denialCacheTTL": duration(&s.DenialCacheTTL, &s.denialSet),
				"maxConcurrent": func(v *yaml.Node, key string) error {
					txt, err := scalar(v, key)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(txt)
					if err != nil {
						return &Error{Line: v.Line, Key: key, Err: fmt.Errorf("%w: want a whole number", ErrInvalid)}
					}
					s.MaxConcurrent = n
					return nil
				},
				"caFile":       str(&s.CAFile),
				"certFile":     str(&s.CertFile),
				"keyFile":      str(&s.KeyFile),
				"user":         str(&s.User),
				"passwordFile": str(&s.PasswordFile),
				"tokenFile":    str(&s.TokenFile),
			}, "url")
		},
	})
}

// duration decodes a Go duration ("5s", "1m30s"); set, if not nil,
// records that it was given.
func duration(dst *time.Duration, set *bool) fieldFunc {
	return func(v *yaml.Node, key string) error {
		s, err := scalar(v, key)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return &Error{Line: v.Line, Key: key, Err: fmt.Errorf("%w: %q is not a duration such as 5s or 1m", ErrInvalid, s)}
		}
		*dst = d
		if set != nil {
			*set = true
		}
		return nil
	}
}

// readAuthorizationFiles reads the files authorization.safEndpoint names,
// relative paths against dir. Errors are *Error naming the key.
func (w *walker) readAuthorizationFiles(s *SAFEndpoint, dir string) error {
	const key = keyAuthorization + ".safEndpoint."
	fail := func(k string, err error) error {
		return &Error{Line: w.lineOf(key + k), Key: key + k, Err: err}
	}
	read := func(k string, path *string) ([]byte, error) {
		if *path == "" {
			return nil, nil
		}
		if !filepath.IsAbs(*path) && dir != "" {
			*path = filepath.Join(dir, *path)
		}
		if fi, err := os.Stat(*path); err != nil {
			return nil, fail(k, err)
		} else if !fi.Mode().IsRegular() {
			return nil, fail(k, fmt.Errorf("%s: not a regular file", *path))
		}
		data, err := readFile(*path)
		if err != nil {
			return nil, fail(k, err)
		}
		return data, nil
	}
	ca, err := read("caFile", &s.CAFile)
	if err != nil {
		return err
	}
	if ca != nil {
		s.RootCAs = x509.NewCertPool()
		if !s.RootCAs.AppendCertsFromPEM(ca) {
			return fail("caFile", fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalid, s.CAFile))
		}
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		k := "certFile"
		if s.KeyFile == "" {
			k = "keyFile"
		}
		return fail(k, fmt.Errorf("%w: give certFile and keyFile, or neither", ErrMissingKey))
	}
	cert, err := read("certFile", &s.CertFile)
	if err != nil {
		return err
	}
	keyPEM, err := read("keyFile", &s.KeyFile)
	if err != nil {
		return err
	}
	if cert != nil {
		c, err := tls.X509KeyPair(cert, keyPEM)
		if err != nil {
			return fail("certFile", fmt.Errorf("%w: %s and %s: %v", ErrInvalid, s.CertFile, s.KeyFile, err))
		}
		s.Certificate = &c
	}
	secret := func(k string, path *string, dst *string) error {
		b, err := read(k, path)
		if err != nil || b == nil {
			return err
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return fail(k, fmt.Errorf("%w: %s must hold one non-empty line", ErrInvalid, *path))
		}
		*dst = v
		return nil
	}
	if err := secret("passwordFile", &s.PasswordFile, &s.Password); err != nil {
		return err
	}
	return secret("tokenFile", &s.TokenFile, &s.Token)
}

// authorization checks the authorization key and fills in defaults.
func (v *validator) authorization(a *Authorization) {
	const key = keyAuthorization
	switch a.Backend {
	case "":
		a.Backend = BackendPolicy
	case BackendPolicy, BackendSAFEndpoint:
	default:
		v.check(key+".backend", fmt.Errorf("%w: %q is not %s or %s", ErrInvalid, a.Backend, BackendPolicy, BackendSAFEndpoint))
		return
	}
	s := a.SAF
	switch {
	case a.Backend == BackendPolicy && s != nil:
		v.check(key+".safEndpoint", fmt.Errorf("%w: only with backend: %s", ErrInvalid, BackendSAFEndpoint))
		return
	case a.Backend == BackendSAFEndpoint && s == nil:
		v.check(key+".safEndpoint", ErrMissingKey)
		return
	case s == nil:
		return
	}
	const sk = key + ".safEndpoint."
	if err := checkHTTPURL("url", s.URL); err != nil {
		v.check(sk+"url", err)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultSAFTimeout
	}
	if !s.cacheSet && s.CacheTTL == 0 {
		s.CacheTTL = DefaultSAFCacheTTL
	}
	if !s.denialSet && s.DenialCacheTTL == 0 {
		s.DenialCacheTTL = s.CacheTTL
	}
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = DefaultSAFMaxConcurrent
	}
	between := func(k string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			v.check(sk+k, fmt.Errorf("%w: %s is not between %s and %s", ErrInvalid, d, lo, hi))
		}
	}
	between("timeout", s.Timeout, time.Millisecond, MaxSAFTimeout)
	between("cacheTTL", s.CacheTTL, 0, MaxSAFCacheTTL)
	if s.DenialCacheTTL < 0 || s.DenialCacheTTL > s.CacheTTL {
		v.check(sk+"denialCacheTTL", fmt.Errorf("%w: %s is not between 0s and cacheTTL (%s): a denial is never cached longer than a grant",
			ErrInvalid, s.DenialCacheTTL, s.CacheTTL))
	}
	if s.MaxConcurrent < 1 || s.MaxConcurrent > MaxSAFConcurrent {
		v.check(sk+"maxConcurrent", fmt.Errorf("%w: %d is not 1 to %d", ErrInvalid, s.MaxConcurrent, MaxSAFConcurrent))
	}
	switch {
	case s.User != "" && s.PasswordFile == "":
		v.check(sk+"passwordFile", fmt.Errorf("%w: user needs passwordFile", ErrMissingKey))
	case s.User == "" && s.PasswordFile != "":
		v.check(sk+"user", fmt.Errorf("%w: passwordFile needs user", ErrMissingKey))
	case s.User != "" && s.TokenFile != "":
		v.check(sk+"tokenFile", fmt.Errorf("%w: give user and passwordFile, or tokenFile, not both", ErrInvalid))
	case s.User == "" && s.TokenFile == "" && s.CertFile == "":
		v.check(sk+"user", fmt.Errorf("%w: the endpoint needs credentials: user and passwordFile, tokenFile, or certFile and keyFile", ErrMissingKey))
	case s.User != "":
		s.User = v.id(sk+"user", s.User)
	}
	if strings.HasPrefix(s.URL, "http:") && s.Certificate != nil {
		v.check(sk+"certFile", fmt.Errorf("%w: a client certificate needs an https url", ErrInvalid))
	}
}
