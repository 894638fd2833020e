package nmi

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
)

// Small helpers shared by the section codecs.

var be = binary.BigEndian

// grow appends n zero bytes to b and returns b and the new bytes.
func grow(b []byte, n int) ([]byte, []byte) {
	start := len(b)
	b = append(b, make([]byte, n)...)
	return b, b[start:]
}

// sizeIf is ibm if partial, else full: the length a section is written with.
func sizeIf(partial bool, ibm, full int) int {
	if partial {
		return ibm
	}
	return full
}

// short is the error for a section shorter than its version 1 layout.
func short(name string, have, want int) error {
	return formatErr(name, RsnBadSection, "section is "+strconv.Itoa(have)+" bytes, shorter than "+strconv.Itoa(want))
}

// ibmPrefix checks the length of a section that IBM publishes in part:
// shorter than ibm bytes (IBM's prefix) is a format error; shorter than full
// (this build's PROPOSED size) leaves the PROPOSED remainder absent.
func ibmPrefix(name string, have, ibm, full int) (partial bool, err error) {
	if have < ibm {
		return false, short(name, have, ibm)
	}
	return have < full, nil
}

func flag(w uint32, bit uint32) bool { return w&bit != 0 }

func setFlag(w *uint32, bit uint32, on bool) {
	if on {
		*w |= bit
	}
}

// getAddr reads a 16-byte address field; the family comes from the
// section's IPv6 bit, never from the bytes (IPv4 sits in the last 4).
func getAddr(b []byte, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte(b[:addrLen]))
	}
	return netip.AddrFrom4([4]byte(b[addrV4Off:addrLen]))
}

// putAddr writes a into a zeroed 16-byte field. The invalid (zero) Addr is
// written as zeros. An address of the other family is an error.
func putAddr(b []byte, a netip.Addr, v6 bool, field string) error {
	if !a.IsValid() {
		return nil
	}
	if v6 {
		if !a.Is6() {
			return formatErr(field, RsnNone, "IPv4 address in an IPv6 field")
		}
		a16 := a.As16()
		copy(b[:addrLen], a16[:])
		return nil
	}
	a = a.Unmap()
	if !a.Is4() {
		return formatErr(field, RsnNone, "IPv6 address in an IPv4 field")
	}
	a4 := a.As4()
	copy(b[addrV4Off:addrLen], a4[:])
	return nil
}

// UnixTime converts a PROPOSED time stamp (seconds since 1970 UTC, 0 = not
// set) to a time.Time; 0 gives the zero Time.
func UnixTime(s uint32) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// TimeStamp converts t to a time stamp field: the zero Time gives 0, and
// times outside 1970..2106 are clamped.
func TimeStamp(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	switch {
	case s <= 0:
		return 0
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}
