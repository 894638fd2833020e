package authz

import (
	"fmt"
	"strconv"
	"strings"
)

// Access is a RACF access level. The levels are ordered: a higher level
// includes every lower one.
type Access int

// The access levels, lowest first.
const (
	AccessNone Access = iota
	AccessRead
	AccessUpdate
	AccessControl
	AccessAlter
)

var accessNames = [...]string{"NONE", "READ", "UPDATE", "CONTROL", "ALTER"}

// String returns the RACF name of the level, or unknown(N).
func (a Access) String() string {
	if a >= 0 && int(a) < len(accessNames) {
		return accessNames[a]
	}
	return "unknown(" + strconv.Itoa(int(a)) + ")"
}

// Valid reports whether a is one of the five levels.
func (a Access) Valid() bool { return a >= AccessNone && a <= AccessAlter }

// MarshalText encodes the level by its name.
func (a Access) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("authz: %w: %d", ErrInvalidAccess, int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes a level name, in any case.
func (a *Access) UnmarshalText(b []byte) error {
	v, err := ParseAccess(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAccess parses NONE, READ, UPDATE, CONTROL or ALTER, in any case.
func ParseAccess(s string) (Access, error) {
	for i, n := range accessNames {
		if strings.EqualFold(s, n) {
			return Access(i), nil
		}
	}
	return AccessNone, fmt.Errorf("%w: %q (want NONE, READ, UPDATE, CONTROL or ALTER)", ErrInvalidAccess, s)
}

// Kind is the type of NMI request a resource guards.
type Kind int

// The two kinds of NMI request.
const (
	Display Kind = iota // display requests (NMsec_GET_*)
	Control             // control requests (NMsec_ACT_*, NMsec_DEACT_*, NMsec_REFRESH_*, NMsec_LOAD_POLICY)
)

// String returns DISPLAY or CONTROL, or unknown(N).
func (k Kind) String() string {
	switch k {
	case Display:
		return "DISPLAY"
	case Control:
		return "CONTROL"
	}
	return "unknown(" + strconv.Itoa(int(k)) + ")"
}

// Resource returns the SERVAUTH resource that guards requests of kind k on
// a stack: EZB.NETMGMT.<system>.<stack>.IPSEC.<kind>, in upper case.
func Resource(system, stack string, k Kind) string {
	return "EZB.NETMGMT." + upperASCII(system) + "." + upperASCII(stack) + ".IPSEC." + k.String()
}
