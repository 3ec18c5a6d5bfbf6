package shim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim/shimtest"
)

// validateAgainstSpec checks one response against the operation that
// serves (verb, path template) in the reference document.
func validateAgainstSpec(t testing.TB, verb, pathTemplate string, resp response) {
	t.Helper()
	assert.NoError(t, specError(t, verb, pathTemplate, resp), "%s %s answered %d %s", verb, pathTemplate, resp.Status, resp.Body)
}

// specError is the validator's verdict on one response.
func specError(t testing.TB, verb, pathTemplate string, resp response) error {
	t.Helper()
	_, err := shimtest.Spec()
	require.NoError(t, err, "loading the Nanobox adapter document")
	return shimtest.ValidateResponse(verb, pathTemplate, resp.Status, resp.Header, resp.Body)
}

// TestContract_ValidatorRejectsWrongShapes proves the contract check has
// teeth: responses that break the spec fail it.
func TestContract_ValidatorRejectsWrongShapes(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": []string{"application/json"}}
	cases := []struct {
		name, verb, path string
		resp             response
	}{
		{"id not a string", http.MethodPost, "/keys", response{201, jsonHeader, []byte(`{"id": 5}`)}},
		{"server without status", http.MethodGet, "/servers/{id}", response{201, jsonHeader, []byte(`{"id": "1", "name": "n", "external_ip": "", "internal_ip": ""}`)}},
		{"errors not an array", http.MethodDelete, "/servers/{id}", response{500, jsonHeader, []byte(`{"errors": "boom"}`)}},
		{"error without errors", http.MethodGet, "/meta", response{500, jsonHeader, []byte(`{"error": "boom"}`)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Error(t, specError(t, c.verb, c.path, c.resp))
		})
	}
}

// routeRequest is a valid request for each route.
var routeRequest = map[string]struct{ path, body string }{
	protocol.MethodMeta:         {"/meta", ""},
	protocol.MethodCatalog:      {"/catalog", ""},
	protocol.MethodVerify:       {"/verify", ""},
	protocol.MethodCreateKey:    {"/keys", `{"id": "nanobox-account", "key": "ssh-ed25519 AAAA"}`},
	protocol.MethodQueryKey:     {"/keys/key-1", ""},
	protocol.MethodDeleteKey:    {"/keys/key-1", ""},
	protocol.MethodOrderServer:  {"/servers", `{"name": "app.1", "region": "r1", "size": "s1", "ssh_key": "key-1", "config": {"image": "ubuntu-24.04"}}`},
	protocol.MethodQueryServer:  {"/servers/42", ""},
	protocol.MethodCancelServer: {"/servers/42", ""},
	protocol.MethodInstallKey:   {"/servers/42/keys", `{"id": "nanobox-account", "key": "ssh-ed25519 AAAA"}`},
	protocol.MethodUpdateConfig: {"/servers/42/config", `{"image": "debian-12"}`},
	protocol.MethodRebootServer: {"/servers/42/reboot", ""},
	protocol.MethodRenameServer: {"/servers/42/rename", `{"name": "app.2"}`},
}

func TestContract_EveryRouteSuccessAndErrorMatchTheSpec(t *testing.T) {
	ts := startShim(t, shim.Options{})
	require.Len(t, routeRequest, len(protocol.Routes))
	for _, rt := range protocol.Routes {
		rr, ok := routeRequest[rt.Method]
		require.True(t, ok, rt.Method)
		t.Run(rt.OperationID+"/success", func(t *testing.T) {
			resp := ts.do(t, rt.Verb, rr.path, rr.body, "Auth-Api-Token: tok")
			require.Equal(t, rt.Status, resp.Status, "%s", resp.Body)
			// Empty answers too: contract testers check the type of every
			// 2xx answer against the document's produces.
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			if rt.Result {
				assert.True(t, json.Valid(resp.Body), "%s", resp.Body)
				assert.NotEmpty(t, resp.Body)
			} else {
				assert.Empty(t, resp.Body, "%s %s must answer an empty body", rt.Verb, rt.Path)
			}
			validateAgainstSpec(t, rt.Verb, rt.Path, resp)
		})
		t.Run(rt.OperationID+"/error", func(t *testing.T) {
			resp := ts.do(t, rt.Verb, rr.path, rr.body, "Auth-Api-Token: tok", "Auth-Stub-Mode: error:NotFound")
			require.Equal(t, http.StatusNotFound, resp.Status, "%s", resp.Body)
			assertErrorsBody(t, resp, "stub NotFound")
			validateAgainstSpec(t, rt.Verb, rt.Path, resp)
		})
	}
}

// assertErrorsBody checks {"errors": [...]} with a JSON content type and
// that some message contains want.
func assertErrorsBody(t testing.TB, resp response, want string) {
	t.Helper()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body struct {
		Errors []string `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "%s", resp.Body)
	require.NotEmpty(t, body.Errors)
	assert.Contains(t, strings.Join(body.Errors, " | "), want)
}

func TestContract_ErrorTypesMapToTheirStatus(t *testing.T) {
	ts := startShim(t, shim.Options{})
	for _, et := range protocol.ErrorTypes() {
		t.Run(string(et), func(t *testing.T) {
			resp := ts.do(t, http.MethodGet, "/servers/7", "", "Auth-Stub-Mode: error:"+string(et))
			assert.Equal(t, et.HTTPStatus(), resp.Status)
			assert.Equal(t, string(et), resp.Header.Get("X-Cpi-Error-Type"))
			assert.Equal(t, strconv.FormatBool(et.Retryable()), resp.Header.Get("X-Cpi-Ok-To-Retry"))
			if et.Retryable() {
				assert.NotEmpty(t, resp.Header.Get("Retry-After"), "a retryable error says when")
			} else {
				assert.Empty(t, resp.Header.Get("Retry-After"))
			}
			assertErrorsBody(t, resp, "stub "+string(et))
			validateAgainstSpec(t, http.MethodGet, "/servers/{id}", resp)
		})
	}
}

// TestContract_OkToRetryOverridesTheTypeDefault: a CPI error that no retry
// can fix says so, whatever its type's default.
func TestContract_OkToRetryOverridesTheTypeDefault(t *testing.T) {
	ts := startShim(t, shim.Options{})
	resp := ts.do(t, http.MethodPost, "/servers", `{"name":"a","region":"r","size":"s"}`, "Auth-Stub-Mode: error:Conflict:noretry")
	assert.Equal(t, http.StatusConflict, resp.Status)
	assert.Equal(t, "false", resp.Header.Get("X-Cpi-Ok-To-Retry"))
	assert.Empty(t, resp.Header.Get("Retry-After"))
	assertErrorsBody(t, resp, "stub Conflict")
}

// TestContract_JSONSyntaxErrorsGiveTheirPosition: like the CPI's stdin
// mode, the shim says where a body stops being JSON, and never quotes it.
func TestContract_JSONSyntaxErrorsGiveTheirPosition(t *testing.T) {
	ts := startShim(t, shim.Options{})
	cases := []struct {
		name, body, want string
	}{
		{"bad character on line 2", "{\n  \"name\": secret-x1\n}", "invalid JSON at byte 13 (line 2, column 11)"},
		{"missing comma", `{"name": "a" "size": "b"}`, "invalid JSON at byte 14 (line 1, column 14)"},
		{"truncated", "{\"name\":\n", "truncated JSON (it ends at line 2, column 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do(t, http.MethodPost, "/servers", c.body)
			require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)
			assertErrorsBody(t, resp, c.want)
			assert.NotContains(t, string(resp.Body), "secret-x1", "the message quotes the body")
			validateAgainstSpec(t, http.MethodPost, "/servers", resp)
		})
	}
}

func TestContract_ShimErrorsMatchTheSpec(t *testing.T) {
	ts := startShim(t, shim.Options{MaxBody: 1024})
	cases := []struct {
		name, verb, path, body string
		status                 int
		want                   string
		specVerb, specPath     string
	}{
		{"unknown path", http.MethodGet, "/nowhere", "", http.StatusNotFound, "no such endpoint", http.MethodGet, "/keys/{id}"},
		{"trailing slash", http.MethodGet, "/servers/", "", http.StatusNotFound, "no such endpoint", http.MethodGet, "/servers/{id}"},
		{"wrong method", http.MethodPut, "/servers/1", "", http.StatusMethodNotAllowed, "method not allowed", http.MethodGet, "/servers/{id}"},
		{"truncated JSON", http.MethodPost, "/keys", `{"id": "a",`, http.StatusBadRequest, "not valid JSON: truncated JSON (it ends at line 1, column 12)", http.MethodPost, "/keys"},
		{"body not an object", http.MethodPost, "/servers", `["a"]`, http.StatusBadRequest, "not a JSON object", http.MethodPost, "/servers"},
		{"empty body", http.MethodPatch, "/servers/1/rename", "", http.StatusBadRequest, "body is empty", http.MethodPatch, "/servers/{id}/rename"},
		{"trailing data", http.MethodPatch, "/servers/1/config", `{} {}`, http.StatusBadRequest, "not one JSON object: data after it at byte 4 (line 1, column 4)", http.MethodPatch, "/servers/{id}/config"},
		{"oversized body where none is due", http.MethodPost, "/verify", strings.Repeat("x", 2000), http.StatusRequestEntityTooLarge, "larger than 1024 bytes", http.MethodPost, "/verify"},
		{"oversized body", http.MethodPost, "/keys", `{"id": "a", "key": "` + strings.Repeat("A", 2000) + `"}`, http.StatusRequestEntityTooLarge, "larger than 1024 bytes", http.MethodPost, "/keys"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do(t, c.verb, c.path, c.body)
			require.Equal(t, c.status, resp.Status, "%s", resp.Body)
			assertErrorsBody(t, resp, c.want)
			validateAgainstSpec(t, c.specVerb, c.specPath, resp)
		})
	}
	t.Run("a small body where none is due is ignored", func(t *testing.T) {
		resp := ts.do(t, http.MethodPost, "/verify", `{}`)
		assert.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	})
	t.Run("405 lists the allowed methods", func(t *testing.T) {
		resp := ts.do(t, http.MethodPost, "/servers/1", "")
		assert.Equal(t, "DELETE, GET, HEAD", resp.Header.Get("Allow"))
		resp = ts.do(t, http.MethodGet, "/servers/1/reboot", "")
		assert.Equal(t, "PATCH", resp.Header.Get("Allow"))
	})
	// The bad bodies never reached a CPI: no call was timed.
	metrics := ts.do(t, http.MethodGet, "/metrics", "")
	assert.NotContains(t, string(metrics.Body), `cpi_method="create_key"`)
	assert.Contains(t, string(metrics.Body), `nanobox_shim_rejections_total{reason="malformed_body"} 4`)
	assert.Contains(t, string(metrics.Body), `nanobox_shim_rejections_total{reason="body_too_large"} 2`)
}

// TestContract_RequestReachesTheCPI checks what the CPI receives: Auth-*
// headers in any letter case as lowercased credential keys, the path
// parameters and body as arguments, the request id, and -configPath.
func TestContract_RequestReachesTheCPI(t *testing.T) {
	cfg := t.TempDir() + "/cpi.json"
	require.NoError(t, os.WriteFile(cfg, []byte("{}"), 0o600))
	ts := startShim(t, shim.Options{CPIConfig: cfg})

	type echoed struct {
		Args    []string         `json:"args"`
		Request protocol.Request `json:"request"`
	}
	// The stub writes the request it read to <dir>/request.json (its
	// answer has the secrets redacted by the shim).
	echo := func(t *testing.T, verb, path, body string, headers ...string) (echoed, response) {
		dir := t.TempDir()
		resp := ts.do(t, verb, path, body, append(headers, "Auth-Stub-Mode: echo-request", "Auth-Stub-Dir: "+dir)...)
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, resp.Status, "%s", resp.Body)
		var e echoed
		require.NoError(t, json.Unmarshal(resp.Body, &e))
		data, err := os.ReadFile(dir + "/request.json")
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &e.Request))
		delete(e.Request.Context.Credentials, "stub-mode")
		delete(e.Request.Context.Credentials, "stub-dir")
		return e, resp
	}

	cases := []struct {
		name   string
		header string
	}{
		{"canonical", "Auth-Api-Token: secret-1"},
		{"upper case", "AUTH-API-TOKEN: secret-1"},
		{"lower case", "auth-api-token: secret-1"},
		{"mixed case", "aUtH-aPi-ToKeN: secret-1"},
	}
	for _, c := range cases {
		t.Run("header "+c.name, func(t *testing.T) {
			e, _ := echo(t, http.MethodGet, "/keys/key-9", "", c.header, "Auth-Access-Key: k2", "Authorization: Bearer x", "X-Other: y")
			assert.Equal(t, protocol.Credentials{"api-token": "secret-1", "access-key": "k2"},
				e.Request.Context.Credentials)
			assert.Equal(t, protocol.MethodQueryKey, e.Request.Method)
			require.Len(t, e.Request.Arguments, 1)
			assert.JSONEq(t, `"key-9"`, string(e.Request.Arguments[0]))
			assert.Equal(t, protocol.APIVersion, e.Request.APIVersion)
		})
	}

	t.Run("key body with name and no id", func(t *testing.T) {
		resp := ts.do(t, http.MethodPost, "/keys", `{"name": "old-client", "key": "ssh-ed25519 AAAA"}`)
		require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
		assert.JSONEq(t, `{"id": "key-old-client"}`, string(resp.Body))
		validateAgainstSpec(t, http.MethodPost, "/keys", resp)

		e, _ := echo(t, http.MethodPost, "/keys", `{"name": "old-client", "key": "ssh-ed25519 AAAA"}`)
		require.Len(t, e.Request.Arguments, 1)
		assert.JSONEq(t, `{"name": "old-client", "key": "ssh-ed25519 AAAA"}`, string(e.Request.Arguments[0]))
	})

	t.Run("path parameter and body", func(t *testing.T) {
		e, _ := echo(t, http.MethodPost, "/servers", `{"name": "n", "region": "r", "size": "s", "ssh_key": "k"}`)
		assert.Equal(t, protocol.MethodOrderServer, e.Request.Method)
		require.Len(t, e.Request.Arguments, 1)
		assert.JSONEq(t, `{"name": "n", "region": "r", "size": "s", "ssh_key": "k"}`, string(e.Request.Arguments[0]))
	})

	t.Run("request id passed on", func(t *testing.T) {
		e, resp := echo(t, http.MethodGet, "/servers/5", "", "X-Request-Id: req-abc.123")
		assert.Equal(t, "req-abc.123", e.Request.Context.RequestID)
		assert.Equal(t, "req-abc.123", resp.Header.Get("X-Request-Id"))
		assert.Contains(t, ts.Logs.String(), `"request_id":"req-abc.123"`)
	})

	t.Run("request id generated", func(t *testing.T) {
		for _, given := range []string{"", "bad id with spaces", strings.Repeat("x", 200)} {
			var headers []string
			if given != "" {
				headers = append(headers, "X-Request-Id: "+given)
			}
			e, resp := echo(t, http.MethodGet, "/servers/5", "", headers...)
			assert.Len(t, e.Request.Context.RequestID, 32)
			assert.NotEqual(t, given, e.Request.Context.RequestID)
			assert.Equal(t, e.Request.Context.RequestID, resp.Header.Get("X-Request-Id"))
		}
	})

	t.Run("configPath passed on", func(t *testing.T) {
		// Without Auth-Stub-Dir: a credential that starts like the config's
		// path would have its start redacted from the answer.
		resp := ts.do(t, http.MethodGet, "/meta", "", "Auth-Stub-Mode: echo-request")
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		var args []string
		require.NoError(t, json.Unmarshal(mustField(t, resp.Body, "args"), &args))
		assert.Equal(t, []string{"-configPath", cfg}, args)
	})
}

func TestContract_NoConfigMeansNoArguments(t *testing.T) {
	ts := startShim(t, shim.Options{})
	resp := ts.do(t, http.MethodGet, "/meta", "", "Auth-Stub-Mode: echo-request")
	require.Equal(t, http.StatusOK, resp.Status)
	assert.JSONEq(t, `[]`, string(mustField(t, resp.Body, "args")))
}

// TestContract_ChildEnvironmentIsOnlyBaseAndPassEnv: the CPI gets PATH,
// TMPDIR and the variables its caller names, nothing else; the shim itself
// names no cloud's variables.
func TestContract_ChildEnvironmentIsOnlyBaseAndPassEnv(t *testing.T) {
	env := []string{
		"PATH=/usr/bin:/bin", "TMPDIR=/tmp/x", "CLOUD_TOKEN=tok", "CLOUD_ENDPOINT=http://127.0.0.1:1/v1",
		"HCLOUD_TOKEN=not-named", "HOME=/root", "AWS_SECRET_ACCESS_KEY=nope", "CLOUD_TOKENX=no", "LD_PRELOAD=/evil.so", "NOEQUALS",
	}
	cases := []struct {
		name string
		pass []string
		want []string
	}{
		{"named variables", []string{"CLOUD_TOKEN", "CLOUD_ENDPOINT", "UNSET_ONE"},
			[]string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp/x", "CLOUD_TOKEN=tok", "CLOUD_ENDPOINT=http://127.0.0.1:1/v1"}},
		{"none named", []string{}, []string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp/x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startShim(t, shim.Options{Env: env, PassEnv: c.pass})
			resp := ts.do(t, http.MethodGet, "/meta", "", "Auth-Stub-Mode: echo-env")
			require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
			var got []string
			require.NoError(t, json.Unmarshal(mustField(t, resp.Body, "env"), &got))
			assert.ElementsMatch(t, c.want, got)
		})
	}
}

func TestContract_PassEnvNamesAreChecked(t *testing.T) {
	err := shim.Options{CPI: stubCPI, PassEnv: []string{"OK_1", "", "A=B", "1X", "SP ACE"}}.Validate()
	require.Error(t, err)
	for _, bad := range []string{`""`, `"A=B"`, `"1X"`, `"SP ACE"`} {
		assert.Contains(t, err.Error(), "pass-env "+bad)
	}
	assert.NotContains(t, err.Error(), "OK_1")
}

func TestContract_BasePath(t *testing.T) {
	ts := startShim(t, shim.Options{BasePath: "/api/v1/"})
	resp := ts.do(t, http.MethodGet, "/api/v1/servers/3", "")
	assert.Equal(t, http.StatusCreated, resp.Status)
	resp = ts.do(t, http.MethodGet, "/servers/3", "")
	assert.Equal(t, http.StatusNotFound, resp.Status)
	resp = ts.do(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, resp.Status)
}

func mustField(t testing.TB, body []byte, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	v, ok := m[field]
	require.True(t, ok, "no %q in %s", field, body)
	return v
}

// TestContract_AmbiguousCredentialsAnswer400: one credential sent twice with
// different values is refused before any CPI runs (the first value used to
// win silently); the same value twice is no ambiguity.
func TestContract_AmbiguousCredentialsAnswer400(t *testing.T) {
	ts := startShim(t, shim.Options{})
	cases := []struct {
		name    string
		headers []string
		status  int
	}{
		{"same name, different values", []string{"Auth-Api-Token: tok-aaaaaaaa1", "Auth-Api-Token: tok-bbbbbbbb2"}, http.StatusBadRequest},
		{"names differing in case", []string{"Auth-Api-Token: tok-aaaaaaaa1", "auth-api-token: tok-bbbbbbbb2"}, http.StatusBadRequest},
		{"same value twice", []string{"Auth-Api-Token: tok-aaaaaaaa1", "AUTH-API-TOKEN: tok-aaaaaaaa1"}, http.StatusCreated},
		{"two different credentials", []string{"Auth-Api-Token: tok-aaaaaaaa1", "Auth-Project: p1"}, http.StatusCreated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do(t, http.MethodGet, "/servers/7", "", c.headers...)
			require.Equal(t, c.status, resp.Status, "%s", resp.Body)
			validateAgainstSpec(t, http.MethodGet, "/servers/{id}", resp)
			if c.status == http.StatusBadRequest {
				assertErrorsBody(t, resp, "ambiguous credentials: Auth-Api-Token sent more than once")
				assert.NotContains(t, string(resp.Body), "tok-", "the message names no value")
			}
		})
	}
	metrics := ts.do(t, http.MethodGet, "/metrics", "")
	assert.Contains(t, string(metrics.Body), `nanobox_shim_rejections_total{reason="ambiguous_credentials"} 2`)
	assert.NotContains(t, string(metrics.Body), `cpi_method="query_server",outcome="error"`)
}
