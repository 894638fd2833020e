package httpapi_test

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/coalesce"
	"github.com/nmigw/nmigw/internal/httpapi"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// TestSharedRendering: concurrent requests of the same view that arrive
// while the first one's exchange is on its way get the bytes it rendered:
// IKED sees one request, every body is the one a lone request gets, and
// conditions and HEAD are answered per request.
func TestSharedRendering(t *testing.T) {
	s, sim, _ := coalescedServer(t, coalesce.Config{})
	const path = "/v1/stacks/TCPIP/ike/tunnels"
	lone := fetch(s, path, roleViewer.header()...)
	if lone.err != nil || lone.status != http.StatusOK {
		t.Fatalf("lone request: %d %v: %s", lone.status, lone.err, lone.body)
	}
	tag := etagOf(t, s, path)
	base := sim.srv.Requests(nmi.GetIKETun)
	joins0 := httpapi.ViewJoins()
	sim.faults.Set(nmi.GetIKETun, ikedsim.Fault{Delay: 2 * time.Second, Times: 1})

	const n = 6
	got := make([]answer, n)
	var wg sync.WaitGroup
	get := func(i int, hdr ...string) {
		defer wg.Done()
		got[i] = fetch(s, path, append(roleViewer.header(), hdr...)...)
	}
	wg.Add(1)
	go get(0)
	waitUntil(t, "the first request at IKED", func() bool { return sim.srv.Requests(nmi.GetIKETun) == base+1 })
	for i := 1; i < n-1; i++ {
		wg.Add(1)
		go get(i)
	}
	wg.Add(1)
	go get(n-1, "If-None-Match", tag)
	waitUntil(t, "the requests to join", func() bool { return httpapi.ViewJoins()-joins0 == n-1 })
	wg.Wait()
	for i := range n - 1 {
		if a := got[i]; a.err != nil || a.status != http.StatusOK || !bytes.Equal(a.body, lone.body) {
			t.Errorf("request %d: %d %v, body equal to the lone one's: %v", i, a.status, a.err, bytes.Equal(a.body, lone.body))
		}
	}
	if a := got[n-1]; a.err != nil || a.status != http.StatusNotModified || len(a.body) != 0 {
		t.Errorf("conditional request: %d %v %q, want 304", a.status, a.err, a.body)
	}
	if d := sim.srv.Requests(nmi.GetIKETun) - base; d != 1 {
		t.Errorf("IKED saw %d requests for %d callers, want 1", d, n)
	}
	// Another view (another page) is another rendering.
	var page struct{ Items []json.RawMessage }
	if a := fetch(s, path+"?pageSize=1", roleViewer.header()...); a.status != http.StatusOK ||
		json.Unmarshal(a.body, &page) != nil || len(page.Items) != 1 {
		t.Errorf("a page of one: %d %s", a.status, a.body)
	}
	if d := sim.srv.Requests(nmi.GetIKETun) - base; d != 2 {
		t.Errorf("IKED saw %d requests after another view, want 2", d)
	}
}

// etagOf is the ETag of a lone GET of path.
func etagOf(t *testing.T, s *server, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for h := roleViewer.header(); len(h) >= 2; h = h[2:] {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("HEAD %s: %s, ETag %q", path, resp.Status, resp.Header.Get("ETag"))
	}
	return resp.Header.Get("ETag")
}

// TestSharedFilterListingStreams: 4 callers of a 100,000-rule listing
// share one NMI exchange, and each gets the whole list streamed: the
// bodies are identical and complete, while the test process's heap stays
// far below the bodies' size (nothing holds a whole list).
func TestSharedFilterListingStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 100,000 rules four times")
	}
	const extra = 100000
	s, sim, r := coalescedServerN(t, coalesce.Config{}, extra)
	const path = "/v1/stacks/TCPIP/filters?set=policy"
	// What one caller alone gets: the size and checksum of the body and
	// its number of items.
	lone := streamBody(t, s, path, true)
	if lone.items < extra {
		t.Fatalf("lone listing: %d items, want at least %d\n%s", lone.items, extra, lastLines(s.logs.String(), 5))
	}
	base := sim.srv.Requests(nmi.GetIPFltPolicy)
	shared0 := r.Stats().Shared
	sim.faults.Set(nmi.GetIPFltPolicy, ikedsim.Fault{Delay: 2 * time.Second, Times: 1})

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	const n = 4
	got := make([]streamed, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = streamBody(t, s, path, false) }()
		if i == 0 {
			waitUntil(t, "the first request at IKED", func() bool { return sim.srv.Requests(nmi.GetIPFltPolicy) == base+1 })
		}
	}
	waitUntil(t, "the callers to join", func() bool { return r.Stats().Shared-shared0 == n-1 })
	wg.Wait()
	close(stop)
	<-sampled

	for i, g := range got {
		if g.items = lone.items; g != lone {
			t.Errorf("caller %d: %+v, want %+v", i, g, lone)
		}
	}
	if d := sim.srv.Requests(nmi.GetIPFltPolicy) - base; d != 1 {
		t.Errorf("IKED saw %d requests for %d callers, want 1", d, n)
	}
	// The four bodies add up to n times the list (about 70 MB each); a
	// gateway that held them would grow the heap by that much.
	growth := int64(peak.Load()) - int64(heap0)
	t.Logf("%d bodies of %d bytes, heap growth at most %d MiB", n, lone.size, growth>>20)
	if total := int64(n) * lone.size; growth > 64<<20 || growth > total/4 {
		t.Errorf("heap grew by %d MiB while streaming %d MiB: the listing was held in memory", growth>>20, total>>20)
	}
}

// streamed is what streamBody learns of a body without keeping it.
type streamed struct {
	status int
	size   int64
	crc    uint32
	items  int
}

// streamBody GETs path as the viewer and reads the body as it comes,
// with items counting them with a streaming JSON decoder.
func streamBody(t *testing.T, s *server, path string, items bool) streamed {
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Error(err)
		return streamed{}
	}
	for h := roleViewer.header(); len(h) >= 2; h = h[2:] {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return streamed{}
	}
	defer resp.Body.Close()
	h := crc32.NewIEEE()
	cr := &countingReader{r: io.TeeReader(resp.Body, h)}
	res := streamed{status: resp.StatusCode}
	if !items {
		if _, err := io.Copy(io.Discard, cr); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
		res.size, res.crc = cr.n, h.Sum32()
		return res
	}
	dec := json.NewDecoder(cr)
	// {"items":[ {...}, ... ] ...}
	for _, want := range []string{"{", "items", "["} {
		tok, err := dec.Token()
		if err != nil || tokenString(tok) != want {
			t.Errorf("GET %s: %v %v, want %s", path, tok, err, want)
			return res
		}
	}
	for dec.More() {
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			t.Errorf("GET %s: item %d: %v", path, res.items, err)
			return res
		}
		res.items++
	}
	if _, err := io.Copy(io.Discard, io.MultiReader(dec.Buffered(), cr)); err != nil {
		t.Errorf("GET %s: %v", path, err)
	}
	res.size, res.crc = cr.n, h.Sum32()
	return res
}

func tokenString(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return v.String()
	case string:
		return v
	}
	return strconv.Quote("?")
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	i := len(s)
	for ; n >= 0 && i > 0; n-- {
		i = bytes.LastIndexByte([]byte(s[:i]), '\n')
		if i < 0 {
			return s
		}
	}
	return s[i+1:]
}

// TestSharingOff: over a Reader with sharing off (--coalesce=false),
// concurrent requests of one view render their own answers, each from
// an exchange of its own.
func TestSharingOff(t *testing.T) {
	s, sim, _ := coalescedServer(t, coalesce.Config{Off: true})
	const path = "/v1/stacks/TCPIP/ike/tunnels"
	base := sim.srv.Requests(nmi.GetIKETun)
	joins0 := httpapi.ViewJoins()
	sim.faults.Set(nmi.GetIKETun, ikedsim.Fault{Delay: time.Second, Times: 1})
	const n = 3
	got := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = fetch(s, path, roleViewer.header()...) }()
		waitUntil(t, "the request at IKED", func() bool { return sim.srv.Requests(nmi.GetIKETun) == base+uint64(i)+1 })
	}
	wg.Wait()
	for i, a := range got {
		if a.err != nil || a.status != http.StatusOK || !bytes.Equal(a.body, got[0].body) {
			t.Errorf("request %d: %d %v", i, a.status, a.err)
		}
	}
	if j := httpapi.ViewJoins() - joins0; j != 0 {
		t.Errorf("%d requests joined another's rendering with sharing off", j)
	}
}
