package bosh_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

const testMbus = "https://mbus:secret@0.0.0.0:6868"

// fixture is a simulator and the config of a CPI pointed at it.
type fixture struct {
	t   *testing.T
	sim *simtest.Env
	cfg *config.Config
	api *hcloud.Client // the test's own view of the simulator
	rec *recorder      // what the CPI sent
}

// recorder keeps the body of every server create the CPI sends, by name;
// intercept, when set, may answer a request in the API's place.
type recorder struct {
	mu        sync.Mutex
	creates   map[string][]byte
	intercept func(*http.Request) *http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	intercept := r.intercept
	var answer *http.Response
	if intercept != nil {
		answer = intercept(req)
	}
	r.mu.Unlock()
	if answer != nil {
		return answer, nil
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/v1/servers") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(body, &named) == nil {
			r.mu.Lock()
			r.creates[named.Name] = body
			r.mu.Unlock()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) createBody(name string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.creates[name]
	return b, ok
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, hcloudsim.Options{})
}

// newFixtureWith is newFixture on a simulator started with opts.
func newFixtureWith(t *testing.T, opts hcloudsim.Options) *fixture {
	t.Helper()
	sim := simtest.Start(t, opts)
	cfg, err := config.Parse(simConfig(t, sim, 30))
	require.NoError(t, err)
	return &fixture{t: t, sim: sim, cfg: cfg, api: sim.Client(), rec: &recorder{creates: map[string][]byte{}}}
}

// simConfig is the config document of a CPI pointed at sim, with its
// state in a temporary directory and a call deadline of callSeconds.
func simConfig(t *testing.T, sim *simtest.Env, callSeconds int) []byte {
	t.Helper()
	dir := t.TempDir()
	raw, err := json.Marshal(map[string]any{
		"token":     sim.Token,
		"endpoint":  sim.URL,
		"state_dir": filepath.Join(dir, "state"),
		"catalog":   map[string]any{"cache_dir": filepath.Join(dir, "cache")},
		"timeouts":  map[string]any{"call_seconds": callSeconds, "poll_interval_ms": 10},
		"agent":     map[string]any{"mbus": testMbus, "ntp": []string{"ntp.hetzner.de"}},
	})
	require.NoError(t, err)
	return raw
}

func (f *fixture) env() bosh.Env {
	return bosh.Env{Env: cpi.Env{Config: f.cfg, RetryBackoff: func(int) time.Duration { return 0 }, HTTPClient: &http.Client{Transport: f.rec}}}
}

// cpi is a CPI for one call with the given context.
func (f *fixture) cpi(context string) *bosh.CPI {
	f.t.Helper()
	env := f.env()
	if context != "" {
		env.Context = json.RawMessage(context)
	}
	c, err := bosh.New(env)
	require.NoError(f.t, err)
	return c
}

// call runs one request through the CPI's dispatcher, as the binary does,
// and returns the result as it reads on the wire (decoded JSON).
func (f *fixture) call(apiVersion int, method string, args ...any) (any, error) {
	f.t.Helper()
	return f.callWithContext(map[string]any{"director_uuid": "d"}, apiVersion, method, args...)
}

// callWithContext is call with the request's context.
func (f *fixture) callWithContext(reqCtx map[string]any, apiVersion int, method string, args ...any) (any, error) {
	f.t.Helper()
	if args == nil {
		args = []any{}
	}
	data, err := json.Marshal(map[string]any{"method": method, "arguments": args, "context": reqCtx, "api_version": apiVersion})
	require.NoError(f.t, err)
	req, perr := protocol.ParseRequest(data)
	require.Nil(f.t, perr)
	env := f.env()
	d := cpi.Env{Config: f.cfg}.Dispatcher(nil)
	d.Bosh = bosh.Factory{Env: env}
	result, err := d.Dispatch(context.Background(), req)
	if err != nil {
		return nil, err
	}
	wire, merr := json.Marshal(result)
	require.NoError(f.t, merr)
	var out any
	require.NoError(f.t, json.Unmarshal(wire, &out))
	return out, nil
}

// boshErr asserts err is a BOSH error of type want and returns it.
func boshErr(t *testing.T, err error, want protocol.ErrorType) *protocol.Error {
	t.Helper()
	require.Error(t, err)
	pe, ok := err.(*protocol.Error)
	require.True(t, ok, "want a *protocol.Error, got %T: %v", err, err)
	require.Equal(t, want, pe.Type, "message: %s", pe.Message)
	return pe
}

// ubuntuID is the id of the simulator's x86 ubuntu-24.04 image.
func (f *fixture) ubuntuID() int64 {
	f.t.Helper()
	im, _, err := f.api.Image.GetByNameAndArchitecture(context.Background(), "ubuntu-24.04", hcloud.ArchitectureX86)
	require.NoError(f.t, err)
	require.NotNil(f.t, im)
	return im.ID
}

// network creates a Hetzner network with a subnet in eu-central.
func (f *fixture) network(name string, labels map[string]string) *hcloud.Network {
	f.t.Helper()
	_, ipRange, _ := net.ParseCIDR("10.0.0.0/16")
	_, subnet, _ := net.ParseCIDR("10.0.1.0/24")
	n, _, err := f.api.Network.Create(context.Background(), hcloud.NetworkCreateOpts{
		Name: name, IPRange: ipRange, Labels: labels,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral, IPRange: subnet}},
	})
	require.NoError(f.t, err)
	return n
}

// server fetches a server by id.
func (f *fixture) server(id int64) *hcloud.Server {
	f.t.Helper()
	s, _, err := f.api.Server.GetByID(context.Background(), id)
	require.NoError(f.t, err)
	return s
}

// foreignAndHidden makes, with create, an object that is not the CPI's
// and one of the CPI's labelled nanobox=false, and checks that hasMethod
// (has_vm, has_disk) sees neither. It returns their cids.
func (f *fixture) foreignAndHidden(hasMethod string, create func(name string, labels map[string]string) int64) (foreign, hidden string) {
	f.t.Helper()
	foreign = strconv.FormatInt(create("foreign", map[string]string{"team": "x"}), 10)
	hidden = strconv.FormatInt(create("hidden", map[string]string{"managed-by": "nanobox-hcloud", "nanobox": "false"}), 10)
	for _, cid := range []string{foreign, hidden} {
		has, err := f.call(2, hasMethod, cid)
		require.NoError(f.t, err)
		assert.Equal(f.t, false, has, "%s %s", hasMethod, cid)
	}
	return foreign, hidden
}

// deleteLeavesAlone checks deleteMethod (delete_vm, delete_disk) on the
// objects of foreignAndHidden: the foreign one is refused, the hidden one
// does not exist for the CPI (success, nothing deleted).
func (f *fixture) deleteLeavesAlone(deleteMethod, foreign, hidden string) {
	f.t.Helper()
	_, err := f.call(2, deleteMethod, foreign)
	boshErr(f.t, err, bosh.CloudError)
	_, err = f.call(2, deleteMethod, hidden)
	require.NoError(f.t, err, "an object labelled nanobox=false does not exist for the CPI")
}

// testPublicKey is a new ed25519 public key in authorized_keys form.
func testPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

func sortedStrings[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestMain removes the binaries the tests built (none under make test,
// which builds them into $NANOBOX_HCLOUD_BIN first).
func TestMain(m *testing.M) {
	code := m.Run()
	_ = testsupport.RemoveBuilt()
	os.Exit(code)
}
