package nmi_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestPoolClientLimit: a pool refused by the simulator's limit of 50
// clients (TERM with EAGAIN before INIT) is down and probes; once a
// client leaves, the prober gets in and the pool serves again without a
// request having to find out.
func TestPoolClientLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipsecmgmt")
	srv, err := ikedsim.NewServer(ikedsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	others := make([]*nmi.Client, ikedsim.DefaultMaxClients)
	for i := range others {
		conn, err := nmi.DialUnix(path)(ctx)
		if err == nil {
			others[i], err = nmi.NewClient(ctx, conn)
		}
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer others[i].Close()
	}
	p := nmi.NewPool(nmi.PoolConfig{Dial: nmi.DialUnix(path), Addr: path, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	defer p.Close()
	req := &nmi.Request{Type: nmi.GetStackInfo}
	_, err = p.Do(ctx, req, nil)
	f := nmi.Classify(err)
	if f.Class != nmi.ClassRefused || f.Status.Rc != nmi.EAGAIN {
		t.Fatalf("the 51st client: %v (%v), want refused with EAGAIN", err, f.Class)
	}
	_, err = p.Do(ctx, req, nil)
	var ue *nmi.UnavailableError
	if f := nmi.Classify(err); !errors.As(err, &ue) || f.Status == nil || f.Status.Rc != nmi.EAGAIN {
		t.Fatalf("while refused: %v, want the pool waiting with the refusal as its cause", err)
	}
	for p.Stats().Probes < 2 {
		if ctx.Err() != nil {
			t.Fatal("no probes while refused")
		}
		time.Sleep(time.Millisecond)
	}
	others[0].Close()
	for p.Stats().Down {
		if ctx.Err() != nil {
			t.Fatal("the prober did not get in after a client left")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Do(ctx, req, nil); err != nil {
		t.Fatalf("after a client left: %v", err)
	}
}
