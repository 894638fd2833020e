package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/doctor"
	"github.com/nmigw/nmigw/internal/flagenv"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport"
)

// errDifferences ends `gateway doctor` with a non-zero exit status.
var errDifferences = errors.New("doctor: the IKE daemon's answers differ from the layout this build expects (see the report)")

// runDoctor is `gateway doctor`: the field check of an NMI endpoint.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var (
		c       config
		stack   string
		out     string
		redact  bool
		nss     bool
		timeout time.Duration
		records int
	)
	fs := flag.NewFlagSet("gateway doctor", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&c.NMI, "nmi", "", "the NMI endpoint to check: unix:///PATH, ssh://USER@HOST[:PORT]/PATH or tls://HOST:PORT (required)")
	transportFlags(fs, &c)
	fs.StringVar(&stack, "stack", "", "stack (TCP/IP job name) to send the per-stack requests to (default: the first NMsec_GET_STACKINFO lists); with --nss, an NSS client's name")
	fs.BoolVar(&nss, "nss", false, "the endpoint is an NSS server's NMI (/var/sock/nss): NMsec_GET_CLIENTINFO instead of the system-wide requests, the per-stack requests to an NSS client (default: the first it lists)")
	fs.StringVar(&out, "out", "", "directory to write capture.jsonl and report.txt to, for a bug report")
	fs.BoolVar(&redact, "redact", false, "replace addresses and names in the report and the capture, consistently")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "longest wait for connecting and for each answer")
	fs.IntVar(&records, "dump-records", 3, "records of each answer dumped field by field (all are checked)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gateway doctor --nmi URL [--nss] [--stack NAME] [--out DIR] [--redact]\n\n"+
			"Checks an IKE daemon's NMI against the layout this build expects, sending only display\n"+
			"requests. Exits non-zero when anything differs.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))
	}
	if _, err := flagenv.Apply(fs, "NMIGW_", getenv); err != nil {
		return err
	}
	if c.NMI == "" {
		return errors.New("doctor: --nmi URL is required")
	}
	tr, err := transport.Open(c.NMI, c.transportOptions())
	if err != nil {
		return err
	}
	defer tr.Close()

	// The endpoint names a host and a user: --redact hides them too.
	shown := tr.Addr()
	if redact {
		shown = string(tr.Endpoint().Scheme) + "://(redacted)"
	}
	var capW *capture.Writer
	if out != "" {
		if err := os.MkdirAll(out, 0o700); err != nil {
			return fmt.Errorf("doctor: --out: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(out, "capture.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("doctor: --out: %w", err)
		}
		if capW, err = capture.NewWriter(f, capture.Header{Endpoint: shown, Program: "gateway doctor", Redacted: redact}); err != nil {
			f.Close()
			return fmt.Errorf("doctor: --out: %w", err)
		}
		defer capW.Close()
	}

	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := tr.Dial(dctx)
	cancel()
	if err != nil {
		return err
	}
	o := doctor.Options{Stack: stack, NSS: nss, DumpRecords: records, Redact: redact, Timeout: timeout}
	var id uint64
	if capW != nil {
		id = capW.NextConn()
		capW.Write(capture.Event{Conn: id, Kind: capture.Open})
		o.Record = func(send bool, msg []byte) {
			ev := capture.Event{Conn: id, Kind: capture.Recv, Data: msg}
			if send {
				ev.Kind = capture.Send
			}
			var h nmi.Header
			_ = h.UnmarshalBinary(msg)
			ev.Type = h.Type.String()
			capW.Write(ev)
		}
	}
	res, err := doctor.Run(ctx, conn, shown, o)
	if capW != nil {
		capW.Write(capture.Event{Conn: id, Kind: capture.Close})
	}
	if err != nil {
		return err
	}
	var report bytes.Buffer
	if err := res.WriteReport(&report, records); err != nil {
		return err
	}
	if _, err := stdout.Write(report.Bytes()); err != nil {
		return err
	}
	if out != "" {
		if err := os.WriteFile(filepath.Join(out, "report.txt"), report.Bytes(), 0o600); err != nil {
			return fmt.Errorf("doctor: --out: %w", err)
		}
		if err := capW.Err(); err != nil {
			return fmt.Errorf("doctor: --out: capture: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(out, "report.txt"), filepath.Join(out, "capture.jsonl"))
	}
	if !res.OK() {
		return errDifferences
	}
	return nil
}
