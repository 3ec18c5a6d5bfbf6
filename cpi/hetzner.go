package cpi

import (
	"context"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

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

// Hidden reports whether labels mark an object as not Nanobox's to see:
// key "nanobox" in any letter case with value "false" in any case. Every
// method, Nanobox's and BOSH's, treats such an object as non-existent.
func Hidden(labels map[string]string) bool {
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
	maps.Copy(l, h.cfg.Labels)
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

// parseID turns an id argument into a Hetzner id. Ids are canonical
// decimals: 1-19 digits, no sign, no leading zero, no space, no exponent.
// Anything else names no object and is NotFound, so "+1003", "001003",
// " 1003" or "1e3" never reach object 1003.
func parseID(op, kind, s string) (int64, error) {
	notFound := protocol.NewError(protocol.NotFound,
		"%s: %q is not a %s id (a decimal number without sign, spaces or leading zeros), so there is no such %s", op, protocol.Truncate(s, 40), kind, kind)
	if !canonicalDecimal(s) {
		return 0, notFound
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, notFound
	}
	return id, nil
}

// canonicalDecimal: a positive decimal as strconv.FormatInt writes it.
func canonicalDecimal(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
		return cloudError(op, resp, err)
	}
	resp, err = h.client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: math.MaxInt64})
	switch {
	case err == nil, hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput):
		h.log.Info("verify: the token is valid and may write")
		return nil
	case hcloud.IsError(err, hcloud.ErrorCodeForbidden):
		return protocol.NewError(protocol.Forbidden, "verify: this API token is read-only; Nanobox needs a Read & Write token (Hetzner Cloud Console > Security > API tokens)")
	}
	return cloudError(op, resp, err)
}
