package bosh

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// MaxUserData is Hetzner's limit on a server's user_data.
const MaxUserData = 32 * 1024

// AgentSettings is the document the BOSH agent reads from the metadata
// service's user-data (registry-less). Its field names and JSON tags follow
// bosh-agent's settings.Settings (github.com/cloudfoundry/bosh-agent,
// settings/settings.go): the agent's id, how to reach the director (mbus),
// NTP, blobstore, networks, disks and the create_vm env, verbatim (the
// agent decodes the parts of env it knows; a newer agent may know more).
type AgentSettings struct {
	AgentID   string                  `json:"agent_id"`
	Blobstore *AgentBlobstore         `json:"blobstore,omitempty"`
	Disks     AgentDisks              `json:"disks"`
	Env       json.RawMessage         `json:"env"`
	Networks  map[string]AgentNetwork `json:"networks"`
	NTP       []string                `json:"ntp"`
	Mbus      string                  `json:"mbus"`
	VM        AgentVM                 `json:"vm"`
}

// AgentVM names the VM; the server's name stands in for its id, which does
// not exist when user_data is written.
type AgentVM struct {
	Name string `json:"name"`
}

// AgentBlobstore is the agent's blobstore (settings.Blobstore).
type AgentBlobstore struct {
	Provider string         `json:"provider"`
	Options  map[string]any `json:"options"`
}

// AgentDisks (settings.Disks): a Hetzner server has one local disk, so
// there is no ephemeral disk (the stemcell's agent.json sets
// CreatePartitionIfNoEphemeralDisk); persistent disks arrive later through
// attach_disk's hint and the agent's add_persistent_disk.
type AgentDisks struct {
	System     string         `json:"system"`
	Ephemeral  *string        `json:"ephemeral"`
	Persistent map[string]any `json:"persistent"`
}

// AgentNetwork is one network as the agent configures it
// (settings.Network). A manual network has use_dhcp: Hetzner's private
// network hands the server the IP it was attached with over DHCP, and its
// NIC's MAC is not known before the server exists, so the agent could not
// match the network to a NIC for a static configuration.
type AgentNetwork struct {
	Type          string   `json:"type"`
	IP            string   `json:"ip"`
	Netmask       string   `json:"netmask"`
	Gateway       string   `json:"gateway"`
	Prefix        string   `json:"prefix,omitempty"`
	UseDHCP       bool     `json:"use_dhcp"`
	Default       []string `json:"default"`
	DNS           []string `json:"dns"`
	Mac           string   `json:"mac"`
	Preconfigured bool     `json:"preconfigured"`
}

// defaultGateway is what a network that carries the default route and DNS
// lists in its default.
var defaultGateway = []string{"dns", "gateway"}

// inputNetwork is a create_vm network as the director or the CLI sends it
// (the keys the agent reads; cloud_properties is the CPI's).
type inputNetwork struct {
	Type    string          `json:"type"`
	IP      string          `json:"ip"`
	Netmask string          `json:"netmask"`
	Gateway string          `json:"gateway"`
	Prefix  json.RawMessage `json:"prefix"`
	DNS     []string        `json:"dns"`
	Default []string        `json:"default"`
	Mac     string          `json:"mac"`
}

// agentNetworks turns create_vm's networks into the agent's. Manual
// networks get use_dhcp. When there is a dynamic network (the server's
// public NIC, which holds the default route on Hetzner), it is the default
// for DNS and the gateway and no other network is; without one, the
// networks keep the defaults they were given.
func agentNetworks(op string, networks map[string]json.RawMessage) (map[string]AgentNetwork, error) {
	out := make(map[string]AgentNetwork, len(networks))
	public := ""
	for _, name := range sortedKeys(networks) {
		var in inputNetwork
		if err := json.Unmarshal(networks[name], &in); err != nil {
			return nil, newError(CpiError, "%s: network %q: %s", op, name, protocol.DescribeJSONError(err))
		}
		n := AgentNetwork{Type: in.Type, IP: in.IP, Netmask: in.Netmask, Gateway: in.Gateway, Prefix: prefixString(in.Prefix),
			Default: in.Default, DNS: in.DNS, Mac: in.Mac}
		switch in.Type {
		case "dynamic":
			if public == "" {
				public = name
			}
		case "manual", "":
			n.Type = "manual"
			n.UseDHCP = true
		}
		if n.Default == nil {
			n.Default = []string{}
		}
		if n.DNS == nil {
			n.DNS = []string{}
		}
		out[name] = n
	}
	if public != "" {
		for name, n := range out {
			n.Default = []string{}
			if name == public {
				n.Default = append([]string{}, defaultGateway...)
			}
			out[name] = n
		}
	}
	return out, nil
}

// prefixString is a network's prefix, sent as a string or a number.
func prefixString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// envBlobstores are the blobstores a create_vm env names
// (env.bosh.blobstores), which the agent prefers to the top-level one.
func envBlobstores(op string, env json.RawMessage) (int, error) {
	var e struct {
		Bosh struct {
			Blobstores []AgentBlobstore `json:"blobstores"`
		} `json:"bosh"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return 0, newError(CpiError, "%s: env: %s", op, protocol.DescribeJSONError(err))
	}
	for i, b := range e.Bosh.Blobstores {
		if strings.TrimSpace(b.Provider) == "" {
			return 0, newError(CpiError, "%s: env.bosh.blobstores[%d] has no provider", op, i)
		}
	}
	return len(e.Bosh.Blobstores), nil
}

// agentSettings builds the user_data of a new VM. It fails (CpiError) when
// agent.mbus is not configured, when the agent would have no blobstore
// (neither env.bosh.blobstores nor the config's agent.blobstore: the
// agent cannot start without one), or when the document exceeds
// MaxUserData.
func (c *CPI) agentSettings(op, agentID, serverName string, networks map[string]json.RawMessage, env json.RawMessage) (string, error) {
	a := c.cfg.Agent
	if a.Mbus == "" {
		return "", newError(CpiError, "%s: the CPI config has no agent.mbus (the URL the agent serves or connects to); set the job property agent.mbus", op)
	}
	if env = bytes.TrimSpace(env); len(env) == 0 || string(env) == "null" {
		env = json.RawMessage("{}")
	}
	stores, err := envBlobstores(op, env)
	if err != nil {
		return "", err
	}
	if stores == 0 && a.Blobstore.Provider == "" {
		return "", newError(CpiError, "%s: the agent would have no blobstore and could not start: set env.bosh.blobstores in the resource pool or vm_extension (create-env: [{provider: local, options: {blobstore_path: /var/vcap/micro_bosh/data/cache}}]) or the job property blobstore.provider", op)
	}
	nets, err := agentNetworks(op, networks)
	if err != nil {
		return "", err
	}
	s := AgentSettings{
		AgentID:  agentID,
		VM:       AgentVM{Name: serverName},
		Mbus:     a.Mbus,
		NTP:      append([]string{}, a.NTP...),
		Networks: nets,
		Disks:    AgentDisks{System: "/dev/sda", Persistent: map[string]any{}},
		Env:      env,
	}
	if a.Blobstore.Provider != "" {
		s.Blobstore = &AgentBlobstore{Provider: a.Blobstore.Provider, Options: a.Blobstore.Options}
	}
	data, err := json.Marshal(s)
	if err != nil {
		return "", newError(CpiError, "%s: the agent settings cannot be encoded: %v", op, err)
	}
	if len(data) > MaxUserData {
		return "", newError(CpiError, "%s: the agent settings are %d bytes, more than the %d bytes Hetzner's user_data holds; shorten the env", op, len(data), MaxUserData)
	}
	return string(data), nil
}
