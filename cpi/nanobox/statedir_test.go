package nanobox_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// forgedIP is the address a forged snapshot claims.
const forgedIP = "203.0.113.66"

// snapshotFile is the harness's one snapshot file.
func (h *harness) snapshotFile() string {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(h.cfg.StateDir, "servers-*.json"))
	require.NoError(h.t, err)
	require.Len(h.t, files, 1)
	return files[0]
}

// forge returns the snapshot with every public IPv4 address replaced by
// forgedIP, still fresh and well-formed.
func forge(t *testing.T, good []byte, realIP string) []byte {
	t.Helper()
	require.NotEmpty(t, realIP)
	forged := bytes.ReplaceAll(good, []byte(`"`+realIP+`"`), []byte(`"`+forgedIP+`"`))
	require.NotEqual(t, good, forged)
	return forged
}

// TestNeverAnswersFromAFileWeDidNotWrite: a snapshot that is a symbolic
// link, another user's file, or in a state dir that is not ours is never
// read: query_server answers what Hetzner says, and a symlinked lock file's
// target is never created.
func TestNeverAnswersFromAFileWeDidNotWrite(t *testing.T) {
	cases := []struct {
		name  string
		plant func(t *testing.T, h *harness, path string, forged []byte)
		warns bool // the state dir as a whole is refused
	}{
		{"a symlinked snapshot", func(t *testing.T, h *harness, path string, forged []byte) {
			target := filepath.Join(t.TempDir(), "forged.json")
			require.NoError(t, os.WriteFile(target, forged, 0o600))
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.Symlink(target, path))
		}, false},
		{"a symlinked lock and snapshot", func(t *testing.T, h *harness, path string, forged []byte) {
			target := filepath.Join(t.TempDir(), "forged.json")
			require.NoError(t, os.WriteFile(target, forged, 0o600))
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.Symlink(target, path))
			lock := strings.TrimSuffix(path, ".json") + ".lock"
			require.NoError(t, os.Remove(lock))
			require.NoError(t, os.Symlink(filepath.Join(t.TempDir(), "created-by-the-cpi"), lock))
		}, false},
		{"a world-writable state dir", func(t *testing.T, h *harness, path string, forged []byte) {
			require.NoError(t, os.WriteFile(path, forged, 0o600))
			require.NoError(t, os.Chmod(h.cfg.StateDir, 0o777))
		}, true},
		{"a group-writable state dir", func(t *testing.T, h *harness, path string, forged []byte) {
			require.NoError(t, os.WriteFile(path, forged, 0o600))
			require.NoError(t, os.Chmod(h.cfg.StateDir, 0o770))
		}, true},
		{"another user's state dir", func(t *testing.T, h *harness, path string, forged []byte) {
			requireRoot(t)
			require.NoError(t, os.WriteFile(path, forged, 0o600))
			require.NoError(t, os.Chown(h.cfg.StateDir, 65534, 65534))
		}, true},
		{"another user's snapshot", func(t *testing.T, h *harness, path string, forged []byte) {
			requireRoot(t)
			require.NoError(t, os.WriteFile(path, forged, 0o600))
			require.NoError(t, os.Chown(path, 65534, 65534))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, coalesce(true, 60000))
			id, _ := h.orderOK("web1", "nbg1", "cx23")
			want := h.queryRaw(id)
			var answer struct {
				ExternalIP string `json:"external_ip"`
			}
			require.NoError(t, json.Unmarshal(want, &answer))
			path := h.snapshotFile()
			good, err := os.ReadFile(path)
			require.NoError(t, err)
			h.budget(0, func() { require.Equal(t, string(want), string(h.queryRaw(id))) }) // the snapshot answers
			tc.plant(t, h, path, forge(t, good, answer.ExternalIP))
			h.logs.Reset()

			got := h.queryRaw(id)
			require.Equal(t, string(want), string(got), "the answer is Hetzner's")
			require.NotContains(t, string(got), forgedIP)
			warnings := strings.Count(h.logs.String(), "state dir unusable")
			if tc.warns {
				require.Equal(t, 1, warnings, "one clear warning per call: %s", h.logs.String())
			} else {
				require.Zero(t, warnings, h.logs.String())
			}
			_, err = os.Lstat(filepath.Join(filepath.Dir(path), "created-by-the-cpi"))
			require.True(t, os.IsNotExist(err))
		})
	}
}

// TestUnusableStateDirStillServes: calls through a state dir that is not
// ours work as without one (the direct path), and write nothing into it.
func TestUnusableStateDirStillServes(t *testing.T) {
	h := newHarness(t, coalesce(true, 1000))
	require.NoError(t, os.Chmod(h.cfg.StateDir, 0o777))
	id, key := h.orderOK("web1", "nbg1", "cx23")
	h.ok(h.call("query_server", id), nil)
	h.ok(h.call("query_key", key), nil)
	entries, err := os.ReadDir(h.cfg.StateDir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing is written into a state dir that is not ours")
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root (CI runs the tests as root)")
	}
}

// TestRejectedTokensLeaveNothing: 10,000 calls with tokens Hetzner rejects
// add no file to the state dir (no budget, no metric, no snapshot, no
// lock): it keeps only its own secret and sweep stamps, far under the
// documented bound.
func TestRejectedTokensLeaveNothing(t *testing.T) {
	h := newHarness(t, coalesce(true, 1000))
	methods := []struct {
		name string
		args []any
	}{
		{"query_server", []any{"1"}},
		{"query_key", []any{"1"}},
		{"delete_key", []any{"1"}},
		{"verify", nil},
	}
	const calls = 10000
	for i := range calls {
		m := methods[i%len(methods)]
		resp := h.callWith("rejected-token-"+strconv.Itoa(i), m.name, m.args...)
		require.NotNil(t, resp.Error, "%s", m.name)
		require.Equal(t, protocol.Unauthorized, resp.Error.Type, resp.Error.Message)
	}
	entries, err := os.ReadDir(h.cfg.StateDir)
	require.NoError(t, err)
	var names []string
	size := int64(0)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		names = append(names, e.Name())
		size += info.Size()
	}
	require.ElementsMatch(t, []string{".hmac-key", ".swept", ".sweep.lock"}, names)
	require.LessOrEqual(t, size, int64(statedir.BaseSize), "the state dir's fixed part")
}
