package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSection returns the sh code blocks of the README section titled
// title. Only those run: commands shown but not run stand in bash (or
// other) blocks.
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", title)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	var blocks []string
	for {
		i := strings.Index(text, "```sh\n")
		if i < 0 {
			return blocks
		}
		text = text[i+len("```sh\n"):]
		j := strings.Index(text, "```")
		if j < 0 {
			t.Fatal("unterminated code block")
		}
		blocks = append(blocks, text[:j])
		text = text[j+3:]
	}
}

// runBlocks runs the blocks one after the other in one bash (-euo
// pipefail), as pasted into one terminal, in directory dir with the
// variables env; a failure is an error. It returns what they printed.
func runBlocks(t *testing.T, dir string, blocks []string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := strings.Join(blocks, "\n")
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Errorf("the blocks failed: %v\n%s\nstdout:\n%s\nstderr:\n%s", err, script, out.String(), errOut.String())
	}
	return out.String()
}

// gatewayOutput is a directory holding nmigw.out, what g printed, as the
// README has the gateway's output kept.
func gatewayOutput(t *testing.T, g *gateway) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nmigw.out"), []byte(g.out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadmeCurl runs the commands of "Using the API with curl" against
// the gateway with the demo data set: each block must succeed (curl -f
// fails on an error status) and print what the comments promise.
func TestReadmeCurl(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s: %v", tool, err)
		}
	}
	g := startGateway(t)
	blocks := readmeSection(t, "Using the API with curl")
	if len(blocks) < 3 {
		t.Fatalf("%d code blocks", len(blocks))
	}
	// The tokens come from the gateway's output, as the README takes them.
	output := runBlocks(t, gatewayOutput(t, g), blocks, "GW="+g.base, "VIEWER_TOKEN=", "OPERATOR_TOKEN=")
	for _, want := range []string{
		"viewer token: 43 characters, operator token: 43 characters",
		`{"action":"ipsec","position":`, `"rule":{"name":"BRANCH1-VPN","type":"dynamic","tunnelId":"Y1"},"anchor":"BRANCH1-VPN"}`,
		"TCPIP policy", "TCPIPB default", // stacks
		"K1 gen 3 active", // cascade listing
		`"generations":[3,2]`,
		"304",
		`"type":"urn:nmigw:problem:unknown-stack","status":404,"nmiReturnCodeName":"ENXIO"`,
		`{"user":"ANONYM","authentication":"anonymous"}`,
		`{"user":"VIEWER","authentication":"token"}`,
	} {
		if !strings.Contains(output, want) {
			t.Errorf("the README's commands did not print %q; they printed:\n%s", want, output)
		}
	}
}

// TestReadmeAuth runs the commands of "Authentication and authorization"
// against the gateway with the demo policy, with the two tokens it
// printed.
func TestReadmeAuth(t *testing.T) {
	g := startGateway(t)
	if g.viewer == "" || g.operator == "" {
		t.Fatalf("the gateway printed no viewer token or operator token lines:\n%s", g.out.String())
	}
	blocks := readmeSection(t, "Authentication and authorization")
	if len(blocks) == 0 {
		t.Fatal("no sh code block")
	}
	// First the block of "Using the API with curl" that exports the tokens.
	curl := readmeSection(t, "Using the API with curl")
	output := runBlocks(t, gatewayOutput(t, g), append(curl[:1:1], blocks...), "GW="+g.base, "VIEWER_TOKEN=", "OPERATOR_TOKEN=")
	for _, want := range []string{
		`{"user":"OPERATOR","groups":["OPERS"],"stacks":[{"stack":"TCPIP","display":true,"control":true},`,
		`{"status":403,"resource":"EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL","profile":"EZB.NETMGMT.SYS1.*.IPSEC.CONTROL"}`,
		`[{"tunnelId":"K1","status":"stateUpdated"}]`,
		`Bearer realm="nmigw", error="invalid_token", error_description="unknown token"`,
	} {
		if !strings.Contains(output, want) {
			t.Errorf("the README's commands did not print %q; they printed:\n%s", want, output)
		}
	}
}

// TestReadmePolicy runs the README's complete minimal policy block, starts
// the gateway with the file it writes, and checks that OPER1 gets what
// the text says: display and control on TCPIP only, and no anonymous
// access.
func TestReadmePolicy(t *testing.T) {
	var block string
	for _, b := range readmeSection(t, "Authentication and authorization") {
		if strings.Contains(b, "cat > policy.yaml") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("no block writing policy.yaml")
	}
	dir := t.TempDir()
	out := runBlocks(t, dir, []string{block})
	m := regexp.MustCompile(`(?m)^OPER1's token: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token printed:\n%s", out)
	}
	g := startRun(t, "-sim", "--policy", filepath.Join(dir, "policy.yaml"))
	who := g.object("/v1/whoami", http.StatusOK, "Authorization", "Bearer "+m[1])
	if str(who, "user") != "OPER1" {
		t.Errorf("whoami: %v", who)
	}
	rights := map[string]string{}
	for _, x := range who["stacks"].([]any) {
		s := x.(item)
		rights[str(s, "stack")] = fmt.Sprint(s["display"], s["control"])
	}
	if rights["TCPIP"] != "true true" || rights["TCPIPB"] == "true true" || strings.HasPrefix(rights["TCPIPB"], "true") {
		t.Errorf("OPER1's rights: %v, want display and control on TCPIP only", rights)
	}
	if resp, _ := g.get("/v1/stacks"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a call without a token: %d, want 401", resp.StatusCode)
	}
	g.postObject("/v1/stacks/TCPIP/ike/tunnels/K1:refresh", "", http.StatusOK, "Authorization", "Bearer "+m[1])
}
