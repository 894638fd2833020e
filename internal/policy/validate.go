package policy

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nmigw/nmigw/internal/authz"
)

// Validate checks a policy, upper-cases its IDs and names, fills in
// defaults, and builds its authorizer. Parse and Load call it; a policy
// built in code must pass it before use. Errors are *Error naming the key.
func (p *Policy) Validate() error {
	v := validator{}
	a := &p.Authz
	sys, err := authz.NormalizeSystem(a.System)
	if a.System == "" {
		err = ErrMissingKey
	}
	v.check("system", err)
	a.System = sys
	v.ids("superusers.users", a.SuperUsers)
	v.ids("superusers.groups", a.SuperGroups)
	v.profiles(a.Profiles)
	v.users(a.Groups)
	if p.Anonymous != "" {
		p.Anonymous = v.id("anonymous", p.Anonymous)
	}
	inline := len(p.Tokens) - p.fileTokens
	v.tokens(p.Tokens, func(i int) (string, string) {
		if i < inline {
			return "", "identities.tokens[" + strconv.Itoa(i) + "]"
		}
		return p.TokensFile, "tokens[" + strconv.Itoa(i-inline) + "]"
	})
	v.certificates(p.Certificates)
	v.nameMap("identities.certificateCN", &p.CertificateCN, a)
	if len(p.CertificateCN.Users) > 0 {
		v.check("identities.certificateCN", fmt.Errorf("%w: map subjects in identities.certificates", ErrInvalid))
	}
	if p.OIDC != nil {
		v.oidc(p.OIDC, a)
	}
	v.authorization(&p.Authorization)
	if p.Zowe != nil {
		v.zowe(p.Zowe)
	}
	uids := make([]uint32, 0, len(p.UIDs))
	for uid := range p.UIDs {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	for _, uid := range uids {
		p.UIDs[uid] = v.id("identities.uids."+strconv.FormatUint(uint64(uid), 10), p.UIDs[uid])
	}
	if v.err != nil {
		return v.err
	}
	az, err := authz.New(*a)
	if err != nil {
		return &Error{Key: "profiles", Err: err}
	}
	p.authorizer = az
	return nil
}

// validator keeps the first error.
type validator struct{ err error }

func (v *validator) check(key string, err error) {
	if err != nil && v.err == nil {
		v.err = &Error{Key: key, Err: err}
	}
}

func (v *validator) id(key, id string) string {
	u, err := authz.NormalizeID(id)
	v.check(key, err)
	return u
}

func (v *validator) ids(key string, ids []string) {
	for i := range ids {
		ids[i] = v.id(key+"["+strconv.Itoa(i)+"]", ids[i])
	}
}

func (v *validator) profiles(profiles []authz.Profile) {
	seen := map[string]int{}
	for i := range profiles {
		pr := &profiles[i]
		key := "profiles[" + strconv.Itoa(i) + "]"
		if err := authz.CheckProfileName(pr.Name); err != nil || pr.Name == "" {
			if err == nil {
				err = ErrMissingKey
			}
			v.check(key+".name", err)
			continue
		}
		pr.Name = strings.ToUpper(pr.Name)
		if j, dup := seen[pr.Name]; dup {
			v.check(key+".name", fmt.Errorf("%w: profile %s is also profiles[%d]", ErrInvalid, pr.Name, j))
		}
		seen[pr.Name] = i
		if !pr.UACC.Valid() {
			v.check(key+".uacc", fmt.Errorf("%w: %v", authz.ErrInvalidAccess, pr.UACC))
		}
		ids := map[string]bool{}
		for j := range pr.Access {
			e := &pr.Access[j]
			ek := key + ".access[" + strconv.Itoa(j) + "]"
			if e.ID != "*" {
				e.ID = v.id(ek+".id", e.ID)
			}
			if ids[e.ID] {
				v.check(ek+".id", fmt.Errorf("%w: %s is in the access list twice", ErrInvalid, e.ID))
			}
			ids[e.ID] = true
			if !e.Level.Valid() {
				v.check(ek+".level", fmt.Errorf("%w: %v", authz.ErrInvalidAccess, e.Level))
			}
		}
	}
}

func (v *validator) users(groups map[string][]string) {
	names := make([]string, 0, len(groups))
	for u := range groups {
		names = append(names, u)
	}
	slices.Sort(names)
	norm := make(map[string][]string, len(groups))
	for _, u := range names {
		key := "users." + u
		id := v.id(key, u)
		if _, dup := norm[id]; dup {
			v.check(key, fmt.Errorf("%w: user %s listed twice", ErrInvalid, id))
		}
		g := groups[u]
		v.ids(key, g)
		norm[id] = g
	}
	clear(groups)
	for u, g := range norm {
		groups[u] = g
	}
}

// tokens checks token entries; at names entry i: the file it is in ("" =
// the policy) and its key.
func (v *validator) tokens(tokens []TokenID, at func(i int) (file, key string)) {
	fail := func(i int, field string, err error) {
		if err != nil && v.err == nil {
			file, key := at(i)
			v.err = &Error{File: file, Key: key + field, Err: err}
		}
	}
	seen := map[[32]byte]int{}
	for i := range tokens {
		t := &tokens[i]
		if t.SHA256 == [32]byte{} {
			fail(i, ".sha256", ErrMissingKey)
		}
		if j, dup := seen[t.SHA256]; dup {
			file, key := at(j)
			if file != "" {
				key += " of " + file
			}
			fail(i, ".sha256", fmt.Errorf("%w: same hash as %s", ErrInvalid, key))
		}
		seen[t.SHA256] = i
		u, err := authz.NormalizeID(t.User)
		fail(i, ".user", err)
		t.User = u
		for g := range t.Groups {
			t.Groups[g], err = authz.NormalizeID(t.Groups[g])
			fail(i, ".groups["+strconv.Itoa(g)+"]", err)
		}
	}
}

func (v *validator) certificates(certs []CertID) {
	for i := range certs {
		c := &certs[i]
		key := "identities.certificates[" + strconv.Itoa(i) + "]"
		attrs, err := parseSubject(c.Subject)
		if err != nil {
			v.check(key+".subject", fmt.Errorf("%w: %v", ErrInvalid, err))
		}
		for j := range i {
			if len(attrs) > 0 && slices.Equal(certs[j].attrs, attrs) {
				v.check(key+".subject", fmt.Errorf("%w: same subject as identities.certificates[%d]", ErrInvalid, j))
			}
		}
		c.attrs = attrs
		if c.User == "" {
			v.check(key, fmt.Errorf("%w: user (a certificate's names are user IDs only through a mapping)", ErrMissingKey))
		}
		c.User = v.id(key+".user", c.User)
		v.ids(key+".groups", c.Groups)
	}
}

func (v *validator) oidc(o *OIDC, a *authz.Config) {
	const key = "identities.oidc"
	v.check(key+".issuer", checkIssuer(o.Issuer))
	if o.Audience == "" {
		v.check(key+".audience", ErrMissingKey)
	}
	if o.UserClaim == "" {
		o.UserClaim = DefaultUserClaim
	}
	if o.Names.Empty() {
		v.check(key+".users", fmt.Errorf("%w: the names of the identity provider become user IDs only through "+
			"identities.oidc.users (name -> user ID), userPrefix or userDomain", ErrMissingKey))
	}
	v.nameMap(key, &o.Names, a)
	if o.GroupsClaim != "" && len(o.Groups) == 0 {
		v.check(key+".groups", fmt.Errorf("%w: with groupsClaim, the identity provider's groups become groups "+
			"only through identities.oidc.groups (IdP group -> group)", ErrMissingKey))
	}
	v.idTable(key+".groups", o.Groups, a.SuperGroups)
}

func (v *validator) zowe(z *ZoweJWT) {
	const key = "identities.zoweJwt"
	v.check(key+".jwksUrl", checkHTTPURL("jwksUrl", z.JWKSURL))
	if z.Issuer == "" {
		z.Issuer = DefaultZoweIssuer
	}
}

// checkIssuer accepts an https URL, or an http URL on a loopback host.
func checkIssuer(s string) error { return checkHTTPURL("issuer", s) }

// checkHTTPURL accepts an https URL, or an http URL on a loopback host,
// without user information, query or fragment; what names it in errors.
func checkHTTPURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: %s %q is not an absolute URL without user, query or fragment", ErrInvalid, what, s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %q must be https (http only on a loopback host)", ErrInvalid, what, s)
}
