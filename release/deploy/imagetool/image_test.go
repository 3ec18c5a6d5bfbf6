package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/testcert"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/ociimage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	repo.Cleanup()
	os.Exit(code)
}

// testOptions builds from the repository's binaries and a CA bundle of one
// test certificate (the test must not depend on the host's).
func testOptions(t *testing.T) ociimage.Options {
	dir := t.TempDir()
	testcert.Write(t, dir)
	ca := filepath.Join(dir, "tls.crt")
	return ociimage.Options{
		BinDir: repo.BinDir(t), CABundle: ca, Version: "v9.8.7-test", Revision: "0123456789abcdef",
		Source: "https://github.com/nanobox-hcloud/nanobox-hcloud", Licenses: "NOASSERTION",
		Created: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	}
}

// builtImages writes the image with `imagetool` itself and opens both the
// OCI layout and the tarball it wrote.
func builtImages(t *testing.T, o ociimage.Options) map[string]v1.Image {
	dir := t.TempDir()
	layoutDir, tarPath := filepath.Join(dir, "oci"), filepath.Join(dir, "image.tar")
	var out bytes.Buffer
	err := run([]string{"--bin", o.BinDir, "--ca-bundle", o.CABundle, "--version", o.Version, "--revision", o.Revision,
		"--source", o.Source, "--licenses", o.Licenses, "--created", o.Created.Format(time.RFC3339),
		"--layout", layoutDir, "--tar", tarPath}, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), o.Tag())

	idx, err := layout.ImageIndexFromPath(layoutDir)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	assert.Equal(t, "v9.8.7-test", im.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	fromLayout, err := idx.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	fromTar, err := tarball.ImageFromPath(tarPath, nil)
	require.NoError(t, err)
	return map[string]v1.Image{"layout": fromLayout, "tarball": fromTar}
}

func TestImageConfig(t *testing.T) {
	o := testOptions(t)
	images := builtImages(t, o)
	for kind, img := range images {
		t.Run(kind, func(t *testing.T) {
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, "linux", cf.OS)
			assert.NotEmpty(t, cf.Architecture)
			assert.Equal(t, "65532:65532", cf.Config.User, "not root")
			assert.Equal(t, []string{ociimage.ShimPath}, cf.Config.Entrypoint)
			assert.Empty(t, cf.Config.Cmd)
			assert.Subset(t, cf.Config.Env, []string{
				"NANOBOX_SHIM_CPI=" + ociimage.CPIPath, "NANOBOX_SHIM_CPI_CONFIG=" + ociimage.ConfigPath, "NANOBOX_SHIM_LISTEN=0.0.0.0:8080",
				"NANOBOX_SHIM_CPI_METRICS_DIR=" + ociimage.StateDir,
			})
			assert.Contains(t, cf.Config.ExposedPorts, "8080/tcp")
			assert.Equal(t, map[string]string{
				"org.opencontainers.image.title":       "nanobox-hcloud",
				"org.opencontainers.image.description": o.Labels()["org.opencontainers.image.description"],
				"org.opencontainers.image.version":     "v9.8.7-test",
				"org.opencontainers.image.revision":    "0123456789abcdef",
				"org.opencontainers.image.source":      "https://github.com/nanobox-hcloud/nanobox-hcloud",
				"org.opencontainers.image.licenses":    "NOASSERTION",
				"org.opencontainers.image.created":     "2026-11-30T12:00:00Z",
			}, cf.Config.Labels)
			assert.NotEmpty(t, cf.Config.Labels["org.opencontainers.image.description"])
		})
	}
	m, err := images["layout"].Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)
	assert.Equal(t, o.Labels(), m.Annotations)
}

// imageFile is one entry of the image's flattened filesystem.
type imageFile struct {
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

func flatten(t *testing.T, img v1.Image) map[string]imageFile {
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]imageFile{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		p := "/" + strings.Trim(path.Clean(hdr.Name), "/")
		require.NotContains(t, files, p, "duplicate entry")
		require.Contains(t, []byte{tar.TypeReg, tar.TypeDir}, hdr.Typeflag, "%s: only files and directories (no links, devices)", p)
		files[p] = imageFile{mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, dir: hdr.Typeflag == tar.TypeDir, data: data}
	}
	return files
}

func TestImageFilesystem(t *testing.T) {
	o := testOptions(t)
	img := builtImages(t, o)["layout"]
	files := flatten(t, img)

	type want struct {
		mode     int64
		uid, gid int
		dir      bool
	}
	root := want{mode: 0o755, dir: true}
	expected := map[string]want{
		"/etc": root, "/etc/ssl": root, "/etc/ssl/certs": root, "/etc/nanobox-hcloud": root,
		"/usr": root, "/usr/local": root, "/usr/local/bin": root, "/var": root, "/var/lib": root, "/home": root,
		"/tmp":                               {mode: 0o1777, dir: true},
		"/home/nonroot":                      {mode: 0o700, uid: ociimage.UID, gid: ociimage.GID, dir: true},
		ociimage.StateDir:                    {mode: 0o700, uid: ociimage.UID, gid: ociimage.GID, dir: true},
		"/etc/passwd":                        {mode: 0o644},
		"/etc/group":                         {mode: 0o644},
		"/etc/ssl/certs/ca-certificates.crt": {mode: 0o644},
		ociimage.ConfigPath:                  {mode: 0o644},
		ociimage.ShimPath:                    {mode: 0o755},
		ociimage.CPIPath:                     {mode: 0o755},
	}
	got := map[string]want{}
	for p, f := range files {
		got[p] = want{mode: f.mode, uid: f.uid, gid: f.gid, dir: f.dir}
	}
	assert.Equal(t, expected, got, "the image holds exactly these files, with these owners and modes")

	for p := range files {
		switch path.Base(p) {
		case "sh", "bash", "dash", "ash", "busybox", "zsh":
			t.Errorf("the image has a shell: %s", p)
		}
	}
	for _, name := range repo.Commands {
		want, err := os.ReadFile(filepath.Join(o.BinDir, name))
		require.NoError(t, err)
		got := files["/usr/local/bin/"+name].data
		assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got), "%s is the built binary", name)
		assertStatic(t, name, got)
	}
	ca, err := os.ReadFile(o.CABundle)
	require.NoError(t, err)
	assert.Equal(t, ca, files["/etc/ssl/certs/ca-certificates.crt"].data, "the CA bundle is the one given")
	assert.Contains(t, string(files["/etc/passwd"].data), fmt.Sprintf("nonroot:x:%d:%d:", ociimage.UID, ociimage.GID))
	assert.Contains(t, string(files["/etc/passwd"].data), ":/sbin/nologin\n", "no login shell")

	var cfg map[string]any
	require.NoError(t, json.Unmarshal(files[ociimage.ConfigPath].data, &cfg))
	assert.Equal(t, ociimage.StateDir, cfg["state_dir"])
	assert.Equal(t, false, cfg["operator_token_for_calls"])
}

// assertStatic checks an ELF binary needs no dynamic loader or library.
func assertStatic(t *testing.T, name string, data []byte) {
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err, "%s is an ELF binary", name)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s names a dynamic loader", name)
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs, "%s needs shared libraries", name)
}

// TestImageRunsTheShimOnItsCPI unpacks the image into a directory and
// starts its entrypoint the way a runtime would: the image's environment
// (its paths moved under the directory, the port on loopback), no other
// configuration. The shim must find the CPI and the CPI must accept the
// shipped config: /healthz runs the CPI's info with it.
func TestImageRunsTheShimOnItsCPI(t *testing.T) {
	o := testOptions(t)
	img := builtImages(t, o)["layout"]
	rootfs := t.TempDir()
	for p, f := range flatten(t, img) {
		if f.dir {
			require.NoError(t, os.MkdirAll(filepath.Join(rootfs, p), 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Join(rootfs, path.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, p), f.data, os.FileMode(f.mode)))
	}
	// The shipped config points the state dir at the image's; here it is
	// the unpacked one.
	cfgPath := filepath.Join(rootfs, ociimage.ConfigPath)
	cfg := bytes.ReplaceAll(must(os.ReadFile(cfgPath)), []byte(`"`+ociimage.StateDir+`"`), []byte(`"`+filepath.Join(rootfs, ociimage.StateDir)+`"`))
	require.NoError(t, os.WriteFile(cfgPath, cfg, 0o644))

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	var env []string
	for _, kv := range cf.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "NANOBOX_SHIM_LISTEN":
			v = "127.0.0.1:0"
		case "PATH", "TMPDIR", "NANOBOX_SHIM_CPI", "NANOBOX_SHIM_CPI_CONFIG", "NANOBOX_SHIM_CPI_METRICS_DIR":
			v = filepath.Join(rootfs, v)
		}
		env = append(env, k+"="+v)
	}
	url := repo.StartShim(t, filepath.Join(rootfs, cf.Config.Entrypoint[0]), append(cf.Config.Entrypoint[1:], cf.Config.Cmd...), env)
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"name":"nanobox-hcloud"`)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBuildReportsEveryProblemAtOnce(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644))
	for _, tc := range []struct {
		name string
		o    ociimage.Options
		want []string
	}{
		{"nothing set", ociimage.Options{}, []string{"--bin is required", "--ca-bundle is required", "--version is required",
			"--revision is required", "--source is required", "--licenses is required", "--created is required"}},
		{"missing files", ociimage.Options{BinDir: t.TempDir(), CABundle: notPEM, Version: "v1", Revision: "r", Source: "s",
			Licenses: "l", Created: time.Now()}, []string{"nanobox-cpi-shim", "nanobox-hcloud-cpi", "holds no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ociimage.Build(tc.o)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestImageIsReproducible: the same inputs give the same digest, so a
// rebuild of a commit can be checked against a published image.
func TestImageIsReproducible(t *testing.T) {
	o := testOptions(t)
	var digests []v1.Hash
	for range 2 {
		img, err := ociimage.Build(o)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		digests = append(digests, d)
	}
	assert.Equal(t, digests[0], digests[1])
	o.Revision = "another"
	img, err := ociimage.Build(o)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, digests[0], d, "the digest depends on the inputs")
}
