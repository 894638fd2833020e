package contract

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func init() {
	// An event stream's body is checked event by event (Stream.Next), not
	// as a whole.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// Event is one block of a Server-Sent Events stream: an event (Name and
// Data), an ID alone, or comments alone.
type Event struct {
	Name     string
	ID       string
	HasID    bool
	Data     string
	Comments []string
}

// Stream is an open event stream whose events are checked against the
// schemas the document names for them (the x-event-data of EventStream).
type Stream struct {
	Resp    *http.Response
	r       *bufio.Reader
	schemas map[string]*openapi3.Schema
}

// Open sends req expecting an event stream. A 200 answer is checked (status
// and headers) and returned open; any other answer is read, checked and
// returned with its body and a nil Stream.
func (v *Validator) Open(client *http.Client, req *http.Request) (*http.Response, *Stream, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return resp, nil, body, err
		}
		return resp, nil, body, v.Check(req, resp.StatusCode, resp.Header, body)
	}
	if err := v.Check(req, resp.StatusCode, resp.Header, nil); err != nil {
		resp.Body.Close()
		return resp, nil, nil, err
	}
	schemas, err := v.eventSchemas()
	if err != nil {
		resp.Body.Close()
		return resp, nil, nil, err
	}
	return resp, &Stream{Resp: resp, r: bufio.NewReader(resp.Body), schemas: schemas}, nil, nil
}

// eventSchemas reads the x-event-data map of the EventStream schema.
func (v *Validator) eventSchemas() (map[string]*openapi3.Schema, error) {
	es := v.doc.Components.Schemas["EventStream"]
	if es == nil || es.Value == nil {
		return nil, errors.New("the document has no EventStream schema")
	}
	raw, err := json.Marshal(es.Value.Extensions["x-event-data"])
	if err != nil {
		return nil, err
	}
	var refs map[string]struct {
		Ref string `json:"$ref"`
	}
	if err := json.Unmarshal(raw, &refs); err != nil || len(refs) == 0 {
		return nil, fmt.Errorf("EventStream's x-event-data is not a map of $refs: %v", err)
	}
	out := map[string]*openapi3.Schema{}
	for name, r := range refs {
		s := v.doc.Components.Schemas[strings.TrimPrefix(r.Ref, "#/components/schemas/")]
		if s == nil || s.Value == nil {
			return nil, fmt.Errorf("x-event-data %s: no schema %s", name, r.Ref)
		}
		out[name] = s.Value
	}
	return out, nil
}

// Next reads the next block. The data of an event must be one JSON object
// matching the schema of its event name; an unnamed event with data is an
// error (the API names all its events).
func (s *Stream) Next() (Event, error) {
	var ev Event
	var data []string
	lines := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" && lines == 0 {
				return ev, io.EOF
			}
			return ev, fmt.Errorf("event stream: %w (partial line %q)", err, line)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if lines == 0 {
				continue
			}
			break
		}
		lines++
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.Comments = append(ev.Comments, value)
		case "event":
			ev.Name = value
		case "id":
			ev.ID, ev.HasID = value, true
		case "data":
			data = append(data, value)
		default:
			return ev, fmt.Errorf("event stream: unexpected field in %q", line)
		}
	}
	ev.Data = strings.Join(data, "\n")
	if data == nil {
		if ev.Name != "" {
			return ev, fmt.Errorf("event %s without data", ev.Name)
		}
		return ev, nil
	}
	schema, ok := s.schemas[ev.Name]
	if !ok {
		return ev, fmt.Errorf("event %q is not in the document's x-event-data", ev.Name)
	}
	var v any
	if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
		return ev, fmt.Errorf("event %s: data is not JSON: %w", ev.Name, err)
	}
	if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return ev, fmt.Errorf("event %s: data does not match the document: %w: %s", ev.Name, err, ev.Data)
	}
	return ev, nil
}

// NextEvent skips IDs alone and comments, and returns the next event.
func (s *Stream) NextEvent() (Event, error) {
	for {
		ev, err := s.Next()
		if err != nil || ev.Name != "" {
			return ev, err
		}
	}
}

// Close ends the stream.
func (s *Stream) Close() error { return s.Resp.Body.Close() }
