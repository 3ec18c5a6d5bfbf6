// Package reprotar writes tarballs whose bytes depend only on their
// entries: the caller gives the order, every entry gets one time, owner
// 0:0 without names, and gzip (when asked for) has no name and no time.
// disttool's release tarballs and the BOSH release's archives are written
// with it.
package reprotar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Entry is one entry of a tarball.
type Entry struct {
	Name string // inside the archive; a directory's ends in "/"
	Src  string // the file whose content it is
	Body []byte // or its content, when Src is ""
	Mode int64
	Link string // a symlink's target
}

// Options say how the tarball is written.
type Options struct {
	ModTime time.Time // every entry's time
	Gzip    bool      // gzip the tar stream
	Level   int       // gzip's level (gzip.DefaultCompression when 0)
}

// WriteFile writes the tarball to a file created beside out (never
// following a link) and renames it into place once complete, mode 0644;
// on an error nothing is left.
func WriteFile(out string, entries []Entry, o Options) (err error) {
	f, err := os.CreateTemp(filepath.Dir(out), ".reprotar-*") // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := Write(f, entries, o); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

// Write writes entries to w in their order.
func Write(w io.Writer, entries []Entry, o Options) error {
	var zw *gzip.Writer
	if o.Gzip {
		level := o.Level
		if level == 0 {
			level = gzip.DefaultCompression
		}
		var err error
		if zw, err = gzip.NewWriterLevel(w, level); err != nil { // Header zero: no name, no time
			return err
		}
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := writeEntry(tw, e, o.ModTime); err != nil {
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

func writeEntry(tw *tar.Writer, e Entry, mtime time.Time) error {
	hdr := &tar.Header{Name: e.Name, Mode: e.Mode, ModTime: mtime, Format: tar.FormatPAX}
	switch {
	case strings.HasSuffix(e.Name, "/"):
		hdr.Typeflag = tar.TypeDir
		return tw.WriteHeader(hdr)
	case e.Link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	var r io.Reader = bytes.NewReader(e.Body)
	hdr.Size = int64(len(e.Body))
	if e.Src != "" {
		f, err := os.Open(e.Src)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", e.Src)
		}
		r, hdr.Size = f, info.Size()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%s changed while it was packed", e.Src)
	}
	return nil
}
