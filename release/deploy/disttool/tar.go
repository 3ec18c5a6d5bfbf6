package main

import (
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/reprotar"
)

// tarEntry is one file or directory of the tarball.
type tarEntry struct {
	name string // inside the archive, slash-separated, no trailing slash
	src  string // "" for a directory
	exec bool
}

func runTar(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("disttool tar", flag.ContinueOnError)
	out := fs.String("out", "", "the tarball to write (.tar, or .tar.gz for gzip)")
	mtime := fs.Int64("mtime", -1, "every entry's time, seconds since 1970 (the commit's: SOURCE_DATE_EPOCH)")
	prefix := fs.String("prefix", "", "a directory every entry is put under, e.g. nanobox-hcloud-0.1.0-linux-amd64/")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []string
	if *out == "" {
		problems = append(problems, "--out is required")
	}
	if *mtime < 0 {
		problems = append(problems, "--mtime is required (seconds since 1970)")
	}
	if fs.NArg() == 0 {
		problems = append(problems, "name at least one NAME=PATH")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	entries, err := collect(*prefix, fs.Args())
	if err != nil {
		return err
	}
	if err := writeTar(*out, entries, time.Unix(*mtime, 0).UTC()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "disttool: %s (%d entries)\n", *out, len(entries))
	return nil
}

// collect expands NAME=PATH arguments (a directory to its whole tree) into
// sorted entries, with the prefix's directories first.
func collect(prefix string, args []string) ([]tarEntry, error) {
	c := collector{byName: map[string]tarEntry{}}
	for _, a := range args {
		name, src, ok := strings.Cut(a, "=")
		name = path.Clean(prefix + name)
		if !ok || src == "" || strings.HasPrefix(name, "/") || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("want NAME=PATH with a relative NAME, got %q", a)
		}
		if err := c.walk(name, src); err != nil {
			return nil, err
		}
	}
	entries := make([]tarEntry, 0, len(c.byName))
	for _, e := range c.byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// collector gathers entries by name, with their parent directories.
type collector struct{ byName map[string]tarEntry }

func (c collector) add(e tarEntry) error {
	if old, ok := c.byName[e.name]; ok && (old.src != "" || e.src != "") {
		return fmt.Errorf("%s is named twice", e.name)
	}
	c.byName[e.name] = e
	for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
		c.byName[d] = tarEntry{name: d}
	}
	return nil
}

// walk adds src (a file, or a directory's whole tree) as name.
func (c collector) walk(name, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		n := path.Join(name, filepath.ToSlash(rel))
		switch {
		case n == ".":
			return nil // the archive's root
		case d.IsDir():
			return c.add(tarEntry{name: n})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return c.add(tarEntry{name: n, src: p, exec: info.Mode()&0o111 != 0})
		}
		return fmt.Errorf("%s is neither a file nor a directory", p)
	})
}

// writeTar writes entries to out (gzip for a .gz name) through a temporary
// file beside it, renamed into place once complete.
func writeTar(out string, entries []tarEntry, mtime time.Time) error {
	tarEntries := make([]reprotar.Entry, 0, len(entries))
	for _, e := range entries {
		te := reprotar.Entry{Name: e.name, Src: e.src, Mode: 0o644}
		switch {
		case e.src == "":
			te.Name, te.Mode = e.name+"/", 0o755
		case e.exec:
			te.Mode = 0o755
		}
		tarEntries = append(tarEntries, te)
	}
	return reprotar.WriteFile(out, tarEntries, reprotar.Options{ModTime: mtime, Gzip: strings.HasSuffix(out, ".gz"), Level: gzip.BestCompression})
}
