package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/httpapi"
)

// --insecure-no-auth wires authz.AllowAll and no authentication, and says
// so in the log; --policy wires its store and authentication.
func TestAccessControlWiring(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("system: SYS1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wire := func(args ...string) (httpapi.Deps, string) {
		t.Helper()
		cfg, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		store, _, err := loadPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		var deps httpapi.Deps
		accessControl(&deps, store, slog.New(slog.NewJSONHandler(&logs, nil)))
		return deps, logs.String()
	}

	deps, logs := wire("--insecure-no-auth")
	if deps.Authorizer != authz.AllowAll || deps.Authenticate != nil || deps.AuthMethod != nil {
		t.Errorf("--insecure-no-auth: Authorizer %T (%v), Authenticate set %v", deps.Authorizer, deps.Authorizer,
			deps.Authenticate != nil)
	}
	if !strings.Contains(logs, "--insecure-no-auth: authentication and authorization are off") {
		t.Errorf("no warning in the log: %s", logs)
	}

	deps, logs = wire("--policy", pol)
	if deps.Authorizer == authz.AllowAll || deps.Authenticate == nil || deps.AuthMethod == nil || logs != "" {
		t.Errorf("--policy: Authorizer %T, Authenticate set %v, log %q", deps.Authorizer, deps.Authenticate != nil, logs)
	}
	if deps.PolicyChanged == nil || deps.Reauthenticate == nil || deps.CredentialExpiry == nil {
		t.Error("--policy: event streams are not told of policy changes, reauthentication or expiry")
	}
	if r := deps.Authorizer.Resource("", "TCPIP", authz.Display); r != "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY" {
		t.Errorf("--policy: the authorizer is not the policy's: Resource %q", r)
	}
}

// A policy with OIDC and no mapping of the identity provider's names to
// user IDs keeps the gateway from starting, naming the key.
func TestPolicyOIDCWithoutMappingRefused(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("system: SYS1\nidentities:\n  oidc: {issuer: 'https://idp.example', audience: nmigw}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"gateway", "--listen", "127.0.0.1:0", "-sim", "--policy", pol},
		func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "line 3: identities.oidc.users: missing key") {
		t.Errorf("run: %v, want a refusal naming identities.oidc.users", err)
	}
}
