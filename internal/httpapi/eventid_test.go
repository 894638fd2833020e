package httpapi

import "testing"

// FuzzEventID: parse never panics; what it accepts is exactly an ID the
// feed made; IDs round-trip; IDs of the same stack name on another system do not parse.
func FuzzEventID(f *testing.F) {
	ids := newEventIDs("SYSA", "TCPIP")
	other := newEventIDs("SYSB", "TCPIP")
	for _, seq := range []uint64{0, 1, 2, 1 << 40, ^uint64(0)} {
		f.Add(ids.id(seq), seq)
	}
	f.Add("", uint64(7))
	f.Add("1733561234000000", uint64(1))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAA", uint64(3))
	f.Fuzz(func(t *testing.T, s string, seq uint64) {
		if got, ok := ids.parse(s); ok && ids.id(got) != s {
			t.Errorf("parse(%q) = %d, whose ID is %q", s, got, ids.id(got))
		}
		id := ids.id(seq)
		if got, ok := ids.parse(id); !ok || got != seq {
			t.Errorf("ID %q of %d parses as %d, %v", id, seq, got, ok)
		}
		if _, ok := other.parse(id); ok {
			t.Errorf("ID %q of SYSA TCPIP parses on SYSB TCPIP", id)
		}
	})
}
