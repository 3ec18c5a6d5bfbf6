package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	repo.Cleanup()
	os.Exit(code)
}

// tree writes files (name -> content; a name ending in * is executable)
// under a new directory, every file with the given mtime.
func tree(t *testing.T, files map[string]string, mtime time.Time) string {
	dir := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o600)
		if name[len(name)-1] == '*' {
			name, mode = name[:len(name)-1], 0o700
		}
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
	}
	return dir
}

type entry struct {
	Name     string
	Mode     int64
	Uid, Gid int
	Uname    string
	ModTime  int64
	Body     string
}

func readTarGz(t *testing.T, path string) (gzip.Header, []entry) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	var out []entry
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		out = append(out, entry{hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.ModTime.Unix(), string(body)})
	}
	return zr.Header, out
}

func TestTarDependsOnlyOnItsInputs(t *testing.T) {
	files := map[string]string{"bin/cpi*": "elf", "README.md": "read me", "docs/a.txt": "a"}
	out := t.TempDir()
	var sums [][]byte
	for i, mtime := range []time.Time{time.Unix(1000, 0), time.Unix(2000000000, 0)} {
		dir := tree(t, files, mtime)
		path := filepath.Join(out, strconv.Itoa(i)+".tar.gz")
		var stdout bytes.Buffer
		require.NoError(t, run([]string{"tar", "--out", path, "--mtime", "1765000000", "--prefix", "pkg-1.0/",
			"cpi=" + filepath.Join(dir, "bin", "cpi"), "README.md=" + filepath.Join(dir, "README.md"), "extra=" + filepath.Join(dir, "docs")}, &stdout))
		assert.Contains(t, stdout.String(), "(5 entries)")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		sums = append(sums, data)

		hdr, entries := readTarGz(t, path)
		assert.Empty(t, hdr.Name)
		assert.True(t, hdr.ModTime.IsZero() || hdr.ModTime.Unix() == 0, "gzip without a time: %v", hdr.ModTime)
		assert.Equal(t, []entry{
			{"pkg-1.0/", 0o755, 0, 0, "", 1765000000, ""},
			{"pkg-1.0/README.md", 0o644, 0, 0, "", 1765000000, "read me"},
			{"pkg-1.0/cpi", 0o755, 0, 0, "", 1765000000, "elf"},
			{"pkg-1.0/extra/", 0o755, 0, 0, "", 1765000000, ""},
			{"pkg-1.0/extra/a.txt", 0o644, 0, 0, "", 1765000000, "a"},
		}, entries)
	}
	assert.True(t, bytes.Equal(sums[0], sums[1]), "files of other times and modes give other bytes")
}

func TestTarRefusesBadArguments(t *testing.T) {
	dir := tree(t, map[string]string{"f": "x"}, time.Unix(1, 0))
	f := filepath.Join(dir, "f")
	out := filepath.Join(t.TempDir(), "x.tar")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", []string{"tar"}, "--out is required; --mtime is required (seconds since 1970); name at least one NAME=PATH"},
		{"no path", []string{"tar", "--out", out, "--mtime", "1", "f"}, `want NAME=PATH with a relative NAME, got "f"`},
		{"absolute name", []string{"tar", "--out", out, "--mtime", "1", "/etc/f=" + f}, "relative NAME"},
		{"escaping name", []string{"tar", "--out", out, "--mtime", "1", "../f=" + f}, "relative NAME"},
		{"twice", []string{"tar", "--out", out, "--mtime", "1", "a=" + f, "a=" + f}, "a is named twice"},
		{"missing file", []string{"tar", "--out", out, "--mtime", "1", "a=" + f + ".gone"}, "no such file"},
		{"unknown command", []string{"zip"}, `unknown command "zip"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, statErr := os.Stat(out)
			assert.True(t, os.IsNotExist(statErr), "nothing written")
			left, err := os.ReadDir(filepath.Dir(out))
			require.NoError(t, err)
			assert.Empty(t, left, "no temporary file left")
		})
	}
}

func TestLicenceFiles(t *testing.T) {
	dir := tree(t, map[string]string{"LICENSE": "", "LICENCE.md": "", "COPYING": "", "NOTICE": "", "PATENTS": "",
		"license-apache.txt": "", "README.md": "", "licensed.go": "", "sub/LICENSE": ""}, time.Unix(1, 0))
	files, err := licenceFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"COPYING", "LICENCE.md", "LICENSE", "NOTICE", "PATENTS", "license-apache.txt"}, files)
}

// TestNoticesAreCurrent regenerates the notices from the binaries and
// compares them with the committed file: `make notices` after a change of
// dependencies.
func TestNoticesAreCurrent(t *testing.T) {
	root := repo.Root(t)
	bin := repo.BinDir(t)
	got, err := notices([]string{filepath.Join(bin, "nanobox-cpi-shim"), filepath.Join(bin, "nanobox-hcloud-cpi")},
		root, filepath.Join(root, "protocol", "shim", "landing", "swagger-ui"))
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(root, "docs", "third-party-notices.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "docs/third-party-notices.txt is stale: run make notices")
	for _, m := range []string{"github.com/hetznercloud/hcloud-go/v2 v2.52.0", "github.com/urfave/cli/v2", "Swagger UI", "The Go standard library"} {
		assert.Contains(t, string(got), m)
	}
}
