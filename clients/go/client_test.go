package nmigwclient_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	nmigwclient "github.com/nmigw/nmigw/clients/go"
)

// TestGeneratedCodeIsCurrent: the committed client is what the pinned
// generator makes of api/openapi.yaml now.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^//go:generate (.+)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no go:generate line in generate.go")
	}
	args := strings.Fields(string(m[1]))
	dir := t.TempDir()
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "nmigw.gen.go")
	cfg = regexp.MustCompile(`(?m)^output: .*$`).ReplaceAll(cfg, []byte("output: "+out))
	if err := os.WriteFile(filepath.Join(dir, "oapi-codegen.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		switch {
		case a == "oapi-codegen.yaml":
			args[i] = filepath.Join(dir, a)
		case strings.HasSuffix(a, "openapi.yaml"):
			args[i], _ = filepath.Abs(a)
		}
	}
	cmd := exec.CommandContext(t.Context(), args[0], args[1:]...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", m[1], err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("nmigw.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("nmigw.gen.go is not what the generator makes of api/openapi.yaml: run go generate in clients/go")
	}
}

// gateway is the gateway binary run with -sim on a free port.
type gateway struct {
	base, viewer, operator string
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/gateway")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "-sim", "--listen", "127.0.0.1:0", "--log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	g := &gateway{}
	timeout := time.After(30 * time.Second)
	for g.base == "" || g.viewer == "" || g.operator == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the gateway ended before printing its address and tokens")
			}
			if v, ok := strings.CutPrefix(l, "nmigw gateway listening on "); ok {
				g.base = v
			} else if v, ok := strings.CutPrefix(l, "viewer token: "); ok {
				g.viewer = v
			} else if v, ok := strings.CutPrefix(l, "operator token: "); ok {
				g.operator = v
			}
		case <-timeout:
			t.Fatal("the gateway did not print its address and tokens")
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	return g
}

func (g *gateway) client(t *testing.T, token string) *nmigwclient.ClientWithResponses {
	t.Helper()
	c, err := nmigwclient.NewClientWithResponses(g.base, nmigwclient.WithRequestEditorFn(
		func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientAgainstGateway uses the generated client as an application
// would, against the gateway in front of its simulator: typed lists and
// pages, a typed control answer, typed problems.
func TestClientAgainstGateway(t *testing.T) {
	g := startGateway(t)
	ctx := t.Context()
	viewer, operator := g.client(t, g.viewer), g.client(t, g.operator)

	who, err := operator.WhoAmIWithResponse(ctx)
	if err != nil || who.JSON200 == nil {
		t.Fatalf("whoami: %v %s", err, who.Body)
	}
	stacks, err := viewer.ListStacksWithResponse(ctx, nil)
	if err != nil || stacks.JSON200 == nil || len(stacks.JSON200.Items) == 0 {
		t.Fatalf("stacks: %v", err)
	}
	stack := stacks.JSON200.Items[0].Name

	// The whole list, then the same list two at a time.
	all, err := viewer.ListIkeTunnelsWithResponse(ctx, stack, nil)
	if err != nil || all.JSON200 == nil || len(all.JSON200.Items) < 3 {
		t.Fatalf("IKE tunnels of %s: %v %s", stack, err, all.Body)
	}
	var paged []string
	size := nmigwclient.PageSize(2)
	params := &nmigwclient.ListIkeTunnelsParams{PageSize: &size}
	for {
		page, err := viewer.ListIkeTunnelsWithResponse(ctx, stack, params)
		if err != nil || page.JSON200 == nil || len(page.JSON200.Items) > 2 {
			t.Fatalf("page: %v %s", err, page.Body)
		}
		for _, it := range page.JSON200.Items {
			paged = append(paged, it.TunnelId)
		}
		if page.JSON200.NextPageToken == nil {
			break
		}
		params.PageToken = page.JSON200.NextPageToken
	}
	var whole []string
	for _, it := range all.JSON200.Items {
		whole = append(whole, it.TunnelId)
	}
	if strings.Join(paged, ",") != strings.Join(whole, ",") {
		t.Errorf("pages %v, whole list %v", paged, whole)
	}
	id := whole[0]
	one, err := viewer.GetIkeTunnelWithResponse(ctx, stack, id, nil)
	if err != nil || one.JSON200 == nil || one.JSON200.TunnelId != id {
		t.Fatalf("IKE tunnel %s: %v %s", id, err, one.Body)
	}

	// The viewer may not act: a typed 403 naming the resource and profile.
	denied, err := viewer.RefreshIkeTunnelWithResponse(ctx, stack, id, nil)
	if err != nil || denied.ApplicationproblemJSON403 == nil {
		t.Fatalf("viewer refresh: %v %d %s", err, denied.StatusCode(), denied.Body)
	}
	if p := denied.ApplicationproblemJSON403; p.Resource == nil || !strings.Contains(*p.Resource, ".IPSEC.CONTROL") || p.Profile == nil {
		t.Errorf("403 problem %+v", p)
	}
	// The operator may.
	done, err := operator.RefreshIkeTunnelWithResponse(ctx, stack, id, nil)
	if err != nil || done.JSON200 == nil || len(done.JSON200.Results) != 1 {
		t.Fatalf("operator refresh: %v %d %s", err, done.StatusCode(), done.Body)
	}
	r := done.JSON200.Results[0]
	if r.TunnelId == nil || *r.TunnelId != id {
		t.Errorf("result %+v, want tunnel %s", r, id)
	}
	// An open enumeration is a plain string.
	if r.Status != "stateUpdated" && r.Status != "stateAlreadySet" {
		t.Errorf("result status: %q", r.Status)
	}

	// A request body built from the generated types.
	req := nmigwclient.FilterTestRequest{Direction: nmigwclient.FilterTestRequestDirectionOutbound}
	if err := req.Protocol.FromFilterTestRequestProtocol0(1); err != nil {
		t.Fatal(err)
	}
	src, dst := "10.1.1.1", "10.2.2.2"
	req.LocalAddress, req.RemoteAddress = &src, &dst
	tested, err := viewer.TestFiltersWithResponse(ctx, stack, req)
	if err != nil || tested.JSON200 == nil {
		t.Fatalf("filters:test: %v %d %s", err, tested.StatusCode(), tested.Body)
	}

	// An unknown stack is a typed 404.
	missing, err := viewer.GetStackSummaryWithResponse(ctx, "NOSUCH", nil)
	if err != nil || missing.ApplicationproblemJSON404 == nil || missing.ApplicationproblemJSON404.Status != http.StatusNotFound {
		t.Fatalf("unknown stack: %v %d %s", err, missing.StatusCode(), missing.Body)
	}
}
