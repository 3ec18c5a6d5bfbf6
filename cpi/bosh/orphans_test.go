package bosh_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// project is the state directory's project of the fixture's CPI.
func (f *fixture) project() *statedir.Project {
	f.t.Helper()
	p, err := statedir.Open(f.cfg.StateDir, f.cfg.Endpoint, f.cfg.Token)
	require.NoError(f.t, err)
	return p
}

// markedLabels are the labels of an object whose create began age ago on
// the host of creator ("" for none).
func markedLabels(kind, creator string, age time.Duration) map[string]string {
	l := map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud", "bosh": kind,
		bosh.LabelCreating: strconv.FormatInt(time.Now().Add(-age).Unix(), 10)}
	if creator != "" {
		l[bosh.LabelCreator] = creator
	}
	return l
}

// orphanCase is a server and a volume with the same labels, and whether a
// sweep deletes them.
type orphanCase struct {
	name   string
	labels map[string]string
	swept  bool
}

func (f *fixture) orphanCases() []orphanCase {
	self := f.project().ID()
	hidden := markedLabels("vm", "otherhost", time.Hour)
	hidden["nanobox"] = "false"
	foreign := markedLabels("vm", "otherhost", time.Hour)
	delete(foreign, "managed-by")
	return []orphanCase{
		{"another host's, older than orphan_seconds", markedLabels("vm", "otherhost", 16*time.Minute), true},
		{"another host's, younger than orphan_seconds", markedLabels("vm", "otherhost", time.Minute), false},
		{"no creator, older than orphan_seconds", markedLabels("vm", "", 16*time.Minute), true},
		{"this host's, no call holds it", markedLabels("vm", self, time.Second), true},
		{"this host's, a running call holds it", markedLabels("vm", self, time.Second), false},
		{"labelled nanobox=false", hidden, false},
		{"not the CPI's", foreign, false},
		{"finished (no mark)", map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud", "bosh": "vm"}, false},
	}
}

// TestUnfinishedCreatesAreSweptByTheNextCall: every create_vm,
// create_disk, delete_vm and delete_disk deletes the servers and volumes
// still carrying the creating mark that no running call holds, and nothing
// else.
func TestUnfinishedCreatesAreSweptByTheNextCall(t *testing.T) {
	for _, call := range []struct {
		method string
		args   func(f *fixture) []any
	}{
		{protocol.MethodCreateVM, func(f *fixture) []any {
			return []any{uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, dynamicNetworks(), []string{}, createEnv}
		}},
		{protocol.MethodCreateDisk, func(*fixture) []any { return []any{10 * 1024, map[string]any{}, nil} }},
		{protocol.MethodDeleteVM, func(*fixture) []any { return []any{"987654"} }},
		{protocol.MethodDeleteDisk, func(*fixture) []any { return []any{"987654"} }},
	} {
		t.Run(call.method, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			cases := f.orphanCases()
			servers := make([]int64, len(cases))
			volumes := make([]int64, len(cases))
			for i, c := range cases {
				name := "orphan-" + strconv.Itoa(i)
				s, _, err := f.api.Server.Create(ctx, hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cx23"},
					Image: &hcloud.Image{ID: f.ubuntuID()}, Location: &hcloud.Location{Name: "nbg1"}, Labels: c.labels})
				require.NoError(t, err)
				servers[i] = s.Server.ID
				v, _, err := f.api.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: name, Size: 10, Location: &hcloud.Location{Name: "nbg1"}, Labels: c.labels})
				require.NoError(t, err)
				volumes[i] = v.Volume.ID
				if c.name == "this host's, a running call holds it" {
					for _, lock := range []string{f.project().Path("bosh-"+name, "lock")} {
						l, ok, err := statedir.TryLock(lock)
						require.NoError(t, err)
						require.True(t, ok)
						t.Cleanup(l.Unlock)
					}
				}
			}
			_, err := f.call(2, call.method, call.args(f)...)
			require.NoError(t, err)
			for i, c := range cases {
				s, _, err := f.api.Server.GetByID(ctx, servers[i])
				require.NoError(t, err)
				assert.Equal(t, c.swept, s == nil, "server %s: swept", c.name)
				v, _, err := f.api.Volume.GetByID(ctx, volumes[i])
				require.NoError(t, err)
				assert.Equal(t, c.swept, v == nil, "volume %s: swept", c.name)
			}
		})
	}
}

// attachedServer is a server (of labels) holding ip in network n.
func (f *fixture) attachedServer(name string, labels map[string]string, n *hcloud.Network, ip string) *hcloud.Server {
	f.t.Helper()
	ctx := context.Background()
	res, _, err := f.api.Server.Create(ctx, hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cx23"},
		Image: &hcloud.Image{ID: f.ubuntuID()}, Location: &hcloud.Location{Name: "nbg1"}, Labels: labels})
	require.NoError(f.t, err)
	_, _, err = f.api.Server.AttachToNetwork(ctx, res.Server, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP(ip)})
	require.NoError(f.t, err)
	return res.Server
}

// TestAStaticIPHeldByAnOrphanIsFreed: an unfinished server of an earlier
// create_vm (another agent id, as every create-env run makes a new one)
// holds the static IP: it is deleted and the IP reused. A server that is
// not an orphan keeps it, and the error names it.
func TestAStaticIPHeldByAnOrphanIsFreed(t *testing.T) {
	f := newFixture(t)
	n := f.network("bosh", nil)
	orphan := f.attachedServer("vm-earlier", markedLabels("vm", f.project().ID(), time.Second), n, "10.0.1.6")
	cid, _ := f.createVM(uuid.NewString(), map[string]any{}, manualNetworks(n.Name))
	assert.Nil(t, f.server(orphan.ID), "the orphan is gone")
	s := f.server(mustID(t, cid))
	require.Len(t, s.PrivateNet, 1)
	assert.Equal(t, "10.0.1.6", s.PrivateNet[0].IP.String(), "the static IP is reused")
	_, err := f.call(2, protocol.MethodDeleteVM, cid)
	require.NoError(t, err)

	holder := f.attachedServer("web-1", map[string]string{"team": "web"}, n, "10.0.1.6")
	_, err = f.call(2, protocol.MethodCreateVM, uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, manualNetworks(n.Name), []string{}, createEnv)
	pe := boshErr(t, err, bosh.VMCreationFailed)
	for _, want := range []string{"10.0.1.6", strconv.FormatInt(holder.ID, 10), "web-1", "team=web"} {
		assert.Contains(t, pe.Message, want, "the error names the holder")
	}
	servers := f.sim.Sim.Snapshot().Servers
	require.Len(t, servers, 1, "the new server is deleted again; the holder stays")
	assert.Equal(t, holder.ID, servers[0].ID)
}
