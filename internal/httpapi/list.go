package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
)

// Pagination. A page token is opaque to clients: a version byte, the first
// bytes of a hash of the request's path and filters (so that a token is
// refused with other filters), and the sort key of the last item sent.
// Items are sent in ascending key order; the next page starts after the
// key.

const (
	tokenVersion = 1
	scopeLen     = 8
	maxPageSize  = 10000
)

type page struct {
	size  int    // 0 = everything
	after []byte // nil = from the start
	scope [scopeLen]byte
}

// parsePage reads pageSize and pageToken. The OpenAPI validator has
// checked their syntax; the token's content is checked here.
func parsePage(r *http.Request) (page, error) {
	q := r.URL.Query()
	var p page
	if s := q.Get(qPageSize); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return p, &paramError{Name: qPageSize, Reason: "not an integer 1-" + strconv.Itoa(maxPageSize)}
		}
		p.size = n
	}
	p.scope = pageScope(r.URL.Path, q)
	if s := q.Get(qPageToken); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		bad := &paramError{Name: qPageToken, Reason: "not a token of this list with these filters"}
		if err != nil || len(b) < 1+scopeLen || b[0] != tokenVersion {
			return p, bad
		}
		if !bytes.Equal(b[1:1+scopeLen], p.scope[:]) {
			return p, bad
		}
		p.after = b[1+scopeLen:]
	}
	return p, nil
}

// pageScope hashes the path and every query parameter except the paging
// ones, in a canonical order.
func pageScope(path string, q url.Values) [scopeLen]byte {
	c := url.Values{}
	for k, v := range q {
		if k != qPageSize && k != qPageToken {
			c[k] = slices.Sorted(slices.Values(v))
		}
	}
	sum := sha256.Sum256([]byte(path + "?" + c.Encode()))
	return [scopeLen]byte(sum[:scopeLen])
}

func (p *page) token(key []byte) string {
	b := make([]byte, 0, 1+scopeLen+len(key))
	b = append(b, tokenVersion)
	b = append(b, p.scope[:]...)
	b = append(b, key...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// skip reports whether an item with this key belongs to an earlier page.
func (p *page) skip(key []byte) bool {
	return p.after != nil && bytes.Compare(key, p.after) <= 0
}

// listBody writes {"items":[...],"nextPageToken":...}.
type listBody struct {
	bw   *bodyWriter
	pg   *page
	n    int
	more bool   // an item beyond the page was seen
	last []byte // key of the last item sent
}

func newListBody(bw *bodyWriter, pg *page) *listBody {
	bw.jw.beginObject()
	bw.jw.array("items")
	return &listBody{bw: bw, pg: pg}
}

// full reports whether the page has all its items; a further item only
// sets the next page token.
func (l *listBody) full() bool { return l.pg.size > 0 && l.n >= l.pg.size }

// add writes one item whose members fn writes, unless the page is full.
func (l *listBody) add(key []byte, fn func(*jsonw)) error {
	if l.full() {
		l.more = true
		return nil
	}
	jw := &l.bw.jw
	jw.elem()
	jw.beginObject()
	fn(jw)
	jw.endObject()
	l.n++
	l.last = append(l.last[:0], key...)
	return l.bw.progress()
}

// addRaw writes one item from already encoded members.
func (l *listBody) addRaw(key, members []byte) error {
	return l.add(key, func(jw *jsonw) {
		jw.b = append(jw.b, members...)
		jw.comma = len(members) > 0
	})
}

func (l *listBody) finish() error { return l.finishWith(nil) }

// finishWith ends the list; more, if set, writes members of its own after
// the items.
func (l *listBody) finishWith(more func(*jsonw)) error {
	jw := &l.bw.jw
	jw.endArray()
	if more != nil {
		more(jw)
	}
	if l.more {
		jw.str("nextPageToken", l.pg.token(l.last))
	}
	jw.endObject()
	return l.bw.finish()
}

// sorter collects encoded items with their keys for lists whose NMI order
// is not the API's order. Members live in one arena, keys in another; both
// and the items come from pools and go back on release.
type sorter struct {
	jw    jsonw // writes into the arena
	arena []byte
	idx   *sortIndex
}

type sortItem struct {
	key      []byte
	off, end int
}

// sortIndex is the items of a sorter and the arena of their keys.
type sortIndex struct {
	keys  []byte
	items []sortItem
}

var indexPool = sync.Pool{New: func() any { return &sortIndex{keys: make([]byte, 0, 4<<10), items: make([]sortItem, 0, 128)} }}

// maxPooledItems keeps the index of exceptionally long lists out of the
// pool.
const maxPooledItems = 4096

// add encodes one item with fn unless it belongs to an earlier page. The
// key is copied, so the caller may reuse its buffer.
func (s *sorter) add(pg *page, key []byte, fn func(*jsonw)) {
	if pg.skip(key) {
		return
	}
	if s.arena == nil {
		s.arena = getBuf()
		s.idx = indexPool.Get().(*sortIndex)
	}
	x := s.idx
	k := len(x.keys)
	x.keys = append(x.keys, key...)
	key = x.keys[k:len(x.keys):len(x.keys)] // stays valid when x.keys grows
	s.jw = jsonw{b: s.arena}
	off := len(s.jw.b)
	fn(&s.jw)
	s.arena = s.jw.b
	s.jw.b = nil
	x.items = append(x.items, sortItem{key: key, off: off, end: len(s.arena)})
}

// list is the items (nil before the first).
func (s *sorter) list() []sortItem {
	if s.idx == nil {
		return nil
	}
	return s.idx.items
}

func (s *sorter) sort() {
	if s.idx != nil {
		slices.SortStableFunc(s.idx.items, func(a, b sortItem) int { return bytes.Compare(a.key, b.key) })
	}
}

func (s *sorter) members(i int) []byte { return s.arena[s.idx.items[i].off:s.idx.items[i].end] }

// release returns the arena and the index to their pools.
func (s *sorter) release() {
	if s.arena != nil {
		putBuf(s.arena)
		s.arena = nil
	}
	if x := s.idx; x != nil {
		s.idx = nil
		if cap(x.items) <= maxPooledItems && cap(x.keys) <= maxPooledBuf {
			clear(x.items)
			x.keys, x.items = x.keys[:0], x.items[:0]
			indexPool.Put(x)
		}
	}
}

// writeTo sends the sorted items as one page and releases the arena.
func (s *sorter) writeTo(l *listBody) error {
	defer s.release()
	s.sort()
	if n := len(s.arena) + 2*len(s.list()) + 64; n <= bufferLimit {
		l.bw.jw.b = slices.Grow(l.bw.jw.b, n)
	}
	for i, it := range s.list() {
		if err := l.addRaw(it.key, s.members(i)); err != nil {
			return err
		}
		if l.more {
			break
		}
	}
	return l.finish()
}

// writeFirstWithAll writes one object: the first item's members plus,
// unless k is "", an array k holding every item (a tunnel's generations, a
// rule's extensions).
func (s *sorter) writeFirstWithAll(jw *jsonw, k string) {
	jw.beginObject()
	jw.b = append(jw.b, s.members(0)...)
	jw.comma = len(s.members(0)) > 0
	if k == "" {
		jw.endObject()
		return
	}
	jw.array(k)
	for i := range s.list() {
		jw.elem()
		jw.b = append(jw.b, '{')
		jw.b = append(jw.b, s.members(i)...)
		jw.b = append(jw.b, '}')
		jw.comma = true
	}
	jw.endArray()
	jw.endObject()
}

// Sort keys: byte strings that compare like the API's order.

// natKey appends a key for a name that may end in a number (tunnel IDs
// such as K12, Y3): the prefix, then the number by value, then the name.
func natKey[T string | []byte](b []byte, s T) []byte {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	digits := s[i:]
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	b = append(b, s[:i]...)
	b = append(b, 0, byte(len(digits)))
	b = append(b, digits...)
	b = append(b, 0)
	b = append(b, s...)
	return append(b, 0)
}

// descKey appends v so that larger values sort first (newest generation).
func descKey(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, ^v) }

func ascKey(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
