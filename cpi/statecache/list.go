package statecache

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// All returns every server of the selector from a complete snapshot younger
// than window, listing them all when needed (see Server for freshness). On
// a Miss the caller lists them from the API; refreshErr says why a refresh
// failed, if one was tried.
func (c *Cache) All(ctx context.Context, window time.Duration) (servers []*hcloud.Server, res Result, refreshErr error) {
	res, err := c.answer(ctx, window, listAll, func(snap *snapshot) bool {
		if !snap.Complete {
			return false
		}
		var ok bool
		servers, ok = decodeAll(snap)
		return ok
	})
	if servers == nil {
		return nil, Miss, err
	}
	return servers, res, err
}

// decodeAll decodes every server of snap, by id; ok is false when an entry
// is damaged.
func decodeAll(snap *snapshot) ([]*hcloud.Server, bool) {
	out := make([]*hcloud.Server, 0, len(snap.Servers))
	for key := range snap.Servers {
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return nil, false
		}
		srv, ok := lookup(snap, id)
		if !ok || srv == nil {
			return nil, false
		}
		out = append(out, srv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, true
}
