package ikedsim

import (
	"context"
	"errors"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// dialNMI connects the codec's Client to the simulator's socket.
func dialNMI(ctx context.Context, path string) (*nmi.Client, error) {
	conn, err := nmi.DialUnix(path)(ctx)
	if err != nil {
		return nil, err
	}
	return nmi.NewClient(ctx, conn)
}

// TestCodecClient drives the simulator with the codec's own Client: every
// display request, a status error, the client limit and a TERM.
func TestCodecClient(t *testing.T) {
	faults := NewFaults()
	_, path := startServer(t, Config{Faults: faults})
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	clients := make([]*nmi.Client, DefaultMaxClients)
	for i := range clients {
		c, err := dialNMI(ctx, path)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		clients[i] = c
	}
	_, err := dialNMI(ctx, path)
	var se *nmi.StatusError
	if !errors.As(err, &se) || !se.Refused || se.Rc != nmi.EAGAIN {
		t.Fatalf("51st client: %v, want refused with EAGAIN", err)
	}

	c := clients[0]
	want := map[nmi.MsgType]uint32{nmi.GetStackInfo: 2, nmi.GetIKENSInfo: 2, nmi.GetIPInterfaces: 6,
		nmi.GetIPTunManual: 3, nmi.GetIPTunDynStack: 7, nmi.GetIPTunDynIKE: 7, nmi.GetIKETun: 6,
		nmi.GetIKETunCascade: 6, nmi.GetPortTrans: 2, nmi.GetSummary: 1}
	for typ, n := range want {
		target := "TCPIP"
		if typ.SystemWide() {
			target = ""
		}
		got := uint32(0)
		h, err := c.Do(ctx, &nmi.Request{Type: typ, Target: target}, func(r nmi.Record) error { got++; return nil })
		if err != nil || got != n || h.RecCount != n {
			t.Errorf("%v: %d records (header %d), %v; want %d", typ, got, h.RecCount, err, n)
		}
	}
	var f nmi.FilterRecord
	count := 0
	if _, err := c.Do(ctx, &nmi.Request{Type: nmi.GetIPFltCurr, Target: "TCPIP"}, func(r nmi.Record) error {
		count++
		return f.Decode(r)
	}); err != nil || count == 0 {
		t.Errorf("filters: %d, %v", count, err)
	}

	_, err = c.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: "NOSTACK"}, nil)
	if !errors.As(err, &se) || se.Rc != nmi.ENXIO || se.Term {
		t.Errorf("unknown stack: %v", err)
	}
	if _, err := c.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, nil); err != nil {
		t.Errorf("after ENXIO: %v", err)
	}

	faults.Set(nmi.GetSummary, Fault{TermClose: true, Rc: nmi.EIO, Times: 1})
	_, err = c.Do(ctx, &nmi.Request{Type: nmi.GetSummary, Target: "TCPIP"}, nil)
	if !errors.As(err, &se) || !se.Term || se.Rc != nmi.EIO {
		t.Errorf("TERM: %v", err)
	}
}
