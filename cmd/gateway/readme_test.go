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
// title.
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
	var all strings.Builder
	for i, b := range blocks {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b)
		cmd.Env = append(os.Environ(), "GW="+g.base, "VIEWER_TOKEN="+g.viewer)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("block %d failed: %v\n%s\nstdout:\n%s\nstderr:\n%s", i, err, b, out.String(), errOut.String())
		}
		all.WriteString(out.String())
	}
	output := all.String()
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
