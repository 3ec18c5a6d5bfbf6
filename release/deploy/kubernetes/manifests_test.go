package kubernetes_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/ociimage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	repo.Cleanup()
	os.Exit(code)
}

// kinds maps apiVersion/kind to a new object of its Kubernetes API type:
// the kinds these manifests may hold.
var kinds = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// decodeStrict decodes one YAML document into its API type; an unknown or
// misspelt field, a duplicate key or an unknown kind is an error.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("unexpected kind %s/%s", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// documents splits a YAML stream on "---" lines.
func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(d, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// manifests are the decoded objects of every *.yaml file here.
type manifests struct {
	config     *corev1.ConfigMap
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
}

func load(t *testing.T) manifests {
	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var m manifests
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range documents(data) {
			obj, err := decodeStrict(doc)
			require.NoError(t, err, f)
			kind := fmt.Sprintf("%T", obj)
			require.NotContains(t, seen, kind, "%s: a second %s (the first is in %s)", f, kind, seen[kind])
			seen[kind] = f
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				m.config = o
			case *appsv1.Deployment:
				m.deployment = o
			case *corev1.Service:
				m.service = o
			case *policyv1.PodDisruptionBudget:
				m.pdb = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpa = o
			case *networkingv1.NetworkPolicy:
				m.netpol = o
			}
		}
	}
	require.Len(t, seen, len(kinds), "one object of each kind: %v", seen)
	return m
}

func TestStrictDecodingRefusesMistakes(t *testing.T) {
	data, err := os.ReadFile("deployment.yaml")
	require.NoError(t, err)
	for _, tc := range []struct{ name, from, to string }{
		{"misspelt field", "  replicas: 2", "  replica: 2"},
		{"duplicate key", "  replicas: 2", "  replicas: 2\n  replicas: 3"},
		{"wrong type", "  replicas: 2", "  replicas: two"},
		{"unknown kind", "kind: Deployment", "kind: Deploymnet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, string(data), tc.from)
			_, err := decodeStrict([]byte(strings.Replace(string(data), tc.from, tc.to, 1)))
			assert.Error(t, err)
		})
	}
}

func TestSelectorsAndReferencesAgree(t *testing.T) {
	m := load(t)
	d := m.deployment
	pod := d.Spec.Template.Labels
	require.NotEmpty(t, pod)
	sel, err := metav1.LabelSelectorAsMap(d.Spec.Selector)
	require.NoError(t, err)
	assert.Equal(t, pod, sel, "Deployment selector")
	assert.Equal(t, pod, m.service.Spec.Selector, "Service selector")
	assert.Equal(t, pod, m.pdb.Spec.Selector.MatchLabels, "PodDisruptionBudget selector")
	assert.Equal(t, pod, m.netpol.Spec.PodSelector.MatchLabels, "NetworkPolicy pod selector")
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		assert.Equal(t, pod, c.LabelSelector.MatchLabels, "topology spread selector")
	}

	ref := m.hpa.Spec.ScaleTargetRef
	assert.Equal(t, autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name}, ref)
	require.NotNil(t, m.hpa.Spec.MinReplicas)
	assert.GreaterOrEqual(t, *m.hpa.Spec.MinReplicas, int32(2), "the PDB's minAvailable 1 needs two replicas to allow a drain")
	assert.Equal(t, intstr.FromInt32(1), *m.pdb.Spec.MinAvailable)

	c := container(t, m)
	require.Len(t, c.Ports, 1)
	assert.Equal(t, int32(ociimage.Port), c.Ports[0].ContainerPort, "the image's port")
	require.Len(t, m.service.Spec.Ports, 1)
	assert.Equal(t, intstr.FromString(c.Ports[0].Name), m.service.Spec.Ports[0].TargetPort)
	require.Len(t, m.netpol.Spec.Ingress, 1)
	assert.Equal(t, intstr.FromString(c.Ports[0].Name), *m.netpol.Spec.Ingress[0].Ports[0].Port)

	var egress []int32
	for _, rule := range m.netpol.Spec.Egress {
		for _, p := range rule.Ports {
			egress = append(egress, p.Port.IntVal)
		}
	}
	assert.ElementsMatch(t, []int32{53, 53, 443}, egress, "DNS and HTTPS out, nothing else")
}

func container(t *testing.T, m manifests) corev1.Container {
	cs := m.deployment.Spec.Template.Spec.Containers
	require.Len(t, cs, 1)
	return cs[0]
}

func TestPodIsLockedDown(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	psc := spec.SecurityContext
	require.NotNil(t, psc)
	assert.Equal(t, ptr(true), psc.RunAsNonRoot)
	assert.Equal(t, ptr(int64(ociimage.UID)), psc.RunAsUser, "the image's user")
	assert.Equal(t, ptr(int64(ociimage.GID)), psc.RunAsGroup)
	require.NotNil(t, psc.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)
	assert.Equal(t, ptr(false), spec.AutomountServiceAccountToken)

	c := container(t, m)
	sc := c.SecurityContext
	require.NotNil(t, sc)
	assert.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem)
	assert.Equal(t, ptr(false), sc.AllowPrivilegeEscalation)
	assert.Equal(t, ptr(false), sc.Privileged)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add)
	assert.Empty(t, c.Command, "the image's entrypoint (the shim) runs")
}

func TestVolumesMatchTheImage(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range container(t, m).VolumeMounts {
		mounts[vm.MountPath] = vm
		require.Contains(t, volumes, vm.Name, "mount of an undeclared volume")
	}

	state, ok := mounts[ociimage.StateDir]
	require.True(t, ok, "the state dir %s is mounted", ociimage.StateDir)
	assert.NotNil(t, volumes[state.Name].EmptyDir, "the state is an emptyDir")
	assert.False(t, state.ReadOnly)
	tmp, ok := mounts["/tmp"]
	require.True(t, ok, "/tmp is writable despite the read-only root")
	assert.NotNil(t, volumes[tmp.Name].EmptyDir)

	cfgMount, ok := mounts[path.Dir(ociimage.ConfigPath)]
	require.True(t, ok, "the config replaces the image's %s", ociimage.ConfigPath)
	assert.True(t, cfgMount.ReadOnly)
	src := volumes[cfgMount.Name].ConfigMap
	require.NotNil(t, src)
	assert.Equal(t, m.config.Name, src.Name)
	require.Len(t, src.Items, 1)
	assert.Equal(t, path.Base(ociimage.ConfigPath), src.Items[0].Path)

	data, ok := m.config.Data[src.Items[0].Key]
	require.True(t, ok, "the ConfigMap has %s", src.Items[0].Key)
	var cfg struct {
		StateDir              string `json:"state_dir"`
		OperatorTokenForCalls *bool  `json:"operator_token_for_calls"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &cfg))
	// Kubernetes makes an emptyDir root-owned and world-writable, which the
	// CPI refuses as a state dir: it creates its own inside.
	assert.Equal(t, ociimage.StateDir, path.Dir(cfg.StateDir), "the state dir is inside the mounted emptyDir")
	assert.Contains(t, container(t, m).Args, "--cpi-metrics-dir="+cfg.StateDir, "the shim serves the budget the CPI leaves there")
	require.NotNil(t, cfg.OperatorTokenForCalls)
	assert.False(t, *cfg.OperatorTokenForCalls, "a request without a token never uses an operator's")

	// The CPI validates its config when it answers info.
	bin := repo.BinDir(t)
	cfgFile := filepath.Join(t.TempDir(), "cpi.json")
	require.NoError(t, os.WriteFile(cfgFile, []byte(data), 0o600))
	cmd := exec.Command(filepath.Join(bin, "nanobox-hcloud-cpi"), "-configPath", cfgFile)
	cmd.Stdin = strings.NewReader(`{"method":"info","arguments":[],"context":{},"api_version":1}`)
	out, err := cmd.Output()
	require.NoError(t, err)
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out, &resp), "%s", out)
	assert.Equal(t, "null", string(resp.Error), "the CPI refuses the ConfigMap's config: %s", out)
}

// TestProbesUseTheShimsHealthEndpoints holds the probes to the shim's
// liveness and readiness endpoints (separate: a busy shim is alive, only
// not ready), with timeouts above the shim's own health-check bound, and
// runs the shim with the container's arguments: every flag exists, and
// both probe paths answer 200.
func TestProbesUseTheShimsHealthEndpoints(t *testing.T) {
	m := load(t)
	c := container(t, m)
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.StartupProbe)
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		require.NotNil(t, p.HTTPGet, name)
		assert.Equal(t, intstr.FromString(c.Ports[0].Name), p.HTTPGet.Port, name)
		assert.Greater(t, time.Duration(p.TimeoutSeconds)*time.Second, shimHealthTimeout, "%s probe timeout", name)
	}
	assert.Equal(t, livenessPath, c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, livenessPath, c.StartupProbe.HTTPGet.Path)
	assert.Equal(t, readinessPath, c.ReadinessProbe.HTTPGet.Path)

	// The pod gets time to drain: the preStop pause, then the shim's grace.
	var grace time.Duration
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--shutdown-grace="); ok {
			var err error
			grace, err = time.ParseDuration(v)
			require.NoError(t, err)
		}
	}
	require.NotZero(t, grace, "--shutdown-grace is set")
	require.NotNil(t, c.Lifecycle.PreStop.Sleep)
	total := grace + time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second
	assert.Greater(t, time.Duration(*m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds)*time.Second, total)

	bin := repo.BinDir(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"state_dir": "`+dir+`", "operator_token_for_calls": false}`), 0o600))
	args := append(slices.Clone(c.Args), "--listen=127.0.0.1:0", "--cpi="+filepath.Join(bin, "nanobox-hcloud-cpi"), "--cpi-config="+cfg)
	url := repo.StartShim(t, filepath.Join(bin, "nanobox-cpi-shim"), args, []string{"PATH=/usr/bin:/bin", "TMPDIR=" + dir})
	for _, p := range []string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path} {
		resp, err := http.Get(url + p)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", p, body)
	}
}

func ptr[T any](v T) *T { return &v }

// The shim's health endpoints and the bound of its health check
// (protocol/shim: LivenessPath, ReadinessPath, DefaultHealthTimeout). The
// probe test runs the shim, so a path that changed there fails here.
const (
	livenessPath      = "/livez"
	readinessPath     = "/readyz"
	shimHealthTimeout = 10 * time.Second
)
