package hcloudsim

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pagination is the API's meta.pagination; the nullable keys are pointers.
type pagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     *int `json:"last_page"`
	TotalEntries *int `json:"total_entries"`
}

type listMeta struct {
	Pagination pagination `json:"pagination"`
}

// paginate applies page and per_page (default 25, max 50) to items.
func paginate[T any](items []T, q map[string][]string) ([]T, listMeta, *apiError) {
	page, perPage := 1, 25
	if v := first(q, "page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, listMeta{}, invalidField("page", "must be a positive integer")
		}
		page = n
	}
	if v := first(q, "per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, listMeta{}, invalidField("per_page", "must be a positive integer")
		}
		perPage = min(n, 50)
	}
	total := len(items)
	last := max(1, (total+perPage-1)/perPage)
	p := pagination{Page: page, PerPage: perPage, LastPage: ptr(last), TotalEntries: ptr(total)}
	if page > 1 {
		p.PreviousPage = ptr(page - 1)
	}
	if page < last {
		p.NextPage = ptr(page + 1)
	}
	start := min(total, (page-1)*perPage)
	if page-1 > total/perPage+1 { // avoid overflow on absurd pages
		start = total
	}
	end := min(total, start+perPage)
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return out, listMeta{Pagination: p}, nil
}

func ptr[T any](v T) *T { return &v }

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// sortKey extracts the sortable fields of one item.
type sortKey struct {
	id      int64
	name    string
	created time.Time
	extra   map[string]string // further string fields (actions: command, status)
}

// sortItems orders items by the sort parameters (field[:asc|:desc], repeated); default by id ascending.
// allowed lists the fields the route accepts.
func sortItems[T any](items []T, q map[string][]string, key func(T) sortKey, allowed ...string) *apiError {
	type crit struct {
		field string
		desc  bool
	}
	var crits []crit
	for _, raw := range q["sort"] {
		for _, part := range strings.Split(raw, ",") {
			field, dir, _ := strings.Cut(part, ":")
			if !slices.Contains(allowed, field) || (dir != "" && dir != "asc" && dir != "desc") {
				return invalidField("sort", "invalid sort: "+strconv.Quote(part))
			}
			crits = append(crits, crit{field, dir == "desc"})
		}
	}
	crits = append(crits, crit{"id", false})
	// Sort keys with indices, then permute once: items can be large structs.
	type keyed struct {
		k   sortKey
		idx int
	}
	ks := make([]keyed, len(items))
	for i := range items {
		ks[i] = keyed{key(items[i]), i}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		ka, kb := a.k, b.k
		for _, c := range crits {
			var r int
			switch c.field {
			case "id":
				r = cmp.Compare(ka.id, kb.id)
			case "name":
				r = cmp.Compare(ka.name, kb.name)
			case "created":
				r = ka.created.Compare(kb.created)
			default:
				r = cmp.Compare(ka.extra[c.field], kb.extra[c.field])
			}
			if c.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	sorted := make([]T, len(items))
	for i, k := range ks {
		sorted[i] = items[k.idx]
	}
	copy(items, sorted)
	return nil
}

// checkEnum answers invalid_input when a query parameter has a value outside allowed.
func checkEnum(q map[string][]string, key string, allowed ...string) *apiError {
	for _, v := range q[key] {
		if !slices.Contains(allowed, v) {
			return invalidField(key, "invalid value "+strconv.Quote(v))
		}
	}
	return nil
}

// setLinkHeader writes the API's pagination Link header (rel prev, next, last).
func setLinkHeader(w http.ResponseWriter, r *http.Request, p pagination) {
	link := func(page int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(p.PerPage))
		u.RawQuery = q.Encode()
		if r.TLS != nil {
			u.Scheme = "https"
		}
		return "<" + u.String() + `>; rel="` + rel + `"`
	}
	var parts []string
	if p.PreviousPage != nil {
		parts = append(parts, link(*p.PreviousPage, "prev"))
	}
	if p.NextPage != nil {
		parts = append(parts, link(*p.NextPage, "next"))
	}
	if p.LastPage != nil && *p.LastPage != p.Page {
		parts = append(parts, link(*p.LastPage, "last"))
	}
	if len(parts) > 0 {
		w.Header().Set("Link", strings.Join(parts, ", "))
	}
}
