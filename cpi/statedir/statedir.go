// Package statedir names and guards the files one Hetzner project keeps in
// the CPI's state directory, which every CPI process of a host shares.
//
// The directory is ours or unused. CheckDir creates it 0700 when absent,
// and otherwise accepts it only when it is a directory owned by the
// process's effective user that neither its group nor others may write; a
// symbolic link to such a directory is followed only when the link belongs
// to that user or to root (systemd's StateDirectory= under DynamicUser= is
// such a link). Every file in it is opened without following symbolic
// links (O_NOFOLLOW, and O_CLOEXEC), and a file that is not a regular file
// owned by the same user is refused: nothing is ever read from, or locked
// through, a file another user placed. A directory that fails these checks
// is an error of Open, and the caller works without it.
//
// A project is an API endpoint and token. Its files are named by a keyed
// hash (HMAC-SHA256) of the two, keyed with a random secret kept in the
// directory itself (file ".hmac-key"): the token never reaches the disk, and
// a file name cannot be tested against a guessed token without that secret.
// Every file is created 0600. Files are replaced atomically (a temporary
// file, then rename), so a reader sees a whole old or a whole new file;
// Lock serialises writers across processes.
//
// Nothing grows with traffic Hetzner refuses: a project has no file until
// MarkUsed records that Hetzner accepted its token (the callers create
// files only after that), and any Open removes, at most once an hour, the
// files of every project not used for Retention (see Sweep).
package statedir

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	keyFile = ".hmac-key"
	keySize = 32
)

// BaseSize bounds what the state directory holds besides projects' files:
// the HMAC secret (32 bytes) and the empty sweep stamp and lock.
const BaseSize = 4 << 10

// MaxFileSize bounds a file read from the state directory; a larger one
// is refused like a damaged one.
const MaxFileSize = 32 << 20

// Project is one project's corner of a state directory.
type Project struct {
	dir string
	id  string // hex HMAC-SHA256(secret, endpoint NUL token)
}

// ErrNotOurs is the error of a directory or file the checks refuse.
var ErrNotOurs = errors.New("not ours")

// CheckDir creates dir (0700, with any missing parents) when absent and
// checks that it is ours: a directory owned by the effective user, not
// writable by its group or others, or a symbolic link to one that belongs
// to that user or to root. The error says what failed, wrapping
// ErrNotOurs when the directory exists but is not ours.
func CheckDir(dir string) error {
	if dir == "" {
		return errors.New("state dir: no directory configured")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	euid := os.Geteuid()
	link, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if link.Mode()&fs.ModeSymlink != 0 {
		if uid := owner(link); uid != euid && uid != 0 {
			return fmt.Errorf("state dir %s: %w: a symbolic link owned by uid %d (this process runs as uid %d)", dir, ErrNotOurs, uid, euid)
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	switch {
	case !info.IsDir():
		return fmt.Errorf("state dir %s: %w: not a directory", dir, ErrNotOurs)
	case owner(info) != euid:
		return fmt.Errorf("state dir %s: %w: owned by uid %d, and this process runs as uid %d", dir, ErrNotOurs, owner(info), euid)
	case info.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("state dir %s: %w: mode %04o lets other users write to it (it must not be group- or world-writable; 0700 is right)", dir, ErrNotOurs, info.Mode().Perm())
	}
	return nil
}

// owner is the uid of a file; -1 when the platform does not say.
func owner(info fs.FileInfo) int {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// Open returns the project of endpoint and token in dir, creating the
// directory and its secret on first use. It fails when dir is not ours
// (CheckDir). It creates no file of the project, and sweeps the files of
// projects unused for Retention (Sweep).
func Open(dir, endpoint, token string) (*Project, error) {
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	secret, err := readOrCreateSecret(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	Sweep(dir, time.Now())
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(endpoint))
	mac.Write([]byte{0})
	mac.Write([]byte(token))
	return &Project{dir: dir, id: hex.EncodeToString(mac.Sum(nil))[:32]}, nil
}

// readOrCreateSecret reads the directory's HMAC secret, creating it when
// absent. The secret is written to a temporary file and linked into place,
// so no process ever reads a partial secret, and when two processes race to
// create it the link lets exactly one win and the other reads the winner's.
// A damaged secret (wrong size) is replaced: the files it named become
// unreachable, which only costs a refresh. A secret that is not ours (a
// symbolic link, another user's file) is an error.
func readOrCreateSecret(path string) ([]byte, error) {
	for attempt := 0; attempt < 3; attempt++ {
		data, err := ReadFile(path)
		switch {
		case err == nil && len(data) == keySize:
			return data, nil
		case err == nil:
			_ = os.Remove(path)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		secret := make([]byte, keySize)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
		if err != nil {
			return nil, err
		}
		_, werr := tmp.Write(secret)
		cerr := tmp.Close()
		if werr == nil && cerr == nil {
			werr = os.Link(tmp.Name(), path)
		}
		_ = os.Remove(tmp.Name())
		switch {
		case werr == nil && cerr == nil:
			return secret, nil
		case errors.Is(werr, fs.ErrExist):
			continue // another process won: read its secret
		case werr != nil:
			return nil, werr
		default:
			return nil, cerr
		}
	}
	return nil, errors.New("the HMAC secret could not be read")
}

// openFlags are added to every open in the state directory: never through
// a symbolic link, never inherited by a child, never blocking on a FIFO.
const openFlags = unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK

// openOurs opens path with flag|openFlags and checks that it is a regular
// file owned by the effective user; a symbolic link is refused by the
// kernel (ELOOP), anything else by the check, wrapping ErrNotOurs.
func openOurs(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|openFlags, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: %w: a symbolic link", filepath.Base(path), ErrNotOurs)
		}
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() || owner(info) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("%s: %w: not a regular file of uid %d", filepath.Base(path), ErrNotOurs, os.Geteuid())
	}
	return f, nil
}

// ReadFile reads a file of the state directory: only a regular file owned
// by the effective user, opened without following a symbolic link, of at
// most MaxFileSize bytes. A missing file is fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	f, err := openOurs(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", filepath.Base(path), MaxFileSize)
	}
	return data, nil
}

// ID is the project's name on disk and in metrics: a hash, not a secret.
func (p *Project) ID() string { return p.id[:16] }

// Path is the project's file of that kind and extension, e.g.
// Path("servers", "json").
func (p *Project) Path(kind, ext string) string {
	return filepath.Join(p.dir, kind+"-"+p.id+"."+ext)
}

// usedPath is the project's stamp: it exists once Hetzner accepted the
// project's token, and its modification time is the project's last use.
func (p *Project) usedPath() string { return p.Path("used", "stamp") }

// Accepted reports whether Hetzner accepted the project's token before
// (MarkUsed), so the project may have files.
func (p *Project) Accepted() bool {
	f, err := openOurs(p.usedPath(), os.O_RDONLY)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// MarkUsed records that Hetzner accepted the project's token now: the
// project may create files, and Sweep keeps them for Retention from now.
func (p *Project) MarkUsed() error {
	f, err := openOurs(p.usedPath(), os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Futimes(int(f.Fd()), nil)
}

// Retention is how long the files of a project nobody uses stay in the
// state directory.
const Retention = 24 * time.Hour

// sweepEvery is how often Sweep looks at the directory; tmpRetention is
// how long a temporary file a crashed writer left may stay.
const (
	sweepEvery   = time.Hour
	tmpRetention = time.Hour
	sweptFile    = ".swept"
	sweepLock    = ".sweep.lock"
)

// Sweep removes the files of every project not used for Retention (its
// stamp, or its newest file when it has none, is older), and temporary
// files older than an hour. It looks at the directory at most once per
// hour across processes (the stamp .swept) and costs one stat otherwise;
// one process sweeps at a time. Errors are ignored: a file left is swept
// next time.
func Sweep(dir string, now time.Time) {
	if info, err := os.Lstat(filepath.Join(dir, sweptFile)); err == nil && now.Sub(info.ModTime()) < sweepEvery {
		return
	}
	lock, ok, err := TryLock(filepath.Join(dir, sweepLock))
	if err != nil || !ok {
		return
	}
	defer lock.Unlock()
	if f, err := openOurs(filepath.Join(dir, sweptFile), os.O_WRONLY|os.O_CREATE); err == nil {
		_ = unix.Futimes(int(f.Fd()), nil)
		f.Close()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	lastUse := map[string]time.Time{}
	stamped := map[string]bool{}
	files := map[string][]string{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			if now.Sub(info.ModTime()) > tmpRetention {
				_ = os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		id, kind, ok := projectOf(name)
		if !ok {
			continue
		}
		files[id] = append(files[id], name)
		switch {
		case kind == "used":
			lastUse[id], stamped[id] = info.ModTime(), true
		case !stamped[id] && info.ModTime().After(lastUse[id]):
			lastUse[id] = info.ModTime()
		}
	}
	for id, names := range files {
		if now.Sub(lastUse[id]) <= Retention {
			continue
		}
		for _, name := range names {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
}

// projectOf parses a project file's name, kind-<id>.ext.
func projectOf(name string) (id, kind string, ok bool) {
	kind, rest, ok := strings.Cut(name, "-")
	if !ok {
		return "", "", false
	}
	id, _, ok = strings.Cut(rest, ".")
	if !ok || len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", "", false
	}
	return id, kind, true
}

// WriteFile replaces path atomically with data (0600): a new temporary
// file (O_EXCL, so never through a symbolic link), then rename, which
// replaces whatever was at path, a symbolic link included, without
// following it.
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Lock is an exclusive advisory lock (flock) on a lock file, held across
// processes until Unlock.
type Lock struct{ f *os.File }

// TryLock takes the lock at path if it is free; ok is false when another
// holder has it.
func TryLock(path string) (l *Lock, ok bool, err error) {
	f, err := openOurs(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &Lock{f: f}, true, nil
}

// LockWait takes the lock at path, waiting for the holder to release it,
// or returns ctx's error when ctx ends first.
func LockWait(ctx context.Context, path string) (*Lock, error) {
	f, err := openOurs(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- flockRetry(f) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, err
		}
		return &Lock{f: f}, nil
	case <-ctx.Done():
		// The waiter releases the lock as soon as it gets it.
		go func() {
			if <-done == nil {
				_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			}
			f.Close()
		}()
		return nil, ctx.Err()
	}
}

func flockRetry(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
