package safauth

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeAnswer(t *testing.T) {
	for _, c := range []struct {
		body string
		want Answer
		err  error // nil: decides
	}{
		{`{"authorized": true}`, Answer{Authorized: true}, nil},
		{` {"authorized":true} ` + "\n", Answer{Authorized: true}, nil},
		{`{"authorized": false, "message": "SAF RC=8"}`, Answer{Message: "SAF RC=8"}, nil},
		{`{"authorized": false}`, Answer{}, nil},
		{`{"authorized": true, "error": false, "message": null}`, Answer{Authorized: true}, nil},
		{`{"authorized": false, "rc": 8, "x": {"y": [1]}}`, Answer{}, nil},
		{`{"authorized": false, "message": "a\u0000b"}`, Answer{Message: "a?b"}, nil},
		{`{"error": true, "message": "ZIS not reachable"}`, Answer{}, ErrEndpoint},
		{`{"error": true}`, Answer{}, ErrEndpoint},
		{`{"error": true, "authorized": false}`, Answer{}, ErrEndpoint},
		{`{"error": true, "authorized": true}`, Answer{}, ErrMalformed},
		{`{"authorized": "true"}`, Answer{}, ErrMalformed},
		{`{"authorized": 1}`, Answer{}, ErrMalformed},
		{`{"Authorized": true}`, Answer{}, ErrMalformed},
		{`{"AUTHORIZED": true}`, Answer{}, ErrMalformed},
		{`{"authorized": false, "authorized": true}`, Answer{}, ErrMalformed},
		{`{"authorized": null}`, Answer{}, ErrMalformed},
		{`{"error": false}`, Answer{}, ErrMalformed},
		{`{"error": "true"}`, Answer{}, ErrMalformed},
		{`{"authorized": true, "message": 5}`, Answer{}, ErrMalformed},
		{`{}`, Answer{}, ErrMalformed},
		{`{"authorized": true}{"authorized": true}`, Answer{}, ErrMalformed},
		{`{"authorized": true} x`, Answer{}, ErrMalformed},
		{`{"authorized": true`, Answer{}, ErrMalformed},
		{`[{"authorized": true}]`, Answer{}, ErrMalformed},
		{`true`, Answer{}, ErrMalformed},
		{`null`, Answer{}, ErrMalformed},
		{``, Answer{}, ErrMalformed},
		{`<html>Not Authorized</html>`, Answer{}, ErrMalformed},
	} {
		a, err := DecodeAnswer([]byte(c.body))
		if c.err == nil {
			if err != nil || a != c.want {
				t.Errorf("%q: %+v, %v; want %+v", c.body, a, err, c.want)
			}
			continue
		}
		if !errors.Is(err, c.err) || a != (Answer{}) {
			t.Errorf("%q: %+v, %v; want %v", c.body, a, err, c.err)
		}
	}
}

// A long message is cut to maxMessage characters.
func TestDecodeAnswerLongMessage(t *testing.T) {
	a, err := DecodeAnswer([]byte(`{"authorized": false, "message": "` + strings.Repeat("é", 500) + `"}`))
	if err != nil || len([]rune(a.Message)) != maxMessage {
		t.Errorf("%d characters, %v", len([]rune(a.Message)), err)
	}
}

// The decoder never panics, decides only with "authorized" as a JSON
// boolean, and never grants an answer that also says error.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"authorized": true}`, `{"authorized": false, "message": "m"}`, `{"error": true, "message": "m"}`,
		`{"error": true, "authorized": true}`, `{"authorized": "true"}`, `{}`, `[]`, `{"a":{"b":[1,2,{"c":null}]},"authorized":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAnswer(b)
		if err != nil {
			if a != (Answer{}) {
				t.Fatalf("an error with an answer: %+v", a)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEndpoint) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		// (A key may be written with escapes: \u0061uthorized.)
		if !strings.Contains(string(b), `"authorized"`) && !strings.Contains(string(b), `\`) {
			t.Fatalf("decided %+v without an authorized key: %q", a, b)
		}
		if len([]rune(a.Message)) > maxMessage {
			t.Fatalf("message of %d characters", len([]rune(a.Message)))
		}
	})
}
