package policy

import (
	"context"
	"errors"
	"sync"
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

	mu      sync.Mutex
	changed chan struct{} // closed by the next successful load; nil until asked for
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
	s.mu.Lock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
	return nil
}

// Changed returns a channel that is closed when a load (a reload on
// SIGHUP) replaces the policy in force, so that what was decided under
// the old one (an open event stream) can be decided again.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// Reload re-reads the file and its tokens file (on SIGHUP). When either is
// bad the current policy stays in force and the error says why, for the
// log.
func (s *Store) Reload() error { return s.Load() }

// Current returns the policy in force, or nil before the first Load.
func (s *Store) Current() *Policy { return s.cur.Load() }

// ErrNoPolicy is the error of every decision asked of a Store before its
// first Load: it cannot decide.
var ErrNoPolicy = errors.New("policy: no policy is loaded")

// Compile-time check.
var _ authz.Authorizer = (*Store)(nil)

// model returns the model of the current policy.
func (s *Store) model() (*authz.Model, error) {
	p := s.cur.Load()
	if p == nil {
		return nil, ErrNoPolicy
	}
	return p.Authorizer()
}

// Authorize decides with the policy in force at the moment of the call,
// so that reloads take effect on the next check. Before the first Load it
// cannot decide (ErrNoPolicy).
func (s *Store) Authorize(ctx context.Context, p authz.Principal, resource string) (authz.Decision, error) {
	m, err := s.model()
	if err != nil {
		return authz.Decision{}, err
	}
	return m.Authorize(ctx, p, resource)
}

// AuthorizeBatch decides every resource with one policy: the one in force
// at the moment of the call, even when a reload comes in the middle.
func (s *Store) AuthorizeBatch(ctx context.Context, p authz.Principal, resources []string) ([]authz.Decision, error) {
	m, err := s.model()
	if err != nil {
		return nil, err
	}
	return m.AuthorizeBatch(ctx, p, resources)
}

// Resource is authz.Model.Resource; system "" is the system of the policy
// in force ("" before the first Load).
func (s *Store) Resource(system, stack string, k authz.Kind) string {
	if m, err := s.model(); err == nil && system == "" {
		system = m.System()
	}
	return authz.Resource(system, stack, k)
}
