package boshrelease

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// entry is one entry of a tarball.
type entry struct {
	name string // inside the archive; a directory's ends in "/"
	src  string // the file whose content it is
	body []byte // or its content, when src is ""
	mode int64
	link string // a symlink's target
}

// memberEntries are the entries of an archive of members the way bosh-cli
// packs its staging directory (`tar -C staging .`): "./", every directory
// the names imply, and each member, sorted by name.
func memberEntries(members []member) ([]entry, error) {
	dirs := map[string]bool{"./": true}
	var entries []entry
	for _, m := range members {
		for d := path.Dir(m.name); d != "."; d = path.Dir(d) {
			dirs["./"+d+"/"] = true
		}
		e, err := memberEntry(m)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	for d := range dirs {
		entries = append(entries, entry{name: d, mode: 0o755})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// memberEntry copies a member as bosh-cli's ArchiveImpl.copyFile does: a
// kept symlink as a symlink, anything else as a file of mode 0755 when its
// owner may execute it (a followed link's own mode counts) and 0644 if not.
func memberEntry(m member) (entry, error) {
	info, err := os.Lstat(m.path)
	if err != nil {
		return entry{}, err
	}
	e := entry{name: "./" + m.name, src: m.path, mode: 0o644}
	if info.Mode()&fs.ModeSymlink != 0 && !m.follow {
		target, err := os.Readlink(m.path)
		if err != nil {
			return entry{}, err
		}
		return entry{name: e.name, mode: 0o777, link: target}, nil
	}
	if info.Mode()&0o100 != 0 {
		e.mode = 0o755
	}
	return e, nil
}

// writeArchive writes entries to f as a tarball, gzip-compressed unless
// raw, with every time mtime and owner 0:0.
func writeArchive(f io.Writer, entries []entry, mtime time.Time, raw bool) error {
	w := f
	var zw *gzip.Writer
	if !raw {
		zw = gzip.NewWriter(f) // Header zero: no name, no time
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := writeEntry(tw, e, mtime); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	hdr := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX}
	switch {
	case strings.HasSuffix(e.name, "/"):
		hdr.Typeflag = tar.TypeDir
		return tw.WriteHeader(hdr)
	case e.link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	var r io.Reader = bytes.NewReader(e.body)
	hdr.Size = int64(len(e.body))
	if e.src != "" {
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", e.src)
		}
		r, hdr.Size = f, info.Size()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%s changed while it was packed", e.src)
	}
	return nil
}
