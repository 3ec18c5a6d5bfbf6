package statedir_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

func TestProjectKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	// Many openers at once agree on one secret.
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := statedir.Open(dir, "https://api", "token-a")
			require.NoError(t, err)
			ids[i] = p.ID()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	other, err := statedir.Open(dir, "https://api", "token-b")
	require.NoError(t, err)
	require.NotEqual(t, ids[0], other.ID())
	elsewhere, err := statedir.Open(dir, "https://other", "token-a")
	require.NoError(t, err)
	require.NotEqual(t, ids[0], elsewhere.ID())

	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	info, err = os.Stat(filepath.Join(dir, ".hmac-key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// Another directory has another secret: the same token names other files.
	p2, err := statedir.Open(t.TempDir(), "https://api", "token-a")
	require.NoError(t, err)
	require.NotEqual(t, ids[0], p2.ID())

	// A damaged secret is replaced.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".hmac-key"), []byte("short"), 0o600))
	p3, err := statedir.Open(dir, "https://api", "token-a")
	require.NoError(t, err)
	require.NotEqual(t, ids[0], p3.ID())
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, statedir.WriteFile(path, []byte("one")))
	require.NoError(t, statedir.WriteFile(path, []byte("two")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "two", string(data))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, ok, err := statedir.TryLock(path)
	require.NoError(t, err)
	require.True(t, ok)

	_, ok, err = statedir.TryLock(path)
	require.NoError(t, err)
	require.False(t, ok, "a second holder is refused")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = statedir.LockWait(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan *statedir.Lock)
	go func() {
		l, err := statedir.LockWait(context.Background(), path)
		require.NoError(t, err)
		got <- l
	}()
	held.Unlock()
	l := <-got
	l.Unlock()
	// The abandoned waiter may take the lock after l was released; it lets
	// it go at once, so a wait with a deadline gets it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	l2, err := statedir.LockWait(ctx2, path)
	require.NoError(t, err, "free again, also after an abandoned wait")
	l2.Unlock()
}

// otherUID is a uid that is not the test's: files chowned to it are
// another user's.
const otherUID = 65534

// foreignDir is a directory owned by another user: made and chowned when
// the test runs as root (as CI does), else the root directory, which is
// root's.
func foreignDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return "/"
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, otherUID, otherUID))
	return dir
}

// TestDirMustBeOurs: a state dir that another user owns or may write to,
// or a symbolic link another user made, is refused before anything is
// read or written in it; an absent one is created 0700.
func TestDirMustBeOurs(t *testing.T) {
	mkdir := func(mode os.FileMode) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "state")
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Chmod(dir, mode))
			return dir
		}
	}
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		msg  string
	}{
		{"world-writable", mkdir(0o777), "mode 0777"},
		{"world-writable with the sticky bit", mkdir(0o777 | os.ModeSticky), "mode 0777"},
		{"group-writable", mkdir(0o770), "mode 0770"},
		{"another user's", foreignDir, "owned by uid"},
		{"a file", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			return path
		}, "not a directory"},
		{"a link to another user's directory", func(t *testing.T) string {
			link := filepath.Join(t.TempDir(), "link")
			require.NoError(t, os.Symlink(foreignDir(t), link))
			return link
		}, "owned by uid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, err := statedir.Open(dir, "https://api", "token")
			require.ErrorContains(t, err, tc.msg)
			_, statErr := os.Lstat(filepath.Join(dir, ".hmac-key"))
			require.True(t, statErr != nil || dir == "/", "nothing is written into a directory that is not ours")
		})
	}

	t.Run("a link another user made", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("making a link another user owns needs root (CI runs the tests as root)")
		}
		target := mkdir(0o700)(t)
		link := filepath.Join(t.TempDir(), "link")
		require.NoError(t, os.Symlink(target, link))
		require.NoError(t, os.Lchown(link, otherUID, otherUID))
		_, err := statedir.Open(link, "https://api", "token")
		require.ErrorIs(t, err, statedir.ErrNotOurs)
		require.ErrorContains(t, err, "symbolic link owned by uid 65534")
	})

	t.Run("our link to our directory", func(t *testing.T) {
		target := mkdir(0o700)(t)
		link := filepath.Join(t.TempDir(), "link")
		require.NoError(t, os.Symlink(target, link))
		_, err := statedir.Open(link, "https://api", "token")
		require.NoError(t, err, "as systemd's StateDirectory= under DynamicUser=")
	})

	t.Run("absent: created 0700", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		_, err := statedir.Open(dir, "https://api", "token")
		require.NoError(t, err)
		info, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	})
}

// TestFilesMustBeOurs: a file of the state dir that is a symbolic link or
// another user's is never read, locked through or followed.
func TestFilesMustBeOurs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	p, err := statedir.Open(dir, "https://api", "token")
	require.NoError(t, err)
	outside := t.TempDir()

	t.Run("a symlinked lock file", func(t *testing.T) {
		target := filepath.Join(outside, "created-by-the-cpi")
		lock := p.Path("servers", "lock")
		require.NoError(t, os.Symlink(target, lock))
		_, _, err := statedir.TryLock(lock)
		require.ErrorIs(t, err, statedir.ErrNotOurs)
		_, err = statedir.LockWait(context.Background(), lock)
		require.ErrorIs(t, err, statedir.ErrNotOurs)
		_, statErr := os.Lstat(target)
		require.True(t, os.IsNotExist(statErr), "the link's target is never created")
	})

	t.Run("a symlinked snapshot", func(t *testing.T) {
		forged := filepath.Join(outside, "forged.json")
		require.NoError(t, os.WriteFile(forged, []byte(`{"forged":true}`), 0o600))
		path := p.Path("servers", "json")
		require.NoError(t, os.Symlink(forged, path))
		_, err := statedir.ReadFile(path)
		require.ErrorIs(t, err, statedir.ErrNotOurs)
		// Writing replaces the link, never its target.
		require.NoError(t, statedir.WriteFile(path, []byte("ours")))
		data, err := statedir.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "ours", string(data))
		data, err = os.ReadFile(forged)
		require.NoError(t, err)
		require.Equal(t, `{"forged":true}`, string(data))
	})

	t.Run("a symlinked secret", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, os.Mkdir(dir, 0o700))
		secret := filepath.Join(outside, "known-secret")
		require.NoError(t, os.WriteFile(secret, make([]byte, 32), 0o600))
		require.NoError(t, os.Symlink(secret, filepath.Join(dir, ".hmac-key")))
		_, err := statedir.Open(dir, "https://api", "token")
		require.ErrorIs(t, err, statedir.ErrNotOurs)
	})

	t.Run("a FIFO", func(t *testing.T) {
		path := p.Path("budget", "json")
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		_, err := statedir.ReadFile(path)
		require.ErrorIs(t, err, statedir.ErrNotOurs, "refused without blocking")
	})

	t.Run("another user's file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("giving a file to another user needs root (CI runs the tests as root)")
		}
		path := p.Path("state", "json")
		require.NoError(t, os.WriteFile(path, []byte(`{}`), 0o600))
		require.NoError(t, os.Chown(path, otherUID, otherUID))
		_, err := statedir.ReadFile(path)
		require.ErrorIs(t, err, statedir.ErrNotOurs)
		lock := p.Path("state", "lock")
		require.NoError(t, os.WriteFile(lock, nil, 0o600))
		require.NoError(t, os.Chown(lock, otherUID, otherUID))
		_, _, err = statedir.TryLock(lock)
		require.ErrorIs(t, err, statedir.ErrNotOurs)
	})
}

// TestSweep: the files of a project unused for statedir.Retention (by its
// stamp, or its newest file when it has none) are removed, as are stale
// temporary files; a project used since, the secret and other names stay.
// The directory is looked at once an hour at most.
func TestSweep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	now := time.Now()
	old := now.Add(-statedir.Retention - time.Hour)
	stale, err := statedir.Open(dir, "https://api", "stale-token")
	require.NoError(t, err)
	fresh, err := statedir.Open(dir, "https://api", "fresh-token")
	require.NoError(t, err)
	unstamped, err := statedir.Open(dir, "https://api", "unstamped-token")
	require.NoError(t, err)
	require.NoError(t, stale.MarkUsed())
	require.NoError(t, fresh.MarkUsed())
	write := func(path string, mtime time.Time) {
		require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}
	for _, p := range []*statedir.Project{stale, fresh} {
		write(p.Path("budget", "json"), old)
		write(p.Path("servers", "lock"), old)
	}
	require.NoError(t, os.Chtimes(stale.Path("used", "stamp"), old, old))
	write(unstamped.Path("budget", "json"), old)
	write(filepath.Join(dir, ".tmp-123"), now.Add(-2*time.Hour))
	write(filepath.Join(dir, ".tmp-456"), now)
	write(filepath.Join(dir, "notes.txt"), old)

	statedir.Sweep(dir, now)
	_, err = os.Stat(stale.Path("budget", "json"))
	require.NoError(t, err, "the stamp said the directory was swept under an hour ago: not looked at")

	require.NoError(t, os.Chtimes(filepath.Join(dir, ".swept"), now.Add(-2*time.Hour), now.Add(-2*time.Hour)))
	statedir.Sweep(dir, now)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	require.ElementsMatch(t, []string{".hmac-key", ".swept", ".sweep.lock", ".tmp-456", "notes.txt",
		filepath.Base(fresh.Path("used", "stamp")), filepath.Base(fresh.Path("budget", "json")), filepath.Base(fresh.Path("servers", "lock"))}, left)
}
