package nanobox

import (
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Config field keys (meta's config_fields, order_server's config,
// update_config's body, query_server's config).
const (
	FieldImage          = "image"
	FieldBackups        = "backups"
	FieldPlacementGroup = "placement_group"
)

// Values of the backups field.
const (
	BackupsEnabled  = "enabled"
	BackupsDisabled = "disabled"
)

// PrivateIface is the name the private NIC gets on every server (pinned by
// cloud-init), PublicIface the public NIC's.
const (
	PrivateIface = "eth1"
	PublicIface  = "eth0"
)

const instructions = `<a href="//console.hetzner.cloud/projects" target="_blank">Open your project in the Hetzner Cloud Console</a>, go to Security &gt; API Tokens, choose "Generate API token", select <b>Read &amp; Write</b> (a read-only token cannot create servers), then paste the token here. Nanobox only touches servers, SSH keys and networks it created (labelled managed-by=nanobox-hcloud).`

// access is how servers of this adapter are reached and changed: the
// fields of meta that decide which Nanobox routes it supports
// (protocol.Route.Unsupported). Meta answers them; NewNanobox refuses the
// routes they rule out.
var access = protocol.Meta{CanReboot: true, CanRename: true, SSHAuthMethod: "key", SSHKeyMethod: "reference"}

// Meta describes the adapter. It makes no API call and reads only the
// config (and, for default_plan, the embedded catalog snapshot).
func (c *CPI) Meta() (protocol.Meta, error) {
	cfg := c.env.Config
	internal, external := PrivateIface, PublicIface
	if cfg.Network.Mode == config.NetworkNone {
		// Rule 4 of the spec: one NIC is reported as internal only.
		internal, external = PublicIface, ""
	}
	return protocol.Meta{
		ID:               "hetzner",
		Name:             "Hetzner Cloud",
		ServerNickName:   "Server",
		DefaultRegion:    cfg.Defaults.Region,
		DefaultSize:      cfg.Defaults.Size,
		DefaultPlan:      c.defaultPlan(),
		CanReboot:        access.CanReboot,
		CanRename:        access.CanRename,
		InternalIface:    internal,
		ExternalIface:    external,
		SSHUser:          "root",
		SSHAuthMethod:    access.SSHAuthMethod,
		SSHKeyMethod:     access.SSHKeyMethod,
		BootstrapScript:  cfg.BootstrapScript,
		BootstrapTimeout: cfg.BootstrapTimeout,
		CredentialFields: []protocol.CredentialField{{Key: CredentialKey, Label: "API Token"}},
		ConfigFields:     c.configFields(),
		Instructions:     instructions,
		Version:          c.env.Version,
	}, nil
}

// defaultPlan is the plan of the default size in the default region, from
// the embedded snapshot's index (no full catalog parse).
func (c *CPI) defaultPlan() string {
	return catalog.EmbeddedPlan(c.env.Config.Defaults.Region, c.env.Config.Defaults.Size)
}

func (c *CPI) configFields() []protocol.ConfigField {
	cfg := c.env.Config
	images := make([]protocol.ConfigValue, 0, len(cfg.Images))
	for _, img := range cfg.Images {
		images = append(images, protocol.ConfigValue{Value: img, Label: imageLabel(img)})
	}
	return []protocol.ConfigField{
		{
			Key: FieldImage, Label: "Operating system image",
			Description: "The Hetzner image the server is installed from. Changing it means a new server.",
			Type:        "enum", Values: images, Default: cfg.Image, Rebuild: true,
		},
		{
			Key: FieldBackups, Label: "Backups",
			Description: "Hetzner's daily backups (7 kept; 20% of the server price). Can be switched on and off at any time.",
			Type:        "enum",
			Values: []protocol.ConfigValue{
				{Value: BackupsDisabled, Label: "Disabled"},
				{Value: BackupsEnabled, Label: "Enabled"},
			},
			Default: BackupsDisabled, Rebuild: false,
		},
		{
			Key: FieldPlacementGroup, Label: "Spread placement group",
			Description: "Name of a Hetzner spread placement group (created if missing): servers in one group run on different physical hosts, at most 10 per group. Empty for none. Changing it means a new server.",
			Type:        "text", Default: "", Rebuild: true,
		},
	}
}

func imageLabel(img string) string {
	labels := map[string]string{
		"ubuntu-22.04": "Ubuntu 22.04 LTS",
		"ubuntu-24.04": "Ubuntu 24.04 LTS",
		"debian-12":    "Debian 12",
		"debian-13":    "Debian 13",
	}
	if l, ok := labels[img]; ok {
		return l
	}
	return img
}
