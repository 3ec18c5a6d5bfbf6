package bosh_test

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// strictSettings decodes a server's user_data into the agent's settings
// shape, refusing any key the agent does not read.
func (f *fixture) strictSettings(name string) agentSettings {
	f.t.Helper()
	body, ok := f.rec.createBody(name)
	require.True(f.t, ok, "no POST /servers for %s", name)
	var req struct {
		UserData string `json:"user_data"`
	}
	require.NoError(f.t, json.Unmarshal(body, &req))
	dec := json.NewDecoder(strings.NewReader(req.UserData))
	dec.DisallowUnknownFields()
	var s agentSettings
	require.NoError(f.t, dec.Decode(&s), "user_data decodes strictly into the agent's settings: %s", req.UserData)
	return s
}

// TestUserDataIsTheAgentsSettings: a VM on a manual and a dynamic network,
// with bosh-deployment's create-env env, gets user_data the agent decodes
// field by field: its id, mbus, NTP, a usable blobstore, networks whose
// default gateway is the public one and whose manual network uses DHCP,
// disks and the env.
func TestUserDataIsTheAgentsSettings(t *testing.T) {
	f := newFixture(t)
	n := f.network("bosh", nil)
	networks := manualNetworks(n.Name)
	networks["private"].(map[string]any)["default"] = []string{"dns", "gateway"} // as the manifest says; the public network wins
	networks["public"] = dynamicNetworks()["default"]
	env := map[string]any{"bosh": map[string]any{
		"mbus":       map[string]any{"cert": map[string]any{"ca": "CA", "certificate": "CERT", "private_key": "KEY"}},
		"blobstores": []any{map[string]any{"provider": "local", "options": map[string]any{"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}},
		"ntp":        []string{"time1.google.com"},
		"password":   "*",
	}}
	agent := uuid.NewString()
	_, err := f.call(2, protocol.MethodCreateVM, agent, strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, networks, []string{}, env)
	require.NoError(t, err)
	s := f.strictSettings(bosh.ServerName(agent))

	assert.Equal(t, agent, s.AgentID)
	assert.Equal(t, testMbus, s.Mbus)
	assert.Equal(t, []string{"ntp.hetzner.de"}, s.NTP)
	assert.Equal(t, []string{"time1.google.com"}, s.Env.Bosh.NTP, "env.bosh.ntp reaches the agent, which prefers it")
	assert.Equal(t, "CA", s.Env.Bosh.Mbus.Cert.CA)
	assert.Equal(t, agentBlobstore{Type: "local", Options: map[string]any{"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}, s.blobstore())
	assert.Equal(t, agentVM{Name: bosh.ServerName(agent)}, s.VM)
	assert.Equal(t, "/dev/sda", s.Disks.System)
	assert.Nil(t, s.Disks.Ephemeral, "no ephemeral disk: the agent partitions the root disk")
	assert.Empty(t, s.Disks.Persistent)

	require.Len(t, s.Networks, 2)
	for _, category := range []string{"dns", "gateway"} {
		name, ok := s.Networks.defaultNetworkFor(category)
		require.True(t, ok, category)
		assert.Equal(t, "public", name, "the public network is the default for %s", category)
	}
	private := s.Networks["private"]
	assert.Equal(t, agentNetwork{Type: "manual", IP: "10.0.1.6", Netmask: "255.255.255.0", Gateway: "10.0.1.1",
		UseDHCP: true, Default: []string{}, DNS: []string{"1.1.1.1"}}, private)
	assert.Equal(t, "dynamic", s.Networks["public"].Type)
}

// docsExample is the create-env manifest of docs/bosh-cpi.md.
type docsExample struct {
	ResourcePools []struct {
		CloudProperties map[string]any `yaml:"cloud_properties"`
		Env             map[string]any `yaml:"env"`
	} `yaml:"resource_pools"`
	Networks []struct {
		Name    string   `yaml:"name"`
		Type    string   `yaml:"type"`
		DNS     []string `yaml:"dns"`
		Subnets []struct {
			Range           string         `yaml:"range"`
			Gateway         string         `yaml:"gateway"`
			DNS             []string       `yaml:"dns"`
			CloudProperties map[string]any `yaml:"cloud_properties"`
		} `yaml:"subnets"`
	} `yaml:"networks"`
	InstanceGroups []struct {
		Networks []struct {
			Name      string   `yaml:"name"`
			StaticIPs []string `yaml:"static_ips"`
			Default   []string `yaml:"default"`
		} `yaml:"networks"`
	} `yaml:"instance_groups"`
	CloudProvider struct {
		Properties struct {
			NanoboxHcloud map[string]any `yaml:"nanobox_hcloud"`
			Agent         map[string]any `yaml:"agent"`
			NTP           []string       `yaml:"ntp"`
			Blobstore     map[string]any `yaml:"blobstore"`
		} `yaml:"properties"`
	} `yaml:"cloud_provider"`
}

// loadDocsExample reads the bosh.yml of docs/bosh-cpi.md with its
// variables filled in.
func loadDocsExample(t *testing.T) docsExample {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "bosh-cpi.md"))
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```yaml\n(# bosh.yml\n.*?)```").FindSubmatch(doc)
	require.NotNil(t, block, "docs/bosh-cpi.md has the create-env example (a yaml block starting # bosh.yml)")
	vars := map[string]string{"mbus_bootstrap_password": "secret", "hcloud_token": "TOKEN", "mbus_bootstrap_ssl": "{ca: CA, certificate: CERT, private_key: KEY}"}
	filled := regexp.MustCompile(`\(\(([a-z_]+)\)\)`).ReplaceAllFunc(block[1], func(m []byte) []byte {
		v, ok := vars[string(m[2:len(m)-2])]
		require.True(t, ok, "unknown variable %s", m)
		return []byte(v)
	})
	var ex docsExample
	dec := yaml.NewDecoder(bytes.NewReader(filled))
	require.NoError(t, dec.Decode(&ex))
	require.Len(t, ex.ResourcePools, 1)
	require.Len(t, ex.InstanceGroups, 1)
	return ex
}

// cliNetworks are create_vm's networks as bosh-cli builds them from the
// manifest (deployment/manifest: NetworkInterfaces, Network.Interface).
func (ex docsExample) cliNetworks(t *testing.T) map[string]any {
	out := map[string]any{}
	jobNets := ex.InstanceGroups[0].Networks
	for _, jn := range jobNets {
		for _, n := range ex.Networks {
			if n.Name != jn.Name {
				continue
			}
			iface := map[string]any{"type": n.Type, "cloud_properties": map[string]any{}}
			if n.Type == "manual" {
				sn := n.Subnets[0]
				_, ipNet, err := net.ParseCIDR(sn.Range)
				require.NoError(t, err)
				iface["gateway"], iface["dns"], iface["netmask"], iface["cloud_properties"] = sn.Gateway, sn.DNS, net.IP(ipNet.Mask).String(), sn.CloudProperties
			}
			if n.Type == "dynamic" && len(n.DNS) > 0 {
				iface["dns"] = n.DNS
			}
			if len(jn.StaticIPs) > 0 {
				iface["ip"] = jn.StaticIPs[0]
			}
			if len(jn.Default) > 0 {
				iface["default"] = jn.Default
			}
			out[jn.Name] = iface
		}
	}
	if len(jobNets) == 1 {
		out[jobNets[0].Name].(map[string]any)["default"] = []string{"dns", "gateway"}
	}
	return out
}

// TestTheDocsCreateEnvExampleGivesAnAgentThatCanStart renders the
// create-env example of docs/bosh-cpi.md: its cloud_provider properties
// become the CPI's config (as the job's template maps them), and create_vm
// is called as bosh-cli calls it. The user_data decodes strictly into the
// agent's settings, with a usable blobstore and the public network as the
// default gateway.
func TestTheDocsCreateEnvExampleGivesAnAgentThatCanStart(t *testing.T) {
	ex := loadDocsExample(t)
	f := newFixture(t)
	props := ex.CloudProvider.Properties
	raw, err := json.Marshal(map[string]any{"defaults": props.NanoboxHcloud["defaults"],
		"agent": map[string]any{"mbus": props.Agent["mbus"], "ntp": props.NTP, "blobstore": props.Blobstore}})
	require.NoError(t, err)
	var overlay config.Config
	require.NoError(t, json.Unmarshal(raw, &overlay))
	cfg := *f.cfg
	cfg.Defaults, cfg.Agent = overlay.Defaults, overlay.Agent
	f.cfg = &cfg
	for _, n := range ex.Networks {
		for _, sn := range n.Subnets {
			f.network(sn.CloudProperties["network"].(string), nil)
		}
	}
	agent := uuid.NewString()
	pool := ex.ResourcePools[0]
	_, err = f.call(2, protocol.MethodCreateVM, agent, strconv.FormatInt(f.ubuntuID(), 10), pool.CloudProperties, ex.cliNetworks(t), []string{}, pool.Env)
	require.NoError(t, err)
	s := f.strictSettings(bosh.ServerName(agent))

	assert.Equal(t, agent, s.AgentID)
	assert.Equal(t, "https://mbus:secret@0.0.0.0:6868", s.Mbus)
	assert.Equal(t, "CA", s.Env.Bosh.Mbus.Cert.CA, "the agent serves mbus with the manifest's certificate")
	store := s.blobstore()
	assert.Equal(t, "local", store.Type, "the agent runs bosh-blobstore-<provider>: a provider it has")
	assert.NotEmpty(t, store.Options["blobstore_path"], "a local blobstore needs its path")
	for _, category := range []string{"dns", "gateway"} {
		name, ok := s.Networks.defaultNetworkFor(category)
		require.True(t, ok, category)
		assert.Equal(t, "public", name)
	}
	assert.True(t, s.Networks["private"].UseDHCP, "the manual network takes its attached IP over DHCP")
	assert.Equal(t, "10.0.1.6", s.Networks["private"].IP)
	assert.NotEmpty(t, s.NTP)
}
