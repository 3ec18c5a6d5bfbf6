package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// loadRenderedConfig renders the CPI job with props and parses its
// config/cpi.json with the CPI's own loader.
func loadRenderedConfig(t *testing.T, props map[string]any) (*config.Config, string, error) {
	t.Helper()
	out := t.TempDir()
	mustRenderJob(t, cpiJob, props, out)
	data, err := os.ReadFile(filepath.Join(out, "config", "cpi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("rendered cpi.json is not JSON:\n%s", data)
	}
	c, err := config.Parse(data)
	return c, string(data), err
}

func TestCPIConfigDefaultsAreTheLoaders(t *testing.T) {
	c, _, err := loadRenderedConfig(t, nil)
	if err != nil {
		t.Fatalf("the CPI's loader rejects the spec defaults: %v", err)
	}
	// The release only adds a state dir, because on a VM the shim passes the
	// CPI no HOME to derive one from.
	want := config.Default()
	want.StateDir = "/var/vcap/data/nanobox-hcloud-cpi"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("rendered defaults differ from the loader's:\n got %+v\nwant %+v", c, want)
	}
}

func TestCPIConfigCarriesEveryProperty(t *testing.T) {
	props := map[string]any{"nanobox_hcloud": map[string]any{
		"token":                    `tok"en\with-quotes`,
		"operator_token_for_calls": false,
		"endpoint":                 "http://127.0.0.1:8081/v1",
		"image":                    "debian-12",
		"images":                   []string{"debian-12", "ubuntu-24.04"},
		"network":                  map[string]any{"mode": "none", "name": "other", "ip_range": "10.1.0.0/16"},
		"labels":                   map[string]string{"team": "platform"},
		"allow_foreign":            true,
		"defaults":                 map[string]any{"region": "hel1", "size": "cpx31"},
		"catalog": map[string]any{"cache_dir": "/var/vcap/data/catalog", "ttl_seconds": 60,
			"eur_to_usd": 1.2, "price_basis": "net"},
		"timeouts":                  map[string]any{"call_seconds": 30, "poll_interval_ms": 250, "lock_wait_seconds": 20, "shutdown_seconds": 30, "orphan_seconds": 1200},
		"polling":                   map[string]any{"coalesce": false, "window_ms": 2000, "reserve_percent": 20, "low_budget_window_ms": 30000},
		"bootstrap_script":          "https://example.com/bootstrap.sh",
		"bootstrap_timeout_seconds": 1200,
		"state_dir":                 "/var/vcap/store/nanobox",
	},
		"agent":     map[string]any{"mbus": "https://mbus:pw@0.0.0.0:6868"},
		"ntp":       []string{"ntp1.hetzner.de"},
		"blobstore": map[string]any{"provider": "dav", "options": map[string]any{"endpoint": "http://10.0.0.6:25250", "user": "agent"}},
	}
	c, _, err := loadRenderedConfig(t, props)
	if err != nil {
		t.Fatalf("the CPI's loader rejects the rendered config: %v", err)
	}
	f := false
	want := &config.Config{
		Token:                 `tok"en\with-quotes`,
		OperatorTokenForCalls: &f,
		Endpoint:              "http://127.0.0.1:8081/v1",
		Image:                 "debian-12",
		Images:                []string{"debian-12", "ubuntu-24.04"},
		Network:               config.Network{Mode: "none", Name: "other", IPRange: "10.1.0.0/16"},
		Labels:                map[string]string{"team": "platform"},
		AllowForeign:          true,
		Defaults:              config.Defaults{Region: "hel1", Size: "cpx31"},
		Catalog:               config.Catalog{CacheDir: "/var/vcap/data/catalog", TTLSeconds: 60, EURToUSD: 1.2, PriceBasis: "net"},
		Timeouts:              config.Timeouts{CallSeconds: 30, PollIntervalMS: 250, LockWaitSeconds: 20, ShutdownSeconds: 30, OrphanSeconds: 1200},
		Polling:               config.Polling{Coalesce: &f, WindowMS: 2000, ReservePercent: 20, LowBudgetWindowMS: 30000},
		BootstrapScript:       "https://example.com/bootstrap.sh",
		BootstrapTimeout:      1200,
		StateDir:              "/var/vcap/store/nanobox",
		Agent: config.Agent{Mbus: "https://mbus:pw@0.0.0.0:6868", NTP: []string{"ntp1.hetzner.de"},
			Blobstore: config.Blobstore{Provider: "dav", Options: map[string]any{"endpoint": "http://10.0.0.6:25250", "user": "agent"}}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("rendered config:\n got %+v\nwant %+v", c, want)
	}
}

// Bad property values render (the template only serializes) and the CPI's
// loader, the one place that validates, names the field.
func TestCPIConfigBadPropertiesAreRejectedByTheLoader(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]any
		field string
	}{
		{"network mode", map[string]any{"network": map[string]any{"mode": "bogus"}}, "network.mode"},
		{"reserved label", map[string]any{"labels": map[string]string{"managed-by": "me"}}, "labels"},
		{"image not offered", map[string]any{"image": "arch"}, "image"},
		{"relative state dir", map[string]any{"state_dir": "data"}, "state_dir"},
		{"call timeout", map[string]any{"timeouts": map[string]any{"call_seconds": 601}}, "timeouts.call_seconds"},
		{"price basis", map[string]any{"catalog": map[string]any{"price_basis": "list"}}, "catalog.price_basis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := loadRenderedConfig(t, map[string]any{"nanobox_hcloud": tc.props})
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

// The BOSH agent properties are top-level job properties (as other CPIs
// name them); the loader judges them like the rest.
func TestCPIConfigBadAgentPropertiesAreRejectedByTheLoader(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]any
		field string
	}{
		{"mbus not https or nats", map[string]any{"agent": map[string]any{"mbus": "ftp://x"}}, "agent.mbus"},
		{"blobstore options without a provider", map[string]any{"blobstore": map[string]any{"options": map[string]any{"a": "b"}}}, "agent.blobstore"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := loadRenderedConfig(t, tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

func TestShimTemplatesRejectBadProperties(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"port zero", map[string]any{"listen": map[string]any{"port": 0}}, "listen.port"},
		{"port text", map[string]any{"listen": map[string]any{"port": "8080"}}, "listen.port"},
		{"empty address", map[string]any{"listen": map[string]any{"address": ""}}, "listen.address"},
		{"base path", map[string]any{"base_path": "api"}, "base_path"},
		{"timeout", map[string]any{"timeout": "60"}, "timeout"},
		{"grace", map[string]any{"shutdown_grace": "soon"}, "shutdown_grace"},
		{"max body", map[string]any{"max_body_bytes": -1}, "max_body_bytes"},
		{"max concurrent", map[string]any{"max_concurrent": -2}, "max_concurrent"},
		{"log format", map[string]any{"log_format": "xml"}, "log_format"},
		{"log level", map[string]any{"log_level": "loud"}, "log_level"},
		{"cpi job", map[string]any{"cpi_job": "../etc"}, "cpi_job"},
		{"cert without key", map[string]any{"tls": map[string]any{"certificate": "PEM"}}, "set both or neither"},
		{"key without cert", map[string]any{"tls": map[string]any{"private_key": "PEM"}}, "set both or neither"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := renderJob(t, shimJob, map[string]any{"nanobox_cpi_shim": tc.props}, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestShimCommandLine(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]any
		want  []string
		not   []string
	}{
		{"defaults", nil,
			[]string{"--listen '0.0.0.0:8080'", `--cpi "$cpi"`, "--base-path '/'", "--timeout '60s'",
				"--max-body 65536", "--shutdown-grace '25s'", "--log-format text", "--log-level info",
				"cpi=$jobs_dir/nanobox-hcloud-cpi/bin/cpi", "stop_wait_seconds=30"},
			[]string{"--max-concurrent", "--tls-cert"}},
		{"ipv6, tls, limits", map[string]any{
			"listen": map[string]any{"address": "::", "port": 8443}, "max_concurrent": 8,
			"tls": map[string]any{"certificate": "C", "private_key": "K"}, "base_path": "/hcloud",
			"shutdown_grace": "1m30s"},
			[]string{"--listen '[::]:8443'", "--max-concurrent 8", "--base-path '/hcloud'",
				`--tls-cert "$jobs_dir/$job/config/tls.crt"`, `--tls-key "$jobs_dir/$job/config/tls.key"`,
				"stop_wait_seconds=95"},
			nil},
		{"quotes stay one word", map[string]any{"base_path": "/it's"},
			[]string{`--base-path '/it'\''s'`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			mustRenderJob(t, shimJob, map[string]any{"nanobox_cpi_shim": tc.props}, out)
			ctl := readFile(t, filepath.Join(out, "bin", "ctl"))
			for _, w := range tc.want {
				if !strings.Contains(ctl, w) {
					t.Errorf("bin/ctl lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(ctl, n) {
					t.Errorf("bin/ctl has %q", n)
				}
			}
		})
	}
}

// installCPIJob renders the CPI job into root's jobs dir.
func installCPIJob(t *testing.T, root *vcapRoot, props map[string]any) {
	t.Helper()
	mustRenderJob(t, cpiJob, props, root.jobDir(cpiJob))
}

// fakeCPI is a stand-in binary that shows what the wrapper hands it: its
// arguments and stdin on stdout, a marker on stderr, and exit status 7.
const fakeCPI = `#!/bin/sh
printf 'args: %s\n' "$*"
cat
echo "fake-cpi-stderr-line" >&2
exit 7
`

func TestCPIWrapperPlumbing(t *testing.T) {
	for _, logDirExists := range []bool{true, false} {
		name := map[bool]string{true: "log dir exists", false: "no log dir"}[logDirExists]
		t.Run(name, func(t *testing.T) {
			root := newVcapRoot(t)
			fake := filepath.Join(t.TempDir(), "fake-cpi")
			if err := os.WriteFile(fake, []byte(fakeCPI), 0o755); err != nil {
				t.Fatal(err)
			}
			root.installBinary(t, fake, cpiBinary)
			installCPIJob(t, root, nil)
			logDir := filepath.Join(root.sys(), "log", cpiJob)
			if logDirExists {
				if err := os.MkdirAll(logDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}

			cmd := exec.Command(filepath.Join(root.jobDir(cpiJob), "bin", "cpi"))
			cmd.Env = root.env()
			cmd.Stdin = strings.NewReader(`{"method":"info"}` + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 7 {
				t.Fatalf("exit: %v, want the binary's status 7", err)
			}
			wantOut := "args: -configPath " + filepath.Join(root.jobDir(cpiJob), "config", "cpi.json") +
				"\n" + `{"method":"info"}` + "\n"
			if stdout.String() != wantOut {
				t.Errorf("stdout %q, want %q (arguments, then stdin passed through)", stdout.String(), wantOut)
			}
			logged := readFile(t, filepath.Join(logDir, "cpi.stderr.log"))
			if logDirExists {
				if stderr.Len() != 0 || logged != "fake-cpi-stderr-line\n" {
					t.Errorf("stderr %q, log %q: want stderr appended to the log", stderr.String(), logged)
				}
			} else if stderr.String() != "fake-cpi-stderr-line\n" {
				t.Errorf("stderr %q, want the binary's stderr passed through", stderr.String())
			}
		})
	}
}

func TestCPIWrapperAnswersMeta(t *testing.T) {
	const token = "canary-token-Zq8vX2"
	root := newVcapRoot(t)
	root.installBinary(t, binaryPath(t, cpiBinary), cpiBinary)
	installCPIJob(t, root, map[string]any{"nanobox_hcloud": map[string]any{
		"token":     token,
		"endpoint":  "http://127.0.0.1:9/v1", // nothing listens: meta must not need the API
		"defaults":  map[string]any{"region": "hel1", "size": "cpx21"},
		"state_dir": root.data(),
	}})
	logDir := filepath.Join(root.sys(), "log", cpiJob)
	pre := exec.Command(filepath.Join(root.jobDir(cpiJob), "bin", "pre-start"))
	pre.Env = root.env()
	if out, err := pre.CombinedOutput(); err != nil {
		t.Fatalf("bin/pre-start: %v\n%s", err, out)
	}
	if fi, err := os.Stat(logDir); err != nil || !fi.IsDir() {
		t.Fatalf("pre-start did not create %s: %v", logDir, err)
	}

	cmd := exec.Command(filepath.Join(root.jobDir(cpiJob), "bin", "cpi"))
	cmd.Env = root.env()
	cmd.Stdin = strings.NewReader(`{"method":"meta","arguments":[],"context":{"request_id":"release-test"},"api_version":1}`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bin/cpi: %v\nstderr: %s", err, stderr.String())
	}
	var resp struct {
		Result protocol.Meta   `json:"result"`
		Error  *protocol.Error `json:"error"`
		Log    *string         `json:"log"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("stdout is not one JSON response: %v", err)
	}
	if dec.More() {
		t.Errorf("stdout holds more than the response")
	}
	if resp.Error != nil {
		t.Fatalf("meta failed: %+v", resp.Error)
	}
	if resp.Log == nil {
		t.Errorf("response has no log field")
	}
	// The rendered config reached the binary: meta reports its defaults.
	if resp.Result.DefaultRegion != "hel1" || resp.Result.DefaultSize != "cpx21" {
		t.Errorf("meta defaults %q/%q, want hel1/cpx21 from the rendered config",
			resp.Result.DefaultRegion, resp.Result.DefaultSize)
	}
	for name, text := range map[string]string{
		"stdout": stdout.String(), "stderr": stderr.String(),
		"log": readFile(t, filepath.Join(logDir, "cpi.stderr.log")),
	} {
		if strings.Contains(text, token) {
			t.Errorf("the token leaked into %s", name)
		}
	}
}

// manifestVars are the variables the example manifest expects from
// `bosh deploy -v`; every other ((var)) must be declared under variables.
var manifestVars = map[string]string{"hcloud_token": "example-token", "shim_domain": "adapter.example.com"}

var varRef = regexp.MustCompile(`\(\(([A-Za-z0-9_.-]+)\)\)`)

func TestExampleManifest(t *testing.T) {
	path := filepath.Join(releaseDir(t), "manifests", "nanobox-hcloud.yml")
	raw := readFile(t, path)
	var m struct {
		Name     string `yaml:"name"`
		Releases []struct {
			Name string `yaml:"name"`
		} `yaml:"releases"`
		InstanceGroups []struct {
			Name      string   `yaml:"name"`
			Instances int      `yaml:"instances"`
			AZs       []string `yaml:"azs"`
			Jobs      []struct {
				Name       string         `yaml:"name"`
				Release    string         `yaml:"release"`
				Properties map[string]any `yaml:"properties"`
			} `yaml:"jobs"`
		} `yaml:"instance_groups"`
		Variables []struct {
			Name string `yaml:"name"`
		} `yaml:"variables"`
	}
	if err := yaml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("manifest does not parse: %v", err)
	}
	var final struct {
		Name string `yaml:"name"`
	}
	decodeStrictLoose(t, filepath.Join(releaseDir(t), "config", "final.yml"), &final)
	if len(m.Releases) != 1 || m.Releases[0].Name != final.Name {
		t.Errorf("releases %+v, want only %q (config/final.yml)", m.Releases, final.Name)
	}

	declared := map[string]bool{}
	for _, v := range m.Variables {
		declared[v.Name] = true
	}
	for _, ref := range varRef.FindAllStringSubmatch(raw, -1) {
		name := strings.SplitN(ref[1], ".", 2)[0]
		if !declared[name] && manifestVars[name] == "" {
			t.Errorf("((%s)) is neither declared under variables nor documented as a -v", ref[1])
		}
	}

	shimGroups := 0
	for _, ig := range m.InstanceGroups {
		jobs := map[string]map[string]any{}
		for _, j := range ig.Jobs {
			if j.Release != final.Name {
				t.Errorf("%s/%s: release %q", ig.Name, j.Name, j.Release)
			}
			jobs[j.Name] = j.Properties
		}
		shimProps, hasShim := jobs[shimJob]
		if !hasShim {
			continue
		}
		shimGroups++
		if ig.Instances < 2 {
			t.Errorf("%s: %d shim instances, want 2 or more behind the load balancer", ig.Name, ig.Instances)
		}
		cpiProps, hasCPI := jobs[cpiJob]
		if !hasCPI {
			t.Fatalf("%s runs the shim without the CPI job it execs", ig.Name)
		}

		// Render both jobs with the manifest's properties, variables filled in.
		c, _, err := loadRenderedConfig(t, substituteVars(t, cpiProps))
		if err != nil {
			t.Fatalf("the CPI's loader rejects the manifest's properties: %v", err)
		}
		if c.Token != manifestVars["hcloud_token"] {
			t.Errorf("token not carried from the manifest")
		}
		out := t.TempDir()
		mustRenderJob(t, shimJob, substituteVars(t, shimProps), out)
		ctl := readFile(t, filepath.Join(out, "bin", "ctl"))
		for _, want := range []string{"--listen '0.0.0.0:8443'", "--tls-cert", "--max-concurrent 8"} {
			if !strings.Contains(ctl, want) {
				t.Errorf("bin/ctl from the manifest lacks %q", want)
			}
		}
	}
	if shimGroups == 0 {
		t.Fatal("no instance group runs the shim")
	}
}

// substituteVars fills ((var)) placeholders the way the director would, with
// stand-in values.
func substituteVars(t *testing.T, props map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	filled := varRef.ReplaceAllStringFunc(string(data), func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		if v, ok := manifestVars[name]; ok {
			return v
		}
		return "stand-in-for-" + name
	})
	var out map[string]any
	if err := json.Unmarshal([]byte(filled), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeStrictLoose parses YAML into out, ignoring keys out does not name.
func decodeStrictLoose(t testing.TB, path string, out any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(readFile(t, path)), out); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
}
