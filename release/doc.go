// Package release holds no code of its own: it is the BOSH release tree of
// nanobox-hcloud (config/, jobs/, packages/, src/, manifests/, scripts/) and
// the tests that check it, run by `go test ./release` and so by `make test`.
//
// The tests need Ruby (ERB, as the BOSH director renders templates) and
// shellcheck; on Debian: apt-get install -y ruby shellcheck. They fail, never
// skip, when either is missing.
package release
