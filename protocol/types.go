package protocol

// KeyBody is the body of POST /keys and PATCH /servers/{id}/keys. Older
// clients sent the key's name as "name" instead of "id".
type KeyBody struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Key  string `json:"key"`
}

// KeyName is the key's user-friendly name: ID, else Name.
func (k KeyBody) KeyName() string {
	if k.ID != "" {
		return k.ID
	}
	return k.Name
}

// OrderServerBody is the body of POST /servers. UserData and Labels are
// not in the Nanobox spec (the shim never sends them): the libcloud driver
// and the Vagrant provider send the user's cloud-init, which the CPI
// combines with its own, and extra labels for the server.
type OrderServerBody struct {
	Name     string            `json:"name"`
	Region   string            `json:"region"`
	Size     string            `json:"size"`
	SSHKey   string            `json:"ssh_key"`
	Config   map[string]any    `json:"config,omitempty"`
	UserData string            `json:"user_data,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// RenameBody is the body of PATCH /servers/{id}/rename.
type RenameBody struct {
	Name string `json:"name"`
}

// ConfigBody is the body of PATCH /servers/{id}/config: setting key to value.
type ConfigBody map[string]any

// IDResult is the result of create_key and order_server.
type IDResult struct {
	ID string `json:"id"`
}

// Key is the result of query_key.
type Key struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

// Server is the result of query_server. ExternalIP is "" for a server with
// one NIC (rule 4 of the spec: that NIC is reported as internal).
type Server struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Name       string         `json:"name"`
	ExternalIP string         `json:"external_ip"`
	InternalIP string         `json:"internal_ip"`
	Config     map[string]any `json:"config"`
}

// CredentialField is one entry of meta's credential_fields; Key is the
// header suffix (Auth-<Key>) without the prefix.
type CredentialField struct {
	Key   string `json:"key"`
	Label string `json:"label"`
}

// ConfigValue is one allowed value of an enum or list config field.
type ConfigValue struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// ConfigField is one entry of meta's config_fields.
type ConfigField struct {
	Key         string        `json:"key"`
	Label       string        `json:"label"`
	Description string        `json:"description"`
	Type        string        `json:"type,omitempty"` // text, enum or list
	Values      []ConfigValue `json:"values,omitempty"`
	Default     string        `json:"default,omitempty"`
	Rebuild     bool          `json:"rebuild"`
}

// Meta is the result of meta.
type Meta struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	ServerNickName   string            `json:"server_nick_name"`
	DefaultRegion    string            `json:"default_region"`
	DefaultSize      string            `json:"default_size"`
	DefaultPlan      string            `json:"default_plan"`
	CanReboot        bool              `json:"can_reboot"`
	CanRename        bool              `json:"can_rename"`
	InternalIface    string            `json:"internal_iface"`
	ExternalIface    string            `json:"external_iface"`
	SSHUser          string            `json:"ssh_user"`
	SSHAuthMethod    string            `json:"ssh_auth_method"`
	SSHKeyMethod     string            `json:"ssh_key_method"`
	BootstrapScript  string            `json:"bootstrap_script"`
	BootstrapTimeout int               `json:"bootstrap_timeout,omitempty"` // seconds
	CredentialFields []CredentialField `json:"credential_fields"`
	ConfigFields     []ConfigField     `json:"config_fields"`
	Instructions     string            `json:"instructions"`
	// Version is the adapter's version (--version's), an addition to the
	// spec's fields as bootstrap_timeout is: clients that do not know it
	// ignore it.
	Version string `json:"version,omitempty"`
}

// Region, Plan and Spec make up the result of catalog: an array of regions.
type Region struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Plans []Plan `json:"plans"`
}

// Plan is a family of server sizes within a region.
type Plan struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Specs []Spec `json:"specs"`
}

// Spec is one orderable (or retired, and so named) server size.
type Spec struct {
	ID           string  `json:"id"`
	RAM          int     `json:"ram"`      // MB
	CPU          int     `json:"cpu"`      // cores
	Disk         int     `json:"disk"`     // GB
	Transfer     int     `json:"transfer"` // TB per month
	DollarsPerHr float64 `json:"dollars_per_hr"`
	DollarsPerMo float64 `json:"dollars_per_mo"`
}

// Info is the result of info. BOSH reads api_version and
// stemcell_formats (the CLI fails when stemcell_formats is not an array);
// Nanobox tools read the rest.
type Info struct {
	APIVersion      int      `json:"api_version"`
	Name            string   `json:"name"`
	Version         string   `json:"version"`
	Methods         []string `json:"methods"`
	StemcellFormats []string `json:"stemcell_formats"`
}
