package policy

import (
	"errors"
	"sync/atomic"
)

// Store holds the current policy of a file and replaces it on Reload. It
// is safe for concurrent use: readers call Current on every request and
// never see a half-loaded policy.
type Store struct {
	path string
	cur  atomic.Pointer[Policy]
}

// NewStore returns a store for the policy file at path. Nothing is read
// until Load.
func NewStore(path string) *Store { return &Store{path: path} }

// NewStaticStore returns a store that always holds p (a policy built in
// code, such as the demo policy); Reload keeps it.
func NewStaticStore(p *Policy) *Store {
	s := &Store{}
	s.cur.Store(p)
	return s
}

// Path returns the file the store reads, or "" for a static store.
func (s *Store) Path() string { return s.path }

// Load reads the file; a program refuses to start when it fails.
func (s *Store) Load() error {
	if s.path == "" {
		if s.cur.Load() == nil {
			return errors.New("policy: no policy file")
		}
		return nil
	}
	p, err := Load(s.path)
	if err != nil {
		return err
	}
	s.cur.Store(p)
	return nil
}

// Reload re-reads the file (on SIGHUP). When the new file is bad the
// current policy stays in force and the error says why, for the log.
func (s *Store) Reload() error { return s.Load() }

// Current returns the policy in force, or nil before the first Load.
func (s *Store) Current() *Policy { return s.cur.Load() }
