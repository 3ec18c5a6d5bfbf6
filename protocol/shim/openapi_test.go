package shim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim/shimtest"
)

func TestOpenAPI_EveryRouteIsInTheBase(t *testing.T) {
	var doc openapi2.T
	require.NoError(t, json.Unmarshal(shim.BaseOpenAPI, &doc))
	for _, rt := range protocol.Routes {
		item, ok := doc.Paths[rt.Path]
		require.True(t, ok, rt.Path)
		op := item.GetOperation(rt.Verb)
		require.NotNil(t, op, "%s %s", rt.Verb, rt.Path)
		assert.Equal(t, rt.OperationID, op.OperationID)
	}
}

// served is the part of /openapi.json the tests look at.
type served struct {
	Swagger             string                    `json:"swagger"`
	BasePath            string                    `json:"basePath"`
	Info                map[string]any            `json:"info"`
	Paths               map[string]map[string]any `json:"paths"`
	SecurityDefinitions map[string]map[string]any `json:"securityDefinitions"`
	Security            []map[string][]string     `json:"security"`
}

func routesOf(doc served) []string {
	var out []string
	for p, ops := range doc.Paths {
		for verb := range ops {
			out = append(out, strings.ToUpper(verb)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPI_ServedDocumentDescribesThisAdapter(t *testing.T) {
	ts := startShim(t, shim.Options{BasePath: "/api/v1"})
	metaCalls := func() string {
		m := string(ts.do(t, http.MethodGet, "/metrics", "").Body)
		for _, line := range strings.Split(m, "\n") {
			if strings.HasPrefix(line, `nanobox_shim_cpi_duration_seconds_count{cpi_method="meta"`) {
				return line[strings.LastIndexByte(line, ' ')+1:]
			}
		}
		return "0"
	}
	assert.Equal(t, "0", metaCalls(), "meta is fetched lazily")

	resp := ts.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	again := ts.do(t, http.MethodGet, "/openapi.json", "")
	assert.Equal(t, resp.Body, again.Body)
	assert.Equal(t, "1", metaCalls(), "meta is fetched once")

	var doc served
	require.NoError(t, json.Unmarshal(resp.Body, &doc))
	assert.Equal(t, "2.0", doc.Swagger)
	assert.Equal(t, "/api/v1", doc.BasePath)
	assert.Equal(t, "Nanobox Adapter: Stub Cloud", doc.Info["title"])
	assert.Equal(t, "0.0.1", doc.Info["version"])
	assert.NotContains(t, string(resp.Body), "[Your Name]")
	assert.NotContains(t, string(resp.Body), "[api/v1]")
	assert.Equal(t, map[string]map[string]any{
		"Auth-Api-Token": {"type": "apiKey", "in": "header", "name": "Auth-Api-Token", "description": "API Token"},
	}, doc.SecurityDefinitions)
	assert.Equal(t, []map[string][]string{{"Auth-Api-Token": {}}}, doc.Security)
	// The stub uses global key references: Install Server Key is dropped.
	assert.Equal(t, []string{
		"DELETE /keys/{id}", "DELETE /servers/{id}", "GET /catalog", "GET /keys/{id}", "GET /meta",
		"GET /servers/{id}", "PATCH /servers/{id}/config", "PATCH /servers/{id}/reboot", "PATCH /servers/{id}/rename",
		"POST /keys", "POST /servers", "POST /verify",
	}, routesOf(doc))
	// HEAD is said on each GET operation, not listed as operations of its
	// own (contract testers cannot replay those).
	for p, ops := range doc.Paths {
		for verb, op := range ops {
			desc, _ := op.(map[string]any)["description"].(string)
			assert.Equal(t, verb == "get", strings.HasSuffix(desc, shim.HeadNote), "%s %s: %q", verb, p, desc)
		}
	}

	// It is a valid Swagger 2.0 document kin-openapi can use.
	var doc2 openapi2.T
	require.NoError(t, json.Unmarshal(resp.Body, &doc2))
	doc3, err := openapi2conv.ToV3(&doc2)
	require.NoError(t, err)
	require.NoError(t, doc3.Validate(context.Background()))
}

func TestOpenAPI_OnlySupportedRoutes(t *testing.T) {
	all := []string{protocol.MethodInfo}
	for _, r := range protocol.Routes {
		all = append(all, r.Method)
	}
	base := protocol.Meta{Name: "X", SSHAuthMethod: "key", SSHKeyMethod: "reference", CanReboot: true, CanRename: true,
		CredentialFields: []protocol.CredentialField{{Key: "access-token", Label: "Access Token"}, {Key: "project", Label: "Project"}}}
	cases := []struct {
		name    string
		edit    func(*protocol.Meta, *protocol.Info)
		present []string
		absent  []string
	}{
		{"key references", func(*protocol.Meta, *protocol.Info) {},
			[]string{"POST /keys", "GET /keys/{id}", "DELETE /keys/{id}"}, []string{"PATCH /servers/{id}/keys"}},
		{"password auth", func(m *protocol.Meta, _ *protocol.Info) { m.SSHAuthMethod = "password" },
			[]string{"PATCH /servers/{id}/keys"}, []string{"POST /keys", "GET /keys/{id}", "DELETE /keys/{id}"}},
		{"key objects", func(m *protocol.Meta, _ *protocol.Info) { m.SSHKeyMethod = "object" },
			[]string{"POST /servers"}, []string{"POST /keys", "PATCH /servers/{id}/keys"}},
		{"no reboot or rename", func(m *protocol.Meta, _ *protocol.Info) { m.CanReboot, m.CanRename = false, false },
			[]string{"GET /servers/{id}"}, []string{"PATCH /servers/{id}/reboot", "PATCH /servers/{id}/rename"}},
		{"CPI lacks update_config", func(_ *protocol.Meta, i *protocol.Info) {
			i.Methods = []string{protocol.MethodMeta, protocol.MethodCatalog, protocol.MethodVerify, protocol.MethodQueryServer}
		}, []string{"GET /meta", "GET /servers/{id}"}, []string{"PATCH /servers/{id}/config", "POST /servers"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			meta := base
			info := protocol.Info{Name: "x-cpi", Version: "1.2.3", Methods: all}
			c.edit(&meta, &info)
			data, err := shim.BuildOpenAPI(meta, info, "")
			require.NoError(t, err)
			var doc served
			require.NoError(t, json.Unmarshal(data, &doc))
			got := routesOf(doc)
			for _, p := range c.present {
				assert.Contains(t, got, p)
			}
			for _, p := range c.absent {
				assert.NotContains(t, got, p)
			}
			assert.Equal(t, "/", doc.BasePath)
			assert.Len(t, doc.SecurityDefinitions, 2)
			assert.Equal(t, []map[string][]string{{"Auth-Access-Token": {}, "Auth-Project": {}}}, doc.Security)
		})
	}
}

func TestOpenAPI_FailingCPIAnswers502(t *testing.T) {
	ts := startShim(t, shim.Options{Env: []string{"PATH=" + os.Getenv("PATH"), "STUB_MODE=garbage"}})
	resp := ts.do(t, http.MethodGet, "/openapi.json", "")
	assert.Equal(t, http.StatusBadGateway, resp.Status)
	assertErrorsBody(t, resp, "building the OpenAPI document")
}

// servedDocument fetches and loads ts's /openapi.json.
func servedDocument(t *testing.T, ts *testShim) *shimtest.Document {
	t.Helper()
	resp := ts.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	doc, err := shimtest.LoadDocument(resp.Body)
	require.NoError(t, err)
	return doc
}

// TestOpenAPI_ServedDocumentPassesAValidator: the served document passes
// kin-openapi's validator with schema formats checked; the reference's
// non-standard "format": "currency" (which stops Dredd) is dropped.
func TestOpenAPI_ServedDocumentPassesAValidator(t *testing.T) {
	ts := startShim(t, shim.Options{})
	require.NoError(t, servedDocument(t, ts).Validate())

	// Contract testers build requests from examples: every path parameter
	// and every body has one.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				In       string         `json:"in"`
				XExample any            `json:"x-example"`
				Schema   map[string]any `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(ts.do(t, http.MethodGet, "/openapi.json", "").Body, &doc))
	for path, item := range doc.Paths {
		for verb, op := range item {
			for _, p := range op.Parameters {
				switch p.In {
				case "path":
					assert.NotNil(t, p.XExample, "%s %s: a path parameter without x-example", verb, path)
				case "body":
					assert.NotNil(t, p.Schema["example"], "%s %s: a body without example", verb, path)
				}
			}
		}
	}

	base, err := shimtest.LoadDocument(shim.BaseOpenAPI)
	require.NoError(t, err)
	assert.ErrorContains(t, base.Validate(), `unsupported 'format' value "currency"`, "the check has teeth")
}

// TestOpenAPI_ReplayEveryDocumentedOperation plays every operation of the
// served document against the running shim, as a contract tester driven by
// /openapi.json would (a request built from the documented parameters and
// security headers), and checks every answer, success and error, against
// the same document.
func TestOpenAPI_ReplayEveryDocumentedOperation(t *testing.T) {
	ts := startShim(t, shim.Options{})
	doc := servedDocument(t, ts)
	ops, err := doc.Operations("42")
	require.NoError(t, err)
	var security []string
	for name, value := range doc.APIKeyHeaders() {
		security = append(security, name+": "+value)
	}
	require.NotEmpty(t, security, "the document names the credential headers")

	documented := map[string]bool{}
	for _, op := range ops {
		documented[op.OperationID] = true
		for _, mode := range []string{"ok", "error:NotFound", "error:Conflict"} {
			t.Run(op.OperationID+"/"+mode, func(t *testing.T) {
				resp := ts.do(t, op.Verb, op.Path, op.Body, append(security, "Auth-Stub-Mode: "+mode)...)
				if mode == "ok" {
					assert.Less(t, resp.Status, 300, "%s %s: %d %s", op.Verb, op.Path, resp.Status, resp.Body)
				} else {
					assert.GreaterOrEqual(t, resp.Status, 400)
				}
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "the document produces application/json")
				assert.NoError(t, doc.ValidateResponse(op.Verb, op.PathTemplate, resp.Status, resp.Header, resp.Body),
					"%s %s answered %d %s", op.Verb, op.Path, resp.Status, resp.Body)
			})
		}
	}
	// The stub's meta takes key references: every route but Install Server Key.
	for _, rt := range protocol.Routes {
		assert.Equal(t, rt.Method != protocol.MethodInstallKey, documented[rt.OperationID], rt.OperationID)
	}
}

// TestServedMetaSchemaHasEveryFieldMetaAnswers: the served document's /meta
// schema names every field protocol.Meta can answer, the spec's and this
// adapter's additions (shim.MetaExtensions) alike.
func TestServedMetaSchemaHasEveryFieldMetaAnswers(t *testing.T) {
	ts := startShim(t, shim.Options{})
	resp := ts.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, resp.Status)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Schema struct {
					Properties map[string]map[string]any `json:"properties"`
				} `json:"schema"`
			} `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &doc))
	props := doc.Paths["/meta"]["get"].Responses["200"].Schema.Properties
	fields := reflect.TypeFor[protocol.Meta]()
	for i := range fields.NumField() {
		name, _, _ := strings.Cut(fields.Field(i).Tag.Get("json"), ",")
		assert.Contains(t, props, name, "meta answers %s", name)
	}
	for name := range shim.MetaExtensions {
		assert.NotEmpty(t, props[name]["description"], name)
	}
}
