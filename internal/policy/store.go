package policy

import (
	"errors"
	"sync/atomic"

	"github.com/nmigw/nmigw/internal/authz"
)

// Store holds the current policy of a file and replaces it on Reload. It
// is safe for concurrent use: readers call Current on every request and
// never see a half-loaded policy.
type Store struct {
	path string
	opts LoadOptions
	cur  atomic.Pointer[Policy]
}

// NewStore returns a store for the policy file at path. Nothing is read
// until Load.
func NewStore(path string) *Store { return &Store{path: path} }

// NewStoreWith is NewStore whose loads use LoadWith and o.
func NewStoreWith(path string, o LoadOptions) *Store { return &Store{path: path, opts: o} }

// NewStaticStore returns a store that always holds p (a policy built in
// code, such as the demo policy); Reload keeps it.
func NewStaticStore(p *Policy) *Store {
	s := &Store{}
	s.cur.Store(p)
	return s
}

// Path returns the file the store reads, or "" for a static store.
func (s *Store) Path() string { return s.path }

// Load reads the file (and its tokens file); a program refuses to start
// when it fails.
func (s *Store) Load() error {
	if s.path == "" {
		if s.cur.Load() == nil {
			return errors.New("policy: no policy file")
		}
		return nil
	}
	p, err := LoadWith(s.path, s.opts)
	if err != nil {
		return err
	}
	s.cur.Store(p)
	return nil
}

// Reload re-reads the file and its tokens file (on SIGHUP). When either is
// bad the current policy stays in force and the error says why, for the
// log.
func (s *Store) Reload() error { return s.Load() }

// Current returns the policy in force, or nil before the first Load.
func (s *Store) Current() *Policy { return s.cur.Load() }

// ReasonNoPolicy is the reason of every denial while no policy is loaded.
const ReasonNoPolicy = "no policy is loaded"

// authorizer returns the authorizer of the current policy, or nil.
func (s *Store) authorizer() *authz.Authorizer {
	p := s.cur.Load()
	if p == nil {
		return nil
	}
	a, err := p.Authorizer()
	if err != nil {
		return nil
	}
	return a
}

// CheckStack decides with the policy in force at the moment of the call,
// so that a Store can stand wherever an *authz.Authorizer is expected and
// reloads take effect on the next check. Without a policy it denies.
func (s *Store) CheckStack(p authz.Principal, stack string, k authz.Kind) authz.Decision {
	a := s.authorizer()
	if a == nil {
		return authz.Decision{Resource: authz.Resource("", stack, k), Reason: ReasonNoPolicy}
	}
	return a.CheckStack(p, stack, k)
}

// Check is authz.Authorizer.Check with the policy in force.
func (s *Store) Check(p authz.Principal, resource string) authz.Decision {
	a := s.authorizer()
	if a == nil {
		return authz.Decision{Resource: resource, Reason: ReasonNoPolicy}
	}
	return a.Check(p, resource)
}

// Resource is authz.Authorizer.Resource with the system of the policy in
// force ("" before the first Load).
func (s *Store) Resource(stack string, k authz.Kind) string {
	system := ""
	if a := s.authorizer(); a != nil {
		system = a.System()
	}
	return authz.Resource(system, stack, k)
}

// Groups is authz.Authorizer.Groups with the policy in force.
func (s *Store) Groups(p authz.Principal) []string {
	if a := s.authorizer(); a != nil {
		return a.Groups(p)
	}
	return nil
}
