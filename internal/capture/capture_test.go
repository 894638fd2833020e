package capture

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

func message(t *testing.T, typ nmi.MsgType, corr uint32) []byte {
	t.Helper()
	b, err := nmi.AppendRequest(nil, &nmi.Request{Type: typ, Target: "TCPIP"}, corr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTeeFramesMessages(t *testing.T) {
	var file bytes.Buffer
	w, err := NewWriter(&file, Header{Endpoint: "unix:///x", Program: "test"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	c := w.Conn(a)
	m1, m2 := message(t, nmi.GetSummary, 1), message(t, nmi.GetIKETun, 2)
	init := nmi.AppendInit(nil, 1)
	go func() {
		// The server's bytes arrive in odd pieces: half a header, then the
		// rest and a second message together.
		b.Write(init[:10])
		b.Write(append(init[10:], m2...))
		io.Copy(io.Discard, b)
	}()
	got := make([]byte, len(init)+len(m2))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	c.Write(m1[:5])
	c.Write(m1[5:])
	c.Close()
	b.Close()

	h, evs, err := ReadAll(&file)
	if err != nil {
		t.Fatal(err)
	}
	if h.Format != Format || h.Version != Version || h.Endpoint != "unix:///x" || h.Created.IsZero() {
		t.Errorf("header %+v", h)
	}
	want := []struct {
		kind Kind
		data []byte
	}{{Open, nil}, {Recv, init}, {Recv, m2}, {Send, m1}, {Close, nil}}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, e := range evs {
		if e.Kind != want[i].kind || !bytes.Equal(e.Data, want[i].data) || e.Conn != 1 || e.Time.IsZero() {
			t.Errorf("event %d: %+v, want %s %x", i, e, want[i].kind, want[i].data)
		}
	}
	if evs[3].Type != "NMsec_GET_SUMMARY" {
		t.Errorf("type %q", evs[3].Type)
	}
}

func TestTeeRawAndIncomplete(t *testing.T) {
	var file bytes.Buffer
	w, _ := NewWriter(&file, Header{})
	a, b := net.Pipe()
	c := w.Conn(a)
	go func() {
		b.Write([]byte(strings.Repeat("HTTP/1.1 400 Bad Request\r\n", 4)))
		b.Close()
	}()
	io.ReadAll(c)
	c2 := w.Conn(&nopConn{})
	c2.Write(message(t, nmi.GetSummary, 1)[:40])
	c2.Close()
	_, evs, err := ReadAll(&file)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Kind)+"/"+e.Dir)
	}
	if got := strings.Join(kinds, " "); got != "open/ raw/recv close/ open/ raw/send close/" {
		t.Fatalf("events %s", got)
	}
	if !strings.Contains(evs[1].Err, "do not frame") || !strings.Contains(evs[4].Err, "incomplete") || len(evs[4].Data) != 40 {
		t.Errorf("raw events %+v %+v", evs[1], evs[4])
	}
}

type nopConn struct{ net.Conn }

func (nopConn) Write(b []byte) (int, error) { return len(b), nil }
func (nopConn) Close() error                { return nil }

func TestWriterFailureSticks(t *testing.T) {
	w, err := NewWriter(&failAfter{n: 1}, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Event{Conn: 1, Kind: Open}); err == nil {
		t.Fatal("write to a failing file succeeded")
	}
	if err := w.Write(Event{Conn: 1, Kind: Close}); err == nil || w.Err() == nil {
		t.Fatal("a write after a failure succeeded")
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(b), nil
}

func TestReaderRejects(t *testing.T) {
	const hdr = `{"format":"nmigw-capture","version":1}` + "\n"
	for _, c := range []struct{ in, msg string }{
		{"", "empty file"},
		{"garbage\n", "not a capture header"},
		{`{"format":"x","version":1}`, `format "x"`},
		{`{"format":"nmigw-capture","version":9}`, "version 9"},
		{hdr + `{"kind":"open"}`, "line 2: event without a connection number"},
		{hdr + "\n" + `{"conn":1,"kind":"send"}`, "line 3: send event without data"},
		{hdr + `{"conn":1,"kind":"raw","dir":"up"}`, `direction "up"`},
		{hdr + `{"conn":1,"kind":"open","time":"yesterday"}`, "line 2"},
	} {
		_, _, err := ReadAll(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ReadAll(%q): %v, want %q", c.in, err, c.msg)
		}
	}
}

func FuzzReader(f *testing.F) {
	var file bytes.Buffer
	w, _ := NewWriter(&file, Header{Created: time.Unix(0, 0)})
	w.Write(Event{Conn: 1, Kind: Open})
	w.Write(Event{Conn: 1, Kind: Send, Type: "NMsec_GET_SUMMARY", Data: []byte{1, 2, 3}})
	w.Write(Event{Conn: 1, Kind: Raw, Dir: "recv", Data: []byte{4}, Err: "x"})
	w.Write(Event{Conn: 1, Kind: Close})
	f.Add(file.Bytes())
	f.Add([]byte(`{"format":"nmigw-capture","version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, evs, err := ReadAll(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever it accepts, it writes back and reads again the same.
		var out bytes.Buffer
		w, err := NewWriter(&out, Header{Created: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		_, again, err := ReadAll(&out)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("round trip: %d events, %v; want %d", len(again), err, len(evs))
		}
		for i := range evs {
			if again[i].Kind != evs[i].Kind || !bytes.Equal(again[i].Data, evs[i].Data) || again[i].Conn != evs[i].Conn {
				t.Fatalf("event %d: %+v, want %+v", i, again[i], evs[i])
			}
		}
	})
}
