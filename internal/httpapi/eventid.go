package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// Event IDs. Each stack's feed (one stack of one system) numbers its
// events 1, 2, 3, ... on its own, so that no stack's IDs count another's
// events, and sends the numbers sealed: an ID is the number and a MAC of
// it, the system and the stack under a key that the feed draws when it
// is made, base64url-encoded. IDs are opaque to clients and resumable
// (Last-Event-ID names a number of this feed); an ID of another stack, of
// the same stack name on another system, of an earlier run of the
// gateway, or made up, does not verify, and the stream starts with a
// reset. The fleet stream's IDs are the numbers of the fleet's ring,
// sealed the same way under a key of their own (system and stack empty):
// one ID is the position in the whole fleet's events.

// eventIDMAC is the length of an ID's MAC (truncated HMAC-SHA256).
const eventIDMAC = 12

// eventIDLen is the length of a decoded event ID: the number and the MAC.
const eventIDLen = 8 + eventIDMAC

// eventIDs seals and opens the event numbers of one feed.
type eventIDs struct {
	key [32]byte
	// scope is what the IDs belong to: system and stack, NUL-separated.
	scope []byte
}

func newEventIDs(system, stack string) eventIDs {
	e := eventIDs{scope: []byte(system + "\x00" + stack)}
	_, _ = rand.Read(e.key[:]) // crypto/rand.Read does not fail
	return e
}

func (e *eventIDs) mac(dst []byte, seq uint64) []byte {
	m := hmac.New(sha256.New, e.key[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	m.Write(b[:])
	m.Write(e.scope)
	return m.Sum(dst)[:len(dst)+eventIDMAC]
}

// id returns the ID of event number seq.
func (e *eventIDs) id(seq uint64) string {
	b := make([]byte, 8, 8+sha256.Size)
	binary.BigEndian.PutUint64(b, seq)
	return base64.RawURLEncoding.EncodeToString(e.mac(b, seq))
}

// parse returns the event number of an ID of this feed; ok is false for
// anything else.
func (e *eventIDs) parse(s string) (seq uint64, ok bool) {
	if base64.RawURLEncoding.DecodedLen(len(s)) != eventIDLen {
		return 0, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != eventIDLen {
		return 0, false
	}
	seq = binary.BigEndian.Uint64(b)
	if !hmac.Equal(e.mac(make([]byte, 0, sha256.Size), seq), b[8:]) {
		return 0, false
	}
	return seq, true
}
