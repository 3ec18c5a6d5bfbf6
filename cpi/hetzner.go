package cpi

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Hetzner implements Account, Keys and Servers on one hcloud client (one
// call's credentials).
type Hetzner struct {
	client *hcloud.Client
	cfg    *config.Config
	log    logrus.FieldLogger
	state  *stateStore
	model  func() (*catalog.Model, error)
}

var (
	_ Account = (*Hetzner)(nil)
	_ Keys    = (*Hetzner)(nil)
	_ Servers = (*Hetzner)(nil)
)

// hidden reports whether labels mark an object as not Nanobox's to see:
// key "nanobox" in any letter case with value "false" in any case.
func hidden(labels map[string]string) bool {
	for k, v := range labels {
		if strings.EqualFold(k, LabelNanobox) && strings.EqualFold(v, "false") {
			return true
		}
	}
	return false
}

// ours reports whether the adapter created the object.
func ours(labels map[string]string) bool {
	if labels[LabelManagedBy] == ManagedByValue {
		return true
	}
	for k, v := range labels {
		if strings.EqualFold(k, LabelNanobox) && strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// labels are the labels of everything the adapter creates: the config's
// extra labels, then the ownership labels (which the config cannot set).
func (h *Hetzner) labels() map[string]string {
	l := make(map[string]string, len(h.cfg.Labels)+2)
	for k, v := range h.cfg.Labels {
		l[k] = v
	}
	l[LabelNanobox] = "true"
	l[LabelManagedBy] = ManagedByValue
	return l
}

// mayChange refuses to act on an object the adapter did not create, unless
// allow_foreign.
func (h *Hetzner) mayChange(op, kind string, id int64, labels map[string]string) error {
	if ours(labels) || h.cfg.AllowForeign {
		return nil
	}
	return protocol.NewError(protocol.Forbidden,
		"%s: %s %d was not created by Nanobox (no nanobox=true label); set allow_foreign in the CPI config to manage it anyway", op, kind, id)
}

// parseID turns an id argument into a Hetzner id.
func parseID(op, kind, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, protocol.NewError(protocol.InvalidArguments, "%s: %q is not a %s id (a positive number)", op, truncate(s, 40), kind)
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Verify checks the token with one request that cannot change anything: a
// delete of an SSH key id no object can have. A valid read-write token gets
// not_found, a read-only one forbidden, a bad one unauthorized.
func (h *Hetzner) Verify(ctx context.Context) error {
	const op = "verify"
	resp, err := h.client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: math.MaxInt64})
	switch {
	case err == nil, hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput):
		h.log.Info("verify: the token is valid and may write")
		return nil
	case hcloud.IsError(err, hcloud.ErrorCodeForbidden):
		return protocol.NewError(protocol.Forbidden, "verify: this API token is read-only; Nanobox needs a Read & Write token (Hetzner Cloud Console > Security > API tokens)")
	}
	return cloudError(op, resp, err)
}
