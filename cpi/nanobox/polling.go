package nanobox

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/budget"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statecache"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// OwnedSelector is the label selector of the servers the snapshot holds:
// those the adapter created (see ours). A server of ours that carries only
// nanobox=true is not in it and is read directly.
const OwnedSelector = cpi.LabelManagedBy + "=" + cpi.ManagedByValue

// polling is a call's view of the project's shared state: the server
// snapshot query_server reads (nil when coalescing is off or the state dir
// cannot be used) and the rate-limit budget (nil when the state dir cannot
// be used).
type polling struct {
	cache  *statecache.Cache
	budget *budget.Tracker
	pacing budget.Pacing
	log    logrus.FieldLogger
}

// openProject opens the call's project in the state dir; nil, with one
// warning, when the state dir cannot be used (it is not ours, or cannot be
// created): the call then works without the shared snapshot, budget and
// network cache.
func (c *CPI) openProject(token string, log logrus.FieldLogger) *statedir.Project {
	project, err := statedir.Open(c.env.Config.StateDir, c.env.Config.Endpoint, token)
	if err != nil {
		log.WithError(err).Warn("state dir unusable: no shared server snapshot or rate-limit budget for this call")
		return nil
	}
	return project
}

// pollingFor is the call's view of project (nil: no state dir, the direct
// path). The snapshot is read only for a project whose token Hetzner
// accepted before: a token it rejects creates no file, not even a lock.
func (c *CPI) pollingFor(project *statedir.Project, log logrus.FieldLogger) *polling {
	pc := c.env.Config.Polling
	p := &polling{pacing: budget.Pacing{Window: pc.Window(), MaxWindow: pc.LowBudgetWindow(), ReservePercent: pc.ReservePercent}, log: log}
	if project == nil {
		return p
	}
	p.budget = budget.NewTracker(project, nil)
	p.budget.SetPacing(p.pacing)
	if *pc.Coalesce && project.Accepted() {
		p.cache = statecache.New(project, OwnedSelector, nil, nil)
	}
	return p
}

// httpClient is the HTTP client of the call's hcloud client: base (nil:
// the default) with the budget's transport, which also tells the snapshot
// about every write.
func (p *polling) httpClient(base *http.Client) *http.Client {
	out := &http.Client{}
	if base != nil {
		*out = *base
	}
	t := &budget.Transport{Base: out.Transport, Tracker: p.budget}
	if p.cache != nil {
		t.AfterWrite = p.afterWrite
	}
	out.Transport = t
	return out
}

// afterWrite updates the snapshot after a write sent to the servers API,
// answered or not: a create (POST /servers) makes the next read refresh, a change
// to server {id} (PUT, DELETE, POST .../actions/...) drops that server.
func (p *polling) afterWrite(req *http.Request) {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	for i, s := range segs {
		if s != "servers" {
			continue
		}
		var err error
		if i+1 == len(segs) {
			err = p.cache.MarkStale(req.Context())
		} else if id, perr := strconv.ParseInt(segs[i+1], 10, 64); perr == nil {
			err = p.cache.Forget(req.Context(), id)
		}
		if err != nil {
			p.log.WithError(err).Warn("could not update the shared server snapshot after a write")
		}
		return
	}
}

// readWindow is how old a snapshot may be to answer a read: the window
// in force, which widens as the rate-limit budget falls.
func (p *polling) readWindow() time.Duration {
	if p.budget != nil {
		return p.budget.Window()
	}
	return p.pacing.Window
}

// readServer is getServer for query_server: from the shared snapshot when
// it has the server, else one direct request.
func (h *Hetzner) readServer(ctx context.Context, op string, id int64) (*hcloud.Server, error) {
	p := h.polls
	if p == nil || p.cache == nil {
		return h.getServer(ctx, op, id)
	}
	server, res, err := p.cache.Server(ctx, id, p.readWindow())
	if err != nil {
		h.log.WithError(err).Debug("shared server snapshot unavailable; reading the server directly")
	}
	if res == statecache.Miss {
		return h.getServer(ctx, op, id)
	}
	if cpi.Hidden(server.Labels) {
		return nil, protocol.NewError(protocol.NotFound, "%s: no server %d", op, id)
	}
	return server, nil
}
