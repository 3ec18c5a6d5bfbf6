// Package ociimage builds the OCI image of nanobox-cpi-shim and
// nanobox-hcloud-cpi with go-containerregistry, without a container daemon.
// Its constants say where things are in the image; the Kubernetes
// manifests' test holds them to the same facts.
package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are inside the image. The shim finds the CPI, its config and
// its metrics through the environment (NANOBOX_SHIM_CPI,
// NANOBOX_SHIM_CPI_CONFIG, NANOBOX_SHIM_CPI_METRICS_DIR), so
// an operator changes either with -e, or mounts another config over
// ConfigPath.
const (
	ShimPath   = "/usr/local/bin/nanobox-cpi-shim"
	CPIPath    = "/usr/local/bin/nanobox-hcloud-cpi"
	ConfigPath = "/etc/nanobox-hcloud/cpi.json"
	StateDir   = "/var/lib/nanobox-hcloud"
	Port       = 8080
)

// UID and GID the image runs as: not root, and no name on the host's
// side needed (65532 is distroless's "nonroot").
const (
	UID = 65532
	GID = 65532
)

// DefaultConfig is the CPI config the image ships: the state dir is the
// image's (a volume), and a request without an Auth-Api-Token header never
// acts on an operator's project, since a container's port is reachable by
// others.
var DefaultConfig = map[string]any{
	"state_dir":                StateDir,
	"operator_token_for_calls": false,
}

// Options say what to build.
type Options struct {
	BinDir      string    // holds nanobox-cpi-shim and nanobox-hcloud-cpi (static, for Arch)
	CABundle    string    // PEM bundle of CA certificates for HTTPS to the cloud's API
	Version     string    // e.g. v1.2.0 or a git describe
	Revision    string    // the source commit
	Source      string    // the source repository's URL
	Licenses    string    // SPDX expression
	Created     time.Time // the commit's time, for a reproducible image
	Arch        string    // GOARCH of the binaries; "" means runtime.GOARCH
	Description string
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var problems []string
	for _, f := range []struct{ flag, value string }{
		{"bin", o.BinDir}, {"ca-bundle", o.CABundle}, {"version", o.Version}, {"revision", o.Revision},
		{"source", o.Source}, {"licenses", o.Licenses},
	} {
		if f.value == "" {
			problems = append(problems, "--"+f.flag+" is required")
		}
	}
	if o.Created.IsZero() {
		problems = append(problems, "--created is required")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Labels are the image's OCI annotations, set as config labels and as
// manifest annotations.
func (o Options) Labels() map[string]string {
	desc := o.Description
	if desc == "" {
		desc = "Nanobox custom-provider adapter for Hetzner Cloud: nanobox-cpi-shim serving the Nanobox HTTP API in front of the nanobox-hcloud-cpi CPI"
	}
	return map[string]string{
		"org.opencontainers.image.title":       "nanobox-hcloud",
		"org.opencontainers.image.description": desc,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.licenses":    o.Licenses,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
}

// Tag is the name the tarball carries for `docker load` / `podman load`.
func (o Options) Tag() string {
	return "nanobox-hcloud:" + tagUnsafe.ReplaceAllString(o.Version, "_")
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// entry is one file or directory of the image's only layer.
type entry struct {
	path     string // absolute, inside the image
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// files lists the image's whole filesystem: two static binaries, the CA
// bundle, passwd/group naming the non-root user, the default config and
// the writable directories. No shell, no package manager, nothing else.
func (o Options) files() ([]entry, error) {
	var problems []string
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return data
	}
	shim := read(filepath.Join(o.BinDir, "nanobox-cpi-shim"))
	cpi := read(filepath.Join(o.BinDir, "nanobox-hcloud-cpi"))
	ca := read(o.CABundle)
	if ca != nil && !x509.NewCertPool().AppendCertsFromPEM(ca) {
		problems = append(problems, fmt.Sprintf("CA bundle %s holds no PEM certificate (install ca-certificates, or pass another --ca-bundle)", o.CABundle))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	config, err := json.MarshalIndent(DefaultConfig, "", "  ")
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	return []entry{
		{path: "/etc", mode: 0o755, dir: true},
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: "/etc/ssl", mode: 0o755, dir: true},
		{path: "/etc/ssl/certs", mode: 0o755, dir: true},
		{path: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{path: "/etc/nanobox-hcloud", mode: 0o755, dir: true},
		{path: ConfigPath, mode: 0o644, data: append(config, '\n')},
		{path: "/home", mode: 0o755, dir: true},
		{path: "/home/nonroot", mode: 0o700, uid: UID, gid: GID, dir: true},
		{path: "/tmp", mode: 0o1777, dir: true},
		{path: "/usr", mode: 0o755, dir: true},
		{path: "/usr/local", mode: 0o755, dir: true},
		{path: "/usr/local/bin", mode: 0o755, dir: true},
		{path: ShimPath, mode: 0o755, data: shim},
		{path: CPIPath, mode: 0o755, data: cpi},
		{path: "/var", mode: 0o755, dir: true},
		{path: "/var/lib", mode: 0o755, dir: true},
		{path: StateDir, mode: 0o700, uid: UID, gid: GID, dir: true},
	}, nil
}

// layerTar writes entries as a tar with fixed times and owners, so the same
// inputs give the same layer digest.
func layerTar(entries []entry, mtime time.Time) ([]byte, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: strings.TrimPrefix(e.path, "/"), Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: mtime, Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(e.data)),
		}
		if e.dir {
			hdr.Name += "/"
			hdr.Typeflag = tar.TypeDir
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build assembles the image: one layer, an OCI manifest, and a config that
// runs the shim as UID:GID, pointed at the CPI, configured through Env.
func Build(o Options) (v1.Image, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	entries, err := o.files()
	if err != nil {
		return nil, err
	}
	data, err := layerTar(entries, o.Created)
	if err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "release/deploy/imagetool", Comment: "static nanobox-cpi-shim and nanobox-hcloud-cpi"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	cf.OS, cf.Architecture, cf.Variant = "linux", arch, variant(arch)
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = o.Source
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint: []string{ShimPath},
		Env: []string{
			"PATH=/usr/local/bin",
			"TMPDIR=/tmp",
			fmt.Sprintf("NANOBOX_SHIM_LISTEN=0.0.0.0:%d", Port),
			"NANOBOX_SHIM_CPI=" + CPIPath,
			"NANOBOX_SHIM_CPI_CONFIG=" + ConfigPath,
			// The CPI leaves its rate-limit budget gauge in its state dir;
			// the shim serves it in /metrics.
			"NANOBOX_SHIM_CPI_METRICS_DIR=" + StateDir,
		},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Volumes:      map[string]struct{}{StateDir: {}},
		Labels:       o.Labels(),
		StopSignal:   "SIGTERM",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, o.Labels()).(v1.Image), nil
}

// Write stores img as an OCI image layout in layoutDir (replacing what is
// there) and, when tarPath is set, as a tarball for `docker load`.
func Write(img v1.Image, o Options, layoutDir, tarPath string) error {
	if err := os.RemoveAll(layoutDir); err != nil {
		return err
	}
	p, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", layoutDir, err)
	}
	ref := strings.TrimPrefix(o.Tag(), "nanobox-hcloud:")
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", layoutDir, err)
	}
	if tarPath == "" {
		return nil
	}
	tag, err := name.NewTag(o.Tag())
	if err != nil {
		return fmt.Errorf("image tag %s: %w", o.Tag(), err)
	}
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		return fmt.Errorf("image tarball %s: %w", tarPath, err)
	}
	return nil
}

// Size is what a registry stores: the manifest, the config and the
// compressed layers.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	size := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

// variant is the OCI platform variant conventionally given with an
// architecture (arm64 is v8); "" for the others.
func variant(arch string) string {
	if arch == "arm64" {
		return "v8"
	}
	return ""
}

// Platform is one image of an index: the binaries in BinDir are static
// linux/Arch executables.
type Platform struct {
	Arch   string
	BinDir string
}

// BuildIndex assembles one image per platform (o's fields but BinDir and
// Arch) into an OCI image index, each entry naming its platform, so a
// registry client pulls the one its machine runs.
func BuildIndex(o Options, platforms []Platform) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		return nil, errors.New("an image index needs at least one platform")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		if p.Arch == "" || seen[p.Arch] {
			return nil, fmt.Errorf("platform architectures must be named and distinct: %q", p.Arch)
		}
		seen[p.Arch] = true
		po := o
		po.BinDir, po.Arch = p.BinDir, p.Arch
		img, err := Build(po)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", p.Arch, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Platform:  &v1.Platform{OS: "linux", Architecture: p.Arch, Variant: variant(p.Arch)},
		}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, o.Labels()).(v1.ImageIndex), nil
}

// WriteIndex stores idx as an OCI image layout in layoutDir (replacing what
// is there): index.json names the image index by the version, the way
// `skopeo copy --all oci:DIR:VERSION docker://...` finds it.
func WriteIndex(idx v1.ImageIndex, o Options, layoutDir string) error {
	if err := os.RemoveAll(layoutDir); err != nil {
		return err
	}
	p, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", layoutDir, err)
	}
	ref := strings.TrimPrefix(o.Tag(), "nanobox-hcloud:")
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", layoutDir, err)
	}
	return nil
}

// IndexSize is what a registry stores for idx: the index manifest and, for
// each platform, Size of its image.
func IndexSize(idx v1.ImageIndex) (int64, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, err
	}
	size := int64(len(raw))
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return 0, err
		}
		n, err := Size(img)
		if err != nil {
			return 0, err
		}
		size += n
	}
	return size, nil
}
