package ipsec

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// startSim serves the demo data set, frozen at its epoch, on a real
// AF_UNIX socket and returns a pool connected to it.
func startSim(t *testing.T) (*ikedsim.DataSet, *nmi.Pool) {
	t.Helper()
	ds := ikedsim.Demo()
	path := filepath.Join(t.TempDir(), "nmi.sock")
	ln, err := ikedsim.Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{Data: ds, Now: func() time.Time { return ds.Epoch }})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	pool := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path})
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		<-done
	})
	return ds, pool
}

func line(k Kind, id, name string, gen uint32, state string) string {
	return fmt.Sprintf("%s %s %q gen %d %s", k, id, name, gen, state)
}

// Snapshot lists every generation of every tunnel of a stack, as the data
// set holds them, with the API's state names; active IP tunnels carry
// traffic by direction, IKE tunnels their bytes. (The model derives
// counters from rates, so their values are not compared.)
func TestSnapshotMatchesTheDataSet(t *testing.T) {
	ds, pool := startSim(t)
	for _, st := range ds.Stacks {
		var want []string
		for _, x := range st.IKETunnels {
			want = append(want, line(KindIKE, x.ID, x.KeyExchangeRule, x.Generation, IKEStateName(x.State)))
		}
		for _, x := range st.DynTunnels {
			want = append(want, line(KindDynamic, x.ID, x.LocalDynVpnRule, x.Generation, IPStateName(x.State)))
		}
		for _, x := range st.ManualTunnels {
			want = append(want, line(KindManual, x.ID, x.VpnAction, 0, IPStateName(x.State)))
		}
		var got []string
		err := Snapshot(t.Context(), pool, st.Name, func(x *Tunnel) error {
			if x.State != x.Kind.StateName(x.Code) {
				t.Errorf("%s %s: state %q for code %d", x.Kind, x.ID, x.State, x.Code)
			}
			switch {
			case x.Kind == KindIKE && x.Traffic != Traffic{}:
				t.Errorf("IKE tunnel %s has traffic by direction: %+v", x.ID, x.Traffic)
			case x.Kind != KindIKE && x.Bytes != 0:
				t.Errorf("%s tunnel %s has IKE bytes", x.Kind, x.ID)
			case x.Active && x.Kind == KindIKE && x.Bytes == 0,
				x.Active && x.Kind != KindIKE && (x.Traffic.InBytes == 0 || x.Traffic.OutPackets == 0):
				t.Errorf("active %s tunnel %s carried nothing: %+v", x.Kind, x.ID, x)
			}
			got = append(got, line(x.Kind, x.ID, x.Name, x.Generation, x.State))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: snapshot\n%q\nwant\n%q", st.Name, got, want)
		}
		if len(got) == 0 {
			t.Errorf("%s: no tunnels", st.Name)
		}
	}
}

// Walk sends the display request of its kind with the filters given, and
// an error from fn ends it with that error.
func TestWalkFiltersAndStops(t *testing.T) {
	ds, pool := startSim(t)
	st := ds.Stacks[0]
	id := st.DynTunnels[0].ID
	var f nmi.InFilter
	if err := f.TunnelID.Set(id); err != nil {
		t.Fatal(err)
	}
	f.HasTunnelID = true
	n := 0
	err := Walk(t.Context(), pool, st.Name, KindDynamic, []nmi.InFilter{f}, func(x *Tunnel) error {
		n++
		if x.Kind != KindDynamic || x.ID != id {
			t.Errorf("filtered on %s, got %s %s", id, x.Kind, x.ID)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("Walk: %d tunnels, %v", n, err)
	}
	stop := errors.New("stop")
	if err := Walk(t.Context(), pool, st.Name, KindIKE, nil, func(*Tunnel) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Walk: %v, want the callback's error", err)
	}
	var se *nmi.StatusError
	if err := Snapshot(t.Context(), pool, "NOSTACK", func(*Tunnel) error { return nil }); !errors.As(err, &se) {
		t.Errorf("Snapshot of an unknown stack: %v, want the NMI's return code", err)
	}
}

// A family folds generations: the newest generation and its state, the
// newest active one, whether any is live, the latest expiry of an active
// one.
func TestFamilyFolds(t *testing.T) {
	gens := []Tunnel{
		{Kind: KindDynamic, ID: "Y1", Name: "R", Generation: 1, State: "expired", Code: 5, Expires: 100},
		{Kind: KindDynamic, ID: "Y1", Name: "R", Generation: 2, State: "active", Code: 4, Active: true, Live: true, Expires: 200},
		{Kind: KindDynamic, ID: "Y1", Name: "R", Generation: 3, State: "negotiating", Code: 3, Live: true},
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		var f Family
		for _, i := range order {
			f.Add(&gens[i])
		}
		if f.ID != "Y1" || f.Name != "R" || f.Newest != 3 || f.NewestState != "negotiating" || !f.Active ||
			f.ActiveGen != 2 || !f.Live || f.Expires != 200 || f.State() != "active" {
			t.Errorf("order %v: %+v", order, f)
		}
	}
	var f Family
	f.Add(&gens[0])
	if f.Active || f.Live || f.State() != "expired" || f.Expires != 0 {
		t.Errorf("expired only: %+v", f)
	}
}

// The API's state names: IP tunnel state 3 is negotiating, as for IKE
// tunnels; unknown codes keep the codec's unknown(N).
func TestStateNames(t *testing.T) {
	if got := KindDynamic.StateName(uint8(nmi.IPTunIncomplete)); got != "negotiating" {
		t.Errorf("IP state 3: %q", got)
	}
	if got := KindIKE.StateName(uint8(nmi.IKETunNegotiating)); got != "negotiating" {
		t.Errorf("IKE state 2: %q", got)
	}
	if got := KindManual.StateName(42); got != "unknown(42)" {
		t.Errorf("IP state 42: %q", got)
	}
	for _, k := range Kinds {
		for i, s := range k.States() {
			if k.StateName(uint8(i+1)) != s {
				t.Errorf("%s: state %d is %q in States, %q in StateName", k, i+1, s, k.StateName(uint8(i+1)))
			}
		}
	}
}
