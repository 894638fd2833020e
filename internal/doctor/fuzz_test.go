package doctor

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// FuzzCheck feeds arbitrary bytes as an answer to every request type: the
// checks, the dump and the redaction never panic, and a finding always
// names an offset inside the message or at its end. Seeds: the
// simulator's answers.
func FuzzCheck(f *testing.F) {
	c, err := net.Dial("unix", startSim(f, nil))
	if err != nil {
		f.Fatal(err)
	}
	_, err = Run(context.Background(), c, "seed", Options{Record: func(send bool, msg []byte) {
		if !send {
			f.Add(append([]byte(nil), msg...))
		}
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for typ := nmi.GetStackInfo; typ <= nmi.GetIKENSInfo; typ++ {
			req, _ := nmi.AppendRequest(nil, &nmi.Request{Type: typ}, 1)
			w := check(msg, req, typ, 1, 1)
			for _, fd := range w.findings {
				if fd.off < 0 || fd.off > len(msg) {
					t.Fatalf("%v: finding at offset %d of %d bytes: %s", typ, fd.off, len(msg), fd)
				}
			}
			var out bytes.Buffer
			dumpMessage(&out, w, 2)
			newRedactor().message(append([]byte(nil), msg...), typ, true)
		}
	})
}
