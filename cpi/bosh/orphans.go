package bosh

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
)

// The creating mark: a server or volume whose create has not finished
// carries LabelCreating (the Unix time its create began) and, when the
// creating host has a state directory, LabelCreator (that directory's
// project id). The call that made it removes both as its last step before
// it answers success, so an object BOSH has been told about never carries
// them. A marked object is an orphan, deleted by the next create_vm,
// create_disk, delete_vm or delete_disk in the project, when no running
// call holds it: its creator is this host and its hold (see hold) is free,
// or its mark is older than timeouts.orphan_seconds, which exceeds any
// call's deadline plus its clean-up.
const (
	LabelCreating = "bosh-creating"
	LabelCreator  = "bosh-creator"
)

// markCreating adds the creating mark to a new object's labels.
func (c *CPI) markCreating(labels map[string]string) {
	labels[LabelCreating] = strconv.FormatInt(c.env.Now().Unix(), 10)
	if id := c.creatorID(); id != "" {
		labels[LabelCreator] = id
	}
}

// unmarked is labels without the creating mark.
func unmarked(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if k != LabelCreating && k != LabelCreator {
			out[k] = v
		}
	}
	return out
}

func marked(labels map[string]string) bool {
	_, ok := labels[LabelCreating]
	return ok
}

// orphanAge is how old a creating mark must be before a call of any host
// deletes its object: timeouts.orphan_seconds, and never less than the
// longest a call can hold it (its deadline plus its clean-up).
func (c *CPI) orphanAge() time.Duration {
	return max(c.cfg.OrphanAge(), max(c.cfg.CallTimeout(), MinCallTimeout)+cleanupTimeout)
}

// claimOrphan reports whether the object (by name, labels, creation time)
// is an orphan no running call holds, and returns the hold to keep while
// deleting it (nil when the age alone decided, or without a state
// directory).
func (c *CPI) claimOrphan(name string, labels map[string]string, created time.Time) (*hold, bool) {
	if !cpi.Ours(labels) || !marked(labels) {
		return nil, false
	}
	if labels[LabelCreator] != "" && labels[LabelCreator] == c.creatorID() {
		if h, ok := c.holdFree(name); ok {
			return h, true
		}
		return nil, false // a call of this host still makes it
	}
	since := created
	if sec, err := strconv.ParseInt(labels[LabelCreating], 10, 64); err == nil {
		since = time.Unix(sec, 0)
	}
	return nil, c.env.Now().Sub(since) > c.orphanAge()
}

// markedSelector finds the CPI's marked objects.
var markedSelector = LabelCreating + "," + labelManagedBy + "=" + managedByValue

// sweep deletes the project's orphaned servers and volumes (see the
// creating mark). It never fails the call: what it cannot read or delete
// is logged and left for the next call.
func (c *CPI) sweep(ctx context.Context, op string) {
	client, err := c.hcloud()
	if err != nil {
		return
	}
	servers, err := client.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: markedSelector}})
	if err != nil {
		c.log.Warnf("%s: listing unfinished servers: %v", op, err)
	}
	for _, s := range servers {
		if h, ok := c.claimOrphan(s.Name, s.Labels, s.Created); ok {
			if now := c.stillMarkedServer(ctx, op, client, s.ID); now != nil {
				c.deleteOrphanServer(ctx, op, client, now)
			}
			h.release()
		}
	}
	volumes, err := client.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: markedSelector}})
	if err != nil {
		c.log.Warnf("%s: listing unfinished volumes: %v", op, err)
	}
	for _, v := range volumes {
		if h, ok := c.claimOrphan(v.Name, v.Labels, v.Created); ok {
			if now := c.stillMarkedVolume(ctx, op, client, v.ID); now != nil {
				c.deleteOrphanVolume(ctx, op, client, now)
			}
			h.release()
		}
	}
}

// stillMarkedServer reads a claimed server again: the list it came from may
// predate its create's end (which removes the mark and then the hold). nil
// when it is gone, finished, or cannot be read.
func (c *CPI) stillMarkedServer(ctx context.Context, op string, client *hcloud.Client, id int64) *hcloud.Server {
	s, _, err := client.Server.GetByID(ctx, id)
	if err != nil {
		c.log.Warnf("%s: reading unfinished server %d: %v", op, id, err)
		return nil
	}
	if s == nil || !cpi.Ours(s.Labels) || !marked(s.Labels) {
		return nil
	}
	return s
}

// stillMarkedVolume is stillMarkedServer for a volume.
func (c *CPI) stillMarkedVolume(ctx context.Context, op string, client *hcloud.Client, id int64) *hcloud.Volume {
	v, _, err := client.Volume.GetByID(ctx, id)
	if err != nil {
		c.log.Warnf("%s: reading unfinished volume %d: %v", op, id, err)
		return nil
	}
	if v == nil || !cpi.Ours(v.Labels) || !marked(v.Labels) {
		return nil
	}
	return v
}

// deleteOrphanServer deletes a server whose create did not finish, and
// reports whether it is gone.
func (c *CPI) deleteOrphanServer(ctx context.Context, op string, client *hcloud.Client, s *hcloud.Server) bool {
	res, _, err := client.Server.DeleteWithResult(ctx, s)
	if err == nil && res != nil && res.Action != nil {
		err = client.Action.WaitFor(ctx, res.Action)
	}
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		c.log.Warnf("%s: could not delete server %d (%s), left by a create that did not finish: %v", op, s.ID, s.Name, err)
		return false
	}
	c.log.Infof("%s: deleted server %d (%s), left by a create that did not finish", op, s.ID, s.Name)
	c.dropPlacementGroup(ctx, op, client, s.PlacementGroup)
	return true
}

// deleteOrphanVolume deletes a volume whose create did not finish.
func (c *CPI) deleteOrphanVolume(ctx context.Context, op string, client *hcloud.Client, v *hcloud.Volume) {
	if v.Server != nil {
		if err := c.detach(ctx, op, client, v); err != nil {
			c.log.Warnf("%s: could not detach volume %d (%s), left by a create that did not finish: %v", op, v.ID, v.Name, err)
			return
		}
	}
	if _, err := client.Volume.Delete(ctx, v); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		c.log.Warnf("%s: could not delete volume %d (%s), left by a create that did not finish: %v", op, v.ID, v.Name, err)
		return
	}
	c.log.Infof("%s: deleted volume %d (%s), left by a create that did not finish", op, v.ID, v.Name)
}

// freeIP is called when attaching ip in network failed with
// ip_not_available: it finds the server holding the IP. An orphan (see
// claimOrphan) is deleted, and freeIP answers nil (attach again); anything
// else is a CloudError naming the holder: its id, name and labels.
func (c *CPI) freeIP(ctx context.Context, op string, client *hcloud.Client, network *hcloud.Network, ip string, self int64) error {
	servers, err := client.Server.All(ctx)
	if err != nil {
		return cloudError(op+": finding the holder of "+ip, err)
	}
	want := net.ParseIP(ip)
	for _, s := range servers {
		if s.ID == self || !holdsIP(s, network.ID, want) {
			continue
		}
		if h, ok := c.claimOrphan(s.Name, s.Labels, s.Created); ok {
			now := c.stillMarkedServer(ctx, op, client, s.ID)
			gone := now != nil && c.deleteOrphanServer(ctx, op, client, now)
			h.release()
			if gone {
				return nil
			}
		}
		return newError(CloudError, "%s: IP %s in network %s (%d) is held by server %d (name %s, labels %s); delete that server or choose another static IP",
			op, ip, network.Name, network.ID, s.ID, s.Name, labelList(s.Labels))
	}
	return newError(CloudError, "%s: IP %s in network %s (%d) is held by a resource that is not a server (a load balancer or an alias IP); free it or choose another static IP",
		op, ip, network.Name, network.ID)
}

func holdsIP(s *hcloud.Server, networkID int64, ip net.IP) bool {
	for _, pn := range s.PrivateNet {
		if pn.Network == nil || pn.Network.ID != networkID {
			continue
		}
		if pn.IP.Equal(ip) {
			return true
		}
		for _, a := range pn.Aliases {
			if a.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// labelList is labels as k=v, sorted, comma-separated.
func labelList(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range sortedKeys(labels) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, labels[k]))
	}
	return strings.Join(parts, ",")
}
