// Package cloudinit renders the cloud-init user_data the CPI sends with
// every server it orders.
//
// Hetzner names a server's private NIC after its PCI slot: enp7s0 on current
// server types, ens10 on old ones. Nanobox needs one interface name for all
// servers (meta's internal_iface), so the user_data pins it: a udev rule
// matching the MAC prefix Hetzner gives private NICs (86:00:00) names it on
// every boot and hotplug, and a boot command renames a NIC that already
// came up under its slot name before the rule existed (the first boot).
// A netplan file gives the renamed NIC DHCP. The public NIC stays eth0.
package cloudinit

import (
	"fmt"
	"strings"
)

// PrivateMACPrefix is the prefix of the MAC address of every Hetzner
// private-network NIC.
const PrivateMACPrefix = "86:00:00"

// Options configure the user_data.
type Options struct {
	// PrivateIface is the name the private NIC gets, e.g. "eth1"; empty
	// means the server has no private NIC and no renaming happens.
	PrivateIface string
}

// validIface: a lower-case letter, then up to 14 lower-case letters or
// digits (checked by hand: a package-level regexp would cost every start).
func validIface(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// UserData returns the #cloud-config document. It never contains secrets.
func UserData(o Options) (string, error) {
	if o.PrivateIface == "" {
		return "", nil
	}
	if !validIface(o.PrivateIface) || o.PrivateIface == "eth0" {
		return "", fmt.Errorf("cloudinit: %q cannot be the private interface name", o.PrivateIface)
	}
	iface := o.PrivateIface
	rule := fmt.Sprintf(`SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="%s:*", NAME="%s"`, PrivateMACPrefix, iface)
	netplan := strings.Join([]string{
		"network:",
		"  version: 2",
		"  ethernets:",
		"    nanobox-private:",
		"      match:",
		"        name: " + iface,
		"      dhcp4: true",
		"      dhcp6: false",
		"      dhcp4-overrides:",
		"        use-routes: true",
		"        use-dns: false",
	}, "\n")
	// The rename script: find the NIC whose MAC has the private prefix and,
	// unless it is already called iface, rename it and bring it up again.
	script := strings.Join([]string{
		`for dev in /sys/class/net/*; do`,
		`  n=$(basename "$dev")`,
		`  case "$(cat "$dev/address" 2>/dev/null)" in`,
		`    ` + PrivateMACPrefix + `:*)`,
		`      if [ "$n" != "` + iface + `" ]; then`,
		`        ip link set dev "$n" down && ip link set dev "$n" name ` + iface + ` && ip link set dev ` + iface + ` up`,
		`      fi ;;`,
		`  esac`,
		`done`,
	}, "\n")

	var b strings.Builder
	b.WriteString("#cloud-config\n")
	b.WriteString("# nanobox-hcloud: the private NIC (MAC " + PrivateMACPrefix + ":xx:xx:xx) is always " + iface + "\n")
	b.WriteString("write_files:\n")
	writeFile(&b, "/etc/udev/rules.d/70-nanobox-private-nic.rules", "0644", rule+"\n")
	writeFile(&b, "/etc/netplan/60-nanobox-private.yaml", "0600", netplan+"\n")
	// bootcmd runs early on every boot, before write_files: it renames a
	// NIC that came up under its slot name (first boot, before the rule).
	b.WriteString("bootcmd:\n")
	b.WriteString("  - |\n")
	for _, line := range strings.Split(script, "\n") {
		b.WriteString("    " + line + "\n")
	}
	// runcmd runs once, after write_files: DHCP on the renamed NIC now.
	b.WriteString("runcmd:\n")
	b.WriteString("  - [sh, -c, 'if command -v netplan >/dev/null 2>&1; then netplan apply; elif command -v dhclient >/dev/null 2>&1; then dhclient " + iface + "; fi']\n")
	return b.String(), nil
}

func writeFile(b *strings.Builder, path, perm, content string) {
	b.WriteString("  - path: " + path + "\n")
	b.WriteString("    owner: root:root\n")
	b.WriteString("    permissions: '" + perm + "'\n")
	b.WriteString("    content: |\n")
	for _, line := range strings.Split(strings.TrimSuffix(content, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
}
