// Package statecache answers server reads from a short-lived snapshot of a
// project's Nanobox servers, shared by every CPI process through the state
// directory (servers-<project>.json).
//
// A refresh costs in proportion to the servers being watched, not to the
// project's fleet. It lists the newest page of the selector's servers (50,
// newest first: the servers just ordered, which pollers wait on). Only
// when servers it seeks are missing from that page (the read that
// triggered it, those read but not found since the last refresh, those the
// previous snapshot held not running) does it list every server that is
// not running (Hetzner's status filter), and then further pages of the
// newest while the sought servers still missing outnumber the requests
// spent on them, so a refresh costs little more than reading each sought
// server once; and where listing every server costs no more than those
// not running did last time, it lists them all (complete). A project with
// a thousand running servers and fifty being created pays one request per
// window. All, for a list of every server, lists every
// page.
//
// The refresh is single-flight across processes: the process that takes
// the project's lock file refreshes, and the others wait for it and read
// what it wrote, so a hundred concurrent readers cost one refresh. A read
// is answered only from a snapshot fetched no earlier than its window
// before the read arrived (fetched_at is taken before the first list
// request is sent, so no status is older than that); anything else (no
// snapshot, a failed refresh, a server not in it) is a miss, and the
// caller asks the API directly.
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
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// formatVersion is the snapshot file's format; other versions are ignored.
const formatVersion = 2

// perPage is the list page size (the API's maximum).
const perPage = 50

// snapshot is the file's content.
type snapshot struct {
	Version   int                        `json:"version"`
	Selector  string                     `json:"label_selector"`
	FetchedAt time.Time                  `json:"fetched_at"` // before the first page was requested
	StaleAt   time.Time                  `json:"stale_at"`   // a server was created then: later reads refresh
	Complete  bool                       `json:"complete"`   // every server of the selector, not only those not running
	Servers   map[string]json.RawMessage `json:"servers"`    // by id, as the API sent them
	Missed    []int64                    `json:"missed"`     // read since, but not in it: sought by the next refresh
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
	res, err := c.answer(ctx, window, id, func(snap *snapshot) bool {
		var ok bool
		server, ok = lookup(snap, id)
		return ok
	})
	if server == nil {
		if err == nil && res != Miss {
			err = c.noteMissed(ctx, id)
		}
		return nil, Miss, err
	}
	return server, res, err
}

// maxMissed bounds the servers a snapshot notes as missed.
const maxMissed = 200

// noteMissed notes that server id was read but not found in an incomplete
// snapshot, so that the next refresh seeks it.
func (c *Cache) noteMissed(ctx context.Context, id int64) error {
	return c.change(ctx, func(snap *snapshot) {
		if !snap.Complete && len(snap.Missed) < maxMissed && !slices.Contains(snap.Missed, id) {
			snap.Missed = append(snap.Missed, id)
		}
	})
}

// listAll is the want of All: a complete snapshot.
const listAll int64 = -1

// answer runs use on a snapshot fetched no earlier than window before now,
// refreshing it (for want) when there is none; use reports false when the
// snapshot cannot answer (damaged, or not complete when All asks).
func (c *Cache) answer(ctx context.Context, window time.Duration, want int64, use func(*snapshot) bool) (Result, error) {
	arrival := c.now()
	since := arrival.Add(-window)
	tryFresh := func() bool {
		snap, ok := c.fresh(since, arrival)
		return ok && use(snap)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if tryFresh() {
			return Hit, nil
		}
		lock, ok, err := statedir.TryLock(c.lockPath)
		if err != nil {
			return Miss, err
		}
		if !ok {
			// Another process refreshes: wait for it, then read what it
			// wrote (or, when a create made it stale meanwhile, refresh).
			lock, err = statedir.LockWait(ctx, c.lockPath)
			if err != nil {
				return Miss, err
			}
			lock.Unlock()
			continue
		}
		if tryFresh() { // refreshed just before we took the lock
			lock.Unlock()
			return Hit, nil
		}
		snap, err := c.refresh(ctx, want)
		lock.Unlock()
		if err != nil {
			return Miss, err
		}
		if !use(snap) {
			return Miss, nil
		}
		return Refreshed, nil
	}
	return Miss, errors.New("the snapshot kept changing while this read waited")
}

// maxAttempts bounds how often a read waits for other processes' refreshes
// before it reads the server directly.
const maxAttempts = 3

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
// file is no snapshot, and so is one that is not ours (a symbolic link,
// another user's file: statedir.ReadFile).
func (c *Cache) load() (*snapshot, bool) {
	data, err := statedir.ReadFile(c.path)
	if err != nil {
		return nil, false
	}
	var snap snapshot
	if json.Unmarshal(data, &snap) != nil || snap.Version != formatVersion || snap.Selector != c.selector || snap.Servers == nil || snap.FetchedAt.IsZero() {
		return nil, false
	}
	return &snap, true
}

// notRunning are the statuses a refresh lists in full: every server status
// of Hetzner's API but running.
var notRunning = []string{"initializing", "starting", "stopping", "off", "deleting", "migrating", "rebuilding", "unknown"}

// watchSpan is how old a previous snapshot may be for its servers that were
// not running to still be sought among the running ones.
const watchSpan = 10 * time.Minute

// refresh writes a new snapshot for a read of want (listAll: every server,
// complete). The caller holds the lock.
func (c *Cache) refresh(ctx context.Context, want int64) (*snapshot, error) {
	if c.client == nil {
		return nil, errors.New("no client to refresh the snapshot")
	}
	prev, _ := c.load()
	snap := &snapshot{Version: formatVersion, Selector: c.selector, FetchedAt: c.now(), Servers: map[string]json.RawMessage{}}
	if want == listAll {
		snap.Complete = true
		if _, err := c.list(ctx, snap, url.Values{}, 1, func(listed) bool { return true }); err != nil {
			return nil, err
		}
	} else if err := c.refreshWatched(ctx, snap, prev, want); err != nil {
		return nil, err
	}
	if err := c.store(snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// refreshWatched lists the newest page of servers; when there are more and
// sought servers (want, those read but missed since prev, and those prev
// held not running) are missing from it, the rest of the servers when that
// costs no more pages than prev's servers not running would (complete),
// else every server that is not running; then, while the sought servers
// still missing outnumber the requests spent after the first page, further
// pages of the newest ones, so a refresh never costs much more than reading
// each sought server directly once. A project whose servers fit one page is
// listed whole (complete).
func (c *Cache) refreshWatched(ctx context.Context, snap, prev *snapshot, want int64) error {
	newest := url.Values{"sort": {"id:desc"}}
	first, err := c.list(ctx, snap, newest, 1, nil)
	if err != nil || first.last {
		snap.Complete = err == nil
		return err
	}
	missing, notRunningBefore := c.sought(snap, prev, want)
	settle := func(lowest int64) {
		for id := range missing {
			if _, found := snap.Servers[strconv.FormatInt(id, 10)]; found || id >= lowest {
				delete(missing, id) // found, or passed in the newest first: not a server of ours
			}
		}
	}
	settle(first.lowest)
	if len(missing) == 0 {
		return nil
	}
	if first.lastPage-1 <= max(1, (notRunningBefore+perPage-1)/perPage) {
		// The rest costs no more than listing the servers not running
		// would (as many as last time): list them all.
		_, err := c.list(ctx, snap, newest, 2, func(listed) bool { return true })
		snap.Complete = err == nil
		return err
	}
	notRunningPages, err := c.list(ctx, snap, url.Values{"status": notRunning}, 1, func(listed) bool { return true })
	if err != nil {
		return err
	}
	settle(first.lowest)
	_, err = c.list(ctx, snap, newest, 2, func(l listed) bool {
		if l.pages > 0 {
			settle(l.lowest)
		}
		return len(missing) > notRunningPages.pages+l.pages
	})
	return err
}

// sought is want and, when prev is recent, the servers it held not running
// and those read but missed since, less those snap holds; notRunning is
// how many servers prev held not running.
func (c *Cache) sought(snap, prev *snapshot, want int64) (out map[int64]bool, notRunning int) {
	out = map[int64]bool{}
	if want > 0 {
		out[want] = true
	}
	if prev != nil && prev.FetchedAt.After(snap.FetchedAt.Add(-watchSpan)) {
		for key, raw := range prev.Servers {
			var head struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
			}
			if json.Unmarshal(raw, &head) == nil && head.Status != "running" && strconv.FormatInt(head.ID, 10) == key {
				out[head.ID] = true
				notRunning++
			}
		}
		for _, id := range prev.Missed {
			out[id] = true
		}
	}
	for id := range out {
		if _, ok := snap.Servers[strconv.FormatInt(id, 10)]; ok {
			delete(out, id)
		}
	}
	return out, notRunning
}

// listed is what list did: the pages fetched, the lowest id of the last
// one, and whether it was the last page.
type listed struct {
	pages    int
	lowest   int64
	last     bool
	lastPage int // the list's number of pages, as the API announced it
}

// list adds the servers of the selector that match q to snap, 50 to a
// page, from page from on: while there is a next page and more (nil: never)
// says so after each page. When more says no before the first page is
// fetched, nothing is fetched.
func (c *Cache) list(ctx context.Context, snap *snapshot, q url.Values, from int, more func(listed) bool) (listed, error) {
	q.Set("label_selector", c.selector)
	q.Set("per_page", strconv.Itoa(perPage))
	var l listed
	if from > 1 && !more(l) {
		return l, nil
	}
	for page := from; page > 0; {
		q.Set("page", strconv.Itoa(page))
		req, err := c.client.NewRequest(ctx, http.MethodGet, "/servers?"+q.Encode(), nil)
		if err != nil {
			return l, err
		}
		var body struct {
			Servers []json.RawMessage `json:"servers"`
		}
		resp, err := c.client.Do(req, &body)
		if err != nil {
			return l, err
		}
		l.pages++
		l.lowest = 0
		for _, raw := range body.Servers {
			var head struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.ID <= 0 {
				return l, fmt.Errorf("listing servers: a server without an id")
			}
			snap.Servers[strconv.FormatInt(head.ID, 10)] = raw
			if l.lowest == 0 || head.ID < l.lowest {
				l.lowest = head.ID
			}
		}
		page = 0
		if resp != nil && resp.Meta.Pagination != nil {
			page, l.lastPage = resp.Meta.Pagination.NextPage, resp.Meta.Pagination.LastPage
		}
		l.last = page == 0
		if page > 0 && (more == nil || !more(l)) {
			page = 0
		}
	}
	return l, nil
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
		delete(snap.Servers, strconv.FormatInt(id, 10))
		snap.Complete = false
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
