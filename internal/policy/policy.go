// Package policy reads the policy file shared by the gateway and the
// simulator: the system name, superusers, SERVAUTH profiles, group
// membership, and how callers (tokens, client certificates, OIDC tokens,
// socket peers) become user IDs.
//
// The file is YAML of this shape (every key but system is optional):
//
//	system: SYS1
//	superusers: {users: [IBMUSER], groups: [SYS1]}
//	anonymous: ANONYM
//	profiles:
//	  - name: EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY
//	    uacc: NONE
//	    access: [{id: OPSGRP, level: READ}, {id: "*", level: NONE}]
//	users:
//	  OPER1: [OPSGRP]
//	identities:
//	  tokens: [{sha256: "<64 hex digits>", user: OPER1, groups: [EXTRA]}]
//	  tokensFile: tokens.yaml       # more tokens, e.g. from a Kubernetes Secret
//	  certificates: [{subject: "CN=dash,OU=NOC", user: DASHBRD, groups: [NOC]}]
//	  certificateCN: {prefix: "zos-"}   # or domain: example.com; absent: unlisted certificates are refused
//	  oidc:
//	    issuer: "https://idp.example"
//	    audience: nmigw
//	    userClaim: preferred_username
//	    users: {"alice.smith@example.com": ALICE}   # and/or userPrefix / userDomain; one is required
//	    userDomain: example.com                     # oper1@example.com -> OPER1
//	    groupsClaim: groups
//	    groups: {ipsec-operators: OPSGRP}           # required with groupsClaim; other IdP groups are ignored
//	  zoweJwt: {jwksUrl: "https://apiml.example:7554/gateway/api/v1/auth/keys/public/current", issuer: APIML, caFile: zowe-ca.pem}
//	  uids: {1000: OPER1}
//	authorization:                  # optional; backend policy by default
//	  backend: saf-endpoint         # ask RACF through ZSS's saf-auth service
//	  safEndpoint:
//	    url: https://zos.example:7557/saf-auth
//	    timeout: 5s                 # one request (default 5s, at most 1m)
//	    cacheTTL: 60s               # grants (default 60s, at most 10m; 0s: no cache)
//	    denialCacheTTL: 30s         # denials (default and at most cacheTTL)
//	    maxConcurrent: 8            # requests of one batch (default 8, 1 to 64)
//	    caFile: zss-ca.pem          # verifies the endpoint; default the system's roots
//	    certFile: gw.pem            # client certificate and key (PEM), optional
//	    keyFile: gw-key.pem
//	    user: NMIGWSV               # HTTP Basic credentials: user and passwordFile,
//	    passwordFile: zss-password  # or tokenFile (sent as the apimlAuthenticationToken cookie)
//
// With backend saf-endpoint the gateway asks RACF (package
// internal/authz/safauth); the policy still supplies the system name, the
// anonymous user and the identities, while its profiles, users and
// superusers decide nothing for the gateway (the simulator keeps using
// them). The files of safEndpoint are read like tokensFile: relative to
// the policy's directory, on every Load. The password and token files hold
// one line.
//
// identities.zoweJwt accepts the JWTs of a Zowe API Mediation Layer: jwksUrl
// (required) is the API ML's JWK set of the key that currently signs, issuer
// the iss claim its tokens carry (default APIML; zOSMF when z/OSMF issues
// the tokens the API ML hands out), and caFile an optional PEM file of the
// CAs to trust for jwksUrl (default: the system's roots), resolved like
// tokensFile and read on every Load.
//
// Decoding is strict: an unknown key, a value of the wrong shape or an
// invalid value is an *Error naming the line and the key.
//
// identities.tokensFile names a second file that holds more bearer tokens
// (so that token hashes can live in a secret store apart from the policy):
// a YAML mapping with the one key tokens, a list like identities.tokens:
//
//	tokens:
//	  - {sha256: "<64 hex digits>", user: OPER2, groups: [EXTRA]}
//
// A relative path is resolved against the policy file's directory (Load)
// or the working directory (Parse). The file is read, strictly and
// validated, on every Load, so a reload (SIGHUP) re-reads it too. Like the
// policy, it holds SHA-256 hashes only, never tokens.
package policy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/nmigw/nmigw/internal/authz"
)

// Policy is one validated policy file.
type Policy struct {
	Authz     authz.Config
	Anonymous string    // user ID for requests without credentials; "" = none
	Tokens    []TokenID // identities.tokens, then those of TokensFile
	// TokensFile is identities.tokensFile as read (resolved against the
	// policy file's directory); "" = none. Its tokens are in Tokens.
	TokensFile   string
	Certificates []CertID
	// CertificateCN maps the CN of a verified certificate whose subject
	// is not in Certificates (identities.certificateCN: prefix, domain);
	// empty: such certificates are refused.
	CertificateCN NameMap
	OIDC          *OIDC             // nil = no OIDC
	UIDs          map[uint32]string // socket peer uid -> user ID
	Zowe          *ZoweJWT          // identities.zoweJwt; nil = no Zowe JWTs
	// Authorization says which backend decides: the profiles above
	// (BackendPolicy, the default) or RACF through ZSS's saf-auth
	// endpoint (BackendSAFEndpoint).
	Authorization Authorization

	authorizer *authz.Model // built by Validate
	fileTokens int          // how many of Tokens (the last ones) came from TokensFile
}

// TokenID maps a bearer token, known only by its SHA-256, to a user.
type TokenID struct {
	SHA256 [32]byte
	User   string
	Groups []string
}

// CertID maps a client certificate subject to a user and groups (User is
// required: a certificate's names are not user IDs by themselves).
type CertID struct {
	Subject string
	User    string
	Groups  []string

	attrs []attr // parsed Subject, set by Validate
}

// OIDC says which issuer's JWTs are accepted, which claims carry the
// user's name and the groups, and how those become user IDs and groups
// (names.go): a policy with OIDC must map names (Users, UserPrefix or
// UserDomain), and groups come from the token only through Groups.
type OIDC struct {
	Issuer      string
	Audience    string
	UserClaim   string // default preferred_username
	GroupsClaim string // "" = no groups from the token

	Names NameMap // identities.oidc.users, userPrefix, userDomain
	// Groups maps the IdP's group names to groups; required with
	// GroupsClaim. Unmapped IdP groups are ignored.
	Groups map[string]string
}

// ZoweJWT says where the Zowe API Mediation Layer publishes the key that
// signs its JWTs, and which issuer they name. The user ID is the token's
// sub claim.
type ZoweJWT struct {
	JWKSURL string // the API ML's /gateway/api/v1/auth/keys/public/current
	Issuer  string // the iss claim; default DefaultZoweIssuer
	// CAFile is identities.zoweJwt.caFile as read (resolved against the
	// policy file's directory); "" = the system's roots. Its certificates
	// are in RootCAs.
	CAFile  string
	RootCAs *x509.CertPool // nil = the system's roots
}

// DefaultZoweIssuer is the iss claim of the JWTs the API ML issues itself.
const DefaultZoweIssuer = "APIML"

// DefaultUserClaim is the OIDC claim holding the user ID when the policy
// names none.
const DefaultUserClaim = "preferred_username"

// Errors that callers may branch on.
var (
	ErrUnknownKey = errors.New("unknown key")
	ErrMissingKey = errors.New("missing key")
	ErrInvalid    = errors.New("invalid value")
)

// Error is a problem in a policy, at a key and, when it came from a file,
// a line.
type Error struct {
	File string // the tokens file the error is in; "" = the policy itself
	Line int    // 1-based; 0 = unknown
	Key  string // e.g. profiles[2].access[0].level
	Err  error
}

func (e *Error) Error() string {
	file := ""
	if e.File != "" {
		file = e.File + ": "
	}
	if e.Line > 0 {
		return fmt.Sprintf("%sline %d: %s: %v", file, e.Line, e.Key, e.Err)
	}
	return fmt.Sprintf("%s%s: %v", file, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Authorizer returns the SAF model of the policy. For a policy from Parse,
// Load or Validate it was built once and is shared; otherwise it is built
// now.
func (p *Policy) Authorizer() (*authz.Model, error) {
	if p.authorizer != nil {
		return p.authorizer, nil
	}
	return authz.New(p.Authz)
}

// Groups returns the groups of a principal under the policy: those its
// identity carries and those configured for its user, upper case, sorted,
// without duplicates (authz.Model.Groups). Authentication resolves them
// once, when it makes the principal.
func (p *Policy) Groups(pr authz.Principal) []string {
	m, err := p.Authorizer()
	if err != nil {
		return nil
	}
	return m.Groups(pr)
}

// lookupUID is os/user.LookupId; tests replace it.
var lookupUID = user.LookupId

// UserForUID returns the user ID of a socket peer: the policy's uids
// mapping, else the login name of the uid upper-cased, else "" (no such
// uid, or a login name that is not a valid user ID). p may be nil.
func (p *Policy) UserForUID(uid uint32) string {
	if p != nil {
		if u, ok := p.UIDs[uid]; ok {
			return u
		}
	}
	u, err := lookupUID(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return ""
	}
	id, err := authz.NormalizeID(u.Username)
	if err != nil {
		return ""
	}
	return id
}
