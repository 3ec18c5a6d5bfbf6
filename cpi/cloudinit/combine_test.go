package cloudinit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/cloudinit"
)

func TestUserType(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"#cloud-config\n{}", "text/cloud-config", ""},
		{"#cloud-config-archive\n[]", "text/cloud-config-archive", ""},
		{"#!/bin/bash\ntrue", "text/x-shellscript", ""},
		{"#include\nhttps://example.com/x", "text/x-include-url", ""},
		{"#cloud-boothook\n#!/bin/sh", "text/cloud-boothook", ""},
		{"## template: jinja\n#cloud-config", "text/jinja2", ""},
		{"packages: [htop]", "", "must start with one of"},
		{"Content-Type: multipart/mixed", "", "MIME"},
		{"\x1f\x8b\x08", "", "UTF-8"},
		{"#!/bin/sh\n\xff", "", "UTF-8"},
	} {
		got, err := cloudinit.UserType(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestCombine(t *testing.T) {
	own := "#cloud-config\nbootcmd: [true]\n"
	user := "#cloud-config\nruncmd: [true]\n"

	for _, tc := range []struct{ own, user, want string }{
		{"", "", ""},
		{own, "", own},
		{"", user, user},
	} {
		got, err := cloudinit.Combine(tc.own, tc.user)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}

	a, err := cloudinit.Combine(own, user)
	require.NoError(t, err)
	b, err := cloudinit.Combine(own, user)
	require.NoError(t, err)
	require.Equal(t, a, b, "the same input gives the same bytes")
	require.True(t, strings.HasPrefix(a, "Content-Type: multipart/mixed; boundary=\"nanobox-hcloud-"))
	require.Contains(t, a, "Merge-Type: "+cloudinit.MergeType)
	c, err := cloudinit.Combine(own, user+"# another\n")
	require.NoError(t, err)
	require.NotEqual(t, a[:80], c[:80], "another input, another boundary")

	_, err = cloudinit.Combine(own, "packages: []")
	require.ErrorContains(t, err, "must start with")
	_, err = cloudinit.Combine("", "#!/bin/sh\n"+strings.Repeat("#", cloudinit.MaxUserData))
	require.ErrorContains(t, err, "too large")
}
