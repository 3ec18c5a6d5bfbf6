package statecache

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// All returns every server of a snapshot younger than window (by id),
// refreshing it when needed, under the freshness rule of Server. A
// snapshot Forget dropped a server from is no answer to All (the server
// exists but is not in it): it is refreshed. On a Miss
// the servers are nil and the caller lists them from the API; refreshErr
// then says why a refresh failed, if one was tried.
func (c *Cache) All(ctx context.Context, window time.Duration) (servers []*hcloud.Server, res Result, refreshErr error) {
	arrival := c.now()
	since := arrival.Add(-window)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if snap, ok := c.fresh(since, arrival); ok && !snap.Forgotten {
			return decodeAll(snap, Hit)
		}
		lock, ok, err := statedir.TryLock(c.lockPath)
		if err != nil {
			return nil, Miss, err
		}
		if !ok {
			// Another process refreshes: wait for it, then read what it wrote.
			if lock, err = statedir.LockWait(ctx, c.lockPath); err != nil {
				return nil, Miss, err
			}
			lock.Unlock()
			continue
		}
		if snap, ok := c.fresh(since, arrival); ok && !snap.Forgotten {
			lock.Unlock()
			return decodeAll(snap, Hit)
		}
		snap, err := c.refresh(ctx)
		lock.Unlock()
		if err != nil {
			return nil, Miss, err
		}
		return decodeAll(snap, Refreshed)
	}
	return nil, Miss, errors.New("the snapshot kept changing while this read waited")
}

// decodeAll decodes every server of snap as hcloud-go decodes them, in
// ascending id order; a damaged entry makes the whole answer a Miss.
func decodeAll(snap *snapshot, res Result) ([]*hcloud.Server, Result, error) {
	out := make([]*hcloud.Server, 0, len(snap.Servers))
	for _, raw := range snap.Servers {
		var s schema.Server
		if err := json.Unmarshal(raw, &s); err != nil || s.ID <= 0 {
			return nil, Miss, errors.New("the snapshot holds a damaged server entry")
		}
		out = append(out, hcloud.ServerFromSchema(s))
	}
	slices.SortFunc(out, func(a, b *hcloud.Server) int { return cmp.Compare(a.ID, b.ID) })
	return out, res, nil
}
