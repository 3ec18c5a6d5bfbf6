package reliability

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// newPublicKey returns a fresh ed25519 public key as one authorized_keys
// line, drawn from rng so a seed reproduces it.
func newPublicKey(t testing.TB, rng *rand.Rand, comment string) string {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(rng.IntN(256))
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment
}

// planted are objects created directly on the simulator, behind the
// adapter's back: hidden ones (labelled nanobox=false in some letter case),
// which the adapter must treat as non-existent, and foreign ones (no
// nanobox label), which it must refuse to change.
type planted struct {
	HiddenServers  []int64
	HiddenKeys     []int64
	HiddenKeyPubs  []string // the public keys of HiddenKeys
	ForeignServers []int64
	ForeignKeys    []int64
}

// All lists every planted id by kind ("server", "ssh_key").
func (p planted) All() map[string][]int64 {
	return map[string][]int64{
		"server":  append(append([]int64(nil), p.HiddenServers...), p.ForeignServers...),
		"ssh_key": append(append([]int64(nil), p.HiddenKeys...), p.ForeignKeys...),
	}
}

// hiddenLabels are the letter cases of nanobox=false the fixtures use.
var hiddenLabels = []map[string]string{
	{"Nanobox": "false"},
	{"NANOBOX": "FALSE", "managed-by": "nanobox-hcloud"},
	{"nanobox": "False", "team": "billing", "nanobox-backups": "enabled"},
}

// plant creates the fixtures straight on the simulator (not through the
// recording proxy, so the API log holds only what the adapter sent).
func (w *world) plant(t testing.TB, rng *rand.Rand) planted {
	t.Helper()
	ctx := context.Background()
	client := w.Env.Client()
	var p planted
	newServer := func(name string, labels map[string]string) int64 {
		res, _, err := client.Server.Create(ctx, hcloud.ServerCreateOpts{
			Name: name, ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
			Location: &hcloud.Location{Name: "nbg1"}, Labels: labels,
		})
		require.NoError(t, err, "planting server %s", name)
		return res.Server.ID
	}
	newKey := func(name string, labels map[string]string) (int64, string) {
		pub := newPublicKey(t, rng, name)
		key, _, err := client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: name, PublicKey: pub, Labels: labels})
		require.NoError(t, err, "planting key %s", name)
		return key.ID, pub
	}
	for i, l := range hiddenLabels {
		p.HiddenServers = append(p.HiddenServers, newServer(fmt.Sprintf("hidden-server-%d", i), l))
		id, pub := newKey(fmt.Sprintf("hidden-key-%d", i), l)
		p.HiddenKeys = append(p.HiddenKeys, id)
		p.HiddenKeyPubs = append(p.HiddenKeyPubs, pub)
	}
	// The backups-wish label must not make the adapter act on a server
	// that is not its own.
	p.ForeignServers = append(p.ForeignServers, newServer("foreign-server", map[string]string{"team": "billing", "nanobox-backups": "enabled"}))
	id, _ := newKey("foreign-key", nil)
	p.ForeignKeys = append(p.ForeignKeys, id)
	// With boot delays the planted servers change state on their own:
	// wait until they are running and unlocked, so a later snapshot can
	// only differ by what someone did to them.
	require.True(t, eventually(time.Minute, func() bool {
		for _, s := range w.Env.Sim.Snapshot().Servers {
			if s.Status != "running" || s.Locked {
				return false
			}
		}
		return true
	}), "the planted servers did not boot")
	return p
}

// snapshotOf renders the planted objects as the simulator holds them now.
func (w *world) snapshotOf(t testing.TB, p planted) string {
	t.Helper()
	st := w.Env.Sim.Snapshot()
	want := p.All()
	out := map[string]any{}
	for _, s := range st.Servers {
		for _, id := range want["server"] {
			if s.ID == id {
				out["server/"+strconv.FormatInt(id, 10)] = s
			}
		}
	}
	for _, k := range st.SSHKeys {
		for _, id := range want["ssh_key"] {
			if k.ID == id {
				out["ssh_key/"+strconv.FormatInt(id, 10)] = k
			}
		}
	}
	data, err := json.MarshalIndent(out, "", " ")
	require.NoError(t, err)
	require.Len(t, out, len(want["server"])+len(want["ssh_key"]), "a planted object is missing from the simulator")
	return string(data)
}

// touching returns the API requests whose path names one of the ids, e.g.
// /v1/servers/42 or /v1/servers/42/actions/reboot for server 42, or whose
// query selects it (?id=42).
func touching(reqs []apiRequest, kind string, ids []int64) []apiRequest {
	collection := map[string]string{"server": "servers", "ssh_key": "ssh_keys"}[kind]
	var out []apiRequest
	for _, r := range reqs {
		parts := strings.Split(strings.Trim(r.Path, "/"), "/")
		for _, id := range ids {
			sid := strconv.FormatInt(id, 10)
			hit := false
			for i := 0; i+1 < len(parts); i++ {
				if parts[i] == collection && parts[i+1] == sid {
					hit = true
				}
			}
			if len(parts) == 2 && parts[1] == collection && strings.Contains("&"+r.Query+"&", "&id="+sid+"&") {
				hit = true
			}
			if hit {
				out = append(out, r)
			}
		}
	}
	return out
}
