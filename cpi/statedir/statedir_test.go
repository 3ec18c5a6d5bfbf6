package statedir_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
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
	l2, ok, err := statedir.TryLock(path)
	require.NoError(t, err)
	require.True(t, ok, "free again, also after an abandoned wait")
	l2.Unlock()
}
