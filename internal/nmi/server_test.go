package nmi

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// testServer speaks the real wire format on an AF_UNIX socket in
// t.TempDir(), using the package's own codec. Its behaviour is set by
// onAccept (default: send INIT) and handle (default: answer).
type testServer struct {
	t    testing.TB
	path string
	ln   *net.UnixListener

	onAccept func(c *net.UnixConn) bool                                   // false: close the connection
	handle   func(c *net.UnixConn, h Header, req Request, err error) bool // false: close the connection

	filters int           // records answered to the filter requests
	ikes    int           // records answered to NMsec_GET_IKETUN
	idLen   int           // length of the remote identity of those records
	block   chan struct{} // closed when the test ends: handlers that hang wait on it

	once  sync.Once
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*net.UnixConn]struct{}
	reqs  int
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ipsecmgmt")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, path: path, ln: ln, conns: map[*net.UnixConn]struct{}{}, block: make(chan struct{}),
		filters: 3, ikes: 2, idLen: 8}
	s.onAccept = func(c *net.UnixConn) bool { _, err := c.Write(AppendInit(nil, Version)); return err == nil }
	s.handle = s.answer
	t.Cleanup(s.close)
	return s
}

// addr starts serving (once) and returns the socket path. Set the hooks
// and knobs before calling it.
func (s *testServer) addr() string {
	s.once.Do(func() {
		s.wg.Add(1)
		go s.serve()
	})
	return s.path
}

func (s *testServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.drop(c)
			if !s.onAccept(c) {
				return
			}
			var buf []byte
			for {
				h, msg, err := ReadMessage(c, buf, MaxRequestSize)
				var req Request
				if err == nil {
					buf = msg
					h, req, err = DecodeRequest(msg, Version)
				} else if !isFormatError(err) {
					return // EOF or a closed socket
				}
				s.mu.Lock()
				s.reqs++
				s.mu.Unlock()
				if !s.handle(c, h, req, err) {
					return
				}
			}
		}()
	}
}

func isFormatError(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe)
}

func (s *testServer) drop(c *net.UnixConn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// kill closes every open connection at once (IKED dying).
func (s *testServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *testServer) close() {
	s.ln.Close()
	select {
	case <-s.block:
	default:
		close(s.block)
	}
	s.kill()
	s.wg.Wait()
}

func (s *testServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// answer is the default handler: errors as the contract says, records for
// the display requests the tests use.
func (s *testServer) answer(c *net.UnixConn, h Header, req Request, err error) bool {
	if err != nil {
		var fe *FormatError
		errors.As(err, &fe)
		if fe.Fatal {
			c.Write(AppendTerm(nil, Version, EINVAL, fe.Rsn))
			return false
		}
		_, werr := c.Write(AppendError(nil, h, Version, EINVAL, fe.Rsn))
		return werr == nil
	}
	msg := BeginMessage(nil)
	n := 0
	switch req.Type {
	case GetStackInfo:
		for _, name := range []string{"TCPIP", "TCPIPB"} {
			r := StackRecord{Stack: Stack{IPSecurity: true, Name: t24(name)}}
			msg, err = r.Append(msg)
			n++
		}
	case GetIPFltCurr, GetIPFltPolicy, GetIPFltDefault:
		r := FilterRecord{Filter: *sectionGoldens()[12].val.(*IPFilter)}
		for ; n < s.filters && err == nil; n++ {
			r.Filter.NameExt = uint32(n)
			msg, err = r.Append(msg)
		}
	case GetIKETun:
		g := sectionGoldens()
		r := IKETunnelRecord{Tunnel: *g[10].val.(*IKETunnel), Stats: *g[11].val.(*IKETunStats),
			LocalID: []byte{192, 0, 2, 1}, RemoteID: make([]byte, s.idLen)}
		for ; n < s.ikes && err == nil; n++ {
			r.Tunnel.Generation = uint32(n)
			msg, err = r.Append(msg)
		}
	case GetSummary:
		r := SummaryRecord{}
		msg, err = r.Append(msg)
		n = 1
	}
	if err != nil {
		s.t.Errorf("test server: %v", err)
		return false
	}
	if err := FinishMessage(msg, Header{Version: Version, Type: h.Type, Correlator: h.Correlator, Target: h.Target}, n); err != nil {
		s.t.Errorf("test server: %v", err)
		return false
	}
	_, err = c.Write(msg)
	return err == nil
}

// reply returns a handler that writes b (with the request's correlator in
// a header at the start, if fix is set) and then returns keep.
func reply(b []byte, fix bool, keep bool) func(c *net.UnixConn, h Header, req Request, err error) bool {
	return func(c *net.UnixConn, h Header, req Request, err error) bool {
		out := append([]byte(nil), b...)
		if fix {
			be.PutUint32(out[offMCorrelator:], h.Correlator)
			be.PutUint16(out[offMType:], uint16(h.Type))
		}
		c.Write(out)
		return keep
	}
}

var _ = io.EOF
