// Package boshrelease packs a BOSH release directory into a release tarball,
// the file `bosh create-release --tarball` writes, without the bosh CLI and
// reproducibly.
//
// The directory is a release as bosh reads it: jobs/<name>/{spec,monit,
// properties_schema.json,templates/}, packages/<name>/{spec,packaging},
// src/ and blobs/ (the files packages' globs match), and LICENSE*/NOTICE* at
// its top. What it selects and how it names things are bosh-cli v7's rules
// (release/job, release/pkg, release/license and release/resource there):
//
//   - a job's archive holds its spec as job.MF, monit, properties_schema.json
//     and every template its spec names, symlinks followed;
//   - a package's archive holds its packaging script and every file its
//     spec's `files` globs match in src/ (first) or blobs/, minus those its
//     `excluded_files` globs match, symlinks kept as symlinks; globs are
//     bosh's (github.com/bmatcuk/doublestar v1, the library bosh-cli uses);
//   - the license archive holds LICENSE* and NOTICE*, which are also copied
//     to the tarball's top;
//   - a fingerprint is the hexadecimal SHA-256 of "v2", then per file, in
//     path order, its name, its content's digest ("sha256:" and the
//     hexadecimal SHA-256; of a kept symlink: of its target) and
//     its git-style mode (jobs and packages' files; not a packaging script's
//     or a license file's), then a package's dependencies, sorted and joined
//     by commas; the fingerprint is each job's and package's version;
//   - release.MF lists jobs and packages by name with fingerprint, version,
//     the archive's digest (in the field bosh calls sha1), a job's packages
//     and a package's dependencies.
//
// SHA-256 is bosh-cli v7's default digest: `bosh create-release` writes
// "sha256:" digests and SHA-256 fingerprints.
//
// So a directory gives the fingerprints `bosh create-release` gives it, and
// a director or `bosh create-env` reads the tarball as one bosh made.
//
// Unlike bosh's (which shells out to tar), the archives are byte-for-byte
// reproducible for one Go toolchain: entries sorted by name, every time the
// given one, owner 0:0 without names, modes 0755 for directories and files
// executable by their owner and 0644 otherwise, gzip without a name or a
// time. Two builds of one directory at one time give one SHA-256.
//
// Packages vendored with `bosh vendor-package` (a spec.lock) and
// pre_packaging scripts are refused: the first needs the release's final
// builds, the second runs code at packing time, and bosh deprecated it.
package boshrelease
