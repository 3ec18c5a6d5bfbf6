package hcloudsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/specvalidate"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestNoPanicOnHostileInput throws malformed bodies, IDs and query strings at every route: each answer is
// a JSON body with a status below 500, and the simulator still works afterwards.
func TestNoPanicOnHostileInput(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T", RateLimit: 1 << 30})
	v, err := simtest.DefaultValidator()
	require.NoError(t, err)
	do := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path = target
		if i := strings.IndexByte(target, '?'); i >= 0 {
			req.URL.Path, req.URL.RawQuery = target[:i], target[i+1:]
		}
		req.Header.Set("Authorization", "Bearer T")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		ex := specvalidate.Exchange{Request: req, RequestBody: []byte(body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		if err := v.Check(context.Background(), ex); err != nil {
			t.Errorf("%.600s", err)
		}
		return rec
	}
	// A live server and key, so bodies reach deep validation.
	short := func(b string) string { return b[:min(len(b), 40)] }
	rec := do("POST", "/v1/servers", `{"name":"x","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = do("POST", "/v1/networks", `{"name":"n","ip_range":"10.0.0.0/16","subnets":[{"type":"cloud","ip_range":"10.0.1.0/24","network_zone":"eu-central"}]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created struct{ Network struct{ ID int64 } }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	network := "/v1/networks/" + strconv.FormatInt(created.Network.ID, 10)

	paths := []string{
		"/v1/servers", "/v1/servers/1001", "/v1/ssh_keys", "/v1/ssh_keys/1", "/v1/networks", "/v1/networks/1",
		"/v1/firewalls", "/v1/firewalls/1", "/v1/placement_groups", "/v1/placement_groups/1", "/v1/actions",
		"/v1/actions/1", "/v1/servers/1001/actions", "/v1/servers/1001/actions/1", "/v1/servers/actions/1",
		"/v1/images", "/v1/locations/1", "/v1/server_types/1", "/v1/datacenters/1", "/v1/pricing",
		"/v1/firewalls/1/actions/apply_to_resources",
	}
	for _, name := range []string{"poweron", "poweroff", "shutdown", "reboot", "reset", "enable_backup", "disable_backup", "change_protection", "rebuild", "attach_to_network", "detach_from_network", "add_to_placement_group", "remove_from_placement_group"} {
		paths = append(paths, "/v1/servers/1001/actions/"+name)
	}
	for _, name := range []string{"add_subnet", "delete_subnet", "change_ip_range"} {
		paths = append(paths, network+"/actions/"+name, "/v1/networks/1001/actions/"+name)
	}
	ids := []string{"0", "-1", "abc", "99999999999999999999", "1.5", "%00", ""}
	bodies := []string{"", "{", "null", "[]", "42", `"x"`, `{"name":null}`, `{"name":123}`, `{"labels":"x"}`,
		`{"name":"a","server_type":{},"image":[]}`, `{"network":"x"}`, `{"apply_to":[{"type":"server"}]}`,
		`{"subnets":[{"type":"cloud","ip_range":"zzz"}],"ip_range":"10.0.0.0/8","name":"n"}`,
		`{"image":null}`, `{"placement_group":-5}`, `{"delete":"yes"}`, `{"rules":[{"direction":"in"}],"name":"f"}`,
		`{"name":"k","public_key":"ssh-ed25519 AAAA"}`, `{"type":"cloud","network_zone":"eu-central","ip_range":"10.0.0.0/0"}`,
		`{"type":"vswitch","network_zone":"us-east","vswitch_id":-1}`, `{"ip_range":"10.0.1.0/24"}`, `{"ip_range":"10.0.0.0/1"}`, strings.Repeat("[", 10000), "\xff\xfe"}
	queries := []string{"", "?page=-1", "?per_page=0", "?per_page=999999999999999999999", "?page=99999999999",
		"?sort=", "?sort=id:sideways", "?label_selector=(((", "?label_selector=a%20in%20(", "?status=bogus",
		"?id=0", "?id=abc", "?name=%ff", "?label_selector=!", "?fingerprint=x&name=y"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	for _, p := range paths {
		for _, m := range methods {
			for _, b := range bodies {
				rec := do(m, p, b)
				assert.Less(t, rec.Code, 500, "%s %s %q", m, p, short(b))
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), "%s %s %q", m, p, short(b))
			}
			for _, id := range ids {
				v := strings.Replace(p, "1001", id, 1)
				rec := do(m, v, "{}")
				assert.Less(t, rec.Code, 500, "%s %s", m, v)
			}
		}
		for _, q := range queries {
			rec := do("GET", p+q, "")
			assert.Less(t, rec.Code, 500, "GET %s%s", p, q)
		}
	}
	rec = do("POST", "/v1/servers", `{"name":"after","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	assert.Equal(t, http.StatusCreated, rec.Code, "still works: %s", rec.Body.String())
}
