package bosh

import (
	"encoding/json"
)

// MaxUserData is Hetzner's limit on a server's user_data.
const MaxUserData = 32 * 1024

// AgentSettings is the document the BOSH agent reads from the metadata
// service's user-data (registry-less, bosh-agent's settings.Settings): the
// agent's id, how to reach the director (mbus), NTP, blobstore, networks,
// disks and the create_vm env, verbatim.
type AgentSettings struct {
	AgentID   string                     `json:"agent_id"`
	VM        AgentVM                    `json:"vm"`
	Mbus      string                     `json:"mbus"`
	NTP       []string                   `json:"ntp"`
	Blobstore *AgentBlobstore            `json:"blobstore,omitempty"`
	Networks  map[string]json.RawMessage `json:"networks"`
	Disks     AgentDisks                 `json:"disks"`
	Env       json.RawMessage            `json:"env"`
}

// AgentVM names the VM; the server's name stands in for its id, which does
// not exist when user_data is written.
type AgentVM struct {
	Name string `json:"name"`
}

// AgentBlobstore is the agent's blobstore.
type AgentBlobstore struct {
	Provider string         `json:"provider"`
	Options  map[string]any `json:"options"`
}

// AgentDisks: a Hetzner server has one local disk, so there is no ephemeral
// disk (the stemcell's agent.json sets CreatePartitionIfNoEphemeralDisk);
// persistent disks arrive later through attach_disk and the agent's
// add_persistent_disk.
type AgentDisks struct {
	System     string         `json:"system"`
	Ephemeral  *string        `json:"ephemeral"`
	Persistent map[string]any `json:"persistent"`
}

// agentSettings builds the user_data of a new VM. It fails (CpiError) when
// agent.mbus is not configured or the document exceeds MaxUserData.
func (c *CPI) agentSettings(op, agentID, serverName string, networks map[string]json.RawMessage, env json.RawMessage) (string, error) {
	a := c.cfg.Agent
	if a.Mbus == "" {
		return "", newError(CpiError, "%s: the CPI config has no agent.mbus (the URL the agent serves or connects to); set the job property agent.mbus", op)
	}
	if len(env) == 0 || string(env) == "null" {
		env = json.RawMessage("{}")
	}
	s := AgentSettings{
		AgentID:  agentID,
		VM:       AgentVM{Name: serverName},
		Mbus:     a.Mbus,
		NTP:      append([]string{}, a.NTP...),
		Networks: networks,
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
