package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestWholeProgramPolicyReloadFails: a policy file that no longer
// validates keeps the policy in force on SIGHUP, and says so beyond the
// log: nmigw_policy_reload_success goes to 0 and its timestamp stays; the
// log line is at level ERROR with file, line and key; /readyz does not
// change. A good file afterwards sets it back to 1, with a newer time.
func TestWholeProgramPolicyReloadFails(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicy(t, pol, "READ")
	g := startGateway(t, "--policy", pol)
	mfs := g.metricsOf()
	if v, ok := sample(mfs, "nmigw_policy_reload_success"); !ok || v != 1 {
		t.Fatalf("at start: nmigw_policy_reload_success %v (present %v), want 1", v, ok)
	}
	loaded, _ := sample(mfs, "nmigw_policy_reload_success_timestamp_seconds")
	if loaded <= 0 {
		t.Fatalf("at start: timestamp %v", loaded)
	}

	bad := "system: SYS1\nanonymous: ANONYM\nprofiles:\n  - {name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY, uacc: MAYBE}\n"
	if err := os.WriteFile(pol, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	sendHUP(t)
	var failed item
	waitUntil(t, g, "the reload failure in the log", func() bool {
		for _, l := range g.logLines() {
			if l["msg"] == "policy reload failed; keeping the policy in force" {
				failed = l
			}
		}
		return failed != nil
	})
	if failed["level"] != "ERROR" || failed["file"] != pol || failed["line"] != float64(4) ||
		failed["key"] != "profiles[0].uacc" || str(failed, "error") == "" {
		t.Errorf("log line %v: want level ERROR, file %s, line 4, key profiles[0].uacc", failed, pol)
	}
	mfs = g.metricsOf()
	if v, _ := sample(mfs, "nmigw_policy_reload_success"); v != 0 {
		t.Errorf("after a failed reload: nmigw_policy_reload_success %v, want 0", v)
	}
	if v, _ := sample(mfs, "nmigw_policy_reload_success_timestamp_seconds"); v != loaded {
		t.Errorf("after a failed reload: timestamp %v, want %v still", v, loaded)
	}
	g.object("/readyz", http.StatusOK)
	// The policy in force still grants anonymous control.
	g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusOK)

	writePolicy(t, pol, "NONE")
	sendHUP(t)
	waitUntil(t, g, "a successful reload", func() bool {
		v, _ := sample(g.metricsOf(), "nmigw_policy_reload_success")
		return v == 1
	})
	if v, _ := sample(g.metricsOf(), "nmigw_policy_reload_success_timestamp_seconds"); v <= loaded {
		t.Errorf("after a good reload: timestamp %v, want after %v", v, loaded)
	}
	g.postObject("/v1/stacks/TCPIP/filters:loadPolicy", "", http.StatusForbidden)
}
