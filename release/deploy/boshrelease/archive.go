package boshrelease

import (
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/reprotar"
)

// memberEntries are the entries of an archive of members the way bosh-cli
// packs its staging directory (`tar -C staging .`): "./", every directory
// the names imply, and each member, sorted by name.
func memberEntries(members []member) ([]reprotar.Entry, error) {
	dirs := map[string]bool{"./": true}
	var entries []reprotar.Entry
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
		entries = append(entries, reprotar.Entry{Name: d, Mode: 0o755})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, nil
}

// memberEntry copies a member as bosh-cli's ArchiveImpl.copyFile does: a
// kept symlink as a symlink, anything else as a file of mode 0755 when its
// owner may execute it (a followed link's own mode counts) and 0644 if not.
func memberEntry(m member) (reprotar.Entry, error) {
	info, err := os.Lstat(m.path)
	if err != nil {
		return reprotar.Entry{}, err
	}
	e := reprotar.Entry{Name: "./" + m.name, Src: m.path, Mode: 0o644}
	if info.Mode()&fs.ModeSymlink != 0 && !m.follow {
		target, err := os.Readlink(m.path)
		if err != nil {
			return reprotar.Entry{}, err
		}
		return reprotar.Entry{Name: e.Name, Mode: 0o777, Link: target}, nil
	}
	if info.Mode()&0o100 != 0 {
		e.Mode = 0o755
	}
	return e, nil
}
