//go:build distcheck

// The release files' test: slow (two whole `make dist` runs, cross-compiling
// for arm64), so it is `make dist-check`, which .ci/run runs after make test.
package dist_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/boshrelease"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/ociimage"
)

var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// dist runs scripts/dist into a new directory and returns it.
func dist(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("bash", filepath.Join(repo.Root(t), "scripts", "dist"), "--out", out)
	cmd.Dir = repo.Root(t)
	log, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", log)
	t.Logf("%s", log)
	return out
}

func TestDistIsReproducibleAndComplete(t *testing.T) {
	root := repo.Root(t)
	first, second := dist(t), dist(t)
	sums, err := os.ReadFile(filepath.Join(first, "SHA256SUMS"))
	require.NoError(t, err)
	again, err := os.ReadFile(filepath.Join(second, "SHA256SUMS"))
	require.NoError(t, err)
	assert.Equal(t, string(sums), string(again), "two builds of one commit")

	versionOut, err := exec.Command("bash", filepath.Join(root, "scripts", "version")).Output()
	require.NoError(t, err)
	version := strings.TrimSuffix(strings.TrimSpace(string(versionOut)), ".dirty") // dist builds the commit
	version = strings.TrimSpace(version)
	var names []string
	var wheel string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		name := strings.Fields(line)[1]
		if strings.HasPrefix(name, "nanobox_hcloud_libcloud-") && strings.HasSuffix(name, "-py3-none-any.whl") {
			wheel = name // its version is PEP 440's spelling, checked below
			continue
		}
		names = append(names, name)
	}
	var want []string
	for _, bin := range repo.Commands {
		for _, arch := range []string{"amd64", "arm64"} {
			want = append(want, bin+"-"+version+"-linux-"+arch+".cdx.json")
		}
	}
	want = append(want, "nanobox-hcloud-"+version+"-linux-amd64.tar.gz", "nanobox-hcloud-"+version+"-linux-arm64.tar.gz",
		"nanobox-hcloud-"+version+"-oci.tar", "nanobox-hcloud-bosh-release-"+version+".tgz")
	release, err := os.ReadFile(filepath.Join(root, "VERSION"))
	require.NoError(t, err)
	// RubyGems' spelling: a letter makes a pre-release, '.' separates.
	gemVersion := strings.NewReplacer("-dev+", ".dev.", "+", ".", "-", ".").Replace(version)
	gem := "vagrant-nanobox-hcloud-" + gemVersion + ".gem"
	want = append(want, gem)
	assert.ElementsMatch(t, want, names)

	t.Run("gem", func(t *testing.T) {
		files := untar(t, filepath.Join(first, gem), false)
		zr, err := gzip.NewReader(bytes.NewReader(files["metadata.gz"]))
		require.NoError(t, err)
		metadata, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Contains(t, string(metadata), "name: vagrant-nanobox-hcloud\n")
		assert.Contains(t, string(metadata), "\n  version: "+gemVersion+"\n", "the gem carries the build's version")
		assert.Contains(t, string(metadata), "- Apache-2.0\n")
		assert.NotEmpty(t, files["data.tar.gz"])
	})

	t.Run("Python package", func(t *testing.T) {
		require.NotEmpty(t, wheel, "release/libcloud/dist wrote the wheel")
		zr, err := zip.OpenReader(filepath.Join(first, wheel))
		require.NoError(t, err)
		defer zr.Close()
		var metadata string
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, ".dist-info/METADATA") {
				rc, err := f.Open()
				require.NoError(t, err)
				data, err := io.ReadAll(rc)
				require.NoError(t, err)
				metadata = string(data)
			}
		}
		assert.Contains(t, metadata, "\nVersion: "+strings.TrimSpace(string(release)))
		assert.Contains(t, metadata, "\nLicense: Apache-2.0\n")
	})

	licence, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	require.NoError(t, err)

	t.Run("BOSH release", func(t *testing.T) {
		files := untar(t, filepath.Join(first, "nanobox-hcloud-bosh-release-"+version+".tgz"), true)
		var m boshrelease.Manifest
		require.NoError(t, yaml.UnmarshalStrict(files["release.MF"], &m))
		assert.Equal(t, "nanobox-hcloud", m.Name)
		assert.Equal(t, version, m.Version)
		assert.False(t, m.UncommittedChanges, "dist builds the commit")
		digests := map[string]string{}
		var jobs, packages []string
		for _, j := range m.Jobs {
			jobs, digests["jobs/"+j.Name+".tgz"] = append(jobs, j.Name), j.Digest
		}
		for _, p := range m.Packages {
			packages, digests["packages/"+p.Name+".tgz"] = append(packages, p.Name), p.Digest
		}
		assert.Equal(t, []string{"nanobox-cpi-shim", "nanobox-hcloud-cpi"}, jobs)
		assert.Equal(t, []string{"golang-1-linux", "nanobox-hcloud"}, packages)
		require.NotNil(t, m.License)
		digests["license.tgz"] = m.License.Digest
		for name, digest := range digests {
			sum := sha256.Sum256(files[name])
			assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), digest, name)
		}
		assert.Equal(t, string(licence), string(files["LICENSE"]))
		source := untar(t, writeTemp(t, files["packages/nanobox-hcloud.tgz"]), true)
		assert.Equal(t, version, strings.TrimSpace(string(source["./nanobox-hcloud/VERSION"])), "the package stamps the release's version")
	})

	for arch, machine := range machines {
		t.Run("tarball "+arch, func(t *testing.T) {
			files := untar(t, filepath.Join(first, "nanobox-hcloud-"+version+"-linux-"+arch+".tar.gz"), true)
			prefix := "nanobox-hcloud-" + version + "-linux-" + arch + "/"
			assert.Equal(t, string(licence), string(files[prefix+"LICENSE"]))
			for _, f := range []string{"README.md", "CHANGELOG.md", "third-party-notices.txt"} {
				assert.NotEmpty(t, files[prefix+f], f)
			}
			for _, bin := range repo.Commands {
				assertELF(t, files[prefix+bin], machine)
			}
		})
		t.Run("SBOM "+arch, func(t *testing.T) {
			for _, bin := range repo.Commands {
				var bom struct {
					BOMFormat    string `json:"bomFormat"`
					SerialNumber string `json:"serialNumber"`
					Metadata     struct {
						Timestamp string `json:"timestamp"`
						Component struct {
							Name       string `json:"name"`
							Properties []struct{ Name, Value string }
						} `json:"component"`
					} `json:"metadata"`
					Components []struct{ Name string } `json:"components"`
				}
				data, err := os.ReadFile(filepath.Join(first, bin+"-"+version+"-linux-"+arch+".cdx.json"))
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(data, &bom))
				assert.Equal(t, "CycloneDX", bom.BOMFormat)
				assert.Empty(t, bom.SerialNumber)
				assert.Empty(t, bom.Metadata.Timestamp)
				assert.Contains(t, bom.Metadata.Component.Properties, struct{ Name, Value string }{"cdx:gomod:build:env:GOARCH", arch})
				var deps []string
				for _, c := range bom.Components {
					deps = append(deps, c.Name)
				}
				assert.Contains(t, deps, "github.com/sirupsen/logrus")
			}
		})
	}

	t.Run("image index", func(t *testing.T) {
		dir := t.TempDir()
		for name, data := range untar(t, filepath.Join(first, "nanobox-hcloud-"+version+"-oci.tar"), false) {
			p := filepath.Join(dir, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, data, 0o644))
		}
		top, err := layout.ImageIndexFromPath(dir)
		require.NoError(t, err)
		tm, err := top.IndexManifest()
		require.NoError(t, err)
		require.Len(t, tm.Manifests, 1)
		// The reference name is a tag: "+" is not among its characters.
		assert.Equal(t, strings.ReplaceAll(version, "+", "_"), tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
		idx, err := top.ImageIndex(tm.Manifests[0].Digest)
		require.NoError(t, err)
		im, err := idx.IndexManifest()
		require.NoError(t, err)
		assert.Equal(t, "Apache-2.0", im.Annotations["org.opencontainers.image.licenses"])
		require.Len(t, im.Manifests, 2)
		seen := map[string]bool{}
		for _, d := range im.Manifests {
			require.NotNil(t, d.Platform)
			arch := d.Platform.Architecture
			seen[d.Platform.OS+"/"+arch] = true
			img, err := idx.Image(d.Digest)
			require.NoError(t, err)
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, arch, cf.Architecture)
			assert.Equal(t, version, cf.Config.Labels["org.opencontainers.image.version"])
			assert.Equal(t, "Apache-2.0", cf.Config.Labels["org.opencontainers.image.licenses"])
			fsys := imageFiles(t, img)
			for _, p := range []string{ociimage.ShimPath, ociimage.CPIPath} {
				assertELF(t, fsys[strings.TrimPrefix(p, "/")], machines[arch])
			}
		}
		assert.Equal(t, map[string]bool{"linux/amd64": true, "linux/arm64": true}, seen)
	})
}

// writeTemp writes data to a new temporary file.
func writeTemp(t *testing.T, data []byte) string {
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// untar reads every regular file of a tarball.
func untar(t *testing.T, path string, gz bool) map[string][]byte {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		r = zr
	}
	return tarFiles(t, r)
}

func tarFiles(t *testing.T, r io.Reader) map[string][]byte {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		if hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[hdr.Name] = data
		}
	}
}

// imageFiles reads the files of the image's layers.
func imageFiles(t *testing.T, img v1.Image) map[string][]byte {
	layers, err := img.Layers()
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		for k, v := range tarFiles(t, rc) {
			files[k] = v
		}
		require.NoError(t, rc.Close())
	}
	return files
}

func assertELF(t *testing.T, data []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, machine, f.Machine)
	assert.Nil(t, f.Section(".interp"), "static: no dynamic loader")
}
