package deploy_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// overlays are the directories under kubernetes/overlays that users apply; every one is rendered.
var overlays = []string{"sim", "hostsocket", "remote", "prometheus-operator"}

// namespace is where every overlay puts nmigw.
const namespace = "nmigw"

// newObject maps apiVersion and kind to the Go type an object must decode into. A kind missing here
// fails the test: every object the overlays produce is checked against its schema.
var newObject = map[string]func() any{
	"v1/Namespace":                            func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                       func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                            func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                               func() any { return new(corev1.Secret) },
	"v1/Service":                              func() any { return new(corev1.Service) },
	"apps/v1/Deployment":                      func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":           func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return new(networkingv1.NetworkPolicy) },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return new(monitoringv1.ServiceMonitor) },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return new(monitoringv1.PrometheusRule) },
}

// rendering is the output of one kustomization, every object decoded into its Go type.
type rendering struct {
	dir     string
	objects []any
}

// render builds the kustomization in dir (relative to the deploy module, or absolute) from the real
// file system and decodes every object strictly: unknown or duplicate fields are errors.
func render(t *testing.T, dir string) *rendering {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendering{dir: dir}
	for _, res := range m.Resources() {
		gvk := res.GetGvk()
		key := gvk.Kind
		if gvk.Version != "" {
			key = gvk.Version + "/" + key
		}
		if gvk.Group != "" {
			key = gvk.Group + "/" + key
		}
		mk, ok := newObject[key]
		if !ok {
			t.Errorf("%s: %s %s: no Go type known for this kind", dir, key, res.GetName())
			continue
		}
		data, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s %s: %v", dir, key, res.GetName(), err)
		}
		obj := mk()
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v", dir, key, res.GetName(), err)
			continue
		}
		r.objects = append(r.objects, obj)
	}
	return r
}

// all returns the rendered objects of type T.
func all[T any](r *rendering) []*T {
	var out []*T
	for _, o := range r.objects {
		if v, ok := o.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// only returns the one rendered object of type T and fails the test if there is not exactly one.
func only[T any](t *testing.T, r *rendering) *T {
	t.Helper()
	objs := all[T](r)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("%s: %d objects of type %T, want 1", r.dir, len(objs), &zero)
	}
	return objs[0]
}

// configMap returns the rendered ConfigMap with that (generated) name, or nil.
func (r *rendering) configMap(name string) *corev1.ConfigMap {
	for _, c := range all[corev1.ConfigMap](r) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// secret returns the rendered Secret with that (generated) name, or nil.
func (r *rendering) secret(name string) *corev1.Secret {
	for _, s := range all[corev1.Secret](r) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// overlayDir is the path of an overlay from the deploy module.
func overlayDir(name string) string { return filepath.Join("kubernetes", "overlays", name) }

// container returns the named container of the pod, or nil.
func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

// volume returns the named volume of the pod, or nil.
func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// Command-line flags of the two programs (coordination plan: "Shared names"), with the boolean ones
// that take no separate value.
var (
	gatewayFlags = []string{"listen", "nmi", "nmi-socket", "nmi-capture", "ssh-key", "ssh-key-passphrase-file",
		"ssh-known-hosts", "nmi-tls-ca", "nmi-tls-cert", "nmi-tls-key", "sim", "policy", "config", "pool-size", "tls-cert",
		"tls-key", "tls-client-ca", "cors-origins", "log-level", "audit-log", "exporter",
		"exporter-tunnels", "exporter-top-n", "exporter-max-series", "exporter-timeout", "exporter-max-age"}
	simFlags  = []string{"socket", "data", "generate", "policy", "init-delay", "system", "socket-mode"}
	boolFlags = []string{"sim", "exporter"}
)

// parseArgs turns "--name value", "--name=value" and "-name" arguments into a map. It fails on
// positional arguments and on flags that the program does not have.
func parseArgs(args, known []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("argument %q is not a flag", a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown flag %q", a)
		}
		if !hasValue {
			if slices.Contains(boolFlags, name) {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag %q has no value", a)
				}
				i++
				value = args[i]
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("flag %q given twice", a)
		}
		out[name] = value
	}
	return out, nil
}

// envName is the environment variable that sets a gateway flag: NMIGW_<UPPER_SNAKE>.
func envName(flag string) string {
	return "NMIGW_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// gatewaySettings is the gateway's effective configuration: NMIGW_* variables from its ConfigMaps and
// env, overridden by its arguments. Variables that name no flag are errors.
func gatewaySettings(t *testing.T, r *rendering, c *corev1.Container) map[string]string {
	t.Helper()
	byEnv := map[string]string{}
	for _, f := range gatewayFlags {
		byEnv[envName(f)] = f
	}
	settings := map[string]string{}
	set := func(origin, name, value string) {
		if !strings.HasPrefix(name, "NMIGW_") {
			return
		}
		flag, ok := byEnv[name]
		if !ok {
			t.Errorf("%s: %s: %s names no gateway flag", r.dir, origin, name)
			return
		}
		settings[flag] = value
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := r.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s: envFrom ConfigMap %s is not rendered", r.dir, ef.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				set("ConfigMap "+cm.Name, ef.Prefix+k, v)
			}
		default:
			t.Errorf("%s: container %s: envFrom other than a ConfigMap", r.dir, c.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && strings.HasPrefix(e.Name, "NMIGW_") {
			t.Errorf("%s: %s comes from valueFrom; want a literal or a ConfigMap", r.dir, e.Name)
			continue
		}
		set("env", e.Name, e.Value)
	}
	args, err := parseArgs(c.Args, gatewayFlags)
	if err != nil {
		t.Fatalf("%s: gateway args: %v", r.dir, err)
	}
	for k, v := range args {
		settings[k] = v
	}
	return settings
}

// portNumber resolves a probe or Service target port (a number or a name) against the container's
// ports; 0 when the container declares no such port.
func portNumber(c *corev1.Container, p intstr.IntOrString) int32 {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

// matches reports whether the labels carry every pair of the selector (and the selector has some).
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// mountFor returns the container's mount whose path holds the file path, the deepest one.
func mountFor(c *corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if strings.HasPrefix(path, dir) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	return best
}

// volumeSource is one ConfigMap or Secret that a volume takes files from.
type volumeSource struct {
	kind, name string // "ConfigMap" or "Secret", and its name
	optional   *bool
	items      []corev1.KeyToPath
}

// volumeSources lists the ConfigMaps and Secrets of a ConfigMap, Secret or projected volume.
func volumeSources(v *corev1.Volume) []volumeSource {
	var out []volumeSource
	switch {
	case v == nil:
	case v.ConfigMap != nil:
		out = append(out, volumeSource{"ConfigMap", v.ConfigMap.Name, v.ConfigMap.Optional, v.ConfigMap.Items})
	case v.Secret != nil:
		out = append(out, volumeSource{"Secret", v.Secret.SecretName, v.Secret.Optional, v.Secret.Items})
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				out = append(out, volumeSource{"ConfigMap", s.ConfigMap.Name, s.ConfigMap.Optional, s.ConfigMap.Items})
			}
			if s.Secret != nil {
				out = append(out, volumeSource{"Secret", s.Secret.Name, s.Secret.Optional, s.Secret.Items})
			}
		}
	}
	return out
}

// volumeFiles lists the files a ConfigMap, Secret or projected volume puts in its mount, each with the
// object and key it comes from ("ConfigMap nmigw-policy-xyz policy.yaml").
func volumeFiles(v *corev1.Volume) map[string]string {
	files := map[string]string{}
	for _, src := range volumeSources(v) {
		for _, it := range src.items {
			files[it.Path] = src.kind + " " + src.name + " " + it.Key
		}
	}
	return files
}
