package authz

import (
	"errors"
	"fmt"
)

// Errors that callers may branch on; the returned errors wrap them with the
// offending value.
var (
	ErrInvalidAccess  = errors.New("invalid access level")
	ErrInvalidID      = errors.New("invalid user or group ID")
	ErrInvalidName    = errors.New("invalid profile or resource name")
	ErrInvalidSystem  = errors.New("invalid system name")
	ErrDuplicateEntry = errors.New("duplicate entry")
)

// MaxIDLen is the longest user ID or group name.
const MaxIDLen = 8

// MaxNameLen is the longest SERVAUTH profile or resource name.
const MaxNameLen = 246

// upperASCII upper-cases ASCII letters and leaves every other byte alone.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// isIDChar reports whether c may appear in an upper-cased user ID, group
// name or system name.
func isIDChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '#' || c == '$' || c == '@'
}

// isNameChar reports whether c may appear, as itself, in an upper-cased
// qualifier of a profile or resource name.
func isNameChar(c byte) bool {
	return isIDChar(c) || c == '-' || c == '_'
}

// NormalizeID upper-cases a user ID or group name and checks it: 1 to 8
// characters from A-Z, 0-9, #, $ and @.
func NormalizeID(id string) (string, error) {
	u := upperASCII(id)
	if err := checkID(u); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidID, id, err)
	}
	return u, nil
}

// NormalizeSystem upper-cases a system name and checks it like an ID.
func NormalizeSystem(name string) (string, error) {
	u := upperASCII(name)
	if err := checkID(u); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidSystem, name, err)
	}
	return u, nil
}

func checkID(u string) error {
	if len(u) == 0 || len(u) > MaxIDLen {
		return fmt.Errorf("want 1 to %d characters, have %d", MaxIDLen, len(u))
	}
	for i := 0; i < len(u); i++ {
		if !isIDChar(u[i]) {
			return fmt.Errorf("character %q at %d is not A-Z, 0-9, #, $ or @", u[i], i+1)
		}
	}
	return nil
}

// CheckProfileName reports whether name is a valid SERVAUTH profile name,
// discrete or generic.
func CheckProfileName(name string) error {
	_, err := compile(name)
	return err
}

// NormalizeResource upper-cases a resource name and checks it: qualifiers
// of A-Z, 0-9, #, $, @, - and _, no generic characters.
func NormalizeResource(name string) (string, error) {
	u := upperASCII(name)
	if err := checkNameShape(u); err != nil {
		return "", err
	}
	start := 0
	for i := 0; i <= len(u); i++ {
		if i < len(u) && u[i] != '.' {
			if !isNameChar(u[i]) {
				return "", fmt.Errorf("%w: %q: character %q at %d not allowed in a resource name", ErrInvalidName, name, u[i], i+1)
			}
			continue
		}
		if i == start {
			return "", fmt.Errorf("%w: %q: empty qualifier at %d", ErrInvalidName, name, i+1)
		}
		start = i + 1
	}
	return u, nil
}

func checkNameShape(u string) error {
	if len(u) == 0 {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(u) > MaxNameLen {
		return fmt.Errorf("%w: %d characters, more than %d", ErrInvalidName, len(u), MaxNameLen)
	}
	return nil
}
