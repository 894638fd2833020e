package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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

// runBlocks runs each block with bash (-euo pipefail) and the variables
// env; a block that fails is an error. It returns what they printed.
func runBlocks(t *testing.T, blocks []string, env ...string) string {
	t.Helper()
	var all strings.Builder
	for i, b := range blocks {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("block %d failed: %v\n%s\nstdout:\n%s\nstderr:\n%s", i, err, b, out.String(), errOut.String())
		}
		all.WriteString(out.String())
	}
	return all.String()
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
	output := runBlocks(t, blocks, "GW="+g.base, "VIEWER_TOKEN="+g.viewer)
	for _, want := range []string{
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
	output := runBlocks(t, blocks, "GW="+g.base, "VIEWER_TOKEN="+g.viewer, "OPERATOR_TOKEN="+g.operator)
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
