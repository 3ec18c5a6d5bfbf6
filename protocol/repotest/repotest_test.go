package repotest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// fatalRecorder is a testing.TB whose Fatal and Fatalf record the message
// instead of stopping the test, so the helpers' failures can be asserted.
type fatalRecorder struct {
	testing.TB
	failures []string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) { r.failures = append(r.failures, fmt.Sprint(args...)) }

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestRepoRootIsTheModuleAboveTheWorkingDirectory(t *testing.T) {
	root := repotest.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "module github.com/nanobox-hcloud/nanobox-hcloud\n")
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "protocol", "repotest"), wd)

	found, err := repotest.FindRepoRoot()
	require.NoError(t, err)
	assert.Equal(t, root, found)
}

func TestRepoRootFailsTheTestOutsideAModule(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := repotest.FindRepoRoot()
	require.ErrorContains(t, err, "go.mod not found")

	rec := &fatalRecorder{TB: t}
	repotest.RepoRoot(rec)
	require.Len(t, rec.failures, 1)
	assert.Contains(t, rec.failures[0], "go.mod not found")
}

func TestRepoFileIsUnderTheRoot(t *testing.T) {
	root := repotest.RepoRoot(t)
	path := repotest.RepoFile(t, repotest.CatalogFixturePath)
	assert.Equal(t, filepath.Join(root, "cpi", "hcloudsim", "seed", "catalog.json"), path)
	_, err := os.Stat(path)
	require.NoError(t, err, "the catalog fixture is in the repository")
}

func TestBinaryRejectsNamesThatAreNotACommandDirectory(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "../hcloud-sim", "/bin/sh"} {
		t.Run(name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			assert.Empty(t, repotest.Binary(rec, name))
			require.Len(t, rec.failures, 1)
			assert.Contains(t, rec.failures[0], "is not the name of a directory of ./cmd")
		})
	}
}

func TestBinaryUsesTheBinDirWhenItHasTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "no-such-command")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv(repotest.BinDirEnv, dir)
	// No ./cmd/no-such-command exists, so anything but the file would fail.
	assert.Equal(t, path, repotest.Binary(t, "no-such-command"))
}

func TestBinaryFailsTheTestWithGoBuildsOutput(t *testing.T) {
	t.Setenv(repotest.BinDirEnv, t.TempDir()) // set, but without the file
	// The second call reports the same failure, from the first build.
	for range 2 {
		rec := &fatalRecorder{TB: t}
		assert.Empty(t, repotest.Binary(rec, "no-such-command"))
		require.Len(t, rec.failures, 1)
		assert.Contains(t, rec.failures[0], "go build ./cmd/no-such-command: exit status 1")
		assert.Contains(t, rec.failures[0], "cmd/no-such-command", "go build's own output")
	}
}

func TestBinaryBuildsOncePerProcessWithTheMakefilesTags(t *testing.T) {
	t.Setenv(repotest.BinDirEnv, "")
	var wg sync.WaitGroup
	paths := make([]string, 4)
	for i := range paths {
		wg.Go(func() { paths[i] = repotest.Binary(t, "hcloud-sim") })
	}
	wg.Wait()
	for _, p := range paths {
		require.Equal(t, paths[0], p, "every caller gets the one build")
	}
	first, err := os.Stat(paths[0])
	require.NoError(t, err)
	assert.Equal(t, "hcloud-sim", filepath.Base(paths[0]))
	assert.NotZero(t, first.Mode()&0o111, "executable")

	again := repotest.Binary(t, "hcloud-sim")
	require.Equal(t, paths[0], again)
	second, err := os.Stat(again)
	require.NoError(t, err)
	assert.Equal(t, first.ModTime(), second.ModTime(), "not built again")

	info, err := exec.Command("go", "version", "-m", again).CombinedOutput()
	require.NoError(t, err, "%s", info)
	assert.Contains(t, string(info), "-tags="+repotest.BuildTags)
	assert.Contains(t, string(info), "github.com/nanobox-hcloud/nanobox-hcloud/cmd/hcloud-sim")

	require.NoError(t, repotest.RemoveBuilt())
	_, err = os.Stat(filepath.Dir(again))
	require.ErrorIs(t, err, os.ErrNotExist, "RemoveBuilt deletes the directory")
	rebuilt := repotest.Binary(t, "hcloud-sim")
	_, err = os.Stat(rebuilt)
	require.NoError(t, err, "Binary builds again after RemoveBuilt")
	require.NoError(t, repotest.RemoveBuilt())
}

func TestSyncBufferKeepsEveryConcurrentWrite(t *testing.T) {
	var buf repotest.SyncBuffer
	assert.Empty(t, buf.String(), "the zero value is empty")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				n, err := fmt.Fprintf(&buf, "w%d\n", i)
				assert.NoError(t, err)
				assert.Equal(t, 3, n)
				_ = buf.String() // reading while others write is safe
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 800)
	counts := map[string]int{}
	for _, l := range lines {
		counts[l]++
	}
	for i := range 8 {
		assert.Equal(t, 100, counts[fmt.Sprintf("w%d", i)], "writer %d", i)
	}
}
