// Package statecache answers server reads from a short-lived snapshot of a
// project's Nanobox servers, shared by every CPI process through the state
// directory (servers-<project>.json).
//
// One labelled list request (all pages) refreshes the snapshot for every
// read that arrives within the window. The refresh is single-flight across
// processes: the process that takes the project's lock file refreshes, and
// the others wait for it and read what it wrote, so a hundred concurrent
// readers cost one refresh. A read is answered only from a snapshot fetched
// no earlier than its window before the read arrived (fetched_at is taken
// before the list request is sent, so no status is older than that);
// anything else (no snapshot, a failed
// refresh, a server not in it) is a miss, and the caller asks the API
// directly.
//
// Writes keep it honest: Forget drops one server (a change to it), and
// MarkStale forces the next read to refresh (a server was created). Both
// take the lock, so they land after any refresh in flight, and a refresh
// that starts after them sees the change.
//
// Servers are stored as the API sent them and decoded exactly as hcloud-go
// decodes GET /servers/{id}, so an answer from the snapshot is the answer
// of a direct read. A truncated or corrupt file is ignored and rebuilt.
package statecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// formatVersion is the snapshot file's format; other versions are ignored.
const formatVersion = 1

// perPage is the list page size (the API's maximum).
const perPage = 50

// snapshot is the file's content.
type snapshot struct {
	Version   int                        `json:"version"`
	Selector  string                     `json:"label_selector"`
	FetchedAt time.Time                  `json:"fetched_at"`          // before the first page was requested
	StaleAt   time.Time                  `json:"stale_at"`            // a server was created then: later reads refresh
	Servers   map[string]json.RawMessage `json:"servers"`             // by id, as the API sent them
	Forgotten bool                       `json:"forgotten,omitempty"` // Forget dropped a server: All refreshes
}

// Cache is one project's snapshot.
type Cache struct {
	path, lockPath string
	selector       string
	client         *hcloud.Client
	now            func() time.Time
}

// New returns the snapshot of project p, listing the servers that match
// labelSelector with client; now is time.Now when nil. The client may be
// set later with SetClient (its transport may need the Cache).
func New(p *statedir.Project, labelSelector string, client *hcloud.Client, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{path: p.Path("servers", "json"), lockPath: p.Path("servers", "lock"), selector: labelSelector, client: client, now: now}
}

// SetClient sets the client that refreshes the snapshot.
func (c *Cache) SetClient(client *hcloud.Client) { c.client = client }

// Result is how a read was answered.
type Result int

// The outcomes of Server.
const (
	Miss      Result = iota // not answered: ask the API
	Hit                     // from a snapshot another read or process fetched
	Refreshed               // from a snapshot this read fetched
)

// Server returns server id from a snapshot younger than window, refreshing
// it when needed. On a Miss the server is nil and the caller reads it from
// the API; refreshErr then says why a refresh failed, if one was tried.
//
// Freshness is measured from the read's arrival: a snapshot fetched no
// earlier than window before the read arrived answers it, also one a
// refresh in flight completes while the read waits for it.
func (c *Cache) Server(ctx context.Context, id int64, window time.Duration) (server *hcloud.Server, res Result, refreshErr error) {
	arrival := c.now()
	since := arrival.Add(-window)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if srv, ok := c.lookupFresh(id, since, arrival); ok {
			return srv, hitOrMiss(srv), nil
		}
		lock, ok, err := statedir.TryLock(c.lockPath)
		if err != nil {
			return nil, Miss, err
		}
		if !ok {
			// Another process refreshes: wait for it, then read what it
			// wrote (or, when a create made it stale meanwhile, refresh).
			lock, err = statedir.LockWait(ctx, c.lockPath)
			if err != nil {
				return nil, Miss, err
			}
			lock.Unlock()
			continue
		}
		if srv, ok := c.lookupFresh(id, since, arrival); ok { // refreshed just before we took the lock
			lock.Unlock()
			return srv, hitOrMiss(srv), nil
		}
		snap, err := c.refresh(ctx)
		lock.Unlock()
		if err != nil {
			return nil, Miss, err
		}
		srv, _ := lookup(snap, id)
		if srv == nil {
			return nil, Miss, nil
		}
		return srv, Refreshed, nil
	}
	return nil, Miss, errors.New("the snapshot kept changing while this read waited")
}

// maxAttempts bounds how often a read waits for other processes' refreshes
// before it reads the server directly.
const maxAttempts = 3

func hitOrMiss(srv *hcloud.Server) Result {
	if srv == nil {
		return Miss
	}
	return Hit
}

// lookupFresh reads server id, for a read that arrived at arrival, from a
// snapshot fetched after since. ok is false when there is no such
// snapshot or it is damaged (refresh it); a server it does not hold is
// (nil, true).
func (c *Cache) lookupFresh(id int64, since, arrival time.Time) (*hcloud.Server, bool) {
	snap, ok := c.fresh(since, arrival)
	if !ok {
		return nil, false
	}
	return lookup(snap, id)
}

// lookup decodes server id as hcloud-go decodes GET /servers/{id}; ok is
// false when its entry is damaged.
func lookup(snap *snapshot, id int64) (srv *hcloud.Server, ok bool) {
	key := strconv.FormatInt(id, 10)
	raw, found := snap.Servers[key]
	if !found {
		return nil, true
	}
	var s schema.Server
	if err := json.Unmarshal(raw, &s); err != nil || s.ID != id {
		return nil, false
	}
	return hcloud.ServerFromSchema(s), true
}

// maxClockStep is how far in the future a snapshot's fetched_at may lie
// (another process's clock, a clock step) before it is distrusted.
const maxClockStep = time.Minute

// fresh returns the snapshot when it was fetched after since and was not
// marked stale before the read arrived (a read that arrived before
// the create that marked it ran alongside that create, and may be answered
// without it).
func (c *Cache) fresh(since, arrival time.Time) (*snapshot, bool) {
	snap, ok := c.load()
	switch {
	case !ok, !snap.FetchedAt.After(since), snap.FetchedAt.After(c.now().Add(maxClockStep)):
		return nil, false
	case !snap.StaleAt.IsZero() && !arrival.Before(snap.StaleAt):
		return nil, false
	}
	return snap, true
}

// load reads the snapshot file; a missing, truncated, corrupt or foreign
// file is no snapshot.
func (c *Cache) load() (*snapshot, bool) {
	data, err := os.ReadFile(c.path)
	if err != nil {
		return nil, false
	}
	var snap snapshot
	if json.Unmarshal(data, &snap) != nil || snap.Version != formatVersion || snap.Selector != c.selector || snap.Servers == nil || snap.FetchedAt.IsZero() {
		return nil, false
	}
	return &snap, true
}

// refresh lists every matching server (all pages) and writes the snapshot.
// The caller holds the lock.
func (c *Cache) refresh(ctx context.Context) (*snapshot, error) {
	if c.client == nil {
		return nil, errors.New("no client to refresh the snapshot")
	}
	snap := &snapshot{Version: formatVersion, Selector: c.selector, FetchedAt: c.now(), Servers: map[string]json.RawMessage{}}
	for page := 1; page > 0; {
		q := url.Values{}
		q.Set("label_selector", c.selector)
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(perPage))
		req, err := c.client.NewRequest(ctx, http.MethodGet, "/servers?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var body struct {
			Servers []json.RawMessage `json:"servers"`
		}
		resp, err := c.client.Do(req, &body)
		if err != nil {
			return nil, err
		}
		for _, raw := range body.Servers {
			var head struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.ID <= 0 {
				return nil, fmt.Errorf("listing servers: a server without an id")
			}
			snap.Servers[strconv.FormatInt(head.ID, 10)] = raw
		}
		page = 0
		if resp != nil && resp.Meta.Pagination != nil && resp.Meta.Pagination.NextPage > 0 {
			page = resp.Meta.Pagination.NextPage
		}
	}
	if err := c.store(snap); err != nil {
		return nil, err
	}
	return snap, nil
}

func (c *Cache) store(snap *snapshot) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return statedir.WriteFile(c.path, data)
}

// Forget drops server id from the snapshot (it was changed), so the next
// read of it asks the API.
func (c *Cache) Forget(ctx context.Context, id int64) error {
	return c.change(ctx, func(snap *snapshot) {
		if _, held := snap.Servers[strconv.FormatInt(id, 10)]; held {
			delete(snap.Servers, strconv.FormatInt(id, 10))
			snap.Forgotten = true
		}
	})
}

// MarkStale makes every read that arrives from now on refresh the snapshot
// (a server was created).
func (c *Cache) MarkStale(ctx context.Context) error {
	at := c.now()
	return c.change(ctx, func(snap *snapshot) {
		if snap.StaleAt.IsZero() {
			snap.StaleAt = at
		}
	})
}

// changeTimeout bounds the wait for a refresh in flight before a change.
const changeTimeout = 10 * time.Second

// change edits the snapshot under the lock, even when ctx has ended (the
// write it records was made). When the lock cannot be had in time, the
// snapshot is removed instead: never a stale answer.
func (c *Cache) change(ctx context.Context, edit func(*snapshot)) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	defer cancel()
	lock, err := statedir.LockWait(ctx, c.lockPath)
	if err != nil {
		if rerr := os.Remove(c.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return rerr
		}
		return nil
	}
	defer lock.Unlock()
	snap, ok := c.load()
	if !ok {
		return nil
	}
	edit(snap)
	if err := c.store(snap); err != nil {
		if rerr := os.Remove(c.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return rerr
		}
	}
	return nil
}
