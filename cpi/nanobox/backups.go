package nanobox

import (
	"context"
	"fmt"
	"maps"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Backups on a server Nanobox created follow one rule: the label
// nanobox-backups holds the last acknowledged wish, and every actor that
// switches backups re-reads it after switching and follows it if it
// changed meanwhile. order_server writes the wish at create time,
// update_config writes it before it switches, query_server converges to
// it. Since each call is its own process, there is no lock to share; the
// re-read after each switch is what keeps a concurrent convergence from
// undoing an acknowledged change (docs/reliability.md, "No lost
// acknowledged change").

// maxSwitchRounds bounds the switch / re-read rounds of one call: a wish
// that keeps changing is left to the next call.
const maxSwitchRounds = 3

func backupsValue(on bool) string {
	if on {
		return BackupsEnabled
	}
	return BackupsDisabled
}

// backupsWish reads the nanobox-backups label: the wish, and whether one
// is recorded at all.
func backupsWish(labels map[string]string) (on, recorded bool) {
	switch labels[cpi.LabelBackups] {
	case BackupsEnabled:
		return true, true
	case BackupsDisabled:
		return false, true
	}
	return false, false
}

// wantsBackups reports whether a server's labels ask for backups.
func wantsBackups(labels map[string]string) bool {
	on, _ := backupsWish(labels)
	return on
}

// setBackupsWish sets the nanobox-backups label of a server (1 call),
// keeping its other labels. op prefixes the error.
func (h *Hetzner) setBackupsWish(ctx context.Context, op string, server *hcloud.Server, on bool) error {
	labels := maps.Clone(server.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[cpi.LabelBackups] = backupsValue(on)
	if _, resp, err := h.client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Labels: labels}); err != nil {
		return cpi.CloudError(op, resp, err)
	}
	server.Labels = labels
	return nil
}

// setBackups is update_config's backups: on a server Nanobox created, the
// wish is recorded first (1 call) and the server read again (1 call), so
// the switch acts on what is there after the wish is visible to every
// other call; then the switch (1 call) and its re-read (1 call, see
// switchBackups). Nothing is switched when the server already has what is
// asked. On a server Nanobox did not create (allow_foreign) no label is
// written: the switch alone.
func (h *Hetzner) setBackups(ctx context.Context, op string, server *hcloud.Server, want bool) error {
	if cur, recorded := backupsWish(server.Labels); cpi.Ours(server.Labels) && (!recorded || cur != want) {
		if err := h.setBackupsWish(ctx, op+": recording the backups setting", server, want); err != nil {
			return err
		}
		again, err := h.getServer(ctx, op, server.ID)
		if err != nil {
			return err
		}
		if again == nil {
			return protocol.NewError(protocol.NotFound, "%s: no server %d", op, server.ID)
		}
		server = again
		if latest, recorded := backupsWish(server.Labels); recorded {
			want = latest // a wish recorded after this one wins
		}
	}
	if (server.BackupWindow != "") == want {
		return nil
	}
	return h.switchBackups(ctx, op, server, want, true)
}

// convergeBackups brings a running, unlocked server Nanobox created to the
// backups wish in its label (see switchBackups); none when there is nothing
// to do or it is too early. complete says whether the server has what its
// wish asks, for the provisioning status; a switch sets server.BackupWindow
// so the caller reports the new setting.
func (h *Hetzner) convergeBackups(ctx context.Context, server *hcloud.Server) (complete bool, err error) {
	want, recorded := backupsWish(server.Labels)
	if !recorded || !cpi.Ours(server.Labels) || (server.BackupWindow != "") == want {
		return true, nil
	}
	if server.Status != hcloud.ServerStatusRunning || (want && server.Locked) {
		return !want, nil // a server has backups off until it runs
	}
	// Off while on: a convergence undid an acknowledged "disabled" (its
	// re-read failed or its process was killed); this repair waits out a
	// running action rather than leave it to a later poll.
	repair := !want
	op := fmt.Sprintf("query_server: switching the backups of server %d to its wish (%s)", server.ID, backupsValue(want))
	if err := h.switchBackups(ctx, op, server, want, repair); err != nil {
		perr := cpi.CloudError(op, nil, err)
		if perr.OkToRetry {
			h.log.Infof("%s; not yet (%s), the next poll tries again", perr.Message, perr.Type)
			return !want, nil
		}
		perr.Message += "; set backups with update_config to change the wish, or fix the cause"
		return false, perr
	}
	return true, nil
}

// switchBackups enables or disables backups (1 call; with wait, more while
// it waits out another action, see whenUnlocked; query_server does not
// wait, its next poll tries again), then, on a server Nanobox created,
// reads the wish again (1 call): a wish recorded meanwhile by another call,
// which may have looked at the server before this switch and answered, is
// followed (switched back, retried until timeouts.lock_wait_seconds on any
// retryable error), up to maxSwitchRounds. server.BackupWindow and
// server.Labels are updated to what the server has afterwards.
func (h *Hetzner) switchBackups(ctx context.Context, op string, server *hcloud.Server, want, wait bool) error {
	for round := 1; ; round++ {
		change := func() (*hcloud.Response, error) {
			if want {
				_, resp, err := h.client.Server.EnableBackup(ctx, server, "")
				return resp, err
			}
			_, resp, err := h.client.Server.DisableBackup(ctx, server)
			return resp, err
		}
		var resp *hcloud.Response
		var err error
		switch {
		case round > 1: // following a newer wish, maybe already acknowledged
			resp, err = h.persistently(ctx, op, server.ID, change)
		case wait:
			resp, err = h.whenUnlocked(ctx, op, server.ID, change)
		default:
			resp, err = change()
		}
		if err != nil {
			return cpi.CloudError(op, resp, err)
		}
		h.log.Infof("%s: backups of server %d %s", op, server.ID, backupsValue(want))
		server.BackupWindow = ""
		if want {
			server.BackupWindow = "pending" // Hetzner picks the window; reported as enabled
		}
		if !cpi.Ours(server.Labels) || round >= maxSwitchRounds {
			return nil
		}
		again, err := h.readAgain(ctx, op+": reading the backups wish again", server.ID)
		if err != nil {
			return err
		}
		if again == nil {
			return nil
		}
		server.Labels = again.Labels
		latest, recorded := backupsWish(again.Labels)
		if !recorded || latest == want {
			return nil
		}
		h.log.Warnf("%s: the wish of server %d became %s meanwhile; following it", op, server.ID, backupsValue(latest))
		want = latest
	}
}

// readAgain reads a server after a switch (1 call), retrying an error a
// retry can fix every poll interval until timeouts.lock_wait_seconds have
// passed: without this read a switch against a newer, acknowledged wish
// would stand.
func (h *Hetzner) readAgain(ctx context.Context, op string, id int64) (*hcloud.Server, error) {
	var again *hcloud.Server
	_, err := h.persistently(ctx, op, id, func() (*hcloud.Response, error) {
		var resp *hcloud.Response
		var err error
		again, resp, err = h.client.Server.GetByID(ctx, id)
		return resp, err
	})
	if err != nil {
		return nil, cpi.CloudError(op, nil, err)
	}
	return again, nil
}
