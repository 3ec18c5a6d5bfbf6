package config

import (
	"net/url"
	"strings"
)

// Agent holds the BOSH agent settings that the BOSH CPI methods write into
// a new VM's user_data, named as other CPIs name them (agent.mbus, ntp,
// blobstore). The Nanobox methods do not read them. A create_vm env with
// bosh.mbus.urls, bosh.ntp or bosh.blobstores overrides them on the agent.
type Agent struct {
	// The URL the agent serves (https://mbus:PASSWORD@0.0.0.0:6868 under
	// bosh create-env) or connects to (nats://... under a director).
	// Required by create_vm, nothing else.
	Mbus string `json:"mbus"`
	// The NTP servers the agent configures.
	NTP []string `json:"ntp"`
	// The agent's blobstore; an empty provider leaves the key out of the
	// settings (current manifests pass env.bosh.blobstores).
	Blobstore Blobstore `json:"blobstore"`
}

// Blobstore is the agent's blobstore: a provider (local, dav, s3, gcs ...)
// and its options.
type Blobstore struct {
	// The blobstore's provider: local, dav, s3, gcs ...
	Provider string `json:"provider"`
	// The provider's options, passed to the agent as they are.
	Options map[string]any `json:"options"`
}

func (a *Agent) applyDefaults() {
	if a.NTP == nil {
		a.NTP = []string{}
	}
	if a.Blobstore.Options == nil {
		a.Blobstore.Options = map[string]any{}
	}
}

// validate adds the problems of the agent section.
func (a *Agent) validate(add func(format string, args ...any)) {
	if a.Mbus != "" {
		u, err := url.Parse(a.Mbus)
		if err != nil || (u.Scheme != "https" && u.Scheme != "nats") || u.Host == "" {
			add("agent.mbus: must be an https:// or nats:// URL")
		}
	}
	for i, s := range a.NTP {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t\n") {
			add("agent.ntp[%d]: %q is not a host name or address", i, s)
		}
	}
	if a.Blobstore.Provider == "" && len(a.Blobstore.Options) > 0 {
		add("agent.blobstore.options: set without agent.blobstore.provider")
	}
}
