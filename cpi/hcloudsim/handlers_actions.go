package hcloudsim

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func actionSortKey(a schema.Action) sortKey {
	k := sortKey{id: a.ID, created: a.Started, extra: map[string]string{
		"command": a.Command, "status": a.Status, "progress": strconv.Itoa(a.Progress),
		"started": a.Started.Format("2006-01-02T15:04:05.000000000Z07:00"),
	}}
	if a.Finished != nil {
		k.extra["finished"] = a.Finished.Format("2006-01-02T15:04:05.000000000Z07:00")
	}
	return k
}

var actionSortFields = []string{"id", "command", "status", "started", "finished"}

// filterActions returns the actions (as of now) matching the id and status query parameters and keep.
func (s *Sim) filterActions(c *call, keep func(schema.Action) bool) ([]schema.Action, *apiError) {
	q := c.query()
	if err := checkEnum(q, "status", "running", "success", "error"); err != nil {
		return nil, err
	}
	var ids []int64
	for _, v := range q["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, invalidField("id", "invalid ID: "+strconv.Quote(v))
		}
		ids = append(ids, id)
	}
	candidates := ids
	if len(ids) == 0 {
		candidates = sortedKeys(s.st.actions)
	} else {
		slices.Sort(candidates)
		candidates = slices.Compact(candidates)
	}
	var out []schema.Action
	for _, id := range candidates {
		ac, ok := s.st.actions[id]
		if !ok {
			continue
		}
		a := ac.view(c.now)
		if st := q["status"]; len(st) > 0 && !slices.Contains(st, a.Status) {
			continue
		}
		if keep != nil && !keep(a) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// getActions serves GET /actions?id=..&id=.. (what hcloud-go's Action.WaitFor polls).
// The document requires id: listing every action of a project was removed from the API.
func getActions(s *Sim, c *call) (int, any, *apiError) {
	if len(c.query()["id"]) == 0 {
		return 0, nil, invalidField("id", "is required")
	}
	out, err := s.filterActions(c, nil)
	if err != nil {
		return 0, nil, err
	}
	return listBody("actions", out, c.query(), actionSortKey, actionSortFields...)
}

func getAction(s *Sim, c *call) (int, any, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return 0, nil, err
	}
	ac, ok := s.st.actions[id]
	if !ok {
		return 0, nil, notFound("action", id)
	}
	return http.StatusOK, map[string]any{"action": ac.view(c.now)}, nil
}

func hasResource(a schema.Action, typ string, id int64) bool {
	for _, r := range a.Resources {
		if r.Type == typ && r.ID == id {
			return true
		}
	}
	return false
}

// getResourceActions serves GET /<resource>s/{id}/actions for resource type typ.
func getResourceActions(typ string) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		id, err := c.pathID("id")
		if err != nil {
			return 0, nil, err
		}
		if !s.st.exists(typ, id) {
			return 0, nil, notFound(typ, id)
		}
		out, err := s.filterActions(c, func(a schema.Action) bool { return hasResource(a, typ, id) })
		if err != nil {
			return 0, nil, err
		}
		return listBody("actions", out, c.query(), actionSortKey, actionSortFields...)
	}
}

// getResourceAction serves GET /<resource>s/{id}/actions/{action_id}.
func getResourceAction(typ string) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		id, err := c.pathID("id")
		if err != nil {
			return 0, nil, err
		}
		aid, err := c.pathID("action_id")
		if err != nil {
			return 0, nil, err
		}
		if !s.st.exists(typ, id) {
			return 0, nil, notFound(typ, id)
		}
		ac, ok := s.st.actions[aid]
		if !ok || !hasResource(ac.a, typ, id) {
			return 0, nil, notFound("action", aid)
		}
		return http.StatusOK, map[string]any{"action": ac.view(c.now)}, nil
	}
}

// exists reports whether a live object of the given action resource type exists.
func (st *state) exists(typ string, id int64) bool {
	switch typ {
	case "server":
		_, ok := st.servers[id]
		return ok
	case "network":
		_, ok := st.networks[id]
		return ok
	case "firewall":
		_, ok := st.firewalls[id]
		return ok
	}
	return false
}

// hasResourceType reports whether the action concerns a resource of type typ.
func hasResourceType(a schema.Action, typ string) bool {
	for _, r := range a.Resources {
		if r.Type == typ {
			return true
		}
	}
	return false
}

// getTypeActions serves GET /<resource>s/actions: the actions of every resource of that type.
func getTypeActions(typ string) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		out, err := s.filterActions(c, func(a schema.Action) bool { return hasResourceType(a, typ) })
		if err != nil {
			return 0, nil, err
		}
		return listBody("actions", out, c.query(), actionSortKey, actionSortFields...)
	}
}

// getTypeAction serves GET /<resource>s/actions/{id}.
func getTypeAction(typ string) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		id, err := c.pathID("id")
		if err != nil {
			return 0, nil, err
		}
		ac, ok := s.st.actions[id]
		if !ok || !hasResourceType(ac.a, typ) {
			return 0, nil, notFound("action", id)
		}
		return http.StatusOK, map[string]any{"action": ac.view(c.now)}, nil
	}
}
