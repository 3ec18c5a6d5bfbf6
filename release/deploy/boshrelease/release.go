package boshrelease

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/reprotar"
)

// noFollow opens a path without following a symlink at its end.
const noFollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// Options say what to pack and where.
type Options struct {
	// Dir is the release directory.
	Dir string
	// Out is the tarball to write; its directory must exist. It is written
	// beside it and renamed into place once complete.
	Out string
	// Name and Version are the release's; Version is semi-semantic
	// (0.1.0, 0.1.0-dev+g1a2b3c4d, 12+dev.3).
	Name, Version string
	// CommitHash and UncommittedChanges are release.MF's commit_hash and
	// uncommitted_changes: the source's commit and whether it had changes.
	CommitHash         string
	UncommittedChanges bool
	// ModTime is every entry's time (the commit's, for a reproducible build).
	ModTime time.Time
}

var (
	// namePattern is what a director accepts as a release, job or package
	// name.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// versionPattern is a semi-semantic version (github.com/cppforlife/
	// go-semi-semantic, which bosh parses versions with).
	versionPattern = regexp.MustCompile(`^[0-9A-Za-z_.]+(-[0-9A-Za-z_.-]+)?(\+[0-9A-Za-z_.-]+)?$`)
	commitPattern  = regexp.MustCompile(`^[0-9a-f]{4,64}$`)
)

// InvalidError lists every problem found with the options or the release
// directory; nothing was written.
type InvalidError struct {
	Subject  string // "options", or the release directory
	Problems []string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("cannot pack %s: %s", e.Subject, strings.Join(e.Problems, "; "))
}

// Validate reports every problem with the options at once.
func (o Options) Validate() error {
	var problems []string
	if o.Dir == "" {
		problems = append(problems, "the release directory is required")
	}
	if o.Out == "" {
		problems = append(problems, "the tarball to write is required")
	} else if info, err := os.Stat(filepath.Dir(o.Out)); err != nil || !info.IsDir() {
		problems = append(problems, fmt.Sprintf("%s is not a directory to write the tarball in", filepath.Dir(o.Out)))
	}
	if !namePattern.MatchString(o.Name) {
		problems = append(problems, fmt.Sprintf("release name %q: want letters, digits, '_', '.' and '-'", o.Name))
	}
	if !versionPattern.MatchString(o.Version) {
		problems = append(problems, fmt.Sprintf("version %q is not semi-semantic (e.g. 0.1.0 or 0.1.0-dev+g1a2b3c4)", o.Version))
	}
	if !commitPattern.MatchString(o.CommitHash) {
		problems = append(problems, fmt.Sprintf("commit hash %q: want hexadecimal digits (git rev-parse --short HEAD)", o.CommitHash))
	}
	if o.ModTime.IsZero() {
		problems = append(problems, "the entries' time is required (the commit's)")
	}
	if len(problems) > 0 {
		return &InvalidError{Subject: "options", Problems: problems}
	}
	return nil
}

// Manifest is release.MF, in bosh-cli's field order.
type Manifest struct {
	Name               string       `yaml:"name"`
	Version            string       `yaml:"version"`
	CommitHash         string       `yaml:"commit_hash"`
	UncommittedChanges bool         `yaml:"uncommitted_changes"`
	Jobs               []JobRef     `yaml:"jobs,omitempty"`
	Packages           []PackageRef `yaml:"packages,omitempty"`
	License            *LicenseRef  `yaml:"license,omitempty"`
	NoCompression      bool         `yaml:"no_compression"`
}

// JobRef is a job's entry in release.MF.
type JobRef struct {
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	Fingerprint string   `yaml:"fingerprint"`
	Digest      string   `yaml:"sha1"` // the archive's, "sha256:…"
	Packages    []string `yaml:"packages"`
}

// PackageRef is a package's entry in release.MF.
type PackageRef struct {
	Name         string   `yaml:"name"`
	Version      string   `yaml:"version"`
	Fingerprint  string   `yaml:"fingerprint"`
	Digest       string   `yaml:"sha1"` // the archive's
	Dependencies []string `yaml:"dependencies"`
}

// LicenseRef is the license's entry in release.MF.
type LicenseRef struct {
	Version     string `yaml:"version"`
	Fingerprint string `yaml:"fingerprint"`
	Digest      string `yaml:"sha1"` // the archive's
}

// resource is a job, a package or the license, read from the directory.
type resource struct {
	name        string
	members     []member
	fingerprint string
	raw         bool     // a package's no_compression
	packages    []string // a job's packages, a package's dependencies
}

// Build packs the release directory into the tarball and returns its
// manifest. A bad directory gives an *InvalidError listing every problem;
// on any error nothing is left at Out.
func Build(o Options) (Manifest, error) {
	if err := o.Validate(); err != nil {
		return Manifest{}, err
	}
	jobs, packages, license, err := read(o.Dir)
	if err != nil {
		return Manifest{}, err
	}
	work, err := os.MkdirTemp("", "boshrelease-")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(work)

	jobEntries, jobDigests, err := packAll(work, "jobs", jobs, o.ModTime)
	if err != nil {
		return Manifest{}, err
	}
	packageEntries, packageDigests, err := packAll(work, "packages", packages, o.ModTime)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Name: o.Name, Version: o.Version, CommitHash: o.CommitHash, UncommittedChanges: o.UncommittedChanges}
	for i, j := range jobs {
		m.Jobs = append(m.Jobs, JobRef{Name: j.name, Version: j.fingerprint, Fingerprint: j.fingerprint,
			Digest: jobDigests[i], Packages: nonNil(j.packages)})
	}
	for i, p := range packages {
		m.Packages = append(m.Packages, PackageRef{Name: p.name, Version: p.fingerprint, Fingerprint: p.fingerprint,
			Digest: packageDigests[i], Dependencies: nonNil(p.packages)})
	}
	top := append(jobEntries, packageEntries...)
	if license != nil {
		e, sum, err := pack(work, "license.tgz", *license, o.ModTime)
		if err != nil {
			return Manifest{}, fmt.Errorf("license: %w", err)
		}
		top = append(top, e)
		m.License = &LicenseRef{Version: license.fingerprint, Fingerprint: license.fingerprint, Digest: sum}
		for _, f := range license.members {
			top = append(top, reprotar.Entry{Name: f.name, Src: f.path, Mode: 0o644})
		}
	}
	manifest, err := yaml.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	top = append([]reprotar.Entry{{Name: "release.MF", Body: manifest, Mode: 0o644}}, top...)
	return m, reprotar.WriteFile(o.Out, top, reprotar.Options{ModTime: o.ModTime, Gzip: true})
}

// packAll packs each resource's archive as kind/<name>.tgz and returns the
// release tarball's entries for them (kind/ first) and their digests.
func packAll(work, kind string, resources []resource, mtime time.Time) ([]reprotar.Entry, []string, error) {
	if len(resources) == 0 {
		return nil, nil, nil
	}
	entries := []reprotar.Entry{{Name: kind + "/", Mode: 0o755}}
	digests := make([]string, 0, len(resources))
	for _, r := range resources {
		e, sum, err := pack(work, kind+"/"+r.name+".tgz", r, mtime)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", strings.TrimSuffix(kind, "s"), r.name, err)
		}
		entries, digests = append(entries, e), append(digests, sum)
	}
	return entries, digests, nil
}

// pack writes a resource's archive into work under name and returns its
// entry in the release tarball and its digest.
func pack(work, name string, r resource, mtime time.Time) (reprotar.Entry, string, error) {
	entries, err := memberEntries(r.members)
	if err != nil {
		return reprotar.Entry{}, "", err
	}
	path := filepath.Join(work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return reprotar.Entry{}, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return reprotar.Entry{}, "", err
	}
	err = reprotar.Write(f, entries, reprotar.Options{ModTime: mtime, Gzip: !r.raw})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return reprotar.Entry{}, "", err
	}
	sum, err := fileDigest(path)
	if err != nil {
		return reprotar.Entry{}, "", err
	}
	return reprotar.Entry{Name: name, Src: path, Mode: 0o644}, sum, nil
}

// specFile decodes a job's or a package's spec, reporting a missing or
// malformed one as a problem.
func specFile(path string, into any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing", path)
	}
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// nonNil is names, or an empty list: release.MF says [] for none.
func nonNil(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}
