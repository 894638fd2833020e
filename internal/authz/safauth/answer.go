package safauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// MaxAnswerSize is the largest answer body read from the endpoint. ZSS's
// answers are one small JSON object; anything longer is not one of them.
const MaxAnswerSize = 16 << 10

// maxMessage is the longest message of an answer kept for a decision's
// reason or an error.
const maxMessage = 200

// ErrMalformed is the error of an answer that is neither of saf-auth's
// shapes: a caller cannot take it for a grant or a denial.
var ErrMalformed = errors.New("saf-auth answer is neither authorized nor error")

// ErrEndpoint is the error of an answer {"error": true, ...}: the
// endpoint could not make the check.
var ErrEndpoint = errors.New("saf-auth answered an error")

// Answer is a decoded saf-auth answer that decides: Authorized, and the
// message that came with it ("" when none).
type Answer struct {
	Authorized bool
	Message    string
}

// DecodeAnswer decodes the body of a saf-auth answer. The shapes it
// takes are those of ZSS's c/authService.c:
//
//	{"authorized": true}
//	{"authorized": false, "message": "..."}
//	{"error": true, "message": "..."}
//
// The first two decide (an Answer); the third is an error wrapping
// ErrEndpoint with the message. Anything else is an error wrapping
// ErrMalformed: not one JSON object, trailing data, "authorized" or
// "error" that is not a JSON boolean, "message" that is not a string, no
// "authorized" without "error": true, both "authorized" and "error":
// true, or one of these keys given twice. Keys match exactly (not in any
// case, as encoding/json's struct fields would); null counts as absent;
// other keys are ignored.
func DecodeAnswer(body []byte) (Answer, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Answer{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var authorized, isError *bool
	var msg *string
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Answer{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		key, _ := t.(string) // object keys are strings
		var dst any
		switch key {
		case "authorized":
			dst = &authorized
		case "error":
			dst = &isError
		case "message":
			dst = &msg
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return Answer{}, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			continue
		}
		if seen[key] {
			return Answer{}, fmt.Errorf("%w: %s given twice", ErrMalformed, key)
		}
		seen[key] = true
		if err := dec.Decode(dst); err != nil {
			return Answer{}, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return Answer{}, fmt.Errorf("%w: unterminated object", ErrMalformed)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Answer{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	m := ""
	if msg != nil {
		m = cleanMessage(*msg)
	}
	switch {
	case isError != nil && *isError && authorized != nil && *authorized:
		return Answer{}, fmt.Errorf("%w: both authorized and error", ErrMalformed)
	case isError != nil && *isError:
		return Answer{}, fmt.Errorf("%w: %s", ErrEndpoint, m)
	case authorized == nil:
		return Answer{}, fmt.Errorf("%w: no authorized key", ErrMalformed)
	}
	return Answer{Authorized: *authorized, Message: m}, nil
}

// cleanMessage keeps a message fit for a log line, an audit record and a
// 403 detail: printable characters only, at most maxMessage of them.
func cleanMessage(s string) string {
	var b []rune
	for _, r := range s {
		if len(b) == maxMessage {
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b = append(b, r)
	}
	return string(b)
}
