package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Zowe packaging under zowe/ is checked against Zowe's documented schemas; no Zowe instance runs
// here. What the structs below mirror:
//   - manifest.yaml: zowe/zowe-install-packaging schemas/manifest-schema.json ("Zowe server component
//     manifest file": name and id required, commands, apimlServices.static[].file, configs);
//   - the static definition: the Zowe documentation's "Onboarding a REST API without code changes
//     required" (docs-site docs/extend/extend-apiml/onboard-static-definition.md) and the API ML's
//     classes that read it (zowe/api-layer discovery-service staticdef Definition, Service, Route,
//     CatalogUiTile; common-service-core ApiInfo, AuthenticationScheme). The API ML reads the file with
//     Jackson and rejects unknown properties, as KnownFields does here; it reads only files ending in
//     .yml, which zwe writes from the template.

// zoweManifest mirrors manifest-schema.json.
type zoweManifest struct {
	Name        string   `yaml:"name"`
	ID          string   `yaml:"id"`
	Version     string   `yaml:"version"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	License     string   `yaml:"license"`
	Homepage    string   `yaml:"homepage"`
	Keywords    []string `yaml:"keywords"`
	Schemas     *struct {
		Configs any `yaml:"configs"` // a path, or a list of paths
	} `yaml:"schemas"`
	AutoEncoding []string `yaml:"autoEncoding"`
	Repository   *struct {
		Type string `yaml:"type"`
		URL  string `yaml:"url"`
	} `yaml:"repository"`
	Build *struct {
		Branch     string `yaml:"branch"`
		Number     string `yaml:"number"`
		CommitHash string `yaml:"commitHash"`
		Timestamp  int64  `yaml:"timestamp"`
	} `yaml:"build"`
	Commands *struct {
		Install   string `yaml:"install"`
		Validate  string `yaml:"validate"`
		Configure string `yaml:"configure"`
		Start     string `yaml:"start"`
	} `yaml:"commands"`
	APIMLServices *struct {
		Dynamic []struct {
			ServiceID string `yaml:"serviceId"`
		} `yaml:"dynamic"`
		Static []struct {
			File        string `yaml:"file"`
			BasePackage string `yaml:"basePackage"`
		} `yaml:"static"`
	} `yaml:"apimlServices"`
	AppfwPlugins []struct {
		Path string `yaml:"path"`
	} `yaml:"appfwPlugins"`
	GatewaySharedLibs   []string `yaml:"gatewaySharedLibs"`
	DiscoverySharedLibs []string `yaml:"discoverySharedLibs"`
	ZisPlugins          []struct {
		ID   string `yaml:"id"`
		Path string `yaml:"path"`
	} `yaml:"zisPlugins"`
	Configs map[string]any `yaml:"configs"`
}

// staticDefinition mirrors the API ML's static definition file.
type staticDefinition struct {
	Services                  []staticService          `yaml:"services"`
	CatalogUITiles            map[string]catalogUITile `yaml:"catalogUiTiles"`
	AdditionalServiceMetadata []map[string]any         `yaml:"additionalServiceMetadata"`
}

type staticService struct {
	ServiceID              string        `yaml:"serviceId"`
	Title                  string        `yaml:"title"`
	Description            string        `yaml:"description"`
	CatalogUITileID        string        `yaml:"catalogUiTileId"`
	InstanceBaseURLs       []string      `yaml:"instanceBaseUrls"`
	HomePageRelativeURL    *string       `yaml:"homePageRelativeUrl"`
	StatusPageRelativeURL  *string       `yaml:"statusPageRelativeUrl"`
	HealthCheckRelativeURL *string       `yaml:"healthCheckRelativeUrl"`
	Routes                 []staticRoute `yaml:"routes"`
	Authentication         *struct {
		Scheme string `yaml:"scheme"`
		Applid string `yaml:"applid"`
	} `yaml:"authentication"`
	APIInfo []struct {
		APIID            string `yaml:"apiId"`
		GatewayURL       string `yaml:"gatewayUrl"`
		Version          string `yaml:"version"`
		SwaggerURL       string `yaml:"swaggerUrl"`
		GraphqlURL       string `yaml:"graphqlUrl"`
		DocumentationURL string `yaml:"documentationUrl"`
		DefaultAPI       bool   `yaml:"defaultApi"`
		CodeSnippet      []struct {
			Endpoint  string `yaml:"endpoint"`
			Language  string `yaml:"language"`
			CodeBlock string `yaml:"codeBlock"`
		} `yaml:"codeSnippet"`
	} `yaml:"apiInfo"`
	CustomMetadata map[string]any `yaml:"customMetadata"`
}

type staticRoute struct {
	GatewayURL         string `yaml:"gatewayUrl"`
	ServiceRelativeURL string `yaml:"serviceRelativeUrl"`
}

type catalogUITile struct {
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
}

// The API ML's authentication schemes (AuthenticationScheme.java).
var apimlSchemes = []string{"bypass", "zoweJwt", "httpBasicPassTicket", "zosmf", "x509", "safIdt"}

var (
	// EurekaUtils.validateServiceId; the documentation adds at most 40 characters.
	serviceIDRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// ApiInfo.apiId: up to 64 characters, lower-case alphanumerics and dots.
	apiIDRe = regexp.MustCompile(`^[a-z0-9.]{1,64}$`)
	// manifest-schema.json: name is letters, digits, - and _; id is reverse domain notation.
	componentNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	componentIDRe   = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	semverRe        = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	templateVarRe   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// strictYAML decodes exactly one YAML document into v, refusing unknown keys.
func strictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more than one YAML document (%v)", err)
	}
	return nil
}

func decodeStrict(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	if err := strictYAML(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readZowe(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("zowe", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func zoweManifestFile(t *testing.T) zoweManifest {
	t.Helper()
	var m zoweManifest
	decodeStrict(t, "zowe/manifest.yaml", readZowe(t, "manifest.yaml"), &m)
	return m
}

func TestZoweManifest(t *testing.T) {
	m := zoweManifestFile(t)
	// Required by the schema.
	if !componentNameRe.MatchString(m.Name) {
		t.Errorf("name %q: want letters, digits, - and _", m.Name)
	}
	if !componentIDRe.MatchString(m.ID) {
		t.Errorf("id %q: want reverse domain notation", m.ID)
	}
	// zwe exports components.<name>.<key> as ZWE_components_<name>_<key>: start.sh and the static
	// definition use the name.
	if m.Name != "nmigw" {
		t.Errorf("name %q: start.sh and the static definition read ZWE_components_nmigw_*", m.Name)
	}
	if !semverRe.MatchString(m.Version) {
		t.Errorf("version %q: want semantic versioning without v", m.Version)
	}
	if m.Title == "" || m.Description == "" {
		t.Error("title and description are what the API Catalog shows by default")
	}
	if m.Commands == nil || m.Commands.Start == "" {
		t.Fatal("commands.start: zwe has nothing to start")
	}
	fi, err := os.Stat(filepath.Join("zowe", m.Commands.Start))
	if err != nil {
		t.Fatalf("commands.start: %v", err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Errorf("commands.start %s is not executable", m.Commands.Start)
	}
	if m.APIMLServices == nil || len(m.APIMLServices.Static) != 1 || m.APIMLServices.Static[0].File == "" {
		t.Fatalf("apimlServices.static: want the one static definition, have %+v", m.APIMLServices)
	}
	if _, err := os.Stat(filepath.Join("zowe", m.APIMLServices.Static[0].File)); err != nil {
		t.Errorf("apimlServices.static[0].file: %v", err)
	}
	for _, key := range []string{"port", "policy", "nmiSocket", "attls", "auditLog"} {
		if _, ok := m.Configs[key]; !ok {
			t.Errorf("configs.%s: start.sh reads it, and it has no default", key)
		}
	}
	if p, ok := m.Configs["port"].(int); !ok || p < 1 || p > 65535 {
		t.Errorf("configs.port %v: want a port number", m.Configs["port"])
	}
}

// zoweTemplateVars are the variables the static definition may use: Zowe's host name of the HA
// instance, and the component's configs as zwe exports them.
func zoweTemplateVars(t *testing.T, m zoweManifest) map[string]string {
	vars := map[string]string{"ZWE_haInstance_hostname": "lpar1.example.com"}
	for k, v := range m.Configs {
		if s, ok := v.(string); ok {
			vars["ZWE_components_"+m.Name+"_"+k] = s
		} else {
			b, err := yaml.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			vars["ZWE_components_"+m.Name+"_"+k] = strings.TrimSpace(string(b))
		}
	}
	return vars
}

// renderStatic fills in the static definition's variables as zwe does.
func renderStatic(t *testing.T, m zoweManifest) (staticDefinition, string) {
	t.Helper()
	name := m.APIMLServices.Static[0].File
	vars := zoweTemplateVars(t, m)
	var unknown []string
	text := templateVarRe.ReplaceAllStringFunc(string(readZowe(t, name)), func(s string) string {
		k := templateVarRe.FindStringSubmatch(s)[1]
		v, ok := vars[k]
		if !ok {
			unknown = append(unknown, k)
		}
		return v
	})
	if len(unknown) > 0 {
		t.Errorf("%s uses variables zwe does not set for it: %v", name, unknown)
	}
	var d staticDefinition
	decodeStrict(t, "zowe/"+name, []byte(text), &d)
	return d, text
}

// openAPI is what the static definition's checks need of api/openapi.yaml.
type openAPI struct {
	Info struct {
		Version string `yaml:"version"`
	} `yaml:"info"`
	Paths map[string]any `yaml:"paths"`
}

func readOpenAPI(t *testing.T) openAPI {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestZoweStaticDefinition(t *testing.T) {
	m := zoweManifestFile(t)
	if m.APIMLServices == nil || len(m.APIMLServices.Static) == 0 {
		t.Fatal("no static definition in the manifest")
	}
	d, _ := renderStatic(t, m)
	api := readOpenAPI(t)
	if len(d.Services) != 1 {
		t.Fatalf("%d services, want 1", len(d.Services))
	}
	s := d.Services[0]
	if !serviceIDRe.MatchString(s.ServiceID) || len(s.ServiceID) > 40 {
		t.Errorf("serviceId %q: want lower-case alphanumerics (and inner -), at most 40", s.ServiceID)
	}
	if s.Title == "" || s.Description == "" {
		t.Error("title and description: the API Catalog shows them")
	}
	tile, ok := d.CatalogUITiles[s.CatalogUITileID]
	if !ok || tile.Title == "" || tile.Description == "" {
		t.Errorf("catalogUiTileId %q names no tile with title and description in catalogUiTiles", s.CatalogUITileID)
	}

	// One https instance, with host and port (ServiceDefinitionProcessor refuses URLs without a
	// port, and protocols other than http and https; the API ML is reached over TLS).
	if len(s.InstanceBaseURLs) != 1 {
		t.Fatalf("instanceBaseUrls: %v", s.InstanceBaseURLs)
	}
	base, err := url.Parse(s.InstanceBaseURLs[0])
	if err != nil || base.Scheme != "https" || base.Hostname() == "" || base.Port() == "" || strings.HasSuffix(base.Path, "/") {
		t.Errorf("instanceBaseUrls[0] %q: want https://host:port without a trailing slash", s.InstanceBaseURLs[0])
	}

	// Health and status pages: paths of the gateway's that answer without credentials.
	for _, p := range []struct {
		key  string
		v    *string
		want string
	}{
		{"homePageRelativeUrl", s.HomePageRelativeURL, "/"},
		{"statusPageRelativeUrl", s.StatusPageRelativeURL, "/readyz"},
		{"healthCheckRelativeUrl", s.HealthCheckRelativeURL, "/healthz"},
	} {
		if p.v == nil || *p.v != p.want {
			t.Errorf("%s: %v, want %s", p.key, p.v, p.want)
			continue
		}
		if _, ok := api.Paths[p.want]; p.want != "/" && !ok {
			t.Errorf("%s %s is not a path of api/openapi.yaml", p.key, p.want)
		}
	}

	// The routes cover the REST API: every /v1 path of the document is under a route.
	if len(s.Routes) == 0 {
		t.Fatal("no routes")
	}
	gatewayURLs := map[string]bool{}
	for i, r := range s.Routes {
		if r.GatewayURL == "" || strings.HasPrefix(r.GatewayURL, "/") || !strings.HasPrefix(r.ServiceRelativeURL, "/") {
			t.Errorf("routes[%d] %+v: want gatewayUrl like api/v1 and serviceRelativeUrl like /v1", i, r)
		}
		gatewayURLs[r.GatewayURL] = true
	}
	for p := range api.Paths {
		if !strings.HasPrefix(p, "/v1/") {
			continue
		}
		if !slices.ContainsFunc(s.Routes, func(r staticRoute) bool {
			return strings.HasPrefix(p, strings.TrimSuffix(r.ServiceRelativeURL, "/")+"/")
		}) {
			t.Errorf("path %s is under no route", p)
		}
	}

	if s.Authentication == nil || s.Authentication.Scheme != "zoweJwt" || !slices.Contains(apimlSchemes, s.Authentication.Scheme) {
		t.Errorf("authentication %+v: want scheme zoweJwt", s.Authentication)
	}

	if len(s.APIInfo) != 1 {
		t.Fatalf("apiInfo: %d entries, want 1 (the API ML supports one)", len(s.APIInfo))
	}
	ai := s.APIInfo[0]
	if !apiIDRe.MatchString(ai.APIID) {
		t.Errorf("apiInfo.apiId %q: want lower-case alphanumerics and dots, at most 64", ai.APIID)
	}
	if !gatewayURLs[ai.GatewayURL] {
		t.Errorf("apiInfo.gatewayUrl %q is no route's gatewayUrl", ai.GatewayURL)
	}
	if ai.Version != api.Info.Version {
		t.Errorf("apiInfo.version %q, api/openapi.yaml says %q", ai.Version, api.Info.Version)
	}
	if want := s.InstanceBaseURLs[0] + "/openapi.yaml"; ai.SwaggerURL != want {
		t.Errorf("apiInfo.swaggerUrl %q, want %q (the gateway serves its document there)", ai.SwaggerURL, want)
	}
	if want := s.InstanceBaseURLs[0] + "/docs"; ai.DocumentationURL != want {
		t.Errorf("apiInfo.documentationUrl %q, want %q", ai.DocumentationURL, want)
	}
	for _, p := range []string{"/openapi.yaml", "/docs"} {
		if _, ok := api.Paths[p]; !ok {
			t.Errorf("%s is not a path of api/openapi.yaml", p)
		}
	}
}

// The strict decoding is not a formality: a misspelt key, a key of another level or a second
// document is refused, as the API ML's Jackson reader refuses unknown properties.
func TestZoweStrictDecodingRefuses(t *testing.T) {
	for _, bad := range []string{
		"services:\n  - serviceId: nmigw\n    instanceBaseUrl: https://h:1\n",
		"services:\n  - serviceId: nmigw\n    routes:\n      - gatewayUrl: api/v1\n        serviceUrl: /v1\n",
		"services:\n  - serviceId: nmigw\n    apiInfo:\n      - apiId: a\n        swaggerURL: https://h:1/openapi.yaml\n",
		"catalogUiTiles:\n  t:\n    title: T\n    subtitle: S\n",
		"services: []\n---\nservices: []\n",
	} {
		var d staticDefinition
		if err := strictYAML([]byte(bad), &d); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// start.sh runs under /bin/sh with the environment zwe gives it; a stand-in gateway prints the
// arguments it was started with.
func TestZoweStartScript(t *testing.T) {
	m := zoweManifestFile(t)
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join("zowe", m.Commands.Start))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(script, []byte("#!/bin/sh\n")) {
		t.Error("start.sh must be a /bin/sh script (z/OS UNIX has no bash by default)")
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m.Commands.Start), script, 0o755); err != nil {
		t.Fatal(err)
	}
	stub := "#!/bin/sh\nprintf '%s\\n' \"$@\"\necho \"_BPXK_AUTOCVT=$_BPXK_AUTOCVT\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "gateway"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	base := []string{"PATH=/usr/bin:/bin"}
	for k, v := range zoweTemplateVars(t, m) {
		base = append(base, k+"="+v)
	}
	run := func(env ...string) (string, error) {
		cmd := exec.Command("/bin/sh", m.Commands.Start)
		cmd.Dir = dir
		cmd.Env = append(slices.Clone(base), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("ZWE_zowe_certificate_pem_certificate=/zowe/cert.pem", "ZWE_zowe_certificate_pem_key=/zowe/key.pem",
		"ZWE_zowe_logDirectory=/zowe/logs")
	if err != nil {
		t.Fatalf("start.sh: %v\n%s", err, out)
	}
	want := "--listen\n:8545\n--policy\n/etc/nmigw/policy.yaml\n--nmi-socket\n/var/sock/ipsecmgmt\n" +
		"--audit-log\n/zowe/logs/nmigw-audit.log\n--tls-cert\n/zowe/cert.pem\n--tls-key\n/zowe/key.pem\n_BPXK_AUTOCVT=ON\n"
	if out != want {
		t.Errorf("with Zowe's PEM certificate, the gateway got:\n%s\nwant:\n%s", out, want)
	}

	out, err = run("ZWE_components_nmigw_attls=true", "ZWE_components_nmigw_port=9443")
	if err != nil {
		t.Fatalf("start.sh with AT-TLS: %v\n%s", err, out)
	}
	if !strings.Contains(out, "--listen\n:9443\n") || strings.Contains(out, "--tls-cert") || !strings.Contains(out, "--audit-log\n-\n") {
		t.Errorf("with AT-TLS, the gateway got:\n%s", out)
	}

	for _, tt := range []struct {
		env  []string
		want string
	}{
		{nil, "set components.nmigw.attls: true (AT-TLS) or give Zowe a PEM certificate"},
		{[]string{"ZWE_components_nmigw_attls=true", "ZWE_components_nmigw_policy="}, "components.nmigw.policy is not set"},
		{[]string{"ZWE_components_nmigw_attls=true", "ZWE_components_nmigw_port="}, "components.nmigw.port is not set"},
	} {
		out, err := run(tt.env...)
		if err == nil || !strings.Contains(out, tt.want) || strings.Contains(out, "--listen") {
			t.Errorf("%v: %v, %q; want a failure saying %q before the gateway starts", tt.env, err, out, tt.want)
		}
	}
}
