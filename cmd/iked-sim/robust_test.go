package main

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// rawDial connects without waiting for INIT.
func rawDial(t *testing.T, sock string) *net.UnixConn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UnixConn)
}

// untilClosed reads messages until the server closes and returns their
// types and codes, e.g. "NMsec_INIT/OK/0 NMsec_TERM/EINVAL/1".
func untilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioWait))
	var got []string
	var buf []byte
	for {
		h, msg, err := nmi.ReadMessage(c, buf, 1<<30)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET): // a reset: request bytes left unread
			return strings.Join(got, " ")
		case err != nil:
			t.Fatalf("after %q: %v", got, err)
		}
		buf = msg
		got = append(got, h.Type.String()+"/"+h.Rc.String()+"/"+strconv.Itoa(int(h.Rsn)))
	}
}

func request(t *testing.T, typ nmi.MsgType, target string) []byte {
	t.Helper()
	b, err := nmi.AppendRequest(nil, &nmi.Request{Type: typ, Target: target}, 7)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openFDs counts the process's open descriptors (Linux), -1 elsewhere.
func openFDs(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestAbuseDoesNotStopTheServer runs iked-sim as a process and sends it
// garbage, truncated headers, a declared size of 2 GiB, requests cut off
// by a disconnect, and answers left unread, many at once. A client
// connected throughout keeps being served, the process keeps its
// descriptors, and it exits cleanly on SIGTERM.
func TestAbuseDoesNotStopTheServer(t *testing.T) {
	p := startProcess(t, "--generate", "stacks=2,filters=20000,tunnels=200,seed=3")
	witness := connect(t, p.sock)
	exchangeAll(t, witness, "TCPIP")
	baseFDs := openFDs(p.cmd.Process.Pid)

	summary := request(t, nmi.GetSummary, "TCPIP")
	huge := request(t, nmi.GetSummary, "TCPIP")
	binary.BigEndian.PutUint32(huge[12:], 1<<31) // NMsMMsgSize: 2 GiB
	rnd := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rnd.Uint32())
	}

	cases := []struct {
		name  string
		abuse func(t *testing.T, c *net.UnixConn)
	}{
		{"garbage", func(t *testing.T, c *net.UnixConn) {
			_, _ = c.Write(garbage)
			if got := untilClosed(t, c); !strings.HasSuffix(got, "NMsec_TERM/EINVAL/1") {
				t.Errorf("answers %q, want TERM EINVAL/1 last", got)
			}
		}},
		{"declared size 2 GiB", func(t *testing.T, c *net.UnixConn) {
			_, _ = c.Write(huge)
			if got := untilClosed(t, c); !strings.HasSuffix(got, "NMsec_TERM/EINVAL/4") {
				t.Errorf("answers %q, want TERM EINVAL/4 last", got)
			}
		}},
		{"truncated header, then close", func(t *testing.T, c *net.UnixConn) {
			_, _ = c.Write(summary[:nmi.HdrSize/2])
		}},
		{"truncated header, then end of writing", func(t *testing.T, c *net.UnixConn) {
			_, _ = c.Write(summary[:nmi.HdrSize-1])
			_ = c.CloseWrite()
			if got := untilClosed(t, c); !strings.HasSuffix(got, "NMsec_TERM/OK/0") {
				t.Errorf("answers %q, want TERM last", got)
			}
		}},
		{"disconnect mid-request", func(t *testing.T, c *net.UnixConn) {
			msg := request(t, nmi.GetIPFltPolicy, "TCPIP")
			binary.BigEndian.PutUint32(msg[12:], uint32(len(msg)+1000)) // more records announced than sent
			_, _ = c.Write(msg)
		}},
		{"answer left unread", func(t *testing.T, c *net.UnixConn) {
			_, _ = c.Write(request(t, nmi.GetIPFltPolicy, "TCPIP")) // 20,000 filter records
		}},
	}
	// A connection holding half a header all along does not hold others up.
	stuck := rawDial(t, p.sock)
	if _, err := stuck.Write(summary[:10]); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		for _, c := range cases {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn := rawDial(t, p.sock)
					c.abuse(t, conn)
					conn.Close()
				}()
			}
		}
		wg.Wait()
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
		exchangeAll(t, witness, "TCPIP")
	}
	stuck.Close()

	other := connect(t, p.sock)
	exchangeAll(t, other, "TCPIPB")
	other.c.Close()
	if baseFDs >= 0 {
		waitFor(t, "the descriptors to come back to the "+strconv.Itoa(baseFDs)+" open before the abuse", func() bool {
			return openFDs(p.cmd.Process.Pid) <= baseFDs
		})
	}
	p.signal(syscall.SIGTERM)
	witness.expectTerm()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
	if strings.Contains(p.out.String(), "panic") || p.stderr.String() != "" {
		t.Errorf("output:\n%s\n%s", p.out.String(), p.stderr.String())
	}
}
