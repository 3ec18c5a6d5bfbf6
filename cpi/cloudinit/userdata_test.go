package cloudinit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/cloudinit"
)

func TestUserDataPinsThePrivateNIC(t *testing.T) {
	ud, err := cloudinit.UserData(cloudinit.Options{PrivateIface: "eth1"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ud, "#cloud-config\n"), "cloud-init only reads user_data that starts with #cloud-config")
	// The udev rule matches Hetzner's private MAC prefix, whatever the slot
	// name would be (enp7s0 on current types, ens10 on old ones).
	require.Contains(t, ud, `SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="86:00:00:*", NAME="eth1"`)
	require.Contains(t, ud, "path: /etc/udev/rules.d/70-nanobox-private-nic.rules")
	// First boot: the NIC already exists under its slot name; bootcmd
	// renames it.
	require.Contains(t, ud, "bootcmd:\n")
	require.Contains(t, ud, `86:00:00:*)`)
	require.Contains(t, ud, `ip link set dev "$n" name eth1`)
	// DHCP on the new name.
	require.Contains(t, ud, "match:\n              name: eth1\n            dhcp4: true")
	require.Contains(t, ud, "netplan apply")
	require.Contains(t, ud, "dhclient eth1")
	require.NotContains(t, ud, "eth0", "the public NIC is left alone")
	require.NotContains(t, ud, "\t", "YAML must not contain tabs")
	require.Less(t, len(ud), 32*1024, "Hetzner's user_data limit")
}

func TestUserDataStructure(t *testing.T) {
	ud, err := cloudinit.UserData(cloudinit.Options{PrivateIface: "eth1"})
	require.NoError(t, err)
	var top []string
	for _, line := range strings.Split(ud, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") {
			top = append(top, line)
		}
	}
	require.Equal(t, []string{"write_files:", "bootcmd:", "runcmd:"}, top)
	for _, line := range strings.Split(ud, "\n") {
		if strings.HasPrefix(line, "      ") || line == "" {
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		require.Zero(t, indent%2, "odd indentation: %q", line)
	}
}

func TestUserDataOtherNamesAndNone(t *testing.T) {
	ud, err := cloudinit.UserData(cloudinit.Options{PrivateIface: "ens10"})
	require.NoError(t, err)
	require.Contains(t, ud, `NAME="ens10"`)

	ud, err = cloudinit.UserData(cloudinit.Options{})
	require.NoError(t, err)
	require.Empty(t, ud, "no private NIC, nothing to pin")

	for _, bad := range []string{"eth0", "Eth1", "eth1; rm -rf /", "a-very-long-interface-name"} {
		_, err := cloudinit.UserData(cloudinit.Options{PrivateIface: bad})
		require.Error(t, err, bad)
	}
}
