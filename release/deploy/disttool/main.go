// Command disttool makes the reproducible parts of `make dist`
// (scripts/dist runs it):
//
//	disttool tar --out FILE.tar.gz --mtime UNIX [--prefix DIR/] NAME=PATH...
//	disttool notices --out FILE --module-dir DIR --swagger-ui DIR BINARY...
//	disttool bosh-release --dir DIR --out FILE.tgz --version V --commit HASH --mtime UNIX
//
// tar writes a tarball whose bytes depend only on its inputs: entries sorted
// by name, every time the given mtime (the commit's), owner 0:0 without
// names, modes 0755 for executables and directories and 0644 otherwise, and
// (for a .gz name) gzip without a name or a time. A PATH that is a directory
// adds its whole tree under NAME.
//
// notices writes the third-party notices of the given Go binaries: the Go
// toolchain's licence, then, for every module linked into any of them (read
// from the binaries' build information, as `go version -m` shows it), the
// licence and notice files at the top of the module's directory in the
// module cache (`go mod download -json`, run in --module-dir), then the
// licence files of the Swagger UI the landing page embeds.
//
// bosh-release packs a BOSH release directory into the release tarball
// `bosh create-release --tarball` would write, with bosh's fingerprints,
// reproducibly and without the bosh CLI (package boshrelease).
//
// It lives in the release/deploy module so the release's go.mod stays free
// of release tooling.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "disttool:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: disttool tar|notices|bosh-release [flags]")
	}
	switch args[0] {
	case "tar":
		return runTar(args[1:], stdout)
	case "notices":
		return runNotices(args[1:], stdout)
	case "bosh-release":
		return runBoshRelease(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q (want tar, notices or bosh-release)", args[0])
}
