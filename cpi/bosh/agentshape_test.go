package bosh_test

// The shape of the agent's settings, copied (field names, types and JSON
// tags only, no code) from bosh-agent's settings/settings.go
// (github.com/cloudfoundry/bosh-agent, commit e94765aa1): the document the
// agent decodes from the metadata service's user-data at start-up. The
// tests decode user_data into it with DisallowUnknownFields, so a key the
// agent would not read, or a misspelt one, fails them.

type agentSettings struct {
	AgentID   string         `json:"agent_id"`
	Blobstore agentBlobstore `json:"blobstore"`
	Disks     agentDisks     `json:"disks"`
	Env       agentEnv       `json:"env"`
	Networks  agentNetworks  `json:"networks"`
	NTP       []string       `json:"ntp"`
	Mbus      string         `json:"mbus"`
	VM        agentVM        `json:"vm"`
}

type agentBlobstore struct {
	Type    string                 `json:"provider"`
	Options map[string]interface{} `json:"options"`
}

type agentDisks struct {
	System       string                 `json:"system"`
	Ephemeral    interface{}            `json:"ephemeral"`
	Persistent   map[string]interface{} `json:"persistent"`
	RawEphemeral []agentDiskSettings    `json:"raw_ephemeral"`
}

type agentDiskSettings struct {
	ID             string
	DeviceID       string
	VolumeID       string
	Lun            string
	HostDeviceID   string
	Path           string
	ISCSISettings  agentISCSISettings
	FileSystemType string
	MountOptions   []string
	Partitioner    string
}

type agentISCSISettings struct {
	InitiatorName string
	Username      string
	Target        string
	Password      string
}

type agentVM struct {
	Name string `json:"name"`
}

type agentEnv struct {
	Bosh                       agentBoshEnv `json:"bosh"`
	PersistentDiskFS           string       `json:"persistent_disk_fs"`
	PersistentDiskMountOptions []string     `json:"persistent_disk_mount_options"`
	PersistentDiskPartitioner  string       `json:"persistent_disk_partitioner"`
}

type agentBoshEnv struct {
	Agent                 agentAgentEnv    `json:"agent"`
	Password              string           `json:"password"`
	KeepRootPassword      bool             `json:"keep_root_password"`
	RemoveDevTools        bool             `json:"remove_dev_tools"`
	RemoveStaticLibraries bool             `json:"remove_static_libraries"`
	AuthorizedKeys        []string         `json:"authorized_keys"`
	SwapSizeInMB          *uint64          `json:"swap_size"`
	Mbus                  agentMBus        `json:"mbus"`
	IPv6                  agentIPv6        `json:"ipv6"`
	JobDir                agentJobDir      `json:"job_dir"`
	RunDir                agentRunDir      `json:"run_dir"`
	Blobstores            []agentBlobstore `json:"blobstores"`
	NTP                   []string         `json:"ntp,omitempty"`
	Parallel              *int             `json:"parallel"`
}

type agentAgentEnv struct {
	Settings agentAgentSettings `json:"settings"`
}

type agentAgentSettings struct {
	TmpFS bool `json:"tmpfs"`
}

type agentMBus struct {
	Cert agentCertKeyPair `json:"cert"`
	URLs []string         `json:"urls"`
}

type agentCertKeyPair struct {
	CA          string `json:"ca"`
	PrivateKey  string `json:"private_key"`
	Certificate string `json:"certificate"`
}

type agentIPv6 struct {
	Enable bool `json:"enable"`
}

type agentJobDir struct {
	TmpFS     bool   `json:"tmpfs"`
	TmpFSSize string `json:"tmpfs_size"`
}

type agentRunDir struct {
	TmpFSSize string `json:"tmpfs_size"`
}

type agentRoute struct {
	Destination string
	Gateway     string
	Netmask     string
}

type agentNetwork struct {
	Type          string       `json:"type"`
	IP            string       `json:"ip"`
	Netmask       string       `json:"netmask"`
	Gateway       string       `json:"gateway"`
	Prefix        string       `json:"prefix"`
	Resolved      bool         `json:"resolved"`
	UseDHCP       bool         `json:"use_dhcp"`
	Default       []string     `json:"default"`
	DNS           []string     `json:"dns"`
	Mac           string       `json:"mac"`
	Preconfigured bool         `json:"preconfigured"`
	Routes        []agentRoute `json:"routes,omitempty"`
	Alias         string       `json:"alias,omitempty"`
}

type agentNetworks map[string]agentNetwork

// blobstore is the agent's choice (settings.GetBlobstore): the env's
// first, else the top-level one.
func (s agentSettings) blobstore() agentBlobstore {
	if len(s.Env.Bosh.Blobstores) > 0 {
		return s.Env.Bosh.Blobstores[0]
	}
	return s.Blobstore
}

// defaultNetworkFor is the network the agent takes for a category
// (settings.Networks.DefaultNetworkFor): the only one, else the one whose
// default lists it.
func (n agentNetworks) defaultNetworkFor(category string) (string, bool) {
	if len(n) == 1 {
		for name := range n {
			return name, true
		}
	}
	for name, net := range n {
		for _, d := range net.Default {
			if d == category {
				return name, true
			}
		}
	}
	return "", false
}
