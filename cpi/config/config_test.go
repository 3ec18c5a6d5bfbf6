package config_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
)

func TestDefaults(t *testing.T) {
	c, err := config.Load("", nil)
	require.NoError(t, err)
	require.True(t, *c.OperatorTokenForCalls)
	require.Equal(t, "ubuntu-24.04", c.Image)
	require.Equal(t, config.DefaultImages, c.Images)
	require.Equal(t, config.Network{Mode: "private", Name: "nanobox", IPRange: "10.0.0.0/16"}, c.Network)
	require.Equal(t, config.Defaults{Region: "nbg1", Size: "cx23"}, c.Defaults)
	require.Equal(t, config.Catalog{CacheDir: c.StateDir, TTLSeconds: 3600, EURToUSD: 1.08, PriceBasis: "gross"}, c.Catalog)
	require.Equal(t, 45, c.Timeouts.CallSeconds)
	require.Equal(t, 900, c.BootstrapTimeout)
	require.Equal(t, config.DefaultEndpoint, c.Endpoint, "no file, no environment")
	require.Empty(t, c.Token)
	require.Equal(t, c.StateDir, c.Catalog.CacheDir)
	require.True(t, filepath.IsAbs(c.StateDir), c.StateDir)
}

func TestParseFullFile(t *testing.T) {
	doc := `{
	  "token": "secret-token", "operator_token_for_calls": false, "endpoint": "http://127.0.0.1:8081/v1",
	  "image": "debian-12", "images": ["debian-12", "ubuntu-24.04"],
	  "network": {"mode": "private", "name": "apps", "ip_range": "172.16.0.0/12"},
	  "labels": {"team": "web", "example.com/env": "prod"}, "allow_foreign": true,
	  "defaults": {"region": "fsn1", "size": "cx33"},
	  "catalog": {"cache_dir": "/var/cache/cpi", "ttl_seconds": 60, "eur_to_usd": 1.1, "price_basis": "net"},
	  "timeouts": {"call_seconds": 30, "poll_interval_ms": 250},
	  "bootstrap_script": "https://example.com/b.sh", "bootstrap_timeout_seconds": 600,
	  "state_dir": "/var/vcap/data/cpi"
	}`
	path := filepath.Join(t.TempDir(), "cpi.json")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	env := map[string]string{"HCLOUD_TOKEN": "env-token", "HCLOUD_ENDPOINT": "http://other/v1", "XDG_CACHE_HOME": "/xdg"}
	c, err := config.Load(path, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.False(t, *c.OperatorTokenForCalls)
	require.Equal(t, "172.16.0.0/12", c.Network.IPRange)
	// The file's values win over the environment.
	require.Equal(t, "secret-token", c.Token)
	require.Equal(t, "http://127.0.0.1:8081/v1", c.Endpoint)
	require.Equal(t, "/var/cache/cpi", c.Catalog.CacheDir)
	require.Equal(t, "/var/vcap/data/cpi", c.StateDir)
}

// TestLoadFoldsInTheEnvironment: what the file leaves empty, Load fills
// from the environment, once; Parse (the file as written) does not.
func TestLoadFoldsInTheEnvironment(t *testing.T) {
	env := map[string]string{"HCLOUD_TOKEN": "env-token", "HCLOUD_ENDPOINT": "http://sim/v1", "XDG_CACHE_HOME": "/xdg"}
	getenv := func(k string) string { return env[k] }
	c, err := config.Load("", getenv)
	require.NoError(t, err)
	require.Equal(t, "env-token", c.Token)
	require.Equal(t, "http://sim/v1", c.Endpoint)
	require.Equal(t, "/xdg/nanobox-hcloud", c.StateDir)
	require.Equal(t, "/xdg/nanobox-hcloud", c.Catalog.CacheDir, "the cache dir is the state dir")

	env["HCLOUD_TOKEN"], env["HCLOUD_ENDPOINT"] = "changed", "http://changed/v1"
	require.Equal(t, "env-token", c.Token, "the environment is read at load, not later")
	require.Equal(t, "http://sim/v1", c.Endpoint)

	p, err := config.Parse([]byte(`{}`))
	require.NoError(t, err)
	require.Empty(t, p.Token)
	require.Empty(t, p.Endpoint)
	require.Empty(t, p.StateDir)
	require.Equal(t, config.Default(), p, "Default is the empty file")
}

func TestEveryProblemIsReportedTogether(t *testing.T) {
	doc := `{
	  "image": "windows-11", "images": ["ubuntu-24.04", "ubuntu-24.04"],
	  "network": {"mode": "private", "ip_range": "192.168.0.0/16"},
	  "labels": {"nanobox": "false", "bad key!": "x"},
	  "catalog": {"eur_to_usd": 99, "price_basis": "cheap"},
	  "timeouts": {"call_seconds": 9999},
	  "bootstrap_script": "ftp://x", "state_dir": "relative/dir"
	}`
	_, err := config.Parse([]byte(doc))
	var pe *config.ProblemsError
	require.ErrorAs(t, err, &pe)
	for _, want := range []string{
		`image: "windows-11" must be one of images`,
		`images[1]: "ubuntu-24.04" is listed twice`,
		`overlaps 192.168.0.0/24`,
		`labels: "nanobox" is set by the adapter`,
		`labels: "bad key!" is not a valid Hetzner label key`,
		`catalog.eur_to_usd`,
		`catalog.price_basis`,
		`timeouts.call_seconds`,
		`bootstrap_script`,
		`state_dir`,
	} {
		require.Contains(t, err.Error(), want)
	}
	require.Len(t, pe.Problems, 10)
}

func TestNetworkRanges(t *testing.T) {
	cases := []struct {
		ipRange string
		ok      bool
		msg     string
	}{
		{"10.0.0.0/16", true, ""},
		{"10.10.0.0/24", true, ""},
		{"192.168.0.0/24", false, "overlaps 192.168.0.0/24"},
		{"192.168.0.0/23", false, "overlaps"},
		{"192.160.0.0/12", false, "private"},
		{"192.168.1.0/24", true, ""},
		{"10.0.0.1/16", false, "host bits"},
		{"10.0.0.0/25", false, "too small"},
		{"8.8.0.0/16", false, "private"},
		{"fd00::/64", false, "IPv4"},
		{"nonsense", false, "IPv4"},
	}
	for _, tc := range cases {
		t.Run(tc.ipRange, func(t *testing.T) {
			_, err := config.Parse([]byte(`{"network": {"ip_range": "` + tc.ipRange + `"}}`))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestMalformedFiles(t *testing.T) {
	cases := []struct{ name, doc, msg string }{
		{"unknown field", `{"tokn": "x"}`, `unknown field "tokn"`},
		{"wrong type", `{"allow_foreign": "yes"}`, `"allow_foreign" must be a boolean, not string`},
		{"wrong nested type", `{"timeouts": {"call_seconds": "45"}}`, `"timeouts.call_seconds" must be a number, not string`},
		{"truncated", `{"token": "x"`, "truncated JSON"},
		{"not JSON", `{"token" 1}`, "invalid JSON at byte"},
		{"trailing data", `{} {}`, "data after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.doc))
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestErrorsNeverEchoTheToken(t *testing.T) {
	_, err := config.Parse([]byte(`{"token": 12345678, "image": "x y"}`))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "12345678")
	_, err = config.Parse([]byte(`{"token": " canary-secret ", "labels": {"nanobox": "x"}}`))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "canary-secret")
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"allow_foreign": true}`), 0o600))
	c, err := config.Load(path, nil)
	require.NoError(t, err)
	require.True(t, c.AllowForeign)
	_, err = config.Load(filepath.Join(dir, "missing.json"), nil)
	require.ErrorContains(t, err, "missing.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"timeouts": {"call_seconds": 0.5}}`), 0o600))
	_, err = config.Load(path, nil)
	require.ErrorContains(t, err, "cpi.json: not a valid config document")
}

func TestStateDirDefaults(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"systemd's StateDirectory first", map[string]string{"STATE_DIRECTORY": "/var/lib/nb:/var/lib/other", "RUNTIME_DIRECTORY": "/run/nb", "XDG_RUNTIME_DIR": "/run/user/1", "HOME": "/home/u"}, "/var/lib/nb"},
		{"then its RuntimeDirectory", map[string]string{"RUNTIME_DIRECTORY": "/run/nb", "XDG_RUNTIME_DIR": "/run/user/1", "HOME": "/home/u"}, "/run/nb"},
		{"then XDG_RUNTIME_DIR", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1", "XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}, "/run/user/1/nanobox-hcloud"},
		{"then XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/xdg", "HOME": "/home/u", "TMPDIR": "/t"}, "/xdg/nanobox-hcloud"},
		{"then HOME", map[string]string{"HOME": "/home/u", "TMPDIR": "/t"}, "/home/u/.cache/nanobox-hcloud"},
		{"relative ones ignored", map[string]string{"STATE_DIRECTORY": "s", "XDG_RUNTIME_DIR": "r", "XDG_CACHE_HOME": "xdg", "HOME": "u", "TMPDIR": "/t"}, "/t/nanobox-hcloud-" + strconv.Itoa(os.Geteuid())},
		{"else a per-user directory in TMPDIR", map[string]string{"TMPDIR": "/t"}, "/t/nanobox-hcloud-" + strconv.Itoa(os.Geteuid())},
		{"else in /tmp", nil, "/tmp/nanobox-hcloud-" + strconv.Itoa(os.Geteuid())},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load("", func(k string) string { return tc.env[k] })
			require.NoError(t, err)
			require.Equal(t, tc.want, c.StateDir)
			require.Equal(t, tc.want, c.Catalog.CacheDir)
		})
	}
}

func TestLabels(t *testing.T) {
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		key, value string
		ok         bool
	}{
		{"team", "web", true},
		{"example.com/env", "prod", true},
		{"env", "", true},
		{long(63), long(63), true},
		{long(64), "x", false},
		{"k", long(64), false},
		{long(253) + "/k", "x", true},
		{long(254) + "/k", "x", false},
		{"/k", "x", false},
		{"Example.com/k", "x", false},
		{"k", "-x", false},
		{"Managed-By", "x", false},
	}
	for _, tc := range cases {
		doc := `{"labels": {"` + tc.key + `": "` + tc.value + `"}}`
		_, err := config.Parse([]byte(doc))
		if tc.ok {
			require.NoError(t, err, tc.key)
		} else {
			require.Error(t, err, tc.key)
		}
	}
}
