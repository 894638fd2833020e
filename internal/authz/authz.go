package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Entry is one access list entry: a user ID, a group, or "*" for every
// user.
type Entry struct {
	ID    string
	Level Access
}

// Profile is a SERVAUTH profile.
type Profile struct {
	Name   string
	UACC   Access
	Access []Entry
}

// Config is everything a Model decides from.
type Config struct {
	System      string   // the <system> qualifier of resource names
	SuperUsers  []string // user IDs standing for UID 0
	SuperGroups []string // groups standing for BPX.SUPERUSER
	Profiles    []Profile
	Groups      map[string][]string // user ID -> groups
}

// Principal is an authenticated caller. Groups are its groups as the
// gateway knows them: resolved once when the principal is made (the groups
// its identity carries, such as an OIDC claim or a certificate OU, and
// those the policy configures for the user; see Model.Groups). A Model
// adds the configured groups again when it decides, so a principal made
// with the user ID alone (a socket peer of the simulator) decides alike.
type Principal struct {
	User   string
	Groups []string
}

// Decision is the outcome of one check, fit for a 403 body and an audit
// record: it names the caller's own IDs only.
type Decision struct {
	Allowed  bool   `json:"allowed"`
	Resource string `json:"resource"`
	Profile  string `json:"profile"` // "" when no profile covers the resource
	Reason   string `json:"reason"`
}

// Reasons of decisions that no profile made.
const (
	ReasonNoProfile   = "no profile: superusers only"
	ReasonBadUser     = "invalid user ID"
	ReasonBadResource = "invalid resource name"
)

type profile struct {
	pat     pattern
	uacc    Access
	entries map[string]Access // ID (or "*") -> level
}

// Model decides SAF checks from profiles, as RACF would. It is immutable
// and safe for concurrent use, and it implements Authorizer.
type Model struct {
	system      string
	superUsers  map[string]bool
	superGroups map[string]bool
	discrete    map[string]*profile
	generic     []*profile // most specific first
	groups      map[string][]string
}

// New validates cfg and builds a Model. IDs, groups, the system name and
// profile names are upper-cased.
func New(cfg Config) (*Model, error) {
	a := &Model{
		superUsers:  map[string]bool{},
		superGroups: map[string]bool{},
		discrete:    map[string]*profile{},
		groups:      map[string][]string{},
	}
	var err error
	if a.system, err = NormalizeSystem(cfg.System); err != nil {
		return nil, fmt.Errorf("system: %w", err)
	}
	if err := addIDs(a.superUsers, cfg.SuperUsers, "superusers.users"); err != nil {
		return nil, err
	}
	if err := addIDs(a.superGroups, cfg.SuperGroups, "superusers.groups"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, cp := range cfg.Profiles {
		p, err := newProfile(cp)
		if err != nil {
			return nil, fmt.Errorf("profiles[%d]: %w", i, err)
		}
		if seen[p.pat.name] {
			return nil, fmt.Errorf("profiles[%d]: %w: profile %s", i, ErrDuplicateEntry, p.pat.name)
		}
		seen[p.pat.name] = true
		if p.pat.generic {
			a.generic = append(a.generic, p)
		} else {
			a.discrete[p.pat.name] = p
		}
	}
	slices.SortFunc(a.generic, func(x, y *profile) int {
		if moreSpecific(x.pat.name, y.pat.name) {
			return -1
		}
		return 1 // names are distinct
	})
	for user, groups := range cfg.Groups {
		u, err := NormalizeID(user)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		if _, dup := a.groups[u]; dup {
			return nil, fmt.Errorf("users: %w: user %s", ErrDuplicateEntry, u)
		}
		set := map[string]bool{}
		if err := addIDs(set, groups, "users."+u); err != nil {
			return nil, err
		}
		a.groups[u] = sortedKeys(set)
	}
	return a, nil
}

func addIDs(set map[string]bool, ids []string, field string) error {
	for i, id := range ids {
		u, err := NormalizeID(id)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		set[u] = true
	}
	return nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func newProfile(cp Profile) (*profile, error) {
	pat, err := compile(cp.Name)
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	if !cp.UACC.Valid() {
		return nil, fmt.Errorf("uacc: %w: %d", ErrInvalidAccess, int(cp.UACC))
	}
	p := &profile{pat: pat, uacc: cp.UACC, entries: map[string]Access{}}
	for j, e := range cp.Access {
		id := "*"
		if e.ID != "*" {
			if id, err = NormalizeID(e.ID); err != nil {
				return nil, fmt.Errorf("access[%d].id: %w", j, err)
			}
		}
		if !e.Level.Valid() {
			return nil, fmt.Errorf("access[%d].level: %w: %d", j, ErrInvalidAccess, int(e.Level))
		}
		if _, dup := p.entries[id]; dup {
			return nil, fmt.Errorf("access[%d].id: %w: %s", j, ErrDuplicateEntry, id)
		}
		p.entries[id] = e.Level
	}
	return p, nil
}

// System returns the upper-case system name.
func (a *Model) System() string { return a.system }

// Resource returns the resource guarding requests of kind k on a stack of
// system ("": this policy's system).
func (a *Model) Resource(system, stack string, k Kind) string {
	if system == "" {
		system = a.system
	}
	return Resource(system, stack, k)
}

// Groups returns the principal's groups: those configured for its user
// and those its identity carries, upper case, sorted, without duplicates.
// Groups that are not valid IDs can match no entry and are left out.
func (a *Model) Groups(p Principal) []string {
	user, err := NormalizeID(p.User)
	if err != nil {
		return nil
	}
	return a.groupsOf(user, p.Groups)
}

func (a *Model) groupsOf(user string, extra []string) []string {
	set := map[string]bool{}
	for _, g := range a.groups[user] {
		set[g] = true
	}
	for _, g := range extra {
		if u, err := NormalizeID(g); err == nil {
			set[u] = true
		}
	}
	return sortedKeys(set)
}

// Check decides whether p has READ access to resource, which is what both
// DISPLAY and CONTROL resources require.
func (a *Model) Check(p Principal, resource string) Decision {
	return a.Decide(p, resource, AccessRead)
}

// Authorize is Check as an Authorizer: a Model always decides, so the
// error is always nil.
func (a *Model) Authorize(_ context.Context, p Principal, resource string) (Decision, error) {
	return a.Check(p, resource), nil
}

// AuthorizeBatch is Check of every resource, in order, as an Authorizer.
func (a *Model) AuthorizeBatch(_ context.Context, p Principal, resources []string) ([]Decision, error) {
	out := make([]Decision, len(resources))
	for i, r := range resources {
		out[i] = a.Check(p, r)
	}
	return out, nil
}

// CheckStack decides whether p may make requests of kind k on a stack.
func (a *Model) CheckStack(p Principal, stack string, k Kind) Decision {
	return a.Check(p, a.Resource("", stack, k))
}

// Decide decides whether p has at least the access need to resource.
// A name it cannot take (a resource or user ID that is not valid), it
// denies.
func (a *Model) Decide(p Principal, resource string, need Access) Decision {
	res, err := NormalizeResource(resource)
	if err != nil {
		return Decision{Resource: resource, Reason: ReasonBadResource}
	}
	d := Decision{Resource: res}
	user, err := NormalizeID(p.User)
	if err != nil {
		d.Reason = ReasonBadUser
		return d
	}
	groups := a.groupsOf(user, p.Groups)
	prof := a.find(res)
	if prof == nil {
		d.Reason = ReasonNoProfile
		if a.superUsers[user] {
			d.Allowed, d.Reason = true, "no profile: "+user+" is a superuser"
		} else if g, ok := a.superGroup(groups); ok {
			d.Allowed, d.Reason = true, "no profile: group "+g+" is a superuser group"
		}
		return d
	}
	d.Profile = prof.pat.name
	level, via := prof.accessOf(user, groups)
	d.Allowed = level >= need
	d.Reason = level.String() + " via " + via
	if !d.Allowed {
		d.Reason += "; " + need.String() + " required"
	}
	return d
}

func (a *Model) superGroup(groups []string) (string, bool) {
	for _, g := range groups {
		if a.superGroups[g] {
			return g, true
		}
	}
	return "", false
}

// find returns the profile that decides for a valid resource name, or nil.
func (a *Model) find(res string) *profile {
	if p, ok := a.discrete[res]; ok {
		return p
	}
	if len(a.generic) == 0 {
		return nil
	}
	quals := strings.Split(res, ".")
	for _, p := range a.generic {
		if p.pat.match(quals) {
			return p
		}
	}
	return nil
}

// accessOf returns the user's access under the profile and which rule gave
// it.
func (p *profile) accessOf(user string, groups []string) (Access, string) {
	if l, ok := p.entries[user]; ok {
		return l, "access list entry for user " + user
	}
	best, bestGroup := AccessNone, ""
	for _, g := range groups {
		if l, ok := p.entries[g]; ok && (bestGroup == "" || l > best) {
			best, bestGroup = l, g
		}
	}
	if bestGroup != "" {
		return best, "access list entry for group " + bestGroup
	}
	if l, ok := p.entries["*"]; ok {
		return l, "access list entry for *"
	}
	return p.uacc, "UACC"
}
