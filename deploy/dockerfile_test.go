package deploy_test

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	appsv1 "k8s.io/api/apps/v1"
)

// instruction is one Dockerfile instruction: its lower-case name, flags and arguments.
type instruction struct {
	cmd   string
	flags []string
	args  []string
	line  int
}

// stage is one FROM and the instructions after it.
type stage struct {
	base, name string
	instrs     []instruction
}

// parseDockerfile parses deploy/container/Dockerfile with BuildKit's parser into stages.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join("container", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToLower(n.Value), flags: n.Flags, line: n.StartLine}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "from" {
			s := stage{base: in.args[0]}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "as") {
				s.name = in.args[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile line %d: %s before the first FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a runtime stage", len(stages))
	}
	return stages
}

// keyValues reads the key, value, separator triples of ENV and LABEL, without quotes.
func keyValues(in instruction) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(in.args); i += 3 {
		v := in.args[i+1]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		out[in.args[i]] = v
	}
	return out
}

var (
	exactTag = regexp.MustCompile(`^[a-z0-9./_-]+:v?(\d+)\.(\d+)\.(\d+)([-.][a-z0-9.-]+)?$`)
	digest   = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)
	goLine   = regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`)
)

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	names := map[string]bool{}
	for _, s := range stages {
		switch {
		case names[s.base]:
		case strings.Contains(s.base, "$"):
			t.Errorf("FROM %s: the base image must be visible, not a build argument", s.base)
		case !exactTag.MatchString(s.base) && !digest.MatchString(s.base):
			t.Errorf("FROM %s: pin the base image by an exact version tag or a digest", s.base)
		}
		if s.name != "" {
			names[s.name] = true
		}
	}

	// Builder: an exact Go release no older than the one the gateway's go.mod asks for.
	build := stages[0]
	m := exactTag.FindStringSubmatch(build.base)
	if !strings.HasPrefix(build.base, "golang:") || m == nil {
		t.Fatalf("builder FROM %s: want golang:<exact version>", build.base)
	}
	goMod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	need := goLine.FindStringSubmatch(string(goMod))
	if need == nil {
		t.Fatal("../go.mod has no go line")
	}
	if compareVersions(m[1:4], need[1:4]) < 0 {
		t.Errorf("builder Go %s.%s.%s is older than go.mod's %s.%s.%s", m[1], m[2], m[3], need[1], need[2], need[3])
	}
	var cgoOff, built bool
	for _, in := range build.instrs {
		if in.cmd == "env" && keyValues(in)["CGO_ENABLED"] == "0" {
			cgoOff = true
		}
		if in.cmd != "run" {
			continue
		}
		line := strings.Join(in.args, " ")
		if !strings.Contains(line, "go build") {
			continue
		}
		built = true
		cgoOff = cgoOff || strings.Contains(line, "CGO_ENABLED=0")
		for _, want := range []string{"-trimpath", "./cmd/gateway", "./cmd/iked-sim"} {
			if !strings.Contains(line, want) {
				t.Errorf("go build (line %d) lacks %s", in.line, want)
			}
		}
	}
	if !built || !cgoOff {
		t.Errorf("builder: go build run %v, CGO_ENABLED=0 %v", built, cgoOff)
	}

	// Runtime: distroless static, nonroot, pinned by digest; both programs; a non-root user.
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.base, "gcr.io/distroless/static") || !strings.Contains(final.base, ":nonroot@") || !digest.MatchString(final.base) {
		t.Errorf("runtime FROM %s: want gcr.io/distroless/static…:nonroot pinned by digest", final.base)
	}
	var user string
	var entrypoint, exposed []string
	copied := map[string]bool{}
	labels := map[string]string{}
	for _, in := range final.instrs {
		switch in.cmd {
		case "user":
			user = in.args[0]
		case "entrypoint":
			entrypoint = in.args
		case "expose":
			exposed = append(exposed, in.args...)
		case "label":
			for k, v := range keyValues(in) {
				labels[k] = v
			}
		case "add":
			t.Errorf("line %d: ADD in the runtime stage; use COPY", in.line)
		case "copy":
			if !slices.ContainsFunc(in.flags, func(f string) bool { return strings.HasPrefix(f, "--from=") && names[strings.TrimPrefix(f, "--from=")] }) {
				t.Errorf("line %d: the runtime stage copies from outside the build stages", in.line)
				continue
			}
			dst := in.args[len(in.args)-1]
			for _, src := range in.args[:len(in.args)-1] {
				if strings.HasSuffix(dst, "/") {
					copied[path.Join(dst, path.Base(src))] = true
				} else {
					copied[dst] = true
				}
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid != "65532" {
		t.Errorf("runtime USER %q, want 65532 (distroless nonroot, numeric)", user)
	}
	for _, p := range []string{"/usr/local/bin/gateway", "/usr/local/bin/iked-sim"} {
		if !copied[p] {
			t.Errorf("the image has no %s (copied: %v)", p, copied)
		}
	}
	if len(entrypoint) == 0 || entrypoint[0] != "/usr/local/bin/gateway" {
		t.Errorf("ENTRYPOINT %v, want the gateway in exec form", entrypoint)
	}
	if !slices.Contains(exposed, "8080") {
		t.Errorf("EXPOSE %v, want 8080", exposed)
	}
	for _, k := range []string{"title", "description", "source", "version", "revision", "created"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("no label org.opencontainers.image.%s", k)
		}
	}

	// The Deployment runs programs the image has, on the port it exposes.
	spec := only[appsv1.Deployment](t, render(t, overlayDir("sim"))).Spec.Template.Spec
	for _, c := range spec.Containers {
		if len(c.Command) == 0 || !copied[c.Command[0]] {
			t.Errorf("container %s runs %v, which the image does not have", c.Name, c.Command)
		}
		for _, p := range c.Ports {
			if !slices.Contains(exposed, strconv.Itoa(int(p.ContainerPort))) {
				t.Errorf("container %s port %d is not exposed by the image", c.Name, p.ContainerPort)
			}
		}
	}
}

// compareVersions compares two major, minor, patch triples of decimal strings ("" is 0).
func compareVersions(a, b []string) int {
	for i := range 3 {
		x, _ := strconv.Atoi(a[i])
		y, _ := strconv.Atoi(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func TestDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for file, wantExcluded := range map[string]bool{
		".git/config":                        true,
		"deploy/kubernetes/base/policy.yaml": true,
		"web/node_modules/pkg/index.js":      true,
		"internal/nmi/nmi.test":              true,
		"go.mod":                             false,
		"go.sum":                             false,
		"cmd/gateway/main.go":                false,
		"cmd/iked-sim/main.go":               false,
		"internal/nmi/layout.go":             false,
		"api/openapi.yaml":                   false,
		"web/index.html":                     false,
	} {
		excluded, err := pm.MatchesOrParentMatches(file)
		if err != nil {
			t.Fatal(err)
		}
		if excluded != wantExcluded {
			t.Errorf(".dockerignore: %s excluded %v, want %v", file, excluded, wantExcluded)
		}
	}
}
