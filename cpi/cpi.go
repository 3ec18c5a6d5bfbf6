// Package cpi is the Hetzner core that both method families share: the
// environment of a call (Env), the binary's per-request set-up (Process:
// config, redaction, logging, the dispatcher), the construction of hcloud
// clients, the one ownership rule (ownership.go) and the one mapping of
// hcloud errors to protocol errors (errors.go).
//
// The methods themselves live beside it: the Nanobox methods in
// cpi/nanobox, the BOSH methods in cpi/bosh. Neither imports the other;
// cmd/nanobox-hcloud-cpi registers both with Process.
package cpi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// Name is the CPI's name in info and in hcloud-go's User-Agent.
const Name = "nanobox-hcloud"

// Ownership labels, set on everything the adapter creates.
const (
	LabelNanobox   = config.LabelNanobox
	LabelManagedBy = config.LabelManagedBy
	ManagedByValue = "nanobox-hcloud"
)

// LabelBackups records on a server whether Nanobox wants its backups on
// ("enabled" or "disabled"): order_server sets it at create time (Hetzner's
// create cannot enable backups, and a new server is locked by its create
// action for a while), update_config writes it before it switches, and
// query_server converges a running server to it, both ways: the label is
// the last acknowledged wish (see backups.go).
const LabelBackups = config.LabelBackups

// Env is everything a CPI depends on outside itself.
type Env struct {
	Config  *config.Config
	Version string
	Log     logrus.FieldLogger // already redacting
	Now     func() time.Time   // time.Now when nil

	// Test seams: nil means production behaviour.
	HTTPClient   *http.Client
	RetryBackoff hcloud.BackoffFunc
}

// WithDefaults is env with what it leaves nil filled in: a logger that
// discards, time.Now and the default config.
func (env Env) WithDefaults() Env {
	if env.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		env.Log = l
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Config == nil {
		env.Config = config.Default()
	}
	return env
}

// Process is one run of the CPI binary: where its config is, and what it
// may use besides stdin and stdout.
type Process struct {
	ConfigPath string // "" for the defaults
	Version    string
	Getenv     func(string) string // os.Getenv in production; read by config.Load
	Stderr     io.Writer
	// Nanobox and Bosh make the factories of the two method families from
	// the call's Env (packages cpi/nanobox and cpi/bosh). nil: that
	// family is not served (see protocol.Dispatcher).
	Nanobox func(Env) protocol.NanoboxFactory
	Bosh    func(Env) protocol.BoshFactory
}

// Setup is the binary's protocol.Setup. It redacts every secret it can
// know of (the call's credentials, the secrets of a director's cpi-config
// in the request's context, and the config's, HCLOUD_TOKEN being folded
// into its token at load; see configSecrets) from stderr, the response's
// log field and the response; it logs to stderr and the log field with the
// request id, loads the config and returns the CPI's dispatcher. A config
// that does not load is an InternalError (which a BOSH method answers as
// Bosh::Clouds::CloudError; see protocol.ServeOnce).
func (p Process) Setup(_ context.Context, rc protocol.Context) (*protocol.Dispatcher, error) {
	secrets := redact.New(rc.Credentials.Values()...)
	secrets.Add(contextSecrets(rc.Raw)...)
	logField := &redact.Buffer{}
	log := logrus.New()
	log.SetOutput(io.MultiWriter(redact.NewWriter(p.Stderr, secrets), redact.NewWriter(logField, secrets)))
	log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	log.SetLevel(logrus.InfoLevel)

	cfg, err := config.Load(p.ConfigPath, p.Getenv)
	if cfg != nil {
		secrets.Add(configSecrets(cfg)...)
	} else {
		secrets.Add(p.unloadedSecrets()...)
	}
	if err != nil {
		log.WithError(err).Error("invalid CPI config")
		d := &protocol.Dispatcher{Log: logField.String, Redact: secrets.String}
		return d, protocol.NewError(protocol.InternalError, "CPI config: %s", err.Error())
	}
	entry := log.WithField("cpi", Name)
	if rc.RequestID != "" {
		entry = entry.WithField("request_id", protocol.Truncate(rc.RequestID, 64))
	}
	env := Env{Config: cfg, Version: p.Version, Log: entry}.WithDefaults()
	d := env.Dispatcher(logField.String)
	if p.Nanobox != nil {
		d.Nanobox = p.Nanobox(env)
	}
	if p.Bosh != nil {
		d.Bosh = p.Bosh(env)
	}
	d.Redact = secrets.String
	return d, nil
}

// configSecrets are the secrets of a config: the API token and the
// password in the agent's mbus URL.
func configSecrets(cfg *config.Config) []string {
	out := []string{cfg.Token}
	if u, err := url.Parse(cfg.Agent.Mbus); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	return out
}

// contextSecrets are the secrets of a config-shaped JSON object read
// leniently: the config keys a director's cpi-config merges into a
// request's context (token, agent.mbus), or a config file that does not
// load. A value of the wrong type is no secret, and the rest is still read.
func contextSecrets(raw []byte) []string {
	var c config.Config
	_ = json.Unmarshal(raw, &c) // a type error still fills the other fields
	return configSecrets(&c)
}

// unloadedSecrets are the secrets of a config that did not load: those of
// its file as far as it reads, and $HCLOUD_TOKEN.
func (p Process) unloadedSecrets() []string {
	var out []string
	if p.ConfigPath != "" {
		if data, err := os.ReadFile(p.ConfigPath); err == nil {
			out = contextSecrets(data)
		}
	}
	if p.Getenv != nil {
		out = append(out, p.Getenv(config.TokenEnv))
	}
	return out
}

// StemcellFormats are the stemcells this CPI takes (info's
// stemcell_formats): light stemcells naming an existing Hetzner image.
var StemcellFormats = []string{"hetzner-light"}

// Dispatcher returns a dispatcher of this CPI with neither family
// registered: the caller sets Nanobox and Bosh. logField gives the
// response's log field.
func (env Env) Dispatcher(logField func() string) *protocol.Dispatcher {
	return &protocol.Dispatcher{
		Name: Name, Version: env.Version, StemcellFormats: StemcellFormats,
		CallTimeout: env.Config.CallTimeout(), Log: logField,
	}
}

// Client is what an hcloud client is built from; the two families differ
// only in these values.
type Client struct {
	Token       string
	Endpoint    string
	Application string // the User-Agent's application name
	Version     string
	Retries     int                // retries of a failed request (never of a locked one)
	Backoff     hcloud.BackoffFunc // between retries
	Poll        time.Duration      // between polls of an action
	HTTPClient  *http.Client       // nil: hcloud-go's default
}

// New builds the client through options only. Retries and action polling
// run under the caller's context, so they end with the call's deadline.
func (c Client) New() *hcloud.Client {
	opts := []hcloud.ClientOption{
		hcloud.WithToken(c.Token),
		hcloud.WithEndpoint(c.Endpoint),
		hcloud.WithApplication(c.Application, c.Version),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: c.Backoff, MaxRetries: c.Retries}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(c.Poll)}),
	}
	if c.HTTPClient != nil {
		opts = append(opts, hcloud.WithHTTPClient(c.HTTPClient))
	}
	return hcloud.NewClient(opts...)
}
