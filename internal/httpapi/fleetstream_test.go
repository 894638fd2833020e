package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// genFleet serves n systems SYS1..SYSn, each a generated data set of
// stacks stacks of tunnels tunnels on a clock that stands still, and
// returns the simulators and their fleet (the NMI of system i goes
// through wrap(i, sim) when wrap is given).
func genFleet(t testing.TB, n, stacks, tunnels int, wrap func(int, *simNMI) fleet.NMI) ([]*simNMI, *fleet.Fleet) {
	t.Helper()
	var sims []*simNMI
	var eps []fleet.Endpoint
	for i := range n {
		name := "SYS" + strconv.Itoa(i+1)
		ds, err := ikedsim.Generate(ikedsim.GenSpec{Stacks: stacks, Filters: 1, Tunnels: tunnels, Seed: uint64(i + 1), System: name})
		if err != nil {
			t.Fatal(err)
		}
		sim := newSimData(t, ds)
		sim.setStep(0)
		sims = append(sims, sim)
		var nmi fleet.NMI = sim
		if wrap != nil {
			nmi = wrap(i, sim)
		}
		eps = append(eps, fleet.Endpoint{Name: name, Kind: fleet.IKED, NMI: nmi})
	}
	fl, err := fleet.New(eps, "SYS1", fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sims, fl
}

// listExchanges is the IKE tunnel lists the simulators have answered.
func listExchanges(sims []*simNMI) uint64 {
	var n uint64
	for _, s := range sims {
		n += s.srv.Requests(nmi.GetIKETun)
	}
	return n
}

// A page of a fleet list asks only the stacks it needs: from the token's
// stack (the first on the first page) to the one holding the item after
// the page, which makes the next page's token; the whole list asks every
// stack once. The pages together are the whole list.
func TestFleetListPageAsksOnlyTheStacksItNeeds(t *testing.T) {
	httpapi.SetFleetHedge(t, time.Hour) // no stack is ever slow enough to ask one more
	const pageSize = 5
	sims, fl := genFleet(t, 4, 3, 8, nil)
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet = fl })

	before := listExchanges(sims)
	whole, un, next := fleetItems(t, getBody(t, s, "/v1/ike/tunnels", http.StatusOK), "tunnelId")
	if len(un) != 0 || next != "" {
		t.Fatalf("whole list: unreachable %v, next %q", un, next)
	}
	if n := listExchanges(sims) - before; n != 12 {
		t.Errorf("whole list of 12 stacks: %d exchanges", n)
	}
	// The stacks in order, and where each item comes from.
	var stacks []string
	perStack := map[string]int{}
	for _, it := range whole {
		k := it.system + "/" + it.stack
		if perStack[k] == 0 {
			stacks = append(stacks, k)
		}
		perStack[k]++
	}
	if len(stacks) != 12 {
		t.Fatalf("items of %d stacks, want 12: %v", len(stacks), stacks)
	}
	for k, n := range perStack {
		if n <= pageSize {
			t.Fatalf("stack %s has %d IKE tunnels: the test wants more than a page in each", k, n)
		}
	}
	stackOf := func(i int) int {
		k := whole[i].system + "/" + whole[i].stack
		for j, s := range stacks {
			if s == k {
				return j
			}
		}
		return -1
	}

	var paged []fleetItem
	token := ""
	for first := 0; ; first += pageSize {
		p := "/v1/ike/tunnels?pageSize=" + strconv.Itoa(pageSize)
		if token != "" {
			p += "&pageToken=" + url.QueryEscape(token)
		}
		before := listExchanges(sims)
		items, un, nt := fleetItems(t, getBody(t, s, p, http.StatusOK), "tunnelId")
		asked := listExchanges(sims) - before
		if len(un) != 0 {
			t.Fatalf("page at %d: unreachable %v", first, un)
		}
		paged = append(paged, items...)
		from, to := 0, len(stacks)-1
		if first > 0 {
			from = stackOf(first - 1) // the token's stack
		}
		if first+pageSize < len(whole) {
			to = stackOf(first + pageSize) // the item after the page
		}
		if want := uint64(to - from + 1); asked != want {
			t.Errorf("page of items %d-%d: %d stacks asked, want %d (%s to %s)",
				first, first+len(items)-1, asked, want, stacks[from], stacks[to])
		}
		if nt == "" {
			break
		}
		token = nt
	}
	if len(paged) != len(whole) {
		t.Fatalf("pages hold %d items, the whole list %d", len(paged), len(whole))
	}
	for i := range whole {
		if paged[i] != whole[i] {
			t.Fatalf("item %d: pages %v, whole list %v", i, paged[i], whole[i])
		}
	}
}

// gatedNMI holds the IKE tunnel list of one stack until gate closes, and
// then fails it with err.
type gatedNMI struct {
	fleet.NMI
	stack string
	gate  chan struct{}
	err   error
}

func (g *gatedNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	if req.Type != nmi.GetIKETun || req.Target != g.stack {
		return g.NMI.Do(ctx, req, fn)
	}
	select {
	case <-g.gate:
		return nmi.Header{Version: 1, Type: req.Type}, g.err
	case <-ctx.Done():
		return nmi.Header{}, ctx.Err()
	}
}

// A fleet list streams: the items of the stacks before a stack that has
// not answered are on their way to the client (status 200, chunked)
// before it answers; when it then fails, the answer is still whole, with
// the stack in unreachable after the items.
func TestFleetListStreamsAndALateFailureIsUnreachable(t *testing.T) {
	gate := &gatedNMI{stack: "TCPIP", err: &nmi.StatusError{Type: nmi.GetIKETun, Rc: nmi.EIO}}
	// SYS1: two stacks of 700 IKE tunnels, over 1 MiB of JSON; SYS2's
	// TCPIP answers when the test says.
	_, fl := genFleet(t, 2, 2, 700, func(i int, sim *simNMI) fleet.NMI {
		if i == 0 {
			return sim
		}
		gate.NMI = sim
		return gate
	})
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet, d.RequestTimeout = fl, time.Minute })

	for _, cond := range []string{"", `"stale"`} {
		gate.gate = make(chan struct{})
		open := sync.OnceFunc(func() { close(gate.gate) })
		t.Cleanup(open) // a failed check leaves no stack waiting
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/v1/ike/tunnels", nil)
		if err != nil {
			t.Fatal(err)
		}
		if cond != "" {
			// Hashed first, then sent: the gate opens for the hash.
			req.Header.Set("If-None-Match", cond)
			open()
		}
		// Headers come when the items stream, while SYS2's TCPIP waits.
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.ContentLength != -1 || len(resp.Trailer) == 0 {
			t.Fatalf("%s: status %d, length %d, trailers %v before SYS2's TCPIP answered: want a stream",
				cond, resp.StatusCode, resp.ContentLength, resp.Trailer)
		}
		head := make([]byte, 64<<10)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(head), `{"items":[{"system":"SYS1","stack":"TCPIP"`) {
			t.Fatalf("%s: the body starts %.100s", cond, head)
		}
		open()
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Trailer.Get("ETag") == "" {
			t.Errorf("%s: no ETag trailer", cond)
		}
		got, un, next := fleetItems(t, append(head, rest...), "tunnelId")
		bySystem := map[string]int{}
		for _, it := range got {
			bySystem[it.system+"/"+it.stack]++
		}
		if bySystem["SYS2/TCPIP"] != 0 || bySystem["SYS1/TCPIP"] == 0 || bySystem["SYS1/TCPIPB"] == 0 ||
			bySystem["SYS2/TCPIPB"] == 0 || next != "" {
			t.Errorf("%s: items per stack %v, next %q", cond, bySystem, next)
		}
		if len(un) != 1 || un[0]["system"] != "SYS2" || un[0]["stack"] != "TCPIP" {
			t.Fatalf("%s: unreachable %v, want SYS2's TCPIP", cond, un)
		}
		var pr struct{ Status int }
		if err := json.Unmarshal(mustJSON(t, un[0]["problem"]), &pr); err != nil || pr.Status < 500 ||
			!strings.Contains(string(mustJSON(t, un[0]["problem"])), "EIO") {
			t.Errorf("%s: SYS2's TCPIP's problem %v", cond, un[0]["problem"])
		}
	}
}

// A stack that hangs until the request's deadline costs only its own
// items: the stacks after it are asked meanwhile (beyond the window of a
// whole list, beyond the estimate of a page), so the answer lists it
// alone in unreachable, with the others' items.
func TestFleetListHungStackDelaysOnlyItself(t *testing.T) {
	gate := &gatedNMI{stack: "TCPIP", gate: make(chan struct{}), err: errors.New("not reached")}
	t.Cleanup(func() { close(gate.gate) })
	_, fl := genFleet(t, 5, 2, 8, func(i int, sim *simNMI) fleet.NMI {
		if i > 0 {
			return sim
		}
		gate.NMI = sim
		return gate
	})
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet, d.RequestTimeout = fl, 3*time.Second })
	for _, p := range []string{"/v1/ike/tunnels", "/v1/ike/tunnels?pageSize=5"} {
		items, un, next := fleetItems(t, getBody(t, s, p, http.StatusOK), "tunnelId")
		if len(un) != 1 || un[0]["system"] != "SYS1" || un[0]["stack"] != "TCPIP" {
			t.Errorf("%s: unreachable %v, want SYS1's TCPIP alone", p, un)
		}
		stacks := map[string]bool{}
		for _, it := range items {
			stacks[it.system+"/"+it.stack] = true
		}
		switch {
		case p == "/v1/ike/tunnels" && (len(stacks) != 9 || stacks["SYS1/TCPIP"] || next != ""):
			t.Errorf("%s: items of %v, next %q: want the 9 other stacks'", p, stacks, next)
		case p != "/v1/ike/tunnels" && (len(items) != 5 || !stacks["SYS1/TCPIPB"] || next == ""):
			t.Errorf("%s: %v, next %q: want 5 of SYS1's TCPIPB and a next page", p, items, next)
		}
	}
}

// The stacks still being asked when a page is full run to their end
// instead of being cancelled: a cancelled exchange would leave its NMI
// connection out of step, and the pool would close it (IKED would see a
// client go and another come for nothing).
func TestFleetListPageKeepsItsNMIConnections(t *testing.T) {
	httpapi.SetFleetHedge(t, time.Millisecond) // ask many stacks beyond the page's need
	sims, fl := genFleet(t, 4, 3, 8, nil)
	for _, sim := range sims {
		sim.faults.Set(nmi.GetIKETun, ikedsim.Fault{Delay: 100 * time.Millisecond})
	}
	s := newServer(t, nil, func(d *httpapi.Deps) { d.Fleet = fl })
	before := listExchanges(sims)
	items, _, next := fleetItems(t, getBody(t, s, "/v1/ike/tunnels?pageSize=1", http.StatusOK), "tunnelId")
	if len(items) != 1 || next == "" {
		t.Fatalf("page of 1: %d items, next %q", len(items), next)
	}
	// Every exchange asked ends, answered; none is cut short.
	deadline := time.Now().Add(30 * time.Second)
	for {
		busy := 0
		for _, sim := range sims {
			busy += sim.pool.Stats().InUse
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d NMI connections still in use", busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
	asked := listExchanges(sims) - before
	if asked < 2 {
		t.Fatalf("the page asked %d stacks: the test needs some beyond the first", asked)
	}
	for i, sim := range sims {
		if st := sim.pool.Stats(); st.Closed != 0 {
			t.Errorf("SYS%d: %d NMI connections closed after a page of 1 (%d stacks asked)", i+1, st.Closed, asked)
		}
	}
}
