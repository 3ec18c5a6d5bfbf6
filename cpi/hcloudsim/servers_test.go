package hcloudsim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func createOpts(name string) hcloud.ServerCreateOpts {
	return hcloud.ServerCreateOpts{
		Name: name, ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "nbg1"}, Labels: map[string]string{"nanobox": "true"},
	}
}

func TestServerCreateRejectsBadInput(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	_, _, err := c.Server.Create(ctx, createOpts("taken"))
	require.NoError(t, err)

	tests := []struct {
		name string
		edit func(o *hcloud.ServerCreateOpts)
		code hcloud.ErrorCode
	}{
		{"name not a hostname", func(o *hcloud.ServerCreateOpts) { o.Name = "bad_name!" }, hcloud.ErrorCodeInvalidInput},
		{"name label too long", func(o *hcloud.ServerCreateOpts) { o.Name = strings.Repeat("a", 64) }, hcloud.ErrorCodeInvalidInput},
		{"name taken", func(o *hcloud.ServerCreateOpts) { o.Name = "taken" }, hcloud.ErrorCodeUniquenessError},
		{"unknown server type", func(o *hcloud.ServerCreateOpts) { o.ServerType = &hcloud.ServerType{Name: "cx99"} }, hcloud.ErrorCodeInvalidInput},
		{"unknown image", func(o *hcloud.ServerCreateOpts) { o.Image = &hcloud.Image{Name: "windows-95"} }, hcloud.ErrorCodeInvalidInput},
		{"unknown location", func(o *hcloud.ServerCreateOpts) { o.Location = &hcloud.Location{Name: "mars1"} }, hcloud.ErrorCodeInvalidInput},
		{"type not offered in location", func(o *hcloud.ServerCreateOpts) { o.ServerType = &hcloud.ServerType{Name: "cpx11"} }, hcloud.ErrorCodeResourceUnavailable},
		{"user data over 32 KiB", func(o *hcloud.ServerCreateOpts) { o.UserData = strings.Repeat("x", 32*1024+1) }, hcloud.ErrorCodeInvalidInput},
		{"unknown ssh key", func(o *hcloud.ServerCreateOpts) { o.SSHKeys = []*hcloud.SSHKey{{ID: 999999}} }, hcloud.ErrorCodeInvalidInput},
		{"unknown network", func(o *hcloud.ServerCreateOpts) { o.Networks = []*hcloud.Network{{ID: 999999}} }, hcloud.ErrorCodeInvalidInput},
		{"bad label", func(o *hcloud.ServerCreateOpts) { o.Labels = map[string]string{"bad key": "v"} }, hcloud.ErrorCodeInvalidInput},
		{"no public net and no network", func(o *hcloud.ServerCreateOpts) {
			o.PublicNet = &hcloud.ServerCreatePublicNet{}
		}, hcloud.ErrorCodeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(env.Sim.Created())
			o := createOpts("fresh")
			tt.edit(&o)
			_, _, err := c.Server.Create(ctx, o)
			assert.True(t, hcloud.IsError(err, tt.code), "want %s, got %v", tt.code, err)
			assert.Len(t, env.Sim.Created(), before, "a rejected create creates nothing")
		})
	}
}

func TestServerCreateByIDAndWithoutPublicIPv4(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "n", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
	})
	require.NoError(t, err)
	st, _, err := c.ServerType.GetByName(ctx, "cax11")
	require.NoError(t, err)
	require.NotNil(t, st)
	img, _, err := c.Image.GetByNameAndArchitecture(ctx, "debian-12", hcloud.ArchitectureARM)
	require.NoError(t, err)
	require.NotNil(t, img)
	loc, _, err := c.Location.GetByName(ctx, "fsn1")
	require.NoError(t, err)
	require.NotNil(t, loc)

	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "arm.example.com", ServerType: &hcloud.ServerType{ID: st.ID}, Image: &hcloud.Image{ID: img.ID},
		Location: &hcloud.Location{ID: loc.ID}, Networks: []*hcloud.Network{nw},
		PublicNet: &hcloud.ServerCreatePublicNet{EnableIPv4: false, EnableIPv6: true},
	})
	require.NoError(t, err)
	assert.NotNil(t, res.RootPassword, "no ssh keys: the API returns a root password")
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	require.NotNil(t, srv)
	assert.True(t, srv.PublicNet.IPv4.IsUnspecified(), "no public IPv4")
	assert.False(t, srv.PublicNet.IPv6.IsUnspecified(), "public IPv6")
	assert.Equal(t, "arm", string(srv.ServerType.Architecture))
	assert.Equal(t, "fsn1", srv.Location.Name)
	n, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	require.Len(t, n.Servers, 1)
	assert.Equal(t, srv.ID, n.Servers[0].ID)
}

func TestServerActionsWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "n", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
	})
	require.NoError(t, err)
	pg, _, err := c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread})
	require.NoError(t, err)
	res, _, err := c.Server.Create(ctx, createOpts("s1"))
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
	srv := res.Server
	get := func() *hcloud.Server {
		t.Helper()
		s, _, err := c.Server.GetByID(ctx, srv.ID)
		require.NoError(t, err)
		require.NotNil(t, s)
		return s
	}
	wait := func(a *hcloud.Action, _ *hcloud.Response, err error) {
		t.Helper()
		require.NoError(t, err)
		require.NotNil(t, a)
		assert.Equal(t, hcloud.ActionStatusRunning, a.Status)
		require.NoError(t, c.Action.WaitFor(ctx, a))
	}

	wait(c.Server.Shutdown(ctx, srv))
	assert.Equal(t, hcloud.ServerStatusOff, get().Status)
	wait(c.Server.Poweron(ctx, srv))
	assert.Equal(t, hcloud.ServerStatusRunning, get().Status)
	wait(c.Server.Reset(ctx, srv))
	wait(c.Server.Reboot(ctx, srv))
	assert.Equal(t, hcloud.ServerStatusRunning, get().Status)

	wait(c.Server.EnableBackup(ctx, srv, ""))
	assert.NotEmpty(t, get().BackupWindow)
	wait(c.Server.DisableBackup(ctx, srv))
	assert.Empty(t, get().BackupWindow)

	wait(c.Server.AttachToNetwork(ctx, srv, hcloud.ServerAttachToNetworkOpts{Network: nw}))
	require.Len(t, get().PrivateNet, 1)
	_, _, err = c.Server.AttachToNetwork(ctx, srv, hcloud.ServerAttachToNetworkOpts{Network: nw})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeServerAlreadyAttached), "%v", err)
	wait(c.Server.DetachFromNetwork(ctx, srv, hcloud.ServerDetachFromNetworkOpts{Network: nw}))
	assert.Empty(t, get().PrivateNet)

	_, _, err = c.Server.AddToPlacementGroup(ctx, srv, pg.PlacementGroup)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeServerNotStopped), "a running server cannot join: %v", err)
	wait(c.Server.Poweroff(ctx, srv))
	wait(c.Server.AddToPlacementGroup(ctx, srv, pg.PlacementGroup))
	require.NotNil(t, get().PlacementGroup)
	wait(c.Server.RemoveFromPlacementGroup(ctx, srv))
	assert.Nil(t, get().PlacementGroup)

	rb, _, err := c.Server.RebuildWithResult(ctx, srv, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: "debian-13"}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, rb.Action))
	assert.Equal(t, "debian-13", get().Image.Name)

	yes, no := true, false
	wait(c.Server.ChangeProtection(ctx, srv, hcloud.ServerChangeProtectionOpts{Delete: &yes, Rebuild: &yes}))
	_, _, err = c.Server.DeleteWithResult(ctx, srv)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeProtected), "%v", err)
	_, _, err = c.Server.RebuildWithResult(ctx, srv, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: "debian-12"}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeProtected), "%v", err)
	wait(c.Server.ChangeProtection(ctx, srv, hcloud.ServerChangeProtectionOpts{Delete: &no, Rebuild: &no}))

	// Every action is reachable through each actions endpoint.
	acts, err := c.Server.Action.AllFor(ctx, srv, hcloud.ActionListOpts{})
	require.NoError(t, err)
	require.NotEmpty(t, acts)
	for _, a := range acts {
		assert.Equal(t, hcloud.ActionStatusSuccess, a.Status, a.Command)
	}
	one, _, err := c.Action.GetByID(ctx, acts[0].ID)
	require.NoError(t, err)
	require.NotNil(t, one)
	one, _, err = c.Server.Action.GetByID(ctx, acts[0].ID)
	require.NoError(t, err)
	require.NotNil(t, one)

	_, _, err = c.Server.DeleteWithResult(ctx, srv)
	require.NoError(t, err)
	_, _, err = c.Server.Poweron(ctx, srv)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "%v", err)
}

func TestServerListFiltersSortsAndPages(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	for _, n := range []string{"c", "a", "b"} {
		o := createOpts(n)
		o.Labels = map[string]string{"nanobox": "true", "name": n}
		if n == "b" {
			o.StartAfterCreate = hcloud.Ptr(false)
		}
		_, _, err := c.Server.Create(ctx, o)
		require.NoError(t, err)
	}
	names := func(ss []*hcloud.Server) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	tests := []struct {
		name string
		opts hcloud.ServerListOpts
		want []string
	}{
		{"default by id", hcloud.ServerListOpts{}, []string{"c", "a", "b"}},
		{"sort by name", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{}, Sort: []string{"name"}}, []string{"a", "b", "c"}},
		{"sort by name desc", hcloud.ServerListOpts{Sort: []string{"name:desc"}}, []string{"c", "b", "a"}},
		{"by name", hcloud.ServerListOpts{Name: "a"}, []string{"a"}},
		{"by status off", hcloud.ServerListOpts{Status: []hcloud.ServerStatus{hcloud.ServerStatusOff}}, []string{"b"}},
		{"by status running", hcloud.ServerListOpts{Status: []hcloud.ServerStatus{hcloud.ServerStatusRunning}, Sort: []string{"name"}}, []string{"a", "c"}},
		{"label not in", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "name notin (a,b)"}}, []string{"c"}},
		{"label not equal", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "nanobox==true,name!=c"}, Sort: []string{"id:desc"}}, []string{"b", "a"}},
		{"one per page", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{PerPage: 1}}, []string{"c", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Server.AllWithOpts(ctx, tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(got))
		})
	}
	_, err := c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "a in (b"}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)
}

// TestLockedWhileAnActionRuns uses delays far longer than the test, so "still running" is certain.
func TestLockedWhileAnActionRuns(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{Delays: hcloudsim.Delays{Initializing: time.Hour, Starting: time.Hour, Action: time.Hour}})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("slow"))
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusInitializing, res.Server.Status)
	assert.True(t, res.Server.Locked)

	_, _, err = c.Server.Reboot(ctx, res.Server)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeLocked), "an action runs: %v", err)
	assert.Equal(t, 1, env.Sim.Requests()["POST /v1/servers/{id}/actions/reboot"], "hcloud-go does not retry locked")
	s, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusInitializing, s.Status)
	assert.True(t, s.Locked)
	a, _, err := c.Action.GetByID(ctx, res.Action.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusRunning, a.Status)
	// Deleting is still possible.
	_, _, err = c.Server.DeleteWithResult(ctx, s)
	require.NoError(t, err)
}

// TestLifecycleOverTime uses short real delays: the server ends running, then off after a poweroff.
func TestLifecycleOverTime(t *testing.T) {
	d := 50 * time.Millisecond
	env := simtest.Start(t, hcloudsim.Options{Delays: hcloudsim.Delays{Initializing: d, Starting: d, Action: d}})
	c := env.Client(hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(10 * time.Millisecond)}))
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("slow"))
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusInitializing, res.Server.Status)

	reached := false
	deadline := time.Now().Add(10 * time.Second)
	for !reached && time.Now().Before(deadline) {
		s, _, err := c.Server.GetByID(ctx, res.Server.ID)
		require.NoError(t, err)
		reached = s.Status == hcloud.ServerStatusRunning && !s.Locked
		time.Sleep(10 * time.Millisecond) // polling interval of a condition checked with a deadline
	}
	assert.True(t, reached, "the server became running and unlocked")
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))

	off, _, err := c.Server.Poweroff(ctx, res.Server)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, off))
	s, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusOff, s.Status)
}

func TestProjectAndPlacementLimits(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{MaxServers: 11})
	c := env.Client()
	ctx := testCtx(t)
	pg, _, err := c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread})
	require.NoError(t, err)
	for i := range 10 {
		o := createOpts("m" + string(rune('a'+i)))
		o.PlacementGroup = pg.PlacementGroup
		_, _, err := c.Server.Create(ctx, o)
		require.NoError(t, err)
	}
	o := createOpts("eleventh")
	o.PlacementGroup = pg.PlacementGroup
	_, _, err = c.Server.Create(ctx, o)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodePlacementError), "a spread group holds 10: %v", err)
	_, _, err = c.Server.Create(ctx, createOpts("eleventh"))
	require.NoError(t, err)
	_, _, err = c.Server.Create(ctx, createOpts("twelfth"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded), "project limit: %v", err)
	assert.Len(t, env.Sim.Snapshot().Servers, 11)
}

// TestLabelKeysAsTheDocument: label keys follow the document's rules, and its reserved prefix
// hetzner.cloud/ is refused (`hcloud server add-label s hetzner.cloud/x=y` was accepted).
func TestLabelKeysAsTheDocument(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("web"))
	require.NoError(t, err)

	tests := []struct {
		key string
		ok  bool
	}{
		{"env", true},
		{"example.com/my", true},
		{"my.hetzner.cloud.example/x", true},
		{"hetzner.cloud/x", false},
		{"Hetzner.Cloud/x", false},
		{"-bad", false},
		{"/x", false},
		{strings.Repeat("k", 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			labels := map[string]string{"nanobox": "true", tc.key: "v"}
			_, _, err := c.Server.Update(ctx, res.Server, hcloud.ServerUpdateOpts{Labels: labels})
			got, _, gerr := c.Server.GetByID(ctx, res.Server.ID)
			require.NoError(t, gerr)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, labels, got.Labels)
				return
			}
			assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "got %v", err)
			assert.NotContains(t, got.Labels, tc.key, "a refused update changes nothing")
		})
	}
}
