package nanobox_test

import (
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/cloudinit"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func (h *harness) orderBody(body map[string]any) response {
	h.t.Helper()
	return h.call("order_server", body)
}

func (h *harness) userDataOf(id string) string {
	h.t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	require.NoError(h.t, err)
	ud, ok := h.sim.Sim.UserData(n)
	require.True(h.t, ok)
	return ud
}

// parts splits a multipart user_data into its parts' types and bodies.
func parts(t *testing.T, doc string) (types, bodies, merges []string) {
	t.Helper()
	head, body, ok := strings.Cut(doc, "\r\n\r\n")
	require.True(t, ok)
	mediaType, params, err := mime.ParseMediaType(strings.TrimPrefix(strings.SplitN(head, "\r\n", 2)[0], "Content-Type: "))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mediaType)
	r := multipart.NewReader(strings.NewReader(body), params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
		data, err := io.ReadAll(p)
		require.NoError(t, err)
		mt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		types, bodies, merges = append(types, mt), append(bodies, string(data)), append(merges, p.Header.Get("Merge-Type"))
	}
}

// TestOrderWithUserDataAndLabels: the user's cloud-init reaches the server
// beside the CPI's own, as a multipart document cloud-init reads (the
// user's cloud-config merged by appending lists); the extra labels are on
// the server with the ownership labels, and hashes record both.
func TestOrderWithUserDataAndLabels(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	own, err := cloudinit.UserData(cloudinit.Options{PrivateIface: nanobox.PrivateIface})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, userData, wantType string
	}{
		{"cloud-config", "#cloud-config\npackages: [htop]\n", "text/cloud-config"},
		{"script", "#!/bin/sh\necho hi > /tmp/hi\n", "text/x-shellscript"},
		{"non-ASCII script", "#!/bin/sh\necho grüße\n", "text/x-shellscript"},
	} {
		t.Log(tc.name)
		var res protocol.IDResult
		h.ok(h.orderBody(map[string]any{"name": "ud-" + strings.ReplaceAll(tc.name, " ", "-"), "ssh_key": key,
			"user_data": tc.userData, "labels": map[string]string{"team": "web", "example.com/tier": "front"}}), &res)
		types, bodies, merges := parts(t, h.userDataOf(res.ID))
		require.Equal(t, []string{"text/cloud-config", tc.wantType}, types)
		require.Equal(t, own, bodies[0])
		decoded := bodies[1]
		if strings.Contains(tc.name, "non-ASCII") {
			require.NotContains(t, decoded, "grüße", "sent base64-encoded")
		} else {
			require.Equal(t, tc.userData, decoded)
		}
		wantMerge := ""
		if tc.wantType == "text/cloud-config" {
			wantMerge = cloudinit.MergeType
		}
		require.Equal(t, []string{"", wantMerge}, merges)
		labels := h.simServer(res.ID).Labels
		require.Equal(t, "web", labels["team"])
		require.Equal(t, "front", labels["example.com/tier"])
		require.Equal(t, "true", labels["nanobox"])
		require.Equal(t, "nanobox-hcloud", labels["managed-by"])
		require.Len(t, labels[nanobox.LabelUserData], 32)
		require.Len(t, labels[nanobox.LabelOrderLabels], 32)
	}
}

// TestOrderUserDataWithoutPrivateNetwork: with no CPI cloud-init of its
// own, the user's goes as it is; without user data, the CPI's own.
func TestOrderUserDataWithoutPrivateNetwork(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Network.Mode = config.NetworkNone })
	key := h.createKey()
	var res protocol.IDResult
	h.ok(h.orderBody(map[string]any{"name": "plain", "ssh_key": key, "user_data": "#cloud-config\n{}\n"}), &res)
	require.Equal(t, "#cloud-config\n{}\n", h.userDataOf(res.ID))
	h.ok(h.orderBody(map[string]any{"name": "none", "ssh_key": key}), &res)
	require.Equal(t, "", h.userDataOf(res.ID))
	require.NotContains(t, h.simServer(res.ID).Labels, nanobox.LabelUserData)
	require.NotContains(t, h.simServer(res.ID).Labels, nanobox.LabelOrderLabels)
}

// TestReorderComparesUserDataAndLabels: the same order answers the same
// id; another user_data or other labels are a Conflict naming what
// differs, and nothing is created or changed.
func TestReorderComparesUserDataAndLabels(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	body := func(userData string, labels map[string]string) map[string]any {
		b := map[string]any{"name": "web1", "region": "nbg1", "size": "cx23", "ssh_key": key}
		if userData != "" {
			b["user_data"] = userData
		}
		if labels != nil {
			b["labels"] = labels
		}
		return b
	}
	ud := "#cloud-config\npackages: [htop]\n"
	var first, again protocol.IDResult
	h.ok(h.orderBody(body(ud, map[string]string{"a": "1"})), &first)
	h.ok(h.orderBody(body(ud, map[string]string{"a": "1"})), &again)
	require.Equal(t, first.ID, again.ID)
	before := h.simServer(first.ID).Labels
	for _, tc := range []struct {
		name    string
		body    map[string]any
		differs string
	}{
		{"other user_data", body("#cloud-config\npackages: [vim]\n", map[string]string{"a": "1"}), "user_data"},
		{"no user_data", body("", map[string]string{"a": "1"}), "user_data"},
		{"other labels", body(ud, map[string]string{"a": "2"}), "labels"},
		{"no labels", body(ud, nil), "labels"},
		{"more labels", body(ud, map[string]string{"a": "1", "b": "2"}), "labels"},
	} {
		e := h.fails(h.orderBody(tc.body), protocol.Conflict, "server "+first.ID+" is already named", tc.differs)
		require.False(t, e.OkToRetry, tc.name)
	}
	require.Equal(t, 1, h.createdServers())
	require.Equal(t, before, h.simServer(first.ID).Labels)
}

// TestOrderExtrasAreValidatedFirst: bad user_data or labels are
// InvalidArguments before any API call.
func TestOrderExtrasAreValidatedFirst(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	for _, tc := range []struct {
		name  string
		extra map[string]any
		parts []string
	}{
		{"unknown user_data type", map[string]any{"user_data": "packages: [htop]"}, []string{"user_data must start with", `"#cloud-config"`}},
		{"MIME user_data", map[string]any{"user_data": "Content-Type: multipart/mixed\n\n"}, []string{"MIME"}},
		{"too large with ours", map[string]any{"user_data": "#!/bin/sh\n" + strings.Repeat("#", cloudinit.MaxUserData-20)}, []string{"too large", "32768"}},
		{"ownership label", map[string]any{"labels": map[string]string{"Nanobox": "false"}}, []string{`"Nanobox" is set by the adapter`}},
		{"managed-by", map[string]any{"labels": map[string]string{"managed-by": "me"}}, []string{`"managed-by" is set by the adapter`}},
		{"hash label", map[string]any{"labels": map[string]string{nanobox.LabelUserData: "x"}}, []string{"set by the adapter"}},
		{"bad key", map[string]any{"labels": map[string]string{"bad key!": "x"}}, []string{"not a valid Hetzner label key"}},
		{"bad value", map[string]any{"labels": map[string]string{"k": "-x-"}}, []string{"not a valid Hetzner label value"}},
		{"labels not an object", map[string]any{"labels": []string{"a"}}, []string{"labels"}},
	} {
		t.Log(tc.name)
		b := map[string]any{"name": "web1", "ssh_key": key}
		for k, v := range tc.extra {
			b[k] = v
		}
		h.budget(0, func() { h.fails(h.orderBody(b), protocol.InvalidArguments, tc.parts...) })
	}
	require.Zero(t, h.createdServers())
}
