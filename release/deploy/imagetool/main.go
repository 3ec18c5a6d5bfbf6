// Command imagetool builds the OCI image of nanobox-cpi-shim and
// nanobox-hcloud-cpi without a container daemon (`make image` runs it):
//
//	imagetool --bin bin --layout bin/oci --tar bin/nanobox-hcloud-image.tar \
//	  --version v1.2.0 --revision <commit> --created <commit time, RFC 3339> \
//	  --source https://github.com/nanobox-hcloud/nanobox-hcloud --licenses <SPDX>
//
// With --platform ARCH=DIR (repeated, instead of --bin and --tar) it writes
// one multi-platform image: an OCI image index of one image per
// architecture, from the static linux/ARCH binaries in DIR (`make dist`).
//
// It lives in its own Go module (release/deploy) so that
// go-containerregistry stays out of the release's go.mod.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagetool:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var o ociimage.Options
	var layoutDir, tarPath, created string
	var platforms platformFlag
	fs := flag.NewFlagSet("imagetool", flag.ContinueOnError)
	fs.StringVar(&o.BinDir, "bin", "", "directory holding the static nanobox-cpi-shim and nanobox-hcloud-cpi")
	fs.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle copied into the image (HTTPS to the cloud's API)")
	fs.StringVar(&o.Version, "version", "", "image version (org.opencontainers.image.version)")
	fs.StringVar(&o.Revision, "revision", "", "source commit (org.opencontainers.image.revision)")
	fs.StringVar(&o.Source, "source", "", "source repository URL (org.opencontainers.image.source)")
	fs.StringVar(&o.Licenses, "licenses", "", "SPDX licence expression (org.opencontainers.image.licenses)")
	fs.StringVar(&o.Arch, "arch", "", "GOARCH the binaries were built for (default: this machine's)")
	fs.StringVar(&created, "created", "", "creation time, RFC 3339 (the commit's time keeps the image reproducible)")
	fs.StringVar(&layoutDir, "layout", "", "write an OCI image layout to this directory (required)")
	fs.StringVar(&tarPath, "tar", "", "also write a tarball for docker load / podman load")
	fs.Var(&platforms, "platform", "ARCH=DIR: an image index with one image per architecture, from DIR's linux/ARCH binaries (repeat)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if layoutDir == "" {
		return fmt.Errorf("--layout is required")
	}
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return fmt.Errorf("--created: %w", err)
		}
		o.Created = t
	}
	if len(platforms) > 0 {
		if tarPath != "" || o.BinDir != "" || o.Arch != "" {
			return errors.New("--platform builds an image index: without --bin, --arch and --tar (docker load takes one platform)")
		}
		return writeIndex(o, platforms, layoutDir, stdout)
	}
	img, err := ociimage.Build(o)
	if err != nil {
		return err
	}
	if err := ociimage.Write(img, o, layoutDir, tarPath); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := ociimage.Size(img)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imagetool: %s %s (%d bytes compressed) in %s", o.Tag(), digest, size, layoutDir)
	if tarPath != "" {
		fmt.Fprintf(stdout, " and %s", tarPath)
	}
	fmt.Fprintln(stdout)
	return nil
}

// platformFlag collects --platform ARCH=DIR.
type platformFlag []ociimage.Platform

func (p *platformFlag) String() string { return fmt.Sprint(*p) }

func (p *platformFlag) Set(v string) error {
	arch, dir, ok := strings.Cut(v, "=")
	if !ok || arch == "" || dir == "" {
		return fmt.Errorf("want ARCH=DIR, got %q", v)
	}
	*p = append(*p, ociimage.Platform{Arch: arch, BinDir: dir})
	return nil
}

func writeIndex(o ociimage.Options, platforms []ociimage.Platform, layoutDir string, stdout io.Writer) error {
	idx, err := ociimage.BuildIndex(o, platforms)
	if err != nil {
		return err
	}
	if err := ociimage.WriteIndex(idx, o, layoutDir); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	size, err := ociimage.IndexSize(idx)
	if err != nil {
		return err
	}
	var archs []string
	for _, p := range platforms {
		archs = append(archs, "linux/"+p.Arch)
	}
	fmt.Fprintf(stdout, "imagetool: %s %s for %s (%d bytes compressed) in %s\n", o.Tag(), digest, strings.Join(archs, ", "), size, layoutDir)
	return nil
}
