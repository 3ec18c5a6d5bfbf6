package nanobox

import (
	"context"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// whenUnlocked runs change, a change of server id, and, while Hetzner
// answers that another action on the server holds it (locked), waits that
// action out: it reads the server every poll interval until it is no
// longer locked, then runs change again, for at most timeouts.
// lock_wait_seconds in all. A server still locked then is a retryable
// Unavailable error. The wait is for the earlier action only: the change
// itself is never waited for (the spec's "should not hold open the
// request"). Errors other than locked are change's own, unmapped.
func (h *Hetzner) whenUnlocked(ctx context.Context, op string, id int64, change func() (*hcloud.Response, error)) (*hcloud.Response, error) {
	deadline := time.Now().Add(h.cfg.LockWait())
	for {
		resp, err := change()
		if err == nil || !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
			return resp, err
		}
		if err := h.waitUnlocked(ctx, op, id, deadline); err != nil {
			return nil, err
		}
	}
}

// waitUnlocked polls server id until it is not locked (1 call per poll
// interval), or answers a retryable error at deadline.
func (h *Hetzner) waitUnlocked(ctx context.Context, op string, id int64, deadline time.Time) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return protocol.NewError(protocol.Unavailable,
				"%s: server %d is still locked by another action after %s; retry shortly", op, id, h.cfg.LockWait())
		}
		timer := time.NewTimer(min(h.cfg.PollInterval(), left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return cpi.CloudError(op+": waiting for another action on the server", nil, ctx.Err())
		case <-timer.C:
		}
		server, resp, err := h.client.Server.GetByID(ctx, id)
		if err != nil {
			return cpi.CloudError(op+": waiting for another action on the server", resp, err)
		}
		if server == nil {
			return protocol.NewError(protocol.NotFound, "%s: no server %d", op, id)
		}
		if !server.Locked {
			return nil
		}
	}
}

// persistently runs change like whenUnlocked and also retries, every poll
// interval until timeouts.lock_wait_seconds have passed, an error a retry
// can fix (5xx, rate limit, conflict, timeout). It is for a switch that
// restores an acknowledged wish another call may already have answered
// for, which must not be given up at the first failure.
func (h *Hetzner) persistently(ctx context.Context, op string, id int64, change func() (*hcloud.Response, error)) (*hcloud.Response, error) {
	deadline := time.Now().Add(h.cfg.LockWait())
	for {
		resp, err := h.whenUnlocked(ctx, op, id, change)
		if err == nil || !cpi.CloudError(op, resp, err).OkToRetry || time.Until(deadline) <= 0 || ctx.Err() != nil {
			return resp, err
		}
		h.log.Infof("%s: retrying after %s", op, protocol.Truncate(err.Error(), 300))
		timer := time.NewTimer(min(h.cfg.PollInterval(), time.Until(deadline)))
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
	}
}
