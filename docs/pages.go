// Package docs is the repository's documentation. Its markdown pages are
// embedded here so that the shim serves them at /docs/ (package
// protocol/shim's landing page links them): a running adapter documents
// itself without a network.
package docs

import "embed"

// Pages holds every *.md of this directory (not bench/ below it) and the
// third-party notices of the binaries.
//
//go:embed *.md third-party-notices.txt
var Pages embed.FS
