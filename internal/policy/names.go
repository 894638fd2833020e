package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/nmigw/nmigw/internal/authz"
)

// Names from an identity provider or a certificate become user IDs only
// through an explicit mapping in the policy: a table of names, or a
// required prefix or domain that is stripped. An IdP name never stands
// for a user ID by itself (preferred_username "ibmuser" is not IBMUSER),
// an IdP name alone never reaches a superuser, and groups come from the
// policy, or from an IdP's groups only through a table of them.

// NameMap turns a name an identity carries into a user ID.
type NameMap struct {
	// Users maps names, exactly as the identity carries them, to user
	// IDs. It is looked at first.
	Users map[string]string
	// Prefix, when set, maps a name "<Prefix>X" to the user ID X (the
	// prefix compared without regard to case).
	Prefix string
	// Domain, when set, maps a name "X@<Domain>" to the user ID X (the
	// domain compared without regard to case).
	Domain string
}

// Empty reports whether the map maps nothing.
func (m *NameMap) Empty() bool { return len(m.Users) == 0 && m.Prefix == "" && m.Domain == "" }

// ErrSuperuserName is the error of a name that would map to a superuser.
var ErrSuperuserName = errors.New("maps to a superuser, which a name from an identity provider never does")

// MapUser returns the user ID that name maps to under p, or an error
// saying why it maps to none (for the log: it names the name). A name
// stripped of its prefix or domain that is a superuser, or a member of a
// superuser group in the policy, is refused: only the Users table (whose
// entries Validate keeps from superusers) names users explicitly.
func (p *Policy) MapUser(m *NameMap, name string) (string, error) {
	if u, ok := m.Users[name]; ok {
		return u, nil
	}
	rest, ok := "", false
	switch {
	case m.Prefix != "" && len(name) > len(m.Prefix) && strings.EqualFold(name[:len(m.Prefix)], m.Prefix):
		rest, ok = name[len(m.Prefix):], true
	case m.Domain != "":
		local, domain, found := strings.Cut(name, "@")
		ok = found && strings.EqualFold(domain, m.Domain)
		rest = local
	}
	if !ok {
		return "", fmt.Errorf("name %q is in no mapping of the policy", name)
	}
	u, err := authz.NormalizeID(rest)
	if err != nil {
		return "", fmt.Errorf("name %q: %w", name, err)
	}
	if p.superuser(u) {
		return "", fmt.Errorf("name %q: %w", name, ErrSuperuserName)
	}
	return u, nil
}

// superuser reports whether user ID u is a superuser, or a member of a
// superuser group, under the policy.
func (p *Policy) superuser(u string) bool {
	if slices.Contains(p.Authz.SuperUsers, u) {
		return true
	}
	for _, g := range p.Authz.Groups[u] {
		if slices.Contains(p.Authz.SuperGroups, g) {
			return true
		}
	}
	return false
}

// MapGroups returns the groups that the IdP groups names map to through
// table (unmapped names are dropped), sorted and without duplicates.
func MapGroups(table map[string]string, names []string) []string {
	var out []string
	for _, n := range names {
		if g, ok := table[n]; ok && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// nameMap checks a NameMap at key and upper-cases its user IDs; the
// table's user IDs may not be superusers.
func (v *validator) nameMap(key string, m *NameMap, a *authz.Config) {
	v.idTable(key+".users", m.Users, a.SuperUsers)
	if m.Domain != "" && (strings.ContainsAny(m.Domain, "@ \t") || strings.Trim(m.Domain, ".") == "") {
		v.check(key+".userDomain", fmt.Errorf("%w: %q is not a domain", ErrInvalid, m.Domain))
	}
}

// idTable checks a table of names to IDs at key (in the order of the
// names) and upper-cases its IDs, none of which may be in forbidden (the
// superusers, or their groups).
func (v *validator) idTable(key string, table map[string]string, forbidden []string) {
	for _, n := range slices.Sorted(maps.Keys(table)) {
		k := key + "." + n
		if n == "" {
			v.check(k, fmt.Errorf("%w: empty name", ErrInvalid))
		}
		id := v.id(k, table[n])
		if slices.Contains(upperAll(forbidden), id) {
			v.check(k, fmt.Errorf("%w: %s %v", ErrInvalid, id, ErrSuperuserName))
		}
		table[n] = id
	}
}

func upperAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToUpper(x)
	}
	return out
}
