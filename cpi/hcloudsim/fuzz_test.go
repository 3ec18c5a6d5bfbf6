package hcloudsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzLabelSelector: parsing never panics, and a selector that parses gives the same answer twice.
func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"", "a=b", "a!=b", "!a", "a in (b,c)", "a notin (b)", "a,b=c,!d", "(", "a in (", "=,=", "a==b"} {
		f.Add(s)
	}
	labels := map[string]string{"a": "b", "c": ""}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseLabelSelector(s)
		if err != nil {
			return
		}
		first, second := sel.matches(labels), sel.matches(labels)
		if first != second {
			t.Fatal("not deterministic")
		}
	})
}

// FuzzServeHTTP: any method, path and body gets a JSON answer below 500.
func FuzzServeHTTP(f *testing.F) {
	f.Add("POST", "/v1/servers", `{"name":"a","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	f.Add("POST", "/v1/ssh_keys", `{"name":"k","public_key":"ssh-ed25519 AAAA"}`)
	f.Add("POST", "/v1/networks", `{"name":"n","ip_range":"10.0.0.0/16","subnets":[{"type":"cloud","ip_range":"10.0.1.0/24","network_zone":"eu-central"}]}`)
	f.Add("POST", "/v1/firewalls", `{"name":"f","rules":[{"direction":"in","protocol":"tcp","port":"22","source_ips":["0.0.0.0/0"]}]}`)
	f.Add("PUT", "/v1/servers/1001", `{"name":"b","labels":{"x":"y"}}`)
	f.Add("POST", "/v1/servers/1001/actions/attach_to_network", `{"network":1002,"ip":"10.0.1.9"}`)
	f.Add("GET", "/v1/servers?label_selector=a%20in%20(b)&sort=name:desc&page=2&per_page=1", "")
	f.Add("POST", "/v1/networks/1006/actions/add_subnet", `{"type":"cloud","network_zone":"us-east"}`)
	f.Add("POST", "/v1/networks/1006/actions/delete_subnet", `{"ip_range":"10.0.1.0/24"}`)
	f.Add("POST", "/v1/networks/1006/actions/change_ip_range", `{"ip_range":"10.0.0.0/15"}`)
	// One simulator for the whole run (it is safe for concurrent use); its state accumulates.
	sim := New(Options{Token: "T", RateLimit: 1 << 40})
	seed := httptest.NewRequest(http.MethodPost, "/v1/servers", strings.NewReader(`{"name":"seed","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`))
	seed.Header.Set("Authorization", "Bearer T")
	sim.ServeHTTP(httptest.NewRecorder(), seed)
	seed = httptest.NewRequest(http.MethodPost, "/v1/networks", strings.NewReader(`{"name":"seed","ip_range":"10.0.0.0/16","subnets":[{"type":"cloud","ip_range":"10.0.1.0/24","network_zone":"eu-central"}]}`))
	seed.Header.Set("Authorization", "Bearer T")
	sim.ServeHTTP(httptest.NewRecorder(), seed) // network 1006, after the server and what its creation made
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t\r\n#") || method == "" || strings.ContainsAny(method, " \t\r\n/()<>@,;:\\\"[]?={}") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		req.Method = method
		path, query, _ := strings.Cut(target, "?")
		req.URL.Path, req.URL.RawQuery = path, query
		req.Header.Set("Authorization", "Bearer T")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body.String())
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: not JSON: %s", method, target, rec.Body.String())
		}
	})
}
