package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func newCanary(t testing.TB, label string) string {
	t.Helper()
	b := make([]byte, 20)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "canary" + label + hex.EncodeToString(b)
}

// leakScanner finds a secret, or a long enough piece of it, in text.
type leakScanner struct {
	secrets []string
}

// find returns a description of the first leak in text, or "".
func (l leakScanner) find(text string) string {
	for _, s := range l.secrets {
		if i := strings.Index(text, s); i >= 0 {
			return fmt.Sprintf("secret %s... at byte %d", s[:10], i)
		}
		// A truncated secret is still a leak: look for its random middle.
		mid := s[len(s)/2-6 : len(s)/2+6]
		if i := strings.Index(text, mid); i >= 0 {
			return fmt.Sprintf("part of secret %s... at byte %d", s[:10], i)
		}
	}
	return ""
}

// faultPasses: no fault, then every kind the simulator can inject but
// latency (which only slows a call down).
func faultPasses() []hcloudsim.FaultKind {
	kinds := []hcloudsim.FaultKind{""}
	for _, k := range hcloudsim.FaultKinds {
		if k != hcloudsim.FaultLatency {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// methodCall is one call of every Nanobox route, given ids to act on.
type methodCall struct {
	method string
	verb   string
	path   string
	body   []byte
}

func everyRoute(pass int, serverID, keyID, pub string) []methodCall {
	keyBody, _ := json.Marshal(protocol.KeyBody{ID: fmt.Sprintf("canary-extra-key-%d", pass), Key: pub})
	return []methodCall{
		{protocol.MethodMeta, http.MethodGet, "/meta", nil},
		{protocol.MethodCatalog, http.MethodGet, "/catalog", nil},
		{protocol.MethodVerify, http.MethodPost, "/verify", nil},
		{protocol.MethodCreateKey, http.MethodPost, "/keys", keyBody},
		{protocol.MethodQueryKey, http.MethodGet, "/keys/" + keyID, nil},
		{protocol.MethodOrderServer, http.MethodPost, "/servers", []byte(fmt.Sprintf(`{"name":"canary-extra-web-%d","region":"nbg1","size":"cx23","ssh_key":"%s"}`, pass, keyID))},
		{protocol.MethodQueryServer, http.MethodGet, "/servers/" + serverID, nil},
		{protocol.MethodInstallKey, http.MethodPatch, "/servers/" + serverID + "/keys", keyBody},
		{protocol.MethodUpdateConfig, http.MethodPatch, "/servers/" + serverID + "/config", []byte(`{"backups":"enabled"}`)},
		{protocol.MethodRebootServer, http.MethodPatch, "/servers/" + serverID + "/reboot", nil},
		{protocol.MethodRenameServer, http.MethodPatch, "/servers/" + serverID + "/rename", []byte(`{"name":"canary-web-renamed"}`)},
		{protocol.MethodCancelServer, http.MethodDelete, "/servers/" + serverID, nil},
		{protocol.MethodDeleteKey, http.MethodDelete, "/keys/" + keyID, nil},
	}
}

// TestCanarySecretsNeverLeak sends canary credentials through every route,
// under no fault and under every fault kind, plus a rejected credential,
// and then looks for them in every answer (body and headers), the shim's
// log and stdout, /metrics and the URLs the CPI requested. It also runs the
// CPI binary directly with every method and checks its stdout (the response,
// log field included) and stderr.
func TestCanarySecretsNeverLeak(t *testing.T) {
	t.Parallel()
	token := newCanary(t, "tok")    // the valid API token
	rejected := newCanary(t, "bad") // a token Hetzner rejects
	other := newCanary(t, "hdr")    // another Auth-* header
	envToken := newCanary(t, "env") // HCLOUD_TOKEN of a direct CPI run
	scan := leakScanner{secrets: []string{token, rejected, other, envToken}}

	w := newWorld(t, worldOptions{Token: token})
	rng := mrand.New(mrand.NewPCG(11, 11))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	headers := map[string]string{"Auth-Api-Token": token, "Auth-Access-Token": other}

	var mu sync.Mutex
	var answers []string
	calls := 0
	record := func(label string, r reply, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if err != nil {
			answers = append(answers, label+" transport error: "+err.Error())
			return
		}
		var h bytes.Buffer
		_ = r.Header.Write(&h)
		answers = append(answers, fmt.Sprintf("%s: %d\n%s\n%s", label, r.Status, h.String(), r.Body))
	}

	for i, kind := range faultPasses() {
		// Fresh objects for this pass, made without faults.
		pub := newPublicKey(t, rng, "canary")
		kb, _ := json.Marshal(protocol.KeyBody{ID: fmt.Sprintf("canary-key-%d", i), Key: pub})
		r, err := w.Do(ctx, http.MethodPost, "/keys", headers, kb)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, r.Status, "create_key: %s", r)
		record("setup create_key", r, nil)
		var key protocol.IDResult
		require.NoError(t, json.Unmarshal(r.Body, &key))
		r, err = w.Do(ctx, http.MethodPost, "/servers", headers,
			[]byte(fmt.Sprintf(`{"name":"canary-web-%d","region":"nbg1","size":"cx23","ssh_key":"%s"}`, i, key.ID)))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, r.Status, "order_server: %s", r)
		record("setup order_server", r, nil)
		var server protocol.IDResult
		require.NoError(t, json.Unmarshal(r.Body, &server))

		if kind != "" {
			w.Env.Sim.AddFault(hcloudsim.Fault{Kind: kind, Probability: 1})
		}
		calls := everyRoute(i, server.ID, key.ID, newPublicKey(t, rng, "canary2"))
		if kind == "" {
			// A confused client that pastes the token into other fields:
			// error messages quote (and truncate) those fields.
			calls = append(calls,
				methodCall{"order_server (token as ssh_key)", http.MethodPost, "/servers", []byte(`{"name":"canary-confused","region":"nbg1","size":"cx23","ssh_key":"` + token + `"}`)},
				methodCall{"order_server (token as name)", http.MethodPost, "/servers", []byte(`{"name":"` + token + `!","region":"nbg1","size":"cx23","ssh_key":"` + key.ID + `"}`)},
				methodCall{"rename_server (token as name)", http.MethodPatch, "/servers/" + server.ID + "/rename", []byte(`{"name":"` + token + `_"}`)},
				methodCall{"query_server (token as id)", http.MethodGet, "/servers/" + token, nil},
				methodCall{"delete_key (token as id)", http.MethodDelete, "/keys/" + token, nil},
				methodCall{"unknown endpoint (token in path)", http.MethodGet, "/servers/1/" + token, nil},
				methodCall{"wrong verb (token in path)", http.MethodPut, "/servers/" + token, nil},
				methodCall{"non-canonical path (token in path)", http.MethodGet, "/servers/../" + token, nil},
				methodCall{"update_config (token as key)", http.MethodPatch, "/servers/" + server.ID + "/config", []byte(`{"` + token + `":"x"}`)},
			)
		}
		var wg sync.WaitGroup
		for _, mc := range calls {
			wg.Add(1)
			go func(mc methodCall) {
				defer wg.Done()
				r, err := w.Do(ctx, mc.verb, mc.path, headers, mc.body)
				record(fmt.Sprintf("fault %q %s", kind, mc.method), r, err)
				if kind == "" && !strings.Contains(mc.method, "(token") {
					// (The confused calls carry the valid token in their
					// data; under another credential it is just data.)
					bad := map[string]string{"Auth-Api-Token": rejected, "Auth-Access-Token": other}
					r, err := w.Do(ctx, mc.verb, mc.path, bad, mc.body)
					record(fmt.Sprintf("rejected token %s", mc.method), r, err)
				}
			}(mc)
		}
		wg.Wait()
		w.Env.Sim.ClearFaults()
	}

	metrics, err := w.Do(ctx, http.MethodGet, "/metrics", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, metrics.Status)
	sources := map[string]string{
		"/metrics":    string(metrics.Body),
		"shim log":    w.Shim.Logs.String(),
		"shim stdout": w.Shim.Stdout.String(),
	}
	var urls strings.Builder
	for _, req := range w.API.Requests() {
		fmt.Fprintf(&urls, "%s %s?%s\n", req.Method, req.Path, req.Query)
	}
	sources["API request URLs"] = urls.String()
	for i, a := range answers {
		sources[fmt.Sprintf("answer %d", i)] = a
	}
	for name, text := range sources {
		if leak := scan.find(text); leak != "" {
			t.Errorf("%s leaks a credential: %s\n%s", name, leak, scan.excerpt(text))
		}
	}
	require.Contains(t, w.Shim.Logs.String(), `"msg":"request"`, "the shim's log was not captured")
	assert.Positive(t, calls)

	direct := 0
	t.Run("CPI binary directly", func(t *testing.T) {
		direct = testCPIDirectCanary(t, w, scan, token, rejected, other, envToken)
	})
	t.Logf("canary: %d calls through the shim over %d fault passes (shim log of %d bytes scanned), %d direct CPI runs",
		calls, len(faultPasses()), len(w.Shim.Logs.String()), direct)
}

// testCPIDirectCanary runs the CPI binary on stdin for every method, with
// the canary as credential and as HCLOUD_TOKEN, with no fault, with a
// failing API and with a rejected token; its stdout and stderr must not
// hold a secret.
func testCPIDirectCanary(t *testing.T, w *world, scan leakScanner, token, rejected, other, envToken string) int {
	cfgPath := filepath.Join(w.workDir, "cpi.json")
	type run struct {
		label string
		req   protocol.Request
	}
	var runs []run
	methods := append([]string{protocol.MethodInfo, "no_such_method"}, sortedMethods()...)
	for _, cred := range []string{token, rejected} {
		for _, m := range methods {
			args := []json.RawMessage{}
			sig := protocol.Signatures[m]
			for range sig.Params {
				args = append(args, json.RawMessage(`"1"`))
			}
			if sig.Body {
				// A body that carries the secret in a field, as a
				// confused client might.
				args = append(args, json.RawMessage(`{"id":"k","name":"x","key":"`+cred+`","ssh_key":"`+cred+`","region":"nbg1","size":"cx23"}`))
			}
			runs = append(runs, run{label: m, req: protocol.Request{Method: m, Arguments: args, APIVersion: protocol.APIVersion,
				Context: protocol.Context{Credentials: protocol.Credentials{"api-token": cred, "access-token": other}}}})
		}
	}
	kinds := []hcloudsim.FaultKind{"", hcloudsim.FaultInternal, hcloudsim.FaultDrop}
	for _, kind := range kinds {
		t.Run(fmt.Sprintf("fault %q", kind), func(t *testing.T) {
			if kind != "" {
				w.Env.Sim.AddFault(hcloudsim.Fault{Kind: kind, Probability: 1})
				defer w.Env.Sim.ClearFaults()
			}
			sem := make(chan struct{}, 6)
			var wg sync.WaitGroup
			for _, r := range runs {
				wg.Add(1)
				sem <- struct{}{}
				go func(r run) {
					defer wg.Done()
					defer func() { <-sem }()
					data, err := json.Marshal(r.req)
					require.NoError(t, err)
					cmd := exec.Command(w.CPI, "-configPath", cfgPath)
					cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HCLOUD_TOKEN=" + envToken}
					cmd.Stdin = bytes.NewReader(data)
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					err = cmd.Run()
					assert.NoError(t, err, "%s: the CPI exits 0 after writing a response; stderr: %s", r.label, stderr.String())
					var resp protocol.RawResponse
					assert.NoError(t, json.Unmarshal(stdout.Bytes(), &resp), "%s: stdout is one response: %q", r.label, stdout.String())
					for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
						if leak := scan.find(text); leak != "" {
							t.Errorf("%s: CPI %s leaks a credential: %s\n%s", r.label, name, leak, scan.excerpt(text))
						}
					}
				}(r)
			}
			wg.Wait()
		})
	}
	return len(runs) * len(kinds)
}

// sortedMethods are the Nanobox-family methods in table order: those with
// a route and the extensions, which only the CPI binary serves.
func sortedMethods() []string {
	var out []string
	for _, m := range protocol.Table {
		if m.Family == protocol.FamilyNanobox {
			out = append(out, m.Name)
		}
	}
	return out
}

// excerpt shows where a leak is, each secret (or piece of it) replaced by
// a marker.
func (l leakScanner) excerpt(text string) string {
	for _, s := range l.secrets {
		text = strings.ReplaceAll(text, s, "<CANARY>")
		text = strings.ReplaceAll(text, s[len(s)/2-6:len(s)/2+6], "<CANARY-PART>")
	}
	i := strings.Index(text, "<CANARY")
	from, to := max(0, i-120), min(len(text), i+240)
	return text[from:to]
}
