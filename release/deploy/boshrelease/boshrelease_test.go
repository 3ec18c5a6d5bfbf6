package boshrelease_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/boshrelease"
)

var commitTime = time.Unix(1765000000, 0).UTC()

// fixture copies testdata/release (symlinks as symlinks, executable bits
// kept) into a new directory the test may change.
func fixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "release")
	src := filepath.Join("testdata", "release")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, info.Mode().Perm())
	})
	require.NoError(t, err)
	return dst
}

// options packs dir as the recorded bosh run did (name, version, commit).
func options(dir, out string) boshrelease.Options {
	return boshrelease.Options{Dir: dir, Out: out, Name: "fixture", Version: "1.2.3", CommitHash: "5b091d9", ModTime: commitTime}
}

// tarball is a release tarball's files by name.
type tarball map[string][]byte

func readTarball(t *testing.T, data []byte) (names []string, files tarball) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	files = tarball{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		require.NoError(t, err)
		names = append(names, hdr.Name)
		assert.Equal(t, 0, hdr.Uid, hdr.Name)
		assert.Equal(t, 0, hdr.Gid, hdr.Name)
		assert.Empty(t, hdr.Uname, hdr.Name)
		assert.True(t, hdr.ModTime.Equal(commitTime), "%s: time %v", hdr.Name, hdr.ModTime)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[hdr.Name] = body
	}
}

// listing is an archive's entries as the recorded file has them: archive,
// `tar -tv` mode, name and a symlink's target.
func listing(t *testing.T, archive string, data []byte) (lines []string, bodies map[string]string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	bodies = map[string]string{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		kind := map[byte]string{tar.TypeDir: "d", tar.TypeSymlink: "l", tar.TypeReg: "-"}[hdr.Typeflag]
		line := archive + " " + kind + fs.FileMode(hdr.Mode).Perm().String()[1:] + " " + hdr.Name
		if hdr.Typeflag == tar.TypeSymlink {
			line += " -> " + hdr.Linkname
		}
		lines = append(lines, line)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		bodies[hdr.Name] = string(body)
	}
	return lines, bodies
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestPackingMatchesBoshCreateRelease holds the packer to what the real
// bosh CLI made of the fixture: the same release.MF but for the archives'
// digests (bosh's tar bytes vary by run), the same entries in every archive,
// and digests that are the archives'.
func TestPackingMatchesBoshCreateRelease(t *testing.T) {
	dir := fixture(t)
	out := filepath.Join(t.TempDir(), "fixture-1.2.3.tgz")
	got, err := boshrelease.Build(options(dir, out))
	require.NoError(t, err)

	recorded, err := os.ReadFile(filepath.Join("testdata", "bosh-create-release.MF"))
	require.NoError(t, err)
	var want boshrelease.Manifest
	require.NoError(t, yaml.UnmarshalStrict(recorded, &want))

	data, err := os.ReadFile(out)
	require.NoError(t, err)
	names, files := readTarball(t, data)
	assert.Equal(t, []string{"release.MF", "jobs/", "jobs/web.tgz", "jobs/worker.tgz", "packages/", "packages/app.tgz",
		"packages/runtime.tgz", "license.tgz", "LICENSE", "NOTICE"}, names, "bosh's order: release.MF, jobs, packages, license")
	var written boshrelease.Manifest
	require.NoError(t, yaml.UnmarshalStrict(files["release.MF"], &written))
	assert.Equal(t, got, written, "Build returns the manifest it wrote")

	// Digests are the archives'; with them set aside, the manifest is bosh's.
	archives := map[string]string{"license.tgz": written.License.Digest}
	written.License.Digest, want.License.Digest = "", ""
	for i := range written.Jobs {
		archives["jobs/"+written.Jobs[i].Name+".tgz"] = written.Jobs[i].Digest
		written.Jobs[i].Digest, want.Jobs[i].Digest = "", ""
	}
	for i := range written.Packages {
		archives["packages/"+written.Packages[i].Name+".tgz"] = written.Packages[i].Digest
		written.Packages[i].Digest, want.Packages[i].Digest = "", ""
	}
	assert.Equal(t, want, written)

	var lines []string
	for _, archive := range []string{"jobs/web.tgz", "jobs/worker.tgz", "license.tgz", "packages/app.tgz", "packages/runtime.tgz"} {
		assert.Equal(t, archives[archive], sha256Digest(files[archive]), archive)
		l, bodies := listing(t, archive, files[archive])
		lines = append(lines, l...)
		for name, body := range bodies {
			if strings.HasSuffix(name, "/") || archive == "packages/app.tgz" && name == "./app/link" {
				continue
			}
			src := map[string]string{
				"jobs/web.tgz":         filepath.Join(dir, "jobs", "web"),
				"jobs/worker.tgz":      filepath.Join(dir, "jobs", "worker"),
				"license.tgz":          dir,
				"packages/app.tgz":     filepath.Join(dir, "packages", "app"),
				"packages/runtime.tgz": filepath.Join(dir, "packages", "runtime"),
			}[archive]
			name = strings.TrimPrefix(name, "./")
			switch {
			case name == "job.MF":
				name = "spec"
			case strings.HasPrefix(archive, "packages/") && name != "packaging":
				src = filepath.Join(dir, "src")
				if strings.HasSuffix(name, ".tar.gz") {
					src = filepath.Join(dir, "blobs")
				}
			}
			content, err := os.ReadFile(filepath.Join(src, name))
			require.NoError(t, err)
			assert.Equal(t, string(content), body, "%s: %s", archive, name)
		}
	}
	for _, top := range []string{"LICENSE", "NOTICE"} {
		content, err := os.ReadFile(filepath.Join(dir, top))
		require.NoError(t, err)
		assert.Equal(t, string(content), string(files[top]), "the tarball's top has the license files")
	}
	recordedArchives, err := os.ReadFile(filepath.Join("testdata", "bosh-create-release.archives"))
	require.NoError(t, err)
	wantLines := strings.Split(strings.TrimSpace(string(recordedArchives)), "\n")
	sort.Strings(lines)
	sort.Strings(wantLines)
	assert.Equal(t, wantLines, lines, "every archive holds what bosh's holds")
}

// TestPackingIsReproducible: one directory at one time gives one tarball,
// whatever the files' own times; another time gives other bytes but the
// same fingerprints.
func TestPackingIsReproducible(t *testing.T) {
	out := t.TempDir()
	var tarballs [][]byte
	var manifests []boshrelease.Manifest
	for i, when := range []time.Time{time.Unix(1000, 0), time.Unix(2000000000, 0)} {
		dir := fixture(t)
		require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			return os.Chtimes(path, when, when)
		}))
		path := filepath.Join(out, []string{"a.tgz", "b.tgz"}[i])
		m, err := boshrelease.Build(options(dir, path))
		require.NoError(t, err)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		tarballs, manifests = append(tarballs, data), append(manifests, m)
	}
	assert.Equal(t, sha256Digest(tarballs[0]), sha256Digest(tarballs[1]), "two builds of one release")
	assert.Equal(t, manifests[0], manifests[1])

	o := options(fixture(t), filepath.Join(out, "later.tgz"))
	o.ModTime = commitTime.Add(time.Hour)
	later, err := boshrelease.Build(o)
	require.NoError(t, err)
	assert.Equal(t, manifests[0].Jobs[0].Fingerprint, later.Jobs[0].Fingerprint, "a fingerprint is of content, not time")
	assert.NotEqual(t, manifests[0].Jobs[0].Digest, later.Jobs[0].Digest, "an archive's digest covers its entries' time")
}

func TestPackingRefusesBadReleases(t *testing.T) {
	write := func(path, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644))
		}
	}
	remove := func(path string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { require.NoError(t, os.RemoveAll(filepath.Join(dir, path))) }
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string
	}{
		{"job named otherwise", write("jobs/web/spec", "name: api\ntemplates: {}\n"),
			[]string{`job directory web does not match the job name "api" in its spec`}},
		{"template missing", remove("jobs/web/templates/ctl.erb"),
			[]string{"job web: template templates/ctl.erb is not a file"}},
		{"job spec missing", remove("jobs/worker/spec"), []string{"job worker:", "spec is missing"}},
		{"job spec malformed", write("jobs/worker/spec", "name: [worker\n"), []string{"job worker:", "yaml"}},
		{"job uses a missing package", write("jobs/worker/spec", "name: worker\npackages: [ghost]\n"),
			[]string{"job worker uses package ghost, which the release lacks"}},
		{"package without packaging", remove("packages/app/packaging"),
			[]string{"package app has no packaging script", "job web uses package app, which the release lacks"}},
		{"dependency missing", write("packages/runtime/spec", "name: runtime\ndependencies: [ghost]\nfiles: [runtime/bin/tool]\n"),
			[]string{"package runtime depends on ghost, which the release lacks"}},
		{"dependency cycle", write("packages/runtime/spec", "name: runtime\ndependencies: [app]\nfiles: [runtime/bin/tool]\n"),
			[]string{"packages depend on each other in a cycle: app -> runtime -> app"}},
		{"glob matching nothing", write("packages/runtime/spec", "name: runtime\nfiles: [runtime/*.so, runtime/bin/tool]\n"),
			[]string{`package runtime: no file in src/ or blobs/ matches "runtime/*.so"`}},
		{"glob escaping src", write("packages/runtime/spec", "name: runtime\nfiles: [../jobs/web/spec]\n"),
			[]string{`no file in src/ or blobs/ matches "../jobs/web/spec"`}},
		{"packaging among the files", func(t *testing.T, dir string) {
			write("src/packaging", "x")(t, dir)
			write("packages/runtime/spec", "name: runtime\nfiles: [packaging]\n")(t, dir)
		}, []string{"package runtime: its files may not include packaging"}},
		{"vendored package", write("packages/runtime/spec.lock", "name: runtime\nfingerprint: abc\n"),
			[]string{"package runtime is vendored (spec.lock)"}},
		{"pre_packaging", write("packages/app/pre_packaging", "rm -rf /\n"),
			[]string{"package app has a pre_packaging script"}},
		{"blobs.yml malformed", write("config/blobs.yml", "runtime/rt.tar.gz: [\n"), []string{"config/blobs.yml: yaml:"}},
		{"blob not recorded", write("config/blobs.yml", "--- {}\n"),
			[]string{"blobs/runtime/rt.tar.gz is not recorded in config/blobs.yml"}},
		{"blob changed", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "blobs", "runtime", "rt.tar.gz")
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			data[len(data)-1] ^= 0xff
			require.NoError(t, os.WriteFile(path, data, 0o644))
		}, []string{"blobs/runtime/rt.tar.gz is sha256:", "config/blobs.yml records sha256:8135044d"}},
		{"blob grown", write("blobs/runtime/rt.tar.gz", strings.Repeat("x", 100)),
			[]string{"blobs/runtime/rt.tar.gz has 100 bytes, config/blobs.yml records 41"}},
		{"license a symlink", func(t *testing.T, dir string) {
			remove("LICENSE")(t, dir)
			require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "LICENSE")))
		}, []string{"LICENSE is not a regular file"}},
		{"every problem at once", func(t *testing.T, dir string) {
			remove("jobs/web/templates/ctl.erb")(t, dir)
			write("packages/app/pre_packaging", "x")(t, dir)
		}, []string{"template templates/ctl.erb is not a file", "package app has a pre_packaging script"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			tc.change(t, dir)
			outDir := t.TempDir()
			_, err := boshrelease.Build(options(dir, filepath.Join(outDir, "r.tgz")))
			var invalid *boshrelease.InvalidError
			require.True(t, errors.As(err, &invalid), "want an *InvalidError, got %v", err)
			assert.Equal(t, dir, invalid.Subject)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			left, err := os.ReadDir(outDir)
			require.NoError(t, err)
			assert.Empty(t, left, "nothing written")
		})
	}
}

func TestOptionsReportEveryProblem(t *testing.T) {
	outDir := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*boshrelease.Options)
		want   []string
	}{
		{"empty", func(o *boshrelease.Options) { *o = boshrelease.Options{} }, []string{
			"the release directory is required", "the tarball to write is required", `release name ""`,
			`version "" is not semi-semantic`, `commit hash ""`, "the entries' time is required"}},
		{"no such out dir", func(o *boshrelease.Options) { o.Out = filepath.Join(outDir, "gone", "r.tgz") },
			[]string{"is not a directory to write the tarball in"}},
		{"name with a slash", func(o *boshrelease.Options) { o.Name = "../x" }, []string{`release name "../x"`}},
		{"version with a space", func(o *boshrelease.Options) { o.Version = "1.0 beta" }, []string{`version "1.0 beta" is not semi-semantic`}},
		{"commit not hex", func(o *boshrelease.Options) { o.CommitHash = "HEAD" }, []string{`commit hash "HEAD"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(fixture(t), filepath.Join(outDir, "r.tgz"))
			tc.change(&o)
			_, err := boshrelease.Build(o)
			var invalid *boshrelease.InvalidError
			require.True(t, errors.As(err, &invalid), "want an *InvalidError, got %v", err)
			assert.Equal(t, "options", invalid.Subject)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			_, statErr := os.Stat(filepath.Join(outDir, "r.tgz"))
			assert.True(t, os.IsNotExist(statErr), "nothing written")
		})
	}
	for _, version := range []string{"0.1.0", "0.1.0-dev+g1a2b3c4d5e6f", "12+dev.3", "1.2.3-rc.1"} {
		o := options("dir", filepath.Join(outDir, "r.tgz"))
		o.Version = version
		assert.NoError(t, o.Validate(), version)
	}
}

// A symlink planted where the tarball goes is replaced, never written
// through.
func TestPackingReplacesAPlantedSymlink(t *testing.T) {
	outDir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep"), 0o600))
	out := filepath.Join(outDir, "r.tgz")
	require.NoError(t, os.Symlink(victim, out))
	_, err := boshrelease.Build(options(fixture(t), out))
	require.NoError(t, err)
	data, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(data))
	info, err := os.Lstat(out)
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "the tarball replaced the link")
	assert.Equal(t, fs.FileMode(0o644), info.Mode().Perm())
}
