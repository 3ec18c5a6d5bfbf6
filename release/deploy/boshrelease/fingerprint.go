package boshrelease

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// member is one file of a job's, a package's or the license's archive.
type member struct {
	path string // on disk
	name string // inside the archive, slash-separated
	// fingerprint options, as bosh-cli's resource.File has them
	useBasename bool // fingerprint the base name instead of name
	excludeMode bool // leave the mode out of the fingerprint
	follow      bool // a symlink's target's content, not the link
}

// fingerprint is bosh-cli's FingerprinterImpl.Calculate with its default
// digest, SHA-256: the hexadecimal SHA-256 of "v2", each member's chunk in
// name order, then the sorted extra chunks joined by commas.
func fingerprint(members []member, extra []string) (string, error) {
	sorted := append([]member(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var b strings.Builder
	b.WriteString("v2")
	for _, m := range sorted {
		chunk, err := m.chunk()
		if err != nil {
			return "", err
		}
		b.WriteString(chunk)
	}
	if len(extra) > 0 {
		chunks := append([]string(nil), extra...)
		sort.Strings(chunks)
		b.WriteString(strings.Join(chunks, ","))
	}
	sum, err := digest(strings.NewReader(b.String()))
	return strings.TrimPrefix(sum, digestPrefix), err
}

// chunk is the member's part of a fingerprint: its name, its content's
// digest ("sha256:" and hexadecimal) and, unless excluded, its mode the way
// git records modes.
func (m member) chunk() (string, error) {
	name := m.name
	if m.useBasename {
		name = filepath.Base(m.path)
	}
	info, err := os.Lstat(m.path)
	if err != nil {
		return "", err
	}
	keptLink := info.Mode()&fs.ModeSymlink != 0 && !m.follow
	var sum string
	if keptLink {
		target, err := os.Readlink(m.path)
		if err != nil {
			return "", err
		}
		sum, err = digest(strings.NewReader(target))
		if err != nil {
			return "", err
		}
	} else if sum, err = fileDigest(m.path); err != nil {
		return "", err
	}
	if m.excludeMode {
		return name + sum, nil
	}
	// A followed link's mode is the link's own, as bosh-cli has it.
	switch {
	case info.IsDir():
		return name + sum + "40755", nil
	case keptLink:
		return name + sum + "symlink", nil
	case info.Mode()&0o111 != 0:
		return name + sum + "100755", nil
	}
	return name + sum + "100644", nil
}

// digestPrefix starts every digest, as bosh writes SHA-256 digests.
const digestPrefix = "sha256:"

// fileDigest is the digest of a file's content.
func fileDigest(path string) (string, error) {
	sum, err := fileSum(path, sha256.New())
	return digestPrefix + sum, err
}

// fileSum is the hexadecimal sum of a file's content under h.
func fileSum(path string, h hash.Hash) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digest is bosh's SHA-256 digest: "sha256:" and the hexadecimal sum.
func digest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return digestPrefix + hex.EncodeToString(h.Sum(nil)), nil
}
