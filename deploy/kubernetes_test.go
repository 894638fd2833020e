package deploy_test

import (
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	psapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// userSecrets are Secrets the manifests use but do not ship: the operator creates them (README).
var userSecrets = []string{"nmigw-tls", "nmigw-ssh"}

// eachOverlay renders every overlay in a subtest and hands f the rendering and its Deployment.
func eachOverlay(t *testing.T, f func(t *testing.T, overlay string, r *rendering, d *appsv1.Deployment)) {
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			r := render(t, overlayDir(o))
			f(t, o, r, only[appsv1.Deployment](t, r))
		})
	}
}

// podAndGateway returns the Deployment's pod spec and its gateway container.
func podAndGateway(t *testing.T, d *appsv1.Deployment) (*corev1.PodSpec, *corev1.Container) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	gw := container(spec, "gateway")
	if gw == nil {
		t.Fatal("no gateway container")
	}
	return spec, gw
}

func TestOverlayListIsComplete(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("kubernetes", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	want := slices.Sorted(slices.Values(overlays))
	if !slices.Equal(dirs, want) {
		t.Fatalf("overlay directories %v, tested overlays %v", dirs, want)
	}
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n")
	if err := yaml.UnmarshalStrict(bad, new(appsv1.Deployment)); err == nil {
		t.Fatal("a Deployment with the unknown field spec.replica decoded without error")
	}
	dup := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x, name: y}\n")
	if err := yaml.UnmarshalStrict(dup, new(corev1.Service)); err == nil {
		t.Fatal("a Service with a duplicate key decoded without error")
	}
}

func TestOverlaysRender(t *testing.T) {
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			r := render(t, overlayDir(o))
			want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 2, "Secret": 1,
				"Service": 1, "Deployment": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1}
			if o == "prometheus-operator" {
				want["ServiceMonitor"], want["PrometheusRule"] = 1, 1
			}
			got := map[string]int{}
			seen := map[string]bool{}
			for _, obj := range r.objects {
				m := obj.(metav1.Object)
				kind := obj.(runtime.Object).GetObjectKind().GroupVersionKind().Kind
				got[kind]++
				name := m.GetName()
				if seen[kind+"/"+name] {
					t.Errorf("%s %s rendered twice", kind, name)
				}
				seen[kind+"/"+name] = true
				if kind == "Namespace" {
					if name != namespace {
						t.Errorf("Namespace %s, want %s", name, namespace)
					}
				} else if m.GetNamespace() != namespace {
					t.Errorf("%s %s in namespace %q, want %q", kind, name, m.GetNamespace(), namespace)
				}
				if m.GetLabels()["app.kubernetes.io/part-of"] != "nmigw" && kind != "Namespace" {
					t.Errorf("%s %s lacks label app.kubernetes.io/part-of=nmigw", kind, name)
				}
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%d objects of kind %s, want %d", got[k], k, n)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected kind %s", k)
				}
			}
		})
	}
}

func TestPodSecurity(t *testing.T) {
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		spec := &d.Spec.Template.Spec
		psc := spec.SecurityContext
		if psc == nil {
			t.Fatal("no pod securityContext")
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Error("pod: runAsNonRoot is not true")
		}
		if psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
			t.Errorf("pod: runAsUser %s, want 65532 (the image's nonroot user)", optInt(psc.RunAsUser))
		}
		if psc.RunAsGroup == nil || *psc.RunAsGroup == 0 {
			t.Error("pod: runAsGroup unset or 0")
		}
		if psc.FSGroup == nil || *psc.FSGroup == 0 {
			t.Error("pod: fsGroup unset or 0")
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("pod: seccompProfile is not RuntimeDefault")
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Error("pod shares a host namespace")
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Error("pod: automountServiceAccountToken is not false")
		}
		sa := only[corev1.ServiceAccount](t, r)
		if spec.ServiceAccountName != sa.Name {
			t.Errorf("pod uses ServiceAccount %q, rendered %q", spec.ServiceAccountName, sa.Name)
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("ServiceAccount: automountServiceAccountToken is not false")
		}
		if len(spec.InitContainers) != 0 || len(spec.EphemeralContainers) != 0 {
			t.Error("init or ephemeral containers are not expected")
		}
		for _, c := range spec.Containers {
			checkContainerSecurity(t, psc, &c)
		}

		// The Pod Security Admission library's own checks: the pod meets "restricted", apart from
		// the hostPath volume of hostsocket (which "baseline" forbids as well).
		for _, level := range []psapi.Level{psapi.LevelBaseline, psapi.LevelRestricted} {
			lv := psapi.LevelVersion{Level: level, Version: psapi.LatestVersion()}
			var forbidden []string
			for _, res := range evaluator.EvaluatePod(lv, &d.Spec.Template.ObjectMeta, spec) {
				if !res.Allowed {
					forbidden = append(forbidden, res.ForbiddenReason)
				}
			}
			var want []string
			if o == "hostsocket" {
				want = []string{map[psapi.Level]string{
					psapi.LevelBaseline:   "hostPath volumes",
					psapi.LevelRestricted: "restricted volume types",
				}[level]}
			}
			if !slices.Equal(forbidden, want) {
				t.Errorf("Pod Security Standard %s: forbidden %q, want %q", level, forbidden, want)
			}
		}
		ns := only[corev1.Namespace](t, r)
		wantEnforce := "restricted"
		if o == "hostsocket" {
			wantEnforce = "privileged"
		}
		if got := ns.Labels[psapi.EnforceLevelLabel]; got != wantEnforce {
			t.Errorf("namespace enforces %q, want %q", got, wantEnforce)
		}
		if got := ns.Labels[psapi.WarnLevelLabel]; got != "restricted" {
			t.Errorf("namespace warns at %q, want restricted", got)
		}
	})
}

// checkContainerSecurity asserts the hardening of one container, with the pod's settings as defaults.
func checkContainerSecurity(t *testing.T, psc *corev1.PodSecurityContext, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: no securityContext", c.Name)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", c.Name)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities are not drop [ALL] with nothing added", c.Name)
	}
	uid := psc.RunAsUser
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if uid == nil || *uid == 0 {
		t.Errorf("%s: runs as root (runAsUser %s)", c.Name, optInt(uid))
	}
	nonRoot := psc.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("%s: runAsNonRoot is not true", c.Name)
	}
	seccomp := psc.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile is not RuntimeDefault", c.Name)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[res]
		lim, okLim := c.Resources.Limits[res]
		if !okReq || !okLim {
			t.Errorf("%s: %s needs a request and a limit", c.Name, res)
			continue
		}
		if req.Sign() <= 0 || req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s, limit %s", c.Name, res, req.String(), lim.String())
		}
	}
	if !pinnedImage.MatchString(c.Image) {
		t.Errorf("%s: image %q has neither a version tag nor a digest", c.Name, c.Image)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: imagePullPolicy %q, want IfNotPresent", c.Name, c.ImagePullPolicy)
	}
}

// pinnedImage accepts repository:version (a digit first, so not "latest") and repository@sha256:….
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:v?[0-9][A-Za-z0-9._-]*)?(@sha256:[0-9a-f]{64})?$`)

func TestImagesArePinned(t *testing.T) {
	for img, want := range map[string]bool{
		"ghcr.io/nmigw/nmigw:0.1.0": true, "ghcr.io/nmigw/nmigw@sha256:" + strings.Repeat("a", 64): true,
		"ghcr.io/nmigw/nmigw:latest": false, "ghcr.io/nmigw/nmigw": false, "nmigw": false,
	} {
		got := pinnedImage.MatchString(img) && (strings.Contains(img, ":") || strings.Contains(img, "@"))
		if got != want {
			t.Errorf("%s: pinned %v, want %v", img, got, want)
		}
	}
	for _, o := range overlays {
		for _, c := range only[appsv1.Deployment](t, render(t, overlayDir(o))).Spec.Template.Spec.Containers {
			if !strings.Contains(c.Image, ":") && !strings.Contains(c.Image, "@") {
				t.Errorf("%s: %s: image %q is not pinned", o, c.Name, c.Image)
			}
		}
	}
}

func TestProbes(t *testing.T) {
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		_, gw := podAndGateway(t, d)
		settings := gatewaySettings(t, r, gw)
		_, portText, ok := strings.Cut(settings["listen"], ":")
		listenPort, err := strconv.Atoi(portText)
		if !ok || err != nil {
			t.Fatalf("--listen %q has no port", settings["listen"])
		}
		wantScheme := corev1.URISchemeHTTP
		if settings["tls-cert"] != "" {
			wantScheme = corev1.URISchemeHTTPS
		}
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{
			{"liveness", gw.LivenessProbe, "/healthz"},
			{"readiness", gw.ReadinessProbe, "/readyz"},
			{"startup", gw.StartupProbe, "/healthz"},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s probe: missing or not an HTTP GET", p.kind)
				continue
			}
			g := p.probe.HTTPGet
			if g.Path != p.path {
				t.Errorf("%s probe: path %q, want %q", p.kind, g.Path, p.path)
			}
			if n := portNumber(gw, g.Port); n == 0 || int(n) != listenPort {
				t.Errorf("%s probe: port %s is container port %d; the gateway listens on %d", p.kind, g.Port.String(), n, listenPort)
			}
			if g.Scheme != wantScheme {
				t.Errorf("%s probe: scheme %q, want %q", p.kind, g.Scheme, wantScheme)
			}
			if p.probe.TimeoutSeconds < 1 || p.probe.TimeoutSeconds >= p.probe.PeriodSeconds {
				t.Errorf("%s probe: timeout %ds with period %ds", p.kind, p.probe.TimeoutSeconds, p.probe.PeriodSeconds)
			}
		}
		if gw.LivenessProbe != nil && gw.LivenessProbe.FailureThreshold < 3 {
			t.Error("liveness probe: fewer than 3 failures restart the container")
		}
		if s := gw.StartupProbe; s != nil && s.FailureThreshold*s.PeriodSeconds < 30 {
			t.Errorf("startup probe: allows %ds to start, want at least 30s", s.FailureThreshold*s.PeriodSeconds)
		}
		if l, rd := gw.LivenessProbe, gw.ReadinessProbe; l != nil && rd != nil && rd.PeriodSeconds > l.PeriodSeconds {
			t.Error("readiness is probed less often than liveness")
		}
	})
}

func TestSelectorsAndNetworkPolicy(t *testing.T) {
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		podLabels := d.Spec.Template.Labels
		spec, gw := podAndGateway(t, d)
		if d.Spec.Selector == nil || len(d.Spec.Selector.MatchExpressions) != 0 || !matches(d.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector, podLabels)
		}
		svc := only[corev1.Service](t, r)
		if !matches(svc.Spec.Selector, podLabels) {
			t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
		}
		apiPort := portNumber(gw, intstrName("http"))
		if apiPort == 0 {
			t.Fatal("gateway declares no port named http")
		}
		for _, p := range svc.Spec.Ports {
			if n := portNumber(gw, p.TargetPort); n != apiPort {
				t.Errorf("Service port %s targets %s: container port %d, want %d", p.Name, p.TargetPort.String(), n, apiPort)
			}
		}
		pdb := only[policyv1.PodDisruptionBudget](t, r)
		if pdb.Spec.Selector == nil || !matches(pdb.Spec.Selector.MatchLabels, podLabels) {
			t.Error("PodDisruptionBudget does not select the pods")
		}
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
		}
		for _, tsc := range spec.TopologySpreadConstraints {
			if tsc.LabelSelector == nil || !matches(tsc.LabelSelector.MatchLabels, podLabels) {
				t.Error("topology spread constraint does not select the pods")
			}
		}

		np := only[networkingv1.NetworkPolicy](t, r)
		if !matches(np.Spec.PodSelector.MatchLabels, podLabels) {
			t.Error("NetworkPolicy does not select the pods")
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Error("NetworkPolicy does not govern ingress")
		}
		monitoring := false
		for i, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				t.Errorf("ingress rule %d allows every port", i)
			}
			for _, p := range rule.Ports {
				if p.Port == nil || portNumber(gw, *p.Port) != apiPort || p.EndPort != nil {
					t.Errorf("ingress rule %d allows port %v, not only the API port %d", i, p.Port, apiPort)
				}
			}
			for _, peer := range rule.From {
				if peer.NamespaceSelector != nil && peer.PodSelector == nil && peer.IPBlock == nil &&
					peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring" {
					monitoring = true
				}
			}
		}
		if !monitoring {
			t.Error("no ingress rule admits the monitoring namespace")
		}
	})
}

func TestSocketVolume(t *testing.T) {
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		spec, gw := podAndGateway(t, d)
		settings := gatewaySettings(t, r, gw)
		if o == "remote" {
			checkRemote(t, r, spec, gw, settings)
			return
		}
		sock := settings["nmi-socket"]
		gwMount := mountFor(gw, sock)
		if sock == "" || gwMount == nil {
			t.Fatalf("gateway: --nmi-socket %q is on no volume", sock)
		}
		vol := volume(spec, gwMount.Name)
		if vol == nil {
			t.Fatalf("volume %s is not defined", gwMount.Name)
		}
		var names []string
		for _, c := range spec.Containers {
			names = append(names, c.Name)
		}
		sim := container(spec, "iked-sim")
		if o == "hostsocket" {
			if sim != nil || !slices.Equal(names, []string{"gateway"}) {
				t.Fatalf("containers %v, want the gateway only", names)
			}
			if vol.HostPath == nil || vol.HostPath.Path != "/var/sock" || vol.EmptyDir != nil {
				t.Fatalf("socket volume %s is not the hostPath /var/sock", vol.Name)
			}
			if vol.HostPath.Type == nil || *vol.HostPath.Type != corev1.HostPathDirectory {
				t.Error("socket hostPath is not of type Directory (the socket is recreated by IKED)")
			}
			if len(spec.NodeSelector) == 0 && spec.Affinity == nil {
				t.Error("hostsocket pods are not bound to the node that runs IKED")
			}
			return
		}
		if sim == nil || !slices.Equal(names, []string{"gateway", "iked-sim"}) {
			t.Fatalf("containers %v, want gateway and iked-sim", names)
		}
		if vol.EmptyDir == nil {
			t.Errorf("socket volume %s is not an emptyDir", vol.Name)
		}
		simArgs, err := parseArgs(sim.Args, simFlags)
		if err != nil {
			t.Fatalf("iked-sim args: %v", err)
		}
		if simArgs["socket"] != sock {
			t.Errorf("iked-sim serves %q, the gateway connects to %q", simArgs["socket"], sock)
		}
		simMount := mountFor(sim, simArgs["socket"])
		if simMount == nil || simMount.Name != gwMount.Name || simMount.MountPath != gwMount.MountPath {
			t.Fatalf("iked-sim's socket directory is not the gateway's volume %s at %s", gwMount.Name, gwMount.MountPath)
		}
		if simMount.ReadOnly {
			t.Error("iked-sim cannot create its socket on a read-only mount")
		}
		if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil {
			t.Error("no fsGroup: the socket directory is not shared by group")
		}
	})
}

func TestVolumesAndReferences(t *testing.T) {
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		spec := &d.Spec.Template.Spec
		mounted := map[string]bool{}
		for _, c := range spec.Containers {
			paths := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if volume(spec, m.Name) == nil {
					t.Errorf("%s mounts the undefined volume %s", c.Name, m.Name)
				}
				if paths[m.MountPath] {
					t.Errorf("%s mounts two volumes at %s", c.Name, m.MountPath)
				}
				paths[m.MountPath] = true
				mounted[m.Name] = true
			}
		}
		for _, v := range spec.Volumes {
			if !mounted[v.Name] {
				t.Errorf("volume %s is mounted by no container", v.Name)
			}
		}

		// Every ConfigMap and Secret the pod names is rendered, except those the operator creates.
		check := func(kind, name string, optional *bool) {
			found := r.configMap(name) != nil
			if kind == "Secret" {
				found = r.secret(name) != nil || slices.Contains(userSecrets, name)
			}
			if !found && (optional == nil || !*optional) {
				t.Errorf("%s %s is referenced but not rendered", kind, name)
			}
		}
		for _, v := range spec.Volumes {
			for _, src := range volumeSources(&v) {
				check(src.kind, src.name, src.optional)
			}
		}
		for _, c := range spec.Containers {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					check("ConfigMap", ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional)
				}
				if ef.SecretRef != nil {
					check("Secret", ef.SecretRef.Name, ef.SecretRef.Optional)
				}
			}
		}

		// The files the programs are told to read are in their volumes, from the right objects.
		_, gw := podAndGateway(t, d)
		settings := gatewaySettings(t, r, gw)
		wantFile(t, r, spec, gw, settings["policy"], "ConfigMap", "policy.yaml")
		if settings["tls-cert"] != "" {
			wantFile(t, r, spec, gw, settings["tls-cert"], "Secret nmigw-tls", "tls.crt")
			wantFile(t, r, spec, gw, settings["tls-key"], "Secret nmigw-tls", "tls.key")
			wantFile(t, r, spec, gw, settings["tls-client-ca"], "Secret nmigw-tls", "ca.crt")
		} else if o == "hostsocket" || o == "remote" {
			t.Errorf("%s: TLS is off", o)
		}
		if sim := container(spec, "iked-sim"); sim != nil {
			simArgs, err := parseArgs(sim.Args, simFlags)
			if err != nil {
				t.Fatalf("iked-sim args: %v", err)
			}
			if simArgs["policy"] != settings["policy"] {
				t.Errorf("iked-sim reads the policy %q, the gateway %q", simArgs["policy"], settings["policy"])
			}
			wantFile(t, r, spec, sim, simArgs["policy"], "ConfigMap", "policy.yaml")
			// The simulator gets no Secret: neither token hashes nor the TLS key.
			for _, m := range sim.VolumeMounts {
				for _, src := range volumeFiles(volume(spec, m.Name)) {
					if strings.HasPrefix(src, "Secret ") {
						t.Errorf("iked-sim mounts %s", src)
					}
				}
			}
		}
	})
}

// wantFile asserts that path, in container c, is a file of a mounted ConfigMap, Secret or projected
// volume that comes from an object whose description starts with from, under key.
func wantFile(t *testing.T, r *rendering, spec *corev1.PodSpec, c *corev1.Container, path, from, key string) {
	t.Helper()
	m := mountFor(c, path)
	if path == "" || m == nil {
		t.Errorf("%s: file %q is on no volume", c.Name, path)
		return
	}
	rel := strings.TrimPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
	src, ok := volumeFiles(volume(spec, m.Name))[rel]
	if !ok {
		t.Errorf("%s: volume %s puts no file %s at %s", c.Name, m.Name, rel, m.MountPath)
		return
	}
	if !strings.HasPrefix(src, from) || !strings.HasSuffix(src, " "+key) {
		t.Errorf("%s: %s comes from %s, want %s key %s", c.Name, path, src, from, key)
	}
	if kind, rest, _ := strings.Cut(src, " "); kind == "ConfigMap" {
		name, k, _ := strings.Cut(rest, " ")
		if cm := r.configMap(name); cm == nil || cm.Data[k] == "" {
			t.Errorf("%s: ConfigMap %s has no key %s", c.Name, name, k)
		}
	}
}

// policyFile is the policy file's shape (DESIGN.md section 4), for a strict decode of the ConfigMap.
type policyFile struct {
	System     string `json:"system"`
	Superusers struct {
		Users  []string `json:"users"`
		Groups []string `json:"groups"`
	} `json:"superusers"`
	Anonymous string `json:"anonymous,omitempty"`
	Profiles  []struct {
		Name   string `json:"name"`
		UACC   string `json:"uacc"`
		Access []struct {
			ID    string `json:"id"`
			Level string `json:"level"`
		} `json:"access"`
	} `json:"profiles"`
	Users      map[string][]string `json:"users"`
	Identities struct {
		Tokens       []tokenEntry `json:"tokens,omitempty"`
		TokensFile   string       `json:"tokensFile,omitempty"`
		Certificates []struct {
			Subject string   `json:"subject"`
			User    string   `json:"user"`
			Groups  []string `json:"groups,omitempty"`
		} `json:"certificates,omitempty"`
		OIDC *struct {
			Issuer      string `json:"issuer"`
			Audience    string `json:"audience"`
			UserClaim   string `json:"userClaim"`
			GroupsClaim string `json:"groupsClaim"`
		} `json:"oidc,omitempty"`
		UIDs map[string]string `json:"uids,omitempty"`
	} `json:"identities"`
}

type tokenEntry struct {
	SHA256 string   `json:"sha256"`
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
}

var (
	safID     = regexp.MustCompile(`^[A-Z#$@][A-Z0-9#$@]{0,7}$`)
	accessLvl = []string{"NONE", "READ", "UPDATE", "CONTROL", "ALTER"}
)

func TestPolicyAndTokens(t *testing.T) {
	r := render(t, overlayDir("sim"))
	spec, gw := podAndGateway(t, only[appsv1.Deployment](t, r))
	m := mountFor(gw, gatewaySettings(t, r, gw)["policy"])
	if m == nil {
		t.Fatal("policy file is on no volume")
	}
	var policyCM, tokensSecret string
	for _, src := range volumeFiles(volume(spec, m.Name)) {
		kind, rest, _ := strings.Cut(src, " ")
		name, key, _ := strings.Cut(rest, " ")
		switch {
		case kind == "ConfigMap" && key == "policy.yaml":
			policyCM = name
		case kind == "Secret" && key == "tokens.yaml":
			tokensSecret = name
		}
	}
	cm := r.configMap(policyCM)
	if cm == nil {
		t.Fatal("policy ConfigMap not rendered")
	}
	var p policyFile
	if err := yaml.UnmarshalStrict([]byte(cm.Data["policy.yaml"]), &p); err != nil {
		t.Fatalf("policy.yaml: %v", err)
	}
	if !safID.MatchString(p.System) {
		t.Errorf("system %q is not a 1-8 character name", p.System)
	}
	ids := slices.Concat(p.Superusers.Users, p.Superusers.Groups)
	for u, groups := range p.Users {
		ids = append(ids, u)
		ids = append(ids, groups...)
	}
	var display, control bool
	for _, pr := range p.Profiles {
		if !strings.HasPrefix(pr.Name, "EZB.NETMGMT."+p.System+".") && !strings.HasPrefix(pr.Name, "EZB.NETMGMT.*") {
			t.Errorf("profile %s is not for system %s", pr.Name, p.System)
		}
		display = display || strings.HasSuffix(pr.Name, ".IPSEC.DISPLAY")
		control = control || strings.HasSuffix(pr.Name, ".IPSEC.CONTROL")
		if !slices.Contains(accessLvl, pr.UACC) {
			t.Errorf("profile %s: uacc %q", pr.Name, pr.UACC)
		}
		for _, a := range pr.Access {
			if !slices.Contains(accessLvl, a.Level) {
				t.Errorf("profile %s: level %q", pr.Name, a.Level)
			}
			if a.ID != "*" {
				ids = append(ids, a.ID)
			}
		}
	}
	if !display || !control {
		t.Error("the policy needs a DISPLAY and a CONTROL profile")
	}
	for _, id := range ids {
		if !safID.MatchString(id) {
			t.Errorf("user or group %q is not 1-8 upper-case characters", id)
		}
	}
	if len(p.Identities.Tokens) != 0 {
		t.Error("token hashes belong in the tokens Secret, not in the ConfigMap")
	}
	// The policy names the Secret's file; a relative path is read from the policy file's directory.
	tokensFile := p.Identities.TokensFile
	if tokensFile == "" {
		t.Error("identities.tokensFile: the policy does not name the tokens Secret's file")
	} else {
		if !path.IsAbs(tokensFile) {
			tokensFile = path.Join(path.Dir(gatewaySettings(t, r, gw)["policy"]), tokensFile)
		}
		wantFile(t, r, spec, gw, tokensFile, "Secret "+tokensSecret, "tokens.yaml")
	}

	// iked-sim identifies the gateway by its uid: the pods' uid must map to a user that every
	// profile admits with READ or more, or the simulator refuses the gateway's requests.
	uid := strconv.FormatInt(*spec.SecurityContext.RunAsUser, 10)
	gwUser := p.Identities.UIDs[uid]
	if gwUser == "" {
		t.Fatalf("identities.uids has no entry for the pods' uid %s", uid)
	}
	for _, pr := range p.Profiles {
		level := pr.UACC
		for _, a := range pr.Access {
			if a.ID == gwUser || slices.Contains(p.Users[gwUser], a.ID) {
				level = a.Level
			}
		}
		if slices.Index(accessLvl, level) < slices.Index(accessLvl, "READ") {
			t.Errorf("profile %s gives the gateway's user %s %s, want READ", pr.Name, gwUser, level)
		}
	}

	sec := r.secret(tokensSecret)
	if sec == nil {
		t.Fatal("tokens Secret not rendered")
	}
	if len(sec.Data) != 1 || len(sec.StringData) != 0 {
		t.Errorf("tokens Secret holds keys other than tokens.yaml")
	}
	var tokens struct {
		Tokens []tokenEntry `json:"tokens"`
	}
	if err := yaml.UnmarshalStrict(sec.Data["tokens.yaml"], &tokens); err != nil {
		t.Fatalf("tokens.yaml: %v", err)
	}
	if len(tokens.Tokens) == 0 {
		t.Error("the tokens example holds no entry")
	}
	for _, tok := range tokens.Tokens {
		if b, err := hex.DecodeString(tok.SHA256); err != nil || len(b) != 32 || strings.ToLower(tok.SHA256) != tok.SHA256 {
			t.Errorf("token entry for %s: %q is not a lower-case hex SHA-256", tok.User, tok.SHA256)
		}
		if _, ok := p.Users[tok.User]; !ok {
			t.Errorf("token entry for %s: no such user in the policy", tok.User)
		}
	}
}

func TestPrometheusOperatorObjects(t *testing.T) {
	r := render(t, overlayDir("prometheus-operator"))
	checkServiceMonitor(t, r, "http")
	pr := only[monitoringv1.PrometheusRule](t, r)
	alerts := map[string]monitoringv1.Rule{}
	for _, g := range pr.Spec.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("rule group %q is unnamed or empty", g.Name)
		}
		for _, rule := range g.Rules {
			if (rule.Alert == "") == (rule.Record == "") {
				t.Errorf("rule %q/%q: exactly one of alert and record", rule.Alert, rule.Record)
			}
			if strings.TrimSpace(rule.Expr.String()) == "" {
				t.Errorf("rule %s: empty expr", rule.Alert)
			}
			if rule.For != nil {
				if _, err := time.ParseDuration(string(*rule.For)); err != nil {
					t.Errorf("rule %s: for %q: %v", rule.Alert, *rule.For, err)
				}
			}
			if rule.Alert != "" {
				if !slices.Contains([]string{"critical", "warning", "info"}, rule.Labels["severity"]) {
					t.Errorf("rule %s: severity %q", rule.Alert, rule.Labels["severity"])
				}
				if rule.Annotations["summary"] == "" || rule.Annotations["description"] == "" {
					t.Errorf("rule %s: needs a summary and a description", rule.Alert)
				}
				alerts[rule.Alert] = rule
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("PrometheusRule has no alert")
	}

	// deploy/prometheus/rules.yaml, once it exists, is the reference: each of its alerts must be in
	// the PrometheusRule with the same expression, duration, labels and annotations.
	data, err := os.ReadFile(filepath.Join("prometheus", "rules.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		t.Log("deploy/prometheus/rules.yaml does not exist: the PrometheusRule's own alerts are checked alone")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &ref); err != nil {
		t.Fatalf("deploy/prometheus/rules.yaml: %v", err)
	}
	for _, g := range ref.Groups {
		for _, want := range g.Rules {
			if want.Alert == "" {
				continue
			}
			got, ok := alerts[want.Alert]
			if !ok {
				t.Errorf("alert %s of deploy/prometheus/rules.yaml is missing from the PrometheusRule", want.Alert)
				continue
			}
			gotFor := ""
			if got.For != nil {
				gotFor = string(*got.For)
			}
			if strings.TrimSpace(got.Expr.String()) != strings.TrimSpace(want.Expr) || gotFor != want.For {
				t.Errorf("alert %s differs from deploy/prometheus/rules.yaml", want.Alert)
			}
			if !maps.Equal(got.Labels, want.Labels) || !maps.Equal(got.Annotations, want.Annotations) {
				t.Errorf("alert %s: labels or annotations differ from deploy/prometheus/rules.yaml", want.Alert)
			}
		}
	}
}

// checkServiceMonitor asserts that the one ServiceMonitor scrapes /metrics of the rendered Service on
// the API port with the scheme given, and passes the operator's own validation of its HTTP settings.
func checkServiceMonitor(t *testing.T, r *rendering, scheme string) *monitoringv1.ServiceMonitor {
	t.Helper()
	sm := only[monitoringv1.ServiceMonitor](t, r)
	svc := only[corev1.Service](t, r)
	if !matches(sm.Spec.Selector.MatchLabels, svc.Labels) || len(sm.Spec.Selector.MatchExpressions) != 0 {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if sm.Namespace != svc.Namespace {
		t.Errorf("ServiceMonitor in %q, Service in %q", sm.Namespace, svc.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d ServiceMonitor endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("ServiceMonitor port %q is not a Service port", ep.Port)
	}
	if ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor path %q", ep.Path)
	}
	if ep.Scheme == nil || ep.Scheme.String() != scheme {
		t.Errorf("ServiceMonitor scheme %v, want %s", ep.Scheme, scheme)
	}
	interval, err1 := time.ParseDuration(string(ep.Interval))
	timeout, err2 := time.ParseDuration(string(ep.ScrapeTimeout))
	if err1 != nil || err2 != nil || timeout <= 0 || timeout >= interval {
		t.Errorf("ServiceMonitor interval %q, scrapeTimeout %q", ep.Interval, ep.ScrapeTimeout)
	}
	if err := ep.HTTPConfigWithProxyAndTLSFiles.Validate(); err != nil {
		t.Errorf("ServiceMonitor endpoint: %v", err)
	}
	return sm
}

// TestComponentsCompose renders what deploy/README.md tells operators of the hostsocket overlay to
// write for monitoring: the overlay plus both Prometheus Operator components.
func TestComponentsCompose(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join("kubernetes", p))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(dir, a)
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: nmigw\nresources:\n  - " +
		abs("overlays/hostsocket") + "\ncomponents:\n  - " + abs("components/prometheus-operator") +
		"\n  - " + abs("components/prometheus-operator-tls") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	r := render(t, dir)
	sm := checkServiceMonitor(t, r, "https")
	svc := only[corev1.Service](t, r)
	tls := sm.Spec.Endpoints[0].TLSConfig
	if tls == nil || tls.ServerName == nil || *tls.ServerName != svc.Name+"."+svc.Namespace+".svc" {
		t.Fatalf("ServiceMonitor TLS config %+v does not name the Service", tls)
	}
	if s := tls.CA.Secret; s == nil || !slices.Contains(userSecrets, s.Name) || s.Key != "ca.crt" {
		t.Errorf("ServiceMonitor CA %+v, want ca.crt of the TLS Secret", tls.CA)
	}
	if len(all[monitoringv1.PrometheusRule](r)) != 1 || container(&only[appsv1.Deployment](t, r).Spec.Template.Spec, "iked-sim") != nil {
		t.Error("the composition lost the PrometheusRule or gained iked-sim")
	}
}

func intstrName(name string) intstr.IntOrString { return intstr.FromString(name) }

// optInt prints an optional integer field.
func optInt(p *int64) string {
	if p == nil {
		return "unset"
	}
	return strconv.FormatInt(*p, 10)
}

// checkRemote: the remote overlay runs the gateway alone, reaching IKED at an ssh:// endpoint with its
// key and known_hosts from the Secret nmigw-ssh, and mounts nothing of the node.
func checkRemote(t *testing.T, r *rendering, spec *corev1.PodSpec, gw *corev1.Container, settings map[string]string) {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want the gateway only", len(spec.Containers))
	}
	if u := settings["nmi"]; !strings.HasPrefix(u, "ssh://") || !strings.HasSuffix(u, "/var/sock/ipsecmgmt") || !strings.Contains(u, "@") {
		t.Errorf("--nmi %q is not ssh://USER@HOST/var/sock/ipsecmgmt", u)
	}
	if settings["nmi-socket"] != "" {
		t.Errorf("--nmi-socket %q set beside --nmi", settings["nmi-socket"])
	}
	wantFile(t, r, spec, gw, settings["ssh-key"], "Secret nmigw-ssh", "id")
	wantFile(t, r, spec, gw, settings["ssh-known-hosts"], "Secret nmigw-ssh", "known_hosts")
	for _, v := range spec.Volumes {
		if v.HostPath != nil || v.EmptyDir != nil && v.Name == "sock" {
			t.Errorf("volume %s: the remote overlay needs no socket volume", v.Name)
		}
		if v.Secret != nil && v.Secret.SecretName == "nmigw-ssh" && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("volume %s: the SSH key is readable by others", v.Name)
		}
	}
	if spec.NodeSelector != nil {
		t.Errorf("node selector %v: the remote overlay runs on any node", spec.NodeSelector)
	}
}

// ikedClients is the number of clients IKED serves at once; otherClients is the room the shipped
// configuration leaves for other tools of the same IKED (OMEGAMON, the ipsec command, ...).
const (
	ikedClients  = 50
	otherClients = 10
)

// TestConnectionBudget: every pod of a Deployment holds up to its pool size of NMI connections, so
// the pods that can run at once, the replicas plus the rolling update's surge, times the pool size
// must fit in IKED's 50 clients with room for other tools, where the pods share one IKED (every
// overlay but sim, whose pods each have their own simulator). The overlay meant for scaling out,
// remote, runs two replicas, and the PodDisruptionBudget always keeps one of them.
func TestConnectionBudget(t *testing.T) {
	eachOverlay(t, func(t *testing.T, o string, r *rendering, d *appsv1.Deployment) {
		_, gw := podAndGateway(t, d)
		settings := gatewaySettings(t, r, gw)
		pool, err := strconv.Atoi(settings["pool-size"])
		if err != nil || pool < 1 || pool > ikedClients {
			t.Fatalf("pool size %q: want an explicit 1-%d (NMIGW_POOL_SIZE)", settings["pool-size"], ikedClients)
		}
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		surge := 0
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
			surge, err = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, replicas, true)
			if err != nil {
				t.Fatal(err)
			}
		}
		pods := replicas + surge
		shared := container(&d.Spec.Template.Spec, "iked-sim") == nil
		if shared && pods*pool > ikedClients-otherClients {
			t.Errorf("(%d replicas + %d surge) x pool %d = %d NMI clients: more than IKED's %d minus %d for other tools",
				replicas, surge, pool, pods*pool, ikedClients, otherClients)
		}
		if o == "remote" && replicas < 2 {
			t.Errorf("%d replicas: the remote overlay ships two", replicas)
		}
		if replicas < 2 {
			return
		}
		pdb := only[policyv1.PodDisruptionBudget](t, r)
		switch {
		case pdb.Spec.MaxUnavailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, replicas, true)
			if err != nil || n < 1 || n >= replicas {
				t.Errorf("PodDisruptionBudget maxUnavailable %s of %d replicas: want at least one evictable and one kept", pdb.Spec.MaxUnavailable.String(), replicas)
			}
		case pdb.Spec.MinAvailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, replicas, false)
			if err != nil || n < 1 || n >= replicas {
				t.Errorf("PodDisruptionBudget minAvailable %s of %d replicas: want at least one kept and one evictable", pdb.Spec.MinAvailable.String(), replicas)
			}
		}
	})
}
