package bosh

import (
	"context"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
)

// sshKeys resolves cloud_properties.ssh_keys, each a name or an id, to
// Hetzner's keys (hcloud-go sends only a key's id when creating a server).
// A key that does not exist, or is labelled nanobox=false, is a CpiError
// naming it; nothing has been created then.
func (c *CPI) sshKeys(ctx context.Context, op string, client *hcloud.Client, refs []string) ([]*hcloud.SSHKey, error) {
	keys := make([]*hcloud.SSHKey, 0, len(refs))
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			return nil, newError(CpiError, "%s: cloud_properties.ssh_keys holds an empty name", op)
		}
		k, _, err := client.SSHKey.Get(ctx, ref)
		if err != nil {
			return nil, cloudError(op+": looking up SSH key "+ref, err)
		}
		if k == nil || cpi.Hidden(k.Labels) {
			return nil, newError(CpiError, "%s: SSH key %q (cloud_properties.ssh_keys) does not exist in this Hetzner project", op, ref)
		}
		keys = append(keys, &hcloud.SSHKey{ID: k.ID, Name: k.Name})
	}
	return keys, nil
}
