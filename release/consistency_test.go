package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// jobSpec is a job's spec file.
type jobSpec struct {
	Name        string                  `yaml:"name"`
	Description string                  `yaml:"description"`
	Templates   map[string]string       `yaml:"templates"`
	Packages    []string                `yaml:"packages"`
	Properties  map[string]propertySpec `yaml:"properties"`
	Consumes    []any                   `yaml:"consumes"`
	Provides    []any                   `yaml:"provides"`
}

// propertySpec is one property of a job spec.
type propertySpec struct {
	Description string `yaml:"description"`
	Default     any    `yaml:"default"`
	Example     any    `yaml:"example"`
	Type        string `yaml:"type"`
}

// packageSpec is a package's spec file.
type packageSpec struct {
	Name          string   `yaml:"name"`
	Dependencies  []string `yaml:"dependencies"`
	Files         []string `yaml:"files"`
	ExcludedFiles []string `yaml:"excluded_files"`
}

// providedPackages are dependencies the git tree does not hold: the release
// gets golang-1-linux from `bosh vendor-package` or scripts/vendor-golang
// (TestBuildReleaseAssemblesACompleteRelease checks that it is there).
var providedPackages = map[string]bool{"golang-1-linux": true}

// decodeStrict parses YAML into out, rejecting keys out does not know.
func decodeStrict(t testing.TB, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
}

func listDirs(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func loadJobSpec(t testing.TB, job string) jobSpec {
	t.Helper()
	var spec jobSpec
	decodeStrict(t, filepath.Join(releaseDir(t), "jobs", job, "spec"), &spec)
	return spec
}

func loadPackageSpec(t testing.TB, dir string) packageSpec {
	t.Helper()
	var spec packageSpec
	decodeStrict(t, filepath.Join(dir, "spec"), &spec)
	return spec
}

var (
	// p("name" ...) or p(["a", "b"] ...): the first argument names properties;
	// a second one is a default value, not a name.
	pCall = regexp.MustCompile(`(?:^|[^\w.])p\(\s*(\[[^\]]*\]|"[^"]*"|'[^']*'|[^)\s,]*)`)
	// if_p("a", "b") { ... }: every argument is a name.
	ifPCall  = regexp.MustCompile(`(?:^|[^\w.])if_p\(([^)]*)\)`)
	quoted   = regexp.MustCompile(`"([^"]*)"|'([^']*)'`)
	literals = regexp.MustCompile(`^(\[.*\]|".*"|'.*')$`)
)

// propertyRefs lists the property names a template reads, and any p() whose
// name is computed (which the spec check cannot see).
func propertyRefs(src string) (names []string, dynamic []string) {
	add := func(args string) {
		for _, m := range quoted.FindAllStringSubmatch(args, -1) {
			names = append(names, m[1]+m[2])
		}
	}
	for _, m := range pCall.FindAllStringSubmatch(src, -1) {
		if !literals.MatchString(m[1]) {
			dynamic = append(dynamic, m[0])
			continue
		}
		add(m[1])
	}
	for _, m := range ifPCall.FindAllStringSubmatch(src, -1) {
		add(m[1])
	}
	return names, dynamic
}

// secretName matches the last segment of a property that holds a secret.
var secretName = regexp.MustCompile(`(^|_)(token|password|secret|private_key|key)$`)

func TestJobSpecs(t *testing.T) {
	rel := releaseDir(t)
	jobs := listDirs(t, filepath.Join(rel, "jobs"))
	if want := []string{shimJob, cpiJob}; !equalSets(jobs, want) {
		t.Fatalf("jobs = %v, want %v", jobs, want)
	}
	for _, job := range jobs {
		t.Run(job, func(t *testing.T) {
			spec := loadJobSpec(t, job)
			dir := filepath.Join(rel, "jobs", job)
			if spec.Name != job {
				t.Errorf("spec name %q, directory %q", spec.Name, job)
			}
			if strings.TrimSpace(spec.Description) == "" {
				t.Errorf("the job has no description")
			}
			if _, err := os.Stat(filepath.Join(dir, "monit")); err != nil {
				t.Errorf("no monit file: %v", err)
			}

			// Every template the spec names exists, and every file in
			// templates/ is named (a forgotten one would never render).
			used := map[string]bool{}
			for src, dst := range spec.Templates {
				path := filepath.Join(dir, "templates", src)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("template %s (-> %s): %v", src, dst, err)
					continue
				}
				if strings.HasPrefix(dst, "bin/") {
					assertExecutable(t, path)
				}
				names, dynamic := propertyRefs(string(data))
				for _, d := range dynamic {
					t.Errorf("%s: %q computes a property name; use a literal so the spec can be checked", src, d)
				}
				for _, name := range names {
					used[name] = true
					if _, ok := spec.Properties[name]; !ok {
						t.Errorf("%s uses property %q, which the spec does not declare", src, name)
					}
				}
			}
			monit, _ := os.ReadFile(filepath.Join(dir, "monit"))
			names, _ := propertyRefs(string(monit))
			for _, name := range names {
				used[name] = true
				if _, ok := spec.Properties[name]; !ok {
					t.Errorf("monit uses property %q, which the spec does not declare", name)
				}
			}
			for _, e := range mustReadDir(t, filepath.Join(dir, "templates")) {
				if _, ok := spec.Templates[e]; !ok {
					t.Errorf("templates/%s is not named in the spec", e)
				}
			}

			for name, prop := range spec.Properties {
				if strings.TrimSpace(prop.Description) == "" {
					t.Errorf("property %s has no description", name)
				}
				if !used[name] {
					t.Errorf("property %s is declared but no template uses it", name)
				}
				last := name[strings.LastIndex(name, ".")+1:]
				isSecret := strings.HasPrefix(prop.Description, "Secret.")
				if secretName.MatchString(last) && !isSecret {
					t.Errorf("property %s holds a secret: its description must start with \"Secret.\"", name)
				}
				if isSecret && prop.Default != nil && prop.Default != "" {
					t.Errorf("secret property %s must not have a default value", name)
				}
			}

			// Every package the job names exists.
			if len(spec.Packages) == 0 {
				t.Errorf("the job names no package")
			}
			for _, pkg := range spec.Packages {
				if _, err := os.Stat(filepath.Join(rel, "packages", pkg, "spec")); err != nil {
					t.Errorf("package %s: %v", pkg, err)
				}
			}
		})
	}
}

func TestPackageSpecs(t *testing.T) {
	rel := releaseDir(t)
	for _, pkg := range listDirs(t, filepath.Join(rel, "packages")) {
		t.Run(pkg, func(t *testing.T) {
			dir := filepath.Join(rel, "packages", pkg)
			spec := loadPackageSpec(t, dir)
			if spec.Name != pkg {
				t.Errorf("spec name %q, directory %q", spec.Name, pkg)
			}
			if len(spec.Files) == 0 {
				t.Errorf("the package names no files")
			}
			for _, dep := range spec.Dependencies {
				if providedPackages[dep] {
					continue
				}
				if _, err := os.Stat(filepath.Join(rel, "packages", dep, "spec")); err != nil {
					t.Errorf("dependency %s: %v", dep, err)
				}
			}
			assertExecutable(t, filepath.Join(dir, "packaging"))
			shellcheck(t, filepath.Join(dir, "packaging"))
		})
	}
}

// TestScripts checks the release's and the repository's release scripts.
func TestScripts(t *testing.T) {
	root := repotest.RepoRoot(t)
	rel := releaseDir(t)
	for _, path := range []string{
		filepath.Join(root, "scripts", "build-release"),
		filepath.Join(root, "scripts", "vendor-golang"),
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			assertExecutable(t, path)
			shellcheck(t, path)
		})
	}
	for _, name := range []string{"render-job", "compile-packages"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(rel, "scripts", name)
			assertExecutable(t, path)
			requireTool(t, "ruby", "ruby")
			if out, err := exec.Command("ruby", "-wc", path).CombinedOutput(); err != nil {
				t.Errorf("ruby -wc %s: %v\n%s", path, err, out)
			}
		})
	}
}

// TestRenderedScriptsPassShellcheck renders each job and runs shellcheck on
// what lands in bin/: the wrappers as BOSH installs them.
func TestRenderedScriptsPassShellcheck(t *testing.T) {
	cases := []struct {
		job   string
		props map[string]any
	}{
		{cpiJob, nil},
		{cpiJob, map[string]any{"nanobox_hcloud": map[string]any{
			"state_dir": "/var/vcap/data/it's quoted", "catalog": map[string]any{"cache_dir": "/var/vcap/data/cache dir"}}}},
		{shimJob, nil},
		{shimJob, map[string]any{"nanobox_cpi_shim": map[string]any{
			"listen": map[string]any{"address": "::1", "port": 8443}, "max_concurrent": 3,
			"tls": map[string]any{"certificate": "CERT", "private_key": "KEY"}, "base_path": "/it's"}}},
	}
	for i, tc := range cases {
		t.Run(tc.job+"/"+string(rune('a'+i)), func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			mustRenderJob(t, tc.job, tc.props, out)
			bins := mustReadDir(t, filepath.Join(out, "bin"))
			if len(bins) == 0 {
				t.Fatal("nothing rendered into bin/")
			}
			for _, b := range bins {
				path := filepath.Join(out, "bin", b)
				assertExecutable(t, path)
				shellcheck(t, path)
			}
		})
	}
}

func assertExecutable(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if fi.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("%s is not executable (mode %v)", path, fi.Mode().Perm())
	}
}

func shellcheck(t testing.TB, path string) {
	t.Helper()
	requireTool(t, "shellcheck", "shellcheck")
	cmd := exec.Command("shellcheck", "--shell=bash", "--severity=style", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", path, err, out)
	}
}

func mustReadDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func equalSets(a, b []string) bool {
	a = append([]string(nil), a...)
	b = append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
