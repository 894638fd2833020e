package ikedsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// NSSDataSet is what a simulated NSS server knows: the systems of its
// clients, each an IKED data set, and the clients themselves. An IPSec
// client is one stack of one system; an XMLAppliance client has no stack
// (it is listed by NMsec_GET_CLIENTINFO and takes no IPSec request).
type NSSDataSet struct {
	Systems []*DataSet // DataSet.System is the client system's MVS name
	Clients []NSSClient
}

// NSSClient is one client of the NSS server and its state.
type NSSClient struct {
	Name       string // NMsMTarget of the requests routed to it; default SYSNAME_STACKNAME
	System     string // its MVS system name
	Stack      string // its TCP/IP stack (IPSec discipline), blank for an XMLAppliance client
	Discipline nmi.ClientDiscipline
	Userid     string // the user ID it registered with; default IKED

	RemoteManagement bool // takes the IPSec NMI requests the server routes (else EOPNOTSUPP)
	Connected        bool
	ConnectTime      time.Time // when it last connected (NSSClients); ignored in a data set
}

// DefaultNSSUserid is the user ID of a client that names none.
const DefaultNSSUserid = "IKED"

// ClientName is the default name of the NSS client of a stack: the
// system's and the stack's names joined by an underscore, as IBM's NSS
// server names them.
func ClientName(system, stack string) string { return system + "_" + stack }

// Validate checks each system's data set, unique system and client
// names, names that fit their fields, and that every IPSec client names
// a stack of its system and every stack has exactly one client.
func (d *NSSDataSet) Validate() error {
	if len(d.Systems) == 0 {
		return errors.New("systems: none given")
	}
	stacks := map[[2]string]bool{} // system, stack -> has a client
	for i, ds := range d.Systems {
		if ds.System == "" {
			return fmt.Errorf("systems[%d]: no name", i)
		}
		for j := range i {
			if d.Systems[j].System == ds.System {
				return fmt.Errorf("systems[%d]: system %s appears twice", i, ds.System)
			}
		}
		if err := ds.Validate(); err != nil {
			return fmt.Errorf("system %s: %w", ds.System, err)
		}
		for _, s := range ds.Stacks {
			stacks[[2]string{ds.System, s.Name}] = false
		}
	}
	names := map[string]bool{}
	for i, c := range d.Clients {
		if c.Name == "" {
			return fmt.Errorf("clients[%d]: no name", i)
		}
		if err := checkName("client name", c.Name, nssLen); err != nil {
			return fmt.Errorf("clients[%d]: %s", i, dsMsg(err))
		}
		if names[c.Name] {
			return fmt.Errorf("client %s appears twice", c.Name)
		}
		names[c.Name] = true
		if err := checkName("user ID", c.Userid, shortLen); err != nil {
			return fmt.Errorf("client %s: %s", c.Name, dsMsg(err))
		}
		if err := checkName("system name", c.System, shortLen); err != nil || c.System == "" {
			return fmt.Errorf("client %s: bad system name %q", c.Name, c.System)
		}
		switch c.Discipline {
		case nmi.DisciplineIPSec:
			key := [2]string{c.System, c.Stack}
			taken, ok := stacks[key]
			switch {
			case !ok:
				return fmt.Errorf("client %s: no stack %s on system %s", c.Name, c.Stack, c.System)
			case taken:
				return fmt.Errorf("client %s: stack %s of system %s has another client", c.Name, c.Stack, c.System)
			}
			stacks[key] = true
		case nmi.DisciplineXMLAppliance:
			if c.Stack != "" {
				return fmt.Errorf("client %s: an XMLAppliance client has no stack", c.Name)
			}
		default:
			return fmt.Errorf("client %s: unknown discipline %v", c.Name, c.Discipline)
		}
	}
	for k, taken := range stacks {
		if !taken {
			return fmt.Errorf("stack %s of system %s has no client", k[1], k[0])
		}
	}
	return nil
}

// nssState is the NSS server side of a Server: the models of the client
// systems and the clients' connection state.
type nssState struct {
	system string            // the NSS server's MVS system name
	models map[string]*Model // by client system
	order  []*Model          // in data set order
	now    func() time.Time

	mu      sync.Mutex
	clients []*nssClient // by name
	churn   *rand.Rand
}

type nssClient struct {
	NSSClient
	model *Model // nil for an XMLAppliance client
}

func newNSSState(system string, d *NSSDataSet, now func() time.Time, timing Timing, churnSeed uint64) (*nssState, error) {
	if err := checkName("system", system, shortLen); err != nil || system == "" {
		return nil, fmt.Errorf("NSS server system name %q: want 1-%d printable characters", system, shortLen)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	n := &nssState{system: system, models: map[string]*Model{}, now: now,
		churn: rand.New(rand.NewPCG(churnSeed, 0x4e5353))}
	for _, ds := range d.Systems {
		m, err := NewModel(ds, now, timing)
		if err != nil {
			return nil, fmt.Errorf("system %s: %w", ds.System, err)
		}
		n.models[ds.System] = m
		n.order = append(n.order, m)
	}
	t := now()
	for _, c := range d.Clients {
		nc := &nssClient{NSSClient: c}
		if nc.Userid == "" {
			nc.Userid = DefaultNSSUserid
		}
		nc.ConnectTime = time.Time{}
		if nc.Connected {
			nc.ConnectTime = t
		}
		if c.Discipline == nmi.DisciplineIPSec {
			nc.model = n.models[c.System]
		}
		n.clients = append(n.clients, nc)
	}
	slices.SortFunc(n.clients, func(a, b *nssClient) int { return strings.Compare(a.Name, b.Name) })
	return n, nil
}

func (n *nssState) client(name string) *nssClient {
	i, ok := slices.BinarySearchFunc(n.clients, name, func(c *nssClient, name string) int { return strings.Compare(c.Name, name) })
	if !ok {
		return nil
	}
	return n.clients[i]
}

// route finds the connected IPSec client a request names.
func (n *nssState) route(name string) (c NSSClient, m *Model, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nc := n.client(name)
	if nc == nil || !nc.Connected || nc.model == nil {
		return NSSClient{}, nil, false
	}
	return nc.NSSClient, nc.model, true
}

// clientInfo answers NMsec_GET_CLIENTINFO: every connected client (blank
// target) or the one named, that the discipline filters select (any of
// them; no filter selects every client). ok is false when a named client
// is unknown or not connected.
func (n *nssState) clientInfo(target string, fs []nmi.InFilter) (out []NSSClient, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if target != "" {
		nc := n.client(target)
		if nc == nil || !nc.Connected {
			return nil, false
		}
		if disciplineMatches(fs, nc.Discipline) {
			out = append(out, nc.NSSClient)
		}
		return out, true
	}
	for _, nc := range n.clients {
		if nc.Connected && disciplineMatches(fs, nc.Discipline) {
			out = append(out, nc.NSSClient)
		}
	}
	return out, true
}

func disciplineMatches(fs []nmi.InFilter, d nmi.ClientDiscipline) bool {
	if len(fs) == 0 {
		return true
	}
	for i := range fs {
		if !fs[i].HasName || fs[i].Name.Equal(d.String()) {
			return true
		}
	}
	return false
}

func (n *nssState) setConnected(name string, connected bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	nc := n.client(name)
	if nc == nil {
		return fmt.Errorf("ikedsim: no NSS client %q", name)
	}
	n.setLocked(nc, connected)
	return nil
}

func (n *nssState) setLocked(nc *nssClient, connected bool) {
	if connected && !nc.Connected {
		nc.ConnectTime = n.now()
	}
	nc.Connected = connected
}

// churnStep flips one client, chosen by the churn generator: the same
// seed flips the same clients in the same order.
func (n *nssState) churnStep() (name string, connected bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nc := n.clients[n.churn.IntN(len(n.clients))]
	n.setLocked(nc, !nc.Connected)
	return nc.Name, nc.Connected
}

func (n *nssState) snapshot() []NSSClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]NSSClient, len(n.clients))
	for i, nc := range n.clients {
		out[i] = nc.NSSClient
	}
	return out
}

// runChurn flips a client every d until stop is closed.
func (s *Server) runChurn(d time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			name, connected := s.nss.churnStep()
			s.log.Info("NSS client churn", "client", name, "connected", connected)
		}
	}
}

// errNotNSS is returned by the NSS methods of a server that plays IKED.
var errNotNSS = errors.New("ikedsim: the server plays IKED, not an NSS server")

// SetClientConnected connects or disconnects an NSS client. A client that
// disconnects keeps its stack's state (it reconnects with its tunnels);
// requests routed to it meanwhile get ENXIO.
func (s *Server) SetClientConnected(name string, connected bool) error {
	if s.nss == nil {
		return errNotNSS
	}
	return s.nss.setConnected(name, connected)
}

// NSSClients is the state of every NSS client, by name; nil for a server
// that plays IKED.
func (s *Server) NSSClients() []NSSClient {
	if s.nss == nil {
		return nil
	}
	return s.nss.snapshot()
}

// NSSModel is the model of an NSS client system; nil if there is none.
func (s *Server) NSSModel(system string) *Model {
	if s.nss == nil {
		return nil
	}
	return s.nss.models[system]
}

// Models is the model of each system the server serves: its own (IKED),
// or every client system's (NSS server), in data set order.
func (s *Server) Models() []*Model {
	if s.nss == nil {
		return []*Model{s.model}
	}
	return slices.Clone(s.nss.order)
}

// System is the MVS system name of the server: of IKED's stacks, or of the
// NSS server (its SAF resource names).
func (s *Server) System() string {
	if s.nss == nil {
		return s.model.System()
	}
	return s.nss.system
}

// clientInfoSource gives the NMsecClientInfo records of clients.
func clientInfoSource(cs []NSSClient) recordSource {
	var r nmi.ClientInfoRecord
	return eachRecord(cs, nil, nil, func(c *NSSClient) (rec record, _ int, err error) {
		r.ClientInfo = nmi.ClientInfo{Discipline: c.Discipline, RemoteMgmt: c.RemoteManagement,
			ConnectTime: stamp(c.ConnectTime)}
		err = setTexts(textField{&r.ClientInfo.ClientName, c.Name}, textField{&r.ClientInfo.SysName, c.System},
			textField{&r.ClientInfo.StackName, c.Stack}, textField{&r.ClientInfo.Userid, c.Userid})
		return &r, clientInfoRecSize, err
	})
}
