// Package statedir names and guards the files one Hetzner project keeps in
// the CPI's state directory, which every CPI process of a host shares.
//
// A project is an API endpoint and token. Its files are named by a keyed
// hash (HMAC-SHA256) of the two, keyed with a random secret kept in the
// directory itself (file ".hmac-key"): the token never reaches the disk, and
// a file name cannot be tested against a guessed token without that secret.
// The directory is created 0700 and every file 0600. Files are replaced
// atomically (a temporary file, then rename), so a reader sees a whole old
// or a whole new file; Lock serialises writers across processes.
package statedir

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const (
	keyFile = ".hmac-key"
	keySize = 32
)

// Project is one project's corner of a state directory.
type Project struct {
	dir string
	id  string // hex HMAC-SHA256(secret, endpoint NUL token)
}

// Open returns the project of endpoint and token in dir, creating the
// directory and its secret on first use.
func Open(dir, endpoint, token string) (*Project, error) {
	if dir == "" {
		return nil, errors.New("state dir: no directory configured")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	secret, err := readOrCreateSecret(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
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
// unreachable, which only costs a refresh.
func readOrCreateSecret(path string) ([]byte, error) {
	for attempt := 0; attempt < 3; attempt++ {
		data, err := os.ReadFile(path)
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

// ID is the project's name on disk and in metrics: a hash, not a secret.
func (p *Project) ID() string { return p.id[:16] }

// Path is the project's file of that kind and extension, e.g.
// Path("servers", "json").
func (p *Project) Path(kind, ext string) string {
	return filepath.Join(p.dir, kind+"-"+p.id+"."+ext)
}

// WriteFile replaces path atomically with data (0600).
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
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
