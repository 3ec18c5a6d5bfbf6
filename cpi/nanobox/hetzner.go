package nanobox

import (
	"context"
	"math"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Hetzner carries out the account's methods of protocol.NanoboxCPI on one
// hcloud client (one call's credentials).
type Hetzner struct {
	client *hcloud.Client
	cfg    *config.Config
	log    logrus.FieldLogger
	state  *stateStore
	model  func() (*catalog.Model, error)
	polls  *polling // nil: every read is direct
}

// labels are the labels of everything the adapter creates: the config's
// extra labels, then the ownership labels (which the config cannot set).
func (h *Hetzner) labels() map[string]string {
	return cpi.OwnLabels(h.cfg.Labels)
}

// mayChange refuses to act on an object the adapter did not create, unless
// allow_foreign (cpi.MayChange).
func (h *Hetzner) mayChange(op, kind string, id int64, labels map[string]string) error {
	if err := cpi.MayChange(op, kind, id, labels, h.cfg.AllowForeign); err != nil {
		return err
	}
	return nil
}

// parseID turns an id argument into a Hetzner id (cpi.ParseID). Anything
// else names no object and is NotFound.
func parseID(op, kind, s string) (int64, error) {
	id, ok := cpi.ParseID(s)
	if !ok {
		return 0, protocol.NewError(protocol.NotFound,
			"%s: %q is not a %s id (a decimal number without sign, spaces or leading zeros), so there is no such %s", op, protocol.Truncate(s, 40), kind, kind)
	}
	return id, nil
}

// Verify checks the token in two steps, so that a token that is not valid
// costs no write: a read (the first page of SSH keys, one entry) tells a
// rejected token, then a delete of an SSH key id no object can have tells a
// read-write token (not_found) from a read-only one (forbidden). 2 calls;
// 1 when the token is rejected.
func (h *Hetzner) Verify(ctx context.Context) error {
	const op = "verify"
	_, resp, err := h.client.SSHKey.List(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{PerPage: 1}})
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	resp, err = h.client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: math.MaxInt64})
	switch {
	case err == nil, hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput):
		h.log.Info("verify: the token is valid and may write")
		return nil
	case hcloud.IsError(err, hcloud.ErrorCodeForbidden):
		return protocol.NewError(protocol.Forbidden, "verify: this API token is read-only; Nanobox needs a Read & Write token (Hetzner Cloud Console > Security > API tokens)")
	}
	return cpi.CloudError(op, resp, err)
}
