package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// TestCommittedSnapshotIsWhatTheScriptMakes: regenerating from the
// default fixture (run from the repository root, as scripts/update-catalog
// does) over the committed snapshot changes nothing, so the embedded
// catalog is the fixture's (plus what is kept as retired).
func TestCommittedSnapshotIsWhatTheScriptMakes(t *testing.T) {
	committed, err := os.ReadFile("../snapshot.json")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "snapshot.json")
	require.NoError(t, os.WriteFile(out, committed, 0o644))
	t.Chdir(repotest.RepoRoot(t))
	require.NoError(t, run([]string{"-out", out}))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, string(committed), string(got), "cpi/catalog/snapshot.json is stale: run scripts/update-catalog")
}

// TestRetiredEntriesSurviveARegeneration: a type the source no longer
// lists stays in the snapshot, retired.
func TestRetiredEntriesSurviveARegeneration(t *testing.T) {
	out := filepath.Join(t.TempDir(), "snapshot.json")
	previous := `{"locations":[{"name":"old1","description":"Old","network_zone":"eu-central"}],
	  "server_types":[{"name":"zz99","cpu_type":"shared","architecture":"x86","cores":1,"memory_gb":1,"disk_gb":10,
	    "prices":[{"location":"old1","hourly_net":"0.01","hourly_gross":"0.01","monthly_net":"5","monthly_gross":"5","traffic_tb":1}]}]}`
	require.NoError(t, os.WriteFile(out, []byte(previous), 0o644))
	require.NoError(t, run([]string{"-fixture", repotest.RepoFile(t, repotest.CatalogFixturePath), "-out", out}))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(got), `"old1/zz99": "retired"`)
	require.NoError(t, run([]string{"-fresh", "-fixture", repotest.RepoFile(t, repotest.CatalogFixturePath), "-out", out}))
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	require.NotContains(t, string(got), "zz99")
	require.Error(t, run([]string{"-fixture", "/nonexistent.json", "-out", out}))
	t.Setenv("HCLOUD_TOKEN", "")
	require.Error(t, run([]string{"-live", "-out", out}), "-live needs HCLOUD_TOKEN")
}
