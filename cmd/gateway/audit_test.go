package main

import (
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWholeProgramAuditRotation renames the audit file as a log rotator
// does and sends SIGHUP: the records of the next control request go to a
// new file of the old name, in every mode of authentication; with a policy
// file, the same SIGHUP also reloads the policy.
func TestWholeProgramAuditRotation(t *testing.T) {
	const path = "/v1/stacks/TCPIP/filters:loadPolicy"
	for _, mode := range []string{"demo", "insecure-no-auth", "policy"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "audit.log")
			args := []string{"--audit-log", logPath}
			pol := filepath.Join(dir, "policy.yaml")
			switch mode {
			case "insecure-no-auth":
				args = append(args, "--insecure-no-auth")
			case "policy":
				writePolicy(t, pol, "READ")
				args = append(args, "--policy", pol)
			}
			g := startGateway(t, args...)
			var who []string // the demo's operator; anonymous otherwise
			if mode == "demo" {
				if g.operator == "" {
					t.Fatalf("no operator token in:\n%s", g.out.String())
				}
				who = []string{"Authorization", "Bearer " + g.operator}
			}
			g.postObject(path, "", http.StatusOK, append(who, "X-Request-ID", "before-hup")...)

			rotated := logPath + ".1"
			if err := os.Rename(logPath, rotated); err != nil {
				t.Fatal(err)
			}
			// After the signal: 200, audited as requested and completed.
			after, afterStages := http.StatusOK, 2
			if mode == "policy" {
				// Control is taken away: the reload shows in the answer,
				// a denial audited as completed only.
				writePolicy(t, pol, "NONE")
				after, afterStages = http.StatusForbidden, 1
			}
			sendHUP(t)
			// The reopen creates the file; the policy is reloaded before it.
			waitUntil(t, g, "a new audit file", func() bool {
				_, err := os.Stat(logPath)
				return err == nil
			})
			g.postObject(path, "", after, append(who, "X-Request-ID", "after-hup")...)

			for _, c := range []struct {
				file, id, absent string
				stages           int
			}{{rotated, "before-hup", "after-hup", 2}, {logPath, "after-hup", "before-hup", afterStages}} {
				if recs := auditOf(t, c.file, c.id); len(recs) != c.stages || recs["completed"] == nil {
					t.Errorf("%s: records of %s: %v, want %d stages", c.file, c.id, recs, c.stages)
				}
				if recs := auditOf(t, c.file, c.absent); len(recs) != 0 {
					t.Errorf("%s: holds records of %s: %v", c.file, c.absent, recs)
				}
			}
			if mode == "policy" {
				checkAudit(t, logPath, "after-hup", item{"outcome": "denied", "allowed": false, "user": "ANONYM"})
			}
		})
	}
}

// writePolicy writes a policy file whose anonymous callers may display
// every stack and have control access at level control (READ or NONE).
func writePolicy(t *testing.T, path, control string) {
	t.Helper()
	p := "system: SYS1\nanonymous: ANONYM\nprofiles:\n" +
		"  - {name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY, uacc: READ}\n" +
		"  - {name: EZB.NETMGMT.SYS1.*.IPSEC.CONTROL, uacc: " + control + "}\n"
	if err := os.WriteFile(path, []byte(p), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWholeProgramAuditReopenFails: when the audit file cannot be opened
// again on SIGHUP, the gateway logs the error and goes on auditing to the
// file it has; control requests keep working.
func TestWholeProgramAuditReopenFails(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "logs", "audit.log")
	if err := os.Mkdir(filepath.Dir(logPath), 0o700); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "--audit-log", logPath, "--insecure-no-auth")
	// The directory goes away: its name cannot be opened again.
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(filepath.Dir(logPath), moved); err != nil {
		t.Fatal(err)
	}
	sendHUP(t)
	var failed item
	waitUntil(t, g, "the reopen failure in the log", func() bool {
		for _, v := range g.logLines() {
			if v["msg"] == "audit log reopen failed; writing to the file it had" {
				failed = v
			}
		}
		return failed != nil
	})
	if failed["level"] != "ERROR" || failed["file"] != logPath || str(failed, "error") == "" {
		t.Errorf("log line %v", failed)
	}
	g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusOK, "X-Request-ID", "after-failure")
	if recs := auditOf(t, filepath.Join(moved, "audit.log"), "after-failure"); len(recs) != 2 {
		t.Errorf("records of the request in the file in use: %v", recs)
	}
}

// sendHUP sends SIGHUP to the test process, as a log rotator does to the
// gateway. The test process takes SIGHUP as well until the test ends, so
// that a signal run() does not take cannot end it: what run() should have
// done is then missing, and the test fails.
func sendHUP(t *testing.T) {
	t.Helper()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(hup) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls ok until it holds; after 20 s the test fails with g's
// output.
func waitUntil(t *testing.T, g *gateway, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s:\n%s", what, g.out.String())
		}
	}
}
