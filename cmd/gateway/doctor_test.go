package main

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/capture"
	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/nmigw/nmigw/internal/transport/sshdtest"
)

func doctorRun(args ...string) (string, error) {
	out := &syncBuffer{}
	err := run(context.Background(), append([]string{"gateway", "doctor"}, args...), func(string) string { return "" }, out)
	return out.String(), err
}

func TestDoctorOverSSH(t *testing.T) {
	sshd := sshdtest.Start(t)
	path := remoteSim(t, sshd, ikedsim.Config{})
	dir := filepath.Join(t.TempDir(), "out")
	report, err := doctorRun("--nmi", sshd.URL(path), "--ssh-key", sshd.Key, "--ssh-known-hosts", sshd.Known, "--out", dir, "--redact")
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, report)
	}
	if !strings.Contains(report, "result: every message matches") || strings.Contains(report, "TCPIP") ||
		strings.Contains(report, sshd.Addr()) || strings.Contains(report, path) {
		t.Errorf("report:\n%s", report)
	}
	saved, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || !strings.HasPrefix(report, string(saved)) {
		t.Errorf("report.txt differs from what was printed: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "capture.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, evs, err := capture.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Redacted || h.Program != "gateway doctor" || h.Endpoint != "ssh://(redacted)" {
		t.Errorf("capture header %+v", h)
	}
	sends := 0
	for _, ev := range evs {
		if ev.Kind == capture.Send {
			sends++
		}
	}
	if sends != 13 {
		t.Errorf("%d requests recorded, want 13", sends)
	}
}

func TestDoctorFindsDifferences(t *testing.T) {
	faults := ikedsim.NewFaults()
	faults.Set(nmi.GetIPInterfaces, ikedsim.Fault{Mutate: func(msg []byte) []byte {
		// Another eyecatcher in the message header.
		binary.BigEndian.PutUint32(msg, 0xD5D4E2E7) // C'NMSX'
		return msg
	}})
	path, _ := simServerConfig(t, ikedsim.Config{Faults: faults})
	report, err := doctorRun("--nmi", "unix://"+path)
	if !errors.Is(err, errDifferences) {
		t.Fatalf("doctor: %v, want the differences error\n%s", err, report)
	}
	if !strings.Contains(report, "NMsec_GET_IPINTERFACES") || !strings.Contains(report, "NMsMIdent D5D4E2E7, expected D5D4E2D4") {
		t.Errorf("report does not pinpoint the eyecatcher:\n%s", report)
	}
}

func TestDoctorUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "--nmi URL is required"},
		{[]string{"--nmi", "ssh://lpar1/x"}, "no user"},
		{[]string{"--nmi", "unix:///x", "extra"}, `unexpected argument "extra"`},
		{[]string{"--nmi", "unix://" + filepath.Join(t.TempDir(), "absent")}, "no such file"},
	} {
		_, err := doctorRun(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.args, err, c.msg)
		}
	}
}

// gateway doctor --nss checks an NSS server's NMI: its client list, then
// a client's per-stack answers.
func TestDoctorNSS(t *testing.T) {
	d, err := ikedsim.LoadNSSDataSet("../../internal/ikedsim/testdata/example-nss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path, _ := simServerConfig(t, ikedsim.Config{NSS: d, System: "NSS1"})
	report, err := doctorRun("--nmi", "unix://"+path, "--nss", "--stack", "SYSBTCP")
	if err != nil {
		t.Fatalf("doctor --nss: %v\n%s", err, report)
	}
	for _, want := range []string{"NMsec_GET_CLIENTINFO", "result: every message matches", "SYSBTCP"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "NMsec_GET_STACKINFO") {
		t.Errorf("doctor --nss sent NMsec_GET_STACKINFO:\n%s", report)
	}
}
