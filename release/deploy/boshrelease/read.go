package boshrelease

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar"
	"go.yaml.in/yaml/v2"
)

// jobSpec is what packing reads of a job's spec.
type jobSpec struct {
	Name      string            `yaml:"name"`
	Templates map[string]string `yaml:"templates"`
	Packages  []string          `yaml:"packages"`
}

// packageSpec is a package's spec.
type packageSpec struct {
	Name          string   `yaml:"name"`
	Dependencies  []string `yaml:"dependencies"`
	Files         []string `yaml:"files"`
	ExcludedFiles []string `yaml:"excluded_files"`
	NoCompression bool     `yaml:"no_compression"`
}

// problems collects what is wrong with a release directory.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// read reads the directory's jobs and packages (each sorted by name) and its
// license (nil without LICENSE* and NOTICE*), reporting every problem.
func read(dir string) (jobs, packages []resource, license *resource, err error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, nil, nil, &InvalidError{Subject: dir, Problems: []string{"not a directory"}}
	}
	var p problems
	blobs, err := readBlobRecords(dir)
	if err != nil {
		p.add("%v", err)
	}
	packages = readPackages(dir, blobs, &p)
	jobs = readJobs(dir, &p)
	known := map[string]resource{}
	for _, pkg := range packages {
		known[pkg.name] = pkg
	}
	for _, j := range jobs {
		for _, name := range j.packages {
			if _, ok := known[name]; !ok {
				p.add("job %s uses package %s, which the release lacks", j.name, name)
			}
		}
	}
	checkDependencies(known, &p)
	license, err = readLicense(dir)
	if err != nil {
		p.add("license: %v", err)
	}
	if len(p) > 0 {
		return nil, nil, nil, &InvalidError{Subject: dir, Problems: p}
	}
	return jobs, packages, license, nil
}

// subdirs lists the directories in dir/kind, sorted.
func subdirs(dir, kind string, p *problems) []string {
	entries, err := os.ReadDir(filepath.Join(dir, kind))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		p.add("%s: %v", kind, err)
		return nil
	}
	var names []string
	for _, e := range entries {
		if info, err := os.Stat(filepath.Join(dir, kind, e.Name())); err == nil && info.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func readJobs(dir string, p *problems) []resource {
	var jobs []resource
	for _, name := range subdirs(dir, "jobs", p) {
		if j, ok := readJob(filepath.Join(dir, "jobs", name), p); ok {
			jobs = append(jobs, j)
		}
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].name < jobs[k].name })
	return jobs
}

// readJob selects a job's files as bosh-cli's job.DirReaderImpl does:
// spec (as job.MF), monit and properties_schema.json when present, and
// each template, symlinks followed.
func readJob(path string, p *problems) (resource, bool) {
	var spec jobSpec
	specPath := filepath.Join(path, "spec")
	if err := specFile(specPath, &spec); err != nil {
		p.add("job %s: %v", filepath.Base(path), err)
		return resource{}, false
	}
	if spec.Name != filepath.Base(path) {
		p.add("job directory %s does not match the job name %q in its spec", filepath.Base(path), spec.Name)
		return resource{}, false
	}
	members := []member{{path: specPath, name: "job.MF", follow: true}}
	for _, optional := range []string{"monit", "properties_schema.json"} {
		if _, err := os.Lstat(filepath.Join(path, optional)); err == nil {
			members = append(members, member{path: filepath.Join(path, optional), name: optional, follow: true})
		}
	}
	ok := true
	for _, src := range sortedKeys(spec.Templates) {
		tpl := filepath.Join(path, "templates", src)
		if info, err := os.Stat(tpl); err != nil || !info.Mode().IsRegular() {
			p.add("job %s: template %s is not a file", spec.Name, filepath.Join("templates", src))
			ok = false
			continue
		}
		members = append(members, member{path: tpl, name: "templates/" + filepath.ToSlash(src), follow: true})
	}
	if !ok {
		return resource{}, false
	}
	fp, err := fingerprint(members, nil)
	if err != nil {
		p.add("job %s: %v", spec.Name, err)
		return resource{}, false
	}
	return resource{name: spec.Name, members: members, fingerprint: fp, packages: spec.Packages}, true
}

func readPackages(dir string, blobs blobRecords, p *problems) []resource {
	var packages []resource
	for _, name := range subdirs(dir, "packages", p) {
		if pkg, ok := readPackage(dir, blobs, filepath.Join(dir, "packages", name), p); ok {
			packages = append(packages, pkg)
		}
	}
	sort.Slice(packages, func(i, k int) bool { return packages[i].name < packages[k].name })
	return packages
}

// readPackage selects a package's files as bosh-cli's pkg.DirReaderImpl
// does: packaging (its mode not fingerprinted), then every file the spec's
// globs match in src/ or blobs/ (src/ winning a name both have), minus the
// excluded ones, symlinks kept; the dependencies are fingerprinted too.
func readPackage(dir string, blobs blobRecords, path string, p *problems) (resource, bool) {
	base := filepath.Base(path)
	for _, refused := range []struct{ file, why string }{
		{"spec.lock", "is vendored (spec.lock), which needs the release's final builds: pack it with the bosh CLI"},
		{"pre_packaging", "has a pre_packaging script, which bosh deprecated and this packer does not run"},
	} {
		if _, err := os.Lstat(filepath.Join(path, refused.file)); err == nil {
			p.add("package %s %s", base, refused.why)
			return resource{}, false
		}
	}
	var spec packageSpec
	if err := specFile(filepath.Join(path, "spec"), &spec); err != nil {
		p.add("package %s: %v", base, err)
		return resource{}, false
	}
	if spec.Name != base {
		p.add("package directory %s does not match the package name %q in its spec", base, spec.Name)
		return resource{}, false
	}
	packaging := filepath.Join(path, "packaging")
	if info, err := os.Lstat(packaging); err != nil || info.IsDir() {
		p.add("package %s has no packaging script", spec.Name)
		return resource{}, false
	}
	files, ok := packageFiles(dir, blobs, spec, p)
	if !ok {
		return resource{}, false
	}
	members := append([]member{{path: packaging, name: "packaging", excludeMode: true}}, files...)
	fp, err := fingerprint(members, spec.Dependencies)
	if err != nil {
		p.add("package %s: %v", spec.Name, err)
		return resource{}, false
	}
	return resource{name: spec.Name, members: members, fingerprint: fp, raw: spec.NoCompression, packages: spec.Dependencies}, true
}

// packageFiles matches a package's globs in src/ and blobs/.
func packageFiles(dir string, blobs blobRecords, spec packageSpec, p *problems) ([]member, bool) {
	bases := []string{filepath.Join(dir, "src"), filepath.Join(dir, "blobs")}
	byName := map[string]member{}
	ok := true
	for _, glob := range spec.Files {
		found := false
		for i, base := range bases {
			matches, err := packageable(base, glob)
			if err != nil {
				p.add("package %s: files %q: %v", spec.Name, glob, err)
				return nil, false
			}
			for _, m := range matches {
				found = true
				if _, seen := byName[m.name]; seen {
					continue
				}
				if i == 1 {
					if err := blobs.check(m); err != nil {
						p.add("package %s: %v", spec.Name, err)
						ok = false
					}
				}
				byName[m.name] = m
			}
		}
		if !found {
			p.add("package %s: no file in src/ or blobs/ matches %q", spec.Name, glob)
			ok = false
		}
	}
	for _, glob := range spec.ExcludedFiles {
		for _, base := range bases {
			matches, err := doublestar.Glob(filepath.Join(base, glob))
			if err != nil {
				p.add("package %s: excluded_files %q: %v", spec.Name, glob, err)
				return nil, false
			}
			for _, m := range matches {
				if rel, err := filepath.Rel(base, m); err == nil {
					delete(byName, filepath.ToSlash(rel))
				}
			}
		}
	}
	for _, special := range []string{"packaging", "pre_packaging"} {
		if _, ok := byName[special]; ok {
			p.add("package %s: its files may not include %s", spec.Name, special)
			return nil, false
		}
	}
	members := make([]member, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		members = append(members, byName[name])
	}
	return members, ok
}

// packageable are the files a glob matches under base that bosh packs:
// not directories, and not files reached through a symlinked directory
// (a symlink itself is packed as one).
func packageable(base, glob string) ([]member, error) {
	matches, err := doublestar.Glob(filepath.Join(base, glob))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, nil
	}
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return nil, err
	}
	var members []member
	for _, path := range matches {
		info, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		if info.IsDir() {
			continue
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return nil, err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return nil, err
			}
			if realRel, err := filepath.Rel(realBase, real); err != nil || realRel != rel {
				continue
			}
		}
		if strings.HasPrefix(rel, "..") {
			continue
		}
		members = append(members, member{path: path, name: filepath.ToSlash(rel)})
	}
	return members, nil
}

// blobRecord is a blob's entry in config/blobs.yml.
type blobRecord struct {
	Size int64  `yaml:"size"`
	SHA  string `yaml:"sha"`
}

// blobRecords are config/blobs.yml's entries by path under blobs/.
type blobRecords map[string]blobRecord

// readBlobRecords reads config/blobs.yml; none when it is absent.
func readBlobRecords(dir string) (blobRecords, error) {
	var records blobRecords
	data, err := os.ReadFile(filepath.Join(dir, "config", "blobs.yml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		err = yaml.Unmarshal(data, &records)
	}
	if err != nil {
		return nil, fmt.Errorf("config/blobs.yml: %v", err)
	}
	return records, nil
}

// check checks a file of blobs/ against its entry in config/blobs.yml,
// which `bosh add-blob` writes and `bosh create-release` syncs blobs/ to
// (it deletes a blob the file does not record).
func (records blobRecords) check(m member) error {
	rec, ok := records[m.name]
	if !ok {
		return fmt.Errorf("blobs/%s is not recorded in config/blobs.yml (bosh add-blob records a blob)", m.name)
	}
	info, err := os.Stat(m.path)
	if err != nil {
		return err
	}
	if info.Size() != rec.Size {
		return fmt.Errorf("blobs/%s has %d bytes, config/blobs.yml records %d", m.name, info.Size(), rec.Size)
	}
	for _, want := range strings.Split(rec.SHA, ";") {
		got, err := blobDigest(m.path, want)
		if err != nil {
			return err
		}
		if got == "" {
			continue // an algorithm bosh no longer writes
		}
		if got != want {
			return fmt.Errorf("blobs/%s is %s, config/blobs.yml records %s", m.name, got, want)
		}
		return nil
	}
	return fmt.Errorf("config/blobs.yml records no sha256 or sha1 digest of blobs/%s", m.name)
}

// blobDigest is the file's digest in want's algorithm ("sha256:hex" or a
// bare SHA-1 hex, as older blobs.yml files have), "" for another one.
func blobDigest(path, want string) (string, error) {
	switch {
	case strings.HasPrefix(want, digestPrefix):
		return fileDigest(path)
	case sha1Pattern.MatchString(want):
		return fileSum(path, sha1.New()) //nolint:gosec // verifying a digest bosh recorded
	}
	return "", nil
}

var sha1Pattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkDependencies reports dependencies the release lacks and cycles.
func checkDependencies(packages map[string]resource, p *problems) {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, trail []string)
	visit = func(name string, trail []string) {
		switch state[name] {
		case 1:
			p.add("packages depend on each other in a cycle: %s", strings.Join(append(trail, name), " -> "))
			return
		case 2:
			return
		}
		state[name] = 1
		for _, dep := range packages[name].packages {
			if _, ok := packages[dep]; !ok {
				p.add("package %s depends on %s, which the release lacks", name, dep)
				continue
			}
			visit(dep, append(trail, name))
		}
		state[name] = 2
	}
	for _, name := range sortedKeys(packages) {
		visit(name, nil)
	}
}

// readLicense selects LICENSE* and NOTICE* at the top of dir, fingerprinted
// by base name without modes.
func readLicense(dir string) (*resource, error) {
	var members []member
	for _, pattern := range []string{"LICENSE*", "NOTICE*"} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			info, err := os.Lstat(m)
			if err != nil {
				return nil, err
			}
			if !info.Mode().IsRegular() {
				return nil, fmt.Errorf("%s is not a regular file", m)
			}
			members = append(members, member{path: m, name: filepath.Base(m), useBasename: true, excludeMode: true})
		}
	}
	if len(members) == 0 {
		return nil, nil
	}
	fp, err := fingerprint(members, nil)
	if err != nil {
		return nil, err
	}
	return &resource{name: "license", members: members, fingerprint: fp}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
