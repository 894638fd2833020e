package authz

import (
	"fmt"
	"strings"
)

type qualKind uint8

const (
	qualText       qualKind = iota // characters and %, optionally ending in *
	qualStar                       // the whole qualifier is *
	qualDoubleStar                 // the whole qualifier is **
)

// qual is one qualifier of a compiled profile name.
type qual struct {
	kind qualKind
	text string // qualText: the characters before any trailing *; may hold %
	star bool   // qualText: the qualifier ends in *
}

// pattern is a compiled profile name.
type pattern struct {
	name    string // upper case
	quals   []qual
	generic bool
}

// compile checks a profile name and prepares it for matching.
func compile(name string) (pattern, error) {
	u := upperASCII(name)
	if err := checkNameShape(u); err != nil {
		return pattern{}, err
	}
	p := pattern{name: u}
	doubleStars := 0
	pos := 0
	for _, q := range strings.Split(u, ".") {
		at := func(i int) int { return pos + i + 1 }
		switch {
		case q == "":
			return pattern{}, fmt.Errorf("%w: %q: empty qualifier at %d", ErrInvalidName, name, at(0))
		case q == "**":
			doubleStars++
			if doubleStars > 1 {
				return pattern{}, fmt.Errorf("%w: %q: ** more than once", ErrInvalidName, name)
			}
			p.quals = append(p.quals, qual{kind: qualDoubleStar})
			p.generic = true
		case q == "*":
			p.quals = append(p.quals, qual{kind: qualStar})
			p.generic = true
		default:
			t := qual{kind: qualText, text: q}
			for i := 0; i < len(q); i++ {
				switch c := q[i]; {
				case c == '*':
					if i != len(q)-1 {
						return pattern{}, fmt.Errorf("%w: %q: * at %d is neither a whole qualifier nor the end of one", ErrInvalidName, name, at(i))
					}
					t.text, t.star = q[:i], true
					p.generic = true
				case c == '%':
					p.generic = true
				case c == '&':
					return pattern{}, fmt.Errorf("%w: %q: RACFVARS (&) are not supported", ErrInvalidName, name)
				case !isNameChar(c):
					return pattern{}, fmt.Errorf("%w: %q: character %q at %d not allowed in a profile name", ErrInvalidName, name, c, at(i))
				}
			}
			p.quals = append(p.quals, t)
		}
		pos += len(q) + 1
	}
	return p, nil
}

// match reports whether the pattern covers a resource, given as its
// upper-case qualifiers.
func (p *pattern) match(res []string) bool {
	return matchFrom(p.quals, res)
}

func matchFrom(pq []qual, res []string) bool {
	for len(pq) > 0 {
		q, last := pq[0], len(pq) == 1
		switch q.kind {
		case qualDoubleStar:
			// Zero or more qualifiers; ** occurs at most once, so this
			// loop is the only branching and matching stays linear in
			// the product of the two lengths.
			for k := 0; k <= len(res); k++ {
				if matchFrom(pq[1:], res[k:]) {
					return true
				}
			}
			return false
		case qualStar:
			if len(res) == 0 {
				return false
			}
			if last {
				return true // one or more qualifiers to the end
			}
		case qualText:
			if len(res) == 0 {
				return false
			}
			if q.star {
				if !prefixMatch(res[0], q.text) {
					return false
				}
				if last {
					return true // zero or more characters to the end, across qualifiers
				}
			} else if len(res[0]) != len(q.text) || !prefixMatch(res[0], q.text) {
				return false
			}
		}
		pq, res = pq[1:], res[1:]
	}
	return len(res) == 0
}

// prefixMatch reports whether s starts with pat, where % in pat matches any
// one character (s never holds a period).
func prefixMatch(s, pat string) bool {
	if len(s) < len(pat) {
		return false
	}
	for i := 0; i < len(pat); i++ {
		if pat[i] != '%' && pat[i] != s[i] {
			return false
		}
	}
	return true
}

// Character ranks for the specificity order.
const (
	rankStar     = iota // *
	rankEnd             // end of the name
	rankPercent         // %
	rankSpecific        // any other character
)

func rankAt(s string, i int) int {
	if i >= len(s) {
		return rankEnd
	}
	switch s[i] {
	case '*':
		return rankStar
	case '%':
		return rankPercent
	}
	return rankSpecific
}

// moreSpecific reports whether profile name a is more specific than b
// (both upper case): at the first differing character a specific
// character beats %, % beats the end of the name, and the end beats *.
// Between two different specific characters the lower byte wins.
func moreSpecific(a, b string) bool {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		ra, rb := rankAt(a, i), rankAt(b, i)
		if ra != rb {
			return ra > rb
		}
		if ra == rankSpecific && a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
