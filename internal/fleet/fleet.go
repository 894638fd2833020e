// Package fleet is the set of systems one gateway reaches: IKE daemons,
// each one system, and NSS servers, each the single point of control for
// the NSS IPSec clients (one stack on one system each) connected to it.
//
// An Endpoint is one entry of the configuration: an NMI to send requests
// on, a kind and an MVS system name. A Stack is one stack the fleet
// reaches, named by the system it runs on and its TCP/IP job name; it
// knows the NMsMTarget its requests carry (the stack's name on an IKED,
// the client's name on an NSS server) and the SAF resource that guards
// them. Lookup finds one stack without an exchange where it can; Systems
// and Stacks ask every endpoint, concurrently, each under the caller's
// deadline, and report an endpoint that does not answer beside the
// others' answers instead of failing.
//
// The NSS server's clients come from NMsec_GET_CLIENTINFO (IPSec
// discipline), asked with the gateway's own identity. A client seen once
// is remembered: when it is no longer connected it stays, with Connected
// false, and requests for it are still sent (the NSS server answers ENXIO,
// a 404).
package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// Kind is what an endpoint serves.
type Kind string

const (
	// IKED is the IKE daemon's NMI (/var/sock/ipsecmgmt): one system.
	IKED Kind = "iked"
	// NSS is the NSS server's NMI (/var/sock/nss): the systems of its
	// NSS IPSec clients, routed by NMsMTarget.
	NSS Kind = "nss"
)

// ParseKind reads a configured kind ("" is IKED).
func ParseKind(s string) (Kind, error) {
	switch Kind(strings.ToLower(s)) {
	case "", IKED:
		return IKED, nil
	case NSS:
		return NSS, nil
	}
	return "", fmt.Errorf("kind %q is neither iked nor nss", s)
}

// NMI sends one request and hands over its records (nmi.Pool,
// coalesce.Reader).
type NMI interface {
	Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error)
}

// Endpoint is one configured system: an IKED or an NSS server.
type Endpoint struct {
	// Name is the MVS system name: the IKED's system, or the system the
	// NSS server runs on. SAF resources name it.
	Name string
	Kind Kind
	NMI  NMI
	// Addr is the endpoint (its URL without secrets), for messages.
	Addr string
	// SAFSystem is the system SAF resource names give (default Name).
	SAFSystem string
	// PolicySystem makes the SAF resources name the authorizer's own
	// system (the policy's `system`, even after a reload changes it)
	// instead of SAFSystem: the single endpoint of --nmi.
	PolicySystem bool
}

// Stack is one stack the fleet reaches.
type Stack struct {
	System string // MVS system name of the stack
	Name   string // TCP/IP job name
	Kind   Kind   // of the endpoint that serves it
	// Endpoint is the configured endpoint's name (for an NSS client, the
	// NSS server's system).
	Endpoint string
	// Target is what NMsMTarget carries: the stack's name on an IKED, the
	// client's name on an NSS server.
	Target string
	// SAFSystem and SAFName name the resources guarding the stack:
	// EZB.NETMGMT.<SAFSystem>.<SAFName>.IPSEC.<kind> (SAFSystem "": the
	// authorizer's own system).
	SAFSystem, SAFName string
	// Connected is false for an NSS client seen before that the NSS server
	// no longer reports.
	Connected bool
	// Client is the NSS client's record, nil on an IKED.
	Client *nmi.ClientInfo

	nmi NMI
	ep  *endpoint // an NSS client's server, told what its answers say of the client
}

// Do sends req for this stack: a request that names a target gets the
// stack's Target (the request is copied, not changed).
func (s *Stack) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	if s.nmi == nil {
		return nmi.Header{}, errors.New("fleet: stack " + s.System + "/" + s.Name + " has no endpoint")
	}
	r := req
	if req.Target != "" && req.Target != s.Target {
		c := *req
		c.Target = s.Target
		r = &c
	}
	h, err := s.nmi.Do(ctx, r, fn)
	if s.ep != nil && r.Target != "" {
		// The NSS server's answer says whether the client is connected
		// (ENXIO: not); the list follows at once, not at its next read.
		var se *nmi.StatusError
		switch {
		case err == nil:
			s.ep.noteClient(s.Target, true)
		case errors.As(err, &se) && se.Rc == nmi.ENXIO:
			s.ep.noteClient(s.Target, false)
		}
	}
	return h, err
}

// Resource is the SAF resource guarding requests of kind k on the stack,
// as az names it.
func (s *Stack) Resource(az authz.Authorizer, k authz.Kind) string {
	return az.Resource(s.SAFSystem, s.SAFName, k)
}

// UnknownSystemError: no endpoint is, or reaches, the system.
type UnknownSystemError struct{ System string }

func (e *UnknownSystemError) Error() string { return "unknown system " + e.System }

// UnknownStackError: the system is known but has no such stack (behind
// an NSS server: no client for it).
type UnknownStackError struct{ System, Stack string }

func (e *UnknownStackError) Error() string {
	return "system " + e.System + " has no stack " + e.Stack
}

// Unreachable is a system (Stack "") or a stack that did not answer.
type Unreachable struct {
	System, Stack string
	Err           error
}

// SystemStatus is one system as Systems sees it.
type SystemStatus struct {
	Name      string
	Kind      Kind
	Endpoint  string
	Default   bool
	Reachable bool
	// Err is why the system did not answer (Reachable false).
	Err    error
	Stacks []Stack
}

// Options tune a Fleet.
type Options struct {
	// ClientTTL is how long an NSS server's client list is used before it
	// is asked again (default 5s); a lookup of an unknown client asks
	// again once that list is older than a second.
	ClientTTL time.Duration
	// Parallel bounds the endpoints asked at once (default 8).
	Parallel int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Fleet is the configured endpoints. It is safe for concurrent use.
type Fleet struct {
	eps  []*endpoint
	byEP map[string]*endpoint
	def  string
	opt  Options
}

type endpoint struct {
	Endpoint
	mu      sync.Mutex
	clients []Stack // NSS: every client seen, in first-seen order
	fetched time.Time
	lastErr error
	refresh chan struct{} // NSS: held while a GET_CLIENTINFO is on its way
}

// New checks the endpoints: names present, valid and unique, kinds known,
// an NMI each. def names the default system ("" = the first endpoint).
func New(eps []Endpoint, def string, opt Options) (*Fleet, error) {
	if len(eps) == 0 {
		return nil, errors.New("fleet: no systems")
	}
	if opt.ClientTTL <= 0 {
		opt.ClientTTL = 5 * time.Second
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 8
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	f := &Fleet{byEP: map[string]*endpoint{}, opt: opt}
	for i, e := range eps {
		name, err := authz.NormalizeSystem(e.Name)
		e.Name = name
		switch {
		case err != nil:
			return nil, fmt.Errorf("systems[%d].name: %w", i, err)
		case f.byEP[e.Name] != nil:
			return nil, fmt.Errorf("systems[%d].name: %s is listed twice", i, e.Name)
		case e.Kind != IKED && e.Kind != NSS:
			return nil, fmt.Errorf("systems[%d].kind: %q is neither iked nor nss", i, e.Kind)
		case e.NMI == nil:
			return nil, fmt.Errorf("systems[%d] (%s): no NMI", i, e.Name)
		}
		switch {
		case e.PolicySystem:
			e.SAFSystem = ""
		case e.SAFSystem == "":
			e.SAFSystem = e.Name
		}
		ep := &endpoint{Endpoint: e, refresh: make(chan struct{}, 1)}
		f.eps = append(f.eps, ep)
		f.byEP[e.Name] = ep
	}
	f.def = f.eps[0].Name
	if def != "" {
		d := strings.ToUpper(def)
		if f.byEP[d] == nil {
			return nil, fmt.Errorf("default system %s is not one of the systems", def)
		}
		f.def = d
	}
	return f, nil
}

// Default is the default system's name: the one /v1/stacks means.
func (f *Fleet) Default() string { return f.def }

// Endpoints returns the configured endpoints, in configuration order.
func (f *Fleet) Endpoints() []Endpoint {
	out := make([]Endpoint, len(f.eps))
	for i, e := range f.eps {
		out[i] = e.Endpoint
	}
	return out
}

// Endpoint returns the configured endpoint named name.
func (f *Fleet) Endpoint(name string) (Endpoint, bool) {
	if e := f.byEP[name]; e != nil {
		return e.Endpoint, true
	}
	return Endpoint{}, false
}

// EndpointNMI is the NMI of the endpoint named name; nil if there is none.
func (f *Fleet) EndpointNMI(name string) NMI {
	if e := f.byEP[name]; e != nil {
		return e.NMI
	}
	return nil
}

// ikedStack is stack name on IKED endpoint e.
func (e *endpoint) ikedStack(name string) Stack {
	return Stack{System: e.Name, Name: name, Kind: IKED, Endpoint: e.Name, Target: name,
		SAFSystem: e.SAFSystem, SAFName: name, Connected: true, nmi: e.NMI}
}

// Lookup finds one stack. An IKED endpoint's stacks need no exchange (an
// unknown one is the IKED's ENXIO); a system behind an NSS server is
// looked up in the client list, asked again when it is stale or the name
// is not in it.
func (f *Fleet) Lookup(ctx context.Context, system, stack string) (Stack, error) {
	system = strings.ToUpper(system)
	if e := f.byEP[system]; e != nil && e.Kind == IKED {
		return e.ikedStack(stack), nil
	}
	known := false
	for pass := 0; pass < 2; pass++ {
		for _, e := range f.eps {
			if e.Kind != NSS {
				continue
			}
			cl, _ := e.clientList(ctx, f, pass == 1)
			for _, c := range cl {
				if c.System == system {
					known = true
					if c.Name == stack {
						return c, nil
					}
				}
			}
		}
	}
	if known {
		return Stack{}, &UnknownStackError{System: system, Stack: stack}
	}
	return Stack{}, &UnknownSystemError{System: system}
}

// clientList returns the clients of NSS endpoint e: the list it holds if
// it is fresh (younger than ClientTTL; when again is set, younger than a
// second), else the list after one more GET_CLIENTINFO. Concurrent callers
// share one exchange. The error is that of the last exchange, if it
// failed; the clients seen before are returned with it, not connected.
func (e *endpoint) clientList(ctx context.Context, f *Fleet, again bool) ([]Stack, error) {
	ttl := f.opt.ClientTTL
	if again {
		ttl = min(ttl, time.Second)
	}
	for {
		e.mu.Lock()
		fresh := !e.fetched.IsZero() && f.opt.Now().Sub(e.fetched) < ttl
		if fresh {
			cl, err := slices.Clone(e.clients), e.lastErr
			e.mu.Unlock()
			return cl, err
		}
		e.mu.Unlock()
		select {
		case e.refresh <- struct{}{}:
			err := e.fetchClients(ctx, f.opt.Now)
			<-e.refresh
			return e.held(), err
		case <-ctx.Done():
			return e.held(), ctx.Err()
		default:
		}
		// Another caller is asking: wait for its answer.
		select {
		case e.refresh <- struct{}{}:
			<-e.refresh
		case <-ctx.Done():
			return e.held(), ctx.Err()
		}
	}
}

// noteClient records what an answer routed to client says: connected or
// not. A client the list does not hold is left to the next
// GET_CLIENTINFO (its system and stack are not known here).
func (e *endpoint) noteClient(client string, connected bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.clients {
		if e.clients[i].Target == client {
			e.clients[i].Connected = connected
			return
		}
	}
}

// held is a copy of the clients e holds.
func (e *endpoint) held() []Stack {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.clients)
}

// fetchClients asks NSS endpoint e for its connected IPSec clients and
// merges them into the list it holds.
func (e *endpoint) fetchClients(ctx context.Context, now func() time.Time) error {
	var filter nmi.InFilter
	filter.HasName = true
	if err := filter.Name.Set(nmi.DisciplineIPSec.String()); err != nil {
		return err
	}
	var got []nmi.ClientInfo
	var rec nmi.ClientInfoRecord
	_, err := e.NMI.Do(ctx, &nmi.Request{Type: nmi.GetClientInfo, Filters: []nmi.InFilter{filter}}, func(r nmi.Record) error {
		if err := rec.Decode(r); err != nil {
			return err
		}
		got = append(got, rec.ClientInfo)
		return nil
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fetched = now()
	e.lastErr = err
	if err != nil {
		for i := range e.clients {
			e.clients[i].Connected = false
		}
		return err
	}
	seen := map[string]bool{}
	for i := range got {
		c := &got[i]
		if c.Discipline != nmi.DisciplineIPSec || c.ClientName.IsBlank() {
			continue
		}
		name := c.ClientName.String()
		seen[name] = true
		st := Stack{System: strings.ToUpper(c.SysName.String()), Name: c.StackName.String(), Kind: NSS,
			Endpoint: e.Name, Target: name, SAFSystem: e.SAFSystem, SAFName: name, Connected: true, Client: c, nmi: e.NMI, ep: e}
		if j := slices.IndexFunc(e.clients, func(s Stack) bool { return s.Target == name }); j >= 0 {
			e.clients[j] = st
		} else {
			e.clients = append(e.clients, st)
		}
	}
	for i := range e.clients {
		if !seen[e.clients[i].Target] {
			e.clients[i].Connected = false
		}
	}
	return nil
}

// Systems asks every endpoint, concurrently, which stacks it has: an IKED
// with NMsec_GET_STACKINFO, an NSS server with NMsec_GET_CLIENTINFO. It
// returns every system in a stable order (the configured order, then the
// order an NSS server's clients were first seen). A configured IKED's name
// wins over the same system seen through an NSS server.
func (f *Fleet) Systems(ctx context.Context) []SystemStatus {
	per := make([][]SystemStatus, len(f.eps))
	Parallel(ctx, len(f.eps), f.opt.Parallel, func(ctx context.Context, i int) {
		per[i] = f.endpointSystems(ctx, f.eps[i])
	})
	var out []SystemStatus
	seen := map[string]int{}
	for _, ss := range per {
		for _, s := range ss {
			if e := f.byEP[s.Name]; s.Kind == NSS && e != nil && e.Kind == IKED {
				continue // the configured IKED wins
			}
			if j, ok := seen[s.Name]; ok {
				out[j].Stacks = append(out[j].Stacks, s.Stacks...)
				out[j].Reachable = out[j].Reachable && s.Reachable
				if out[j].Err == nil {
					out[j].Err = s.Err
				}
				continue
			}
			seen[s.Name] = len(out)
			out = append(out, s)
		}
	}
	return out
}

func (f *Fleet) endpointSystems(ctx context.Context, e *endpoint) []SystemStatus {
	if e.Kind == IKED {
		s := SystemStatus{Name: e.Name, Kind: IKED, Endpoint: e.Name, Default: e.Name == f.def, Reachable: true}
		var rec nmi.StackRecord
		_, err := e.NMI.Do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(r nmi.Record) error {
			if err := rec.Decode(r); err != nil {
				return err
			}
			s.Stacks = append(s.Stacks, e.ikedStack(rec.Stack.Name.String()))
			return nil
		})
		if err != nil {
			s.Reachable, s.Err, s.Stacks = false, err, nil
		}
		return []SystemStatus{s}
	}
	cl, err := e.clientList(ctx, f, false)
	if len(cl) == 0 && err != nil {
		return []SystemStatus{{Name: e.Name, Kind: NSS, Endpoint: e.Name, Default: e.Name == f.def, Err: err}}
	}
	var out []SystemStatus
	idx := map[string]int{}
	for _, c := range cl {
		j, ok := idx[c.System]
		if !ok {
			j = len(out)
			idx[c.System] = j
			out = append(out, SystemStatus{Name: c.System, Kind: NSS, Endpoint: e.Name, Default: c.System == f.def,
				Reachable: err == nil, Err: err})
		}
		out[j].Stacks = append(out[j].Stacks, c)
	}
	return out
}

// Stacks returns every stack of every system that answered, connected or
// not, in the order of Systems, and the systems that did not answer.
func (f *Fleet) Stacks(ctx context.Context) ([]Stack, []Unreachable) {
	var st []Stack
	var un []Unreachable
	for _, s := range f.Systems(ctx) {
		if !s.Reachable {
			un = append(un, Unreachable{System: s.Name, Err: s.Err})
			continue
		}
		st = append(st, s.Stacks...)
	}
	return st, un
}

// Parallel calls fn(ctx, i) for i in [0, n), at most limit at once, and
// returns when all have returned. Each call gets ctx; fn reports its own
// errors.
func Parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	if limit <= 0 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			fn(ctx, i)
		}(i)
	}
	wg.Wait()
}
