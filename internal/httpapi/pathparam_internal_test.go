package httpapi

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCanonicalEscape: the canonical form of an escaped path decodes to
// what the path decodes to, keeps its segments, is its own canonical form,
// and is refused exactly when a segment hides a /.
func FuzzCanonicalEscape(f *testing.F) {
	for _, s := range []string{"/v1/stacks/T%241", "/v1/stacks/T$%23@P/x", "/a/%2F", "/%2541", "/%zz", "/%", "/M%31:activate", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, esc string) {
		canon, err := canonicalEscape(esc)
		segs := strings.Split(esc, "/")
		var bad bool
		for _, s := range segs {
			d, derr := url.PathUnescape(s)
			bad = bad || derr != nil || strings.Contains(d, "/")
		}
		if (err != nil) != bad {
			t.Fatalf("%q: error %v, want refused %v", esc, err, bad)
		}
		if err != nil {
			return
		}
		csegs := strings.Split(canon, "/")
		if len(csegs) != len(segs) {
			t.Fatalf("%q: %d segments, canonical %q has %d", esc, len(segs), canon, len(csegs))
		}
		for i := range segs {
			a, _ := url.PathUnescape(segs[i])
			b, err := decodeSegment(csegs[i])
			if err != nil || a != b {
				t.Fatalf("%q segment %d: %q, canonical %q decodes to %q (%v)", esc, i, a, csegs[i], b, err)
			}
		}
		if again, err := canonicalEscape(canon); err != nil || again != canon {
			t.Fatalf("%q: canonical %q is not canonical: %q %v", esc, canon, again, err)
		}
	})
}
