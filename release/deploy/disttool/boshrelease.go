package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/boshrelease"
)

func runBoshRelease(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("disttool bosh-release", flag.ContinueOnError)
	dir := fs.String("dir", "", "the release directory (scripts/build-release --layout-only assembles it)")
	out := fs.String("out", "", "the release tarball to write")
	name := fs.String("name", "", "the release's name (default: config/final.yml's)")
	version := fs.String("version", "", "the release's version, semi-semantic")
	commit := fs.String("commit", "", "the source's commit (git rev-parse --short HEAD)")
	uncommitted := fs.Bool("uncommitted", false, "the source had uncommitted changes")
	mtime := fs.Int64("mtime", -1, "every entry's time, seconds since 1970 (the commit's: SOURCE_DATE_EPOCH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *name == "" && *dir != "" {
		*name = finalName(*dir)
	}
	o := boshrelease.Options{Dir: *dir, Out: *out, Name: *name, Version: *version,
		CommitHash: *commit, UncommittedChanges: *uncommitted}
	if *mtime >= 0 {
		o.ModTime = time.Unix(*mtime, 0).UTC()
	}
	m, err := boshrelease.Build(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "disttool: %s (release %s/%s: %d jobs, %d packages)\n", *out, m.Name, m.Version, len(m.Jobs), len(m.Packages))
	return nil
}

// finalName is config/final.yml's final_name, else its name, as bosh reads
// it; "" when there is neither (Validate then says a name is needed).
func finalName(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "config", "final.yml"))
	if err != nil {
		return ""
	}
	var final struct {
		FinalName string `yaml:"final_name"`
		Name      string `yaml:"name"`
	}
	if yaml.Unmarshal(data, &final) != nil {
		return ""
	}
	if final.FinalName != "" {
		return final.FinalName
	}
	return final.Name
}
