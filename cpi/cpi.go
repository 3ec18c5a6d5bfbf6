// Package cpi is the Hetzner Cloud implementation of the Nanobox methods
// behind the external-CPI protocol (package protocol).
//
// CPI is the per-call factory of protocol.NanoboxCPI: for each call it
// makes a nanoboxCall, whose account methods run on a *Hetzner built for
// the call's credentials. Dispatcher wires it (and the BOSH factory, when
// Env.Bosh is set) into a protocol.Dispatcher that bounds each call by
// timeouts.call_seconds.
package cpi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// Name is the CPI's name in info and in hcloud-go's User-Agent.
const Name = "nanobox-hcloud"

// CredentialKey is the one credential field: the Hetzner API token.
const CredentialKey = "api-token"

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

// StatusProvisioning is query_server's status for a server that runs but
// is not yet what was ordered (its backups are still being enabled), so an
// orchestrator polling until "active" keeps polling.
const StatusProvisioning = "provisioning"

// Env is everything a CPI depends on outside itself.
type Env struct {
	Config  *config.Config
	Version string
	Log     logrus.FieldLogger // already redacting
	Now     func() time.Time   // time.Now when nil

	// Bosh makes the factory of the BOSH methods from this Env (package
	// cpi/bosh; cmd/nanobox-hcloud-cpi sets it). nil: the BOSH methods
	// answer Bosh::Clouds::NotImplemented.
	Bosh func(Env) protocol.BoshFactory

	// Test seams: nil means production behaviour.
	HTTPClient   *http.Client
	RetryBackoff hcloud.BackoffFunc
}

// CPI serves the Nanobox methods for one process (one call).
type CPI struct {
	env Env
}

// New returns a CPI. env.Config must have been validated.
func New(env Env) *CPI {
	return &CPI{env: env.WithDefaults()}
}

// WithDefaults is env with what it leaves nil filled in: a logger that
// discards, time.Now and the default config. The BOSH CPI (cpi/bosh)
// shares it.
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
	Bosh       func(Env) protocol.BoshFactory // see Env.Bosh
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
	d := New(Env{Config: cfg, Version: p.Version, Log: entry, Bosh: p.Bosh}).Dispatcher(logField.String)
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

// Dispatcher returns the protocol dispatcher of this CPI; logField gives
// the response's log field.
func (c *CPI) Dispatcher(logField func() string) *protocol.Dispatcher {
	d := &protocol.Dispatcher{
		Name: Name, Version: c.env.Version, StemcellFormats: StemcellFormats,
		Nanobox: c, CallTimeout: c.env.Config.CallTimeout(), Log: logField,
	}
	if c.env.Bosh != nil {
		d.Bosh = c.env.Bosh(c.env)
	}
	return d
}

// offline are the methods answered without the account: no credentials
// needed (install_key only says no).
var offline = []string{protocol.MethodMeta, protocol.MethodCatalog, protocol.MethodInstallKey}

// NewNanobox is the per-call factory of the Nanobox methods: a call that
// needs the account gets a client for its token, or Unauthorized.
func (c *CPI) NewNanobox(call protocol.Call) (protocol.NanoboxCPI, error) {
	if slices.Contains(offline, call.Method) {
		return nanoboxCall{c, &Hetzner{}}, nil
	}
	token, perr := c.token(call.Context.Credentials)
	if perr != nil {
		return nil, perr
	}
	return nanoboxCall{c, c.hetzner(token, call.Method)}, nil
}

// nanoboxCall is the NanoboxCPI of one call: meta and catalog from the
// CPI, the rest on the call's account.
type nanoboxCall struct {
	*CPI
	*Hetzner
}

var _ protocol.NanoboxCPI = nanoboxCall{}

// token is the API token of a call: the api-token credential, else (when
// operator_token_for_calls) the config's token (which Load took from
// HCLOUD_TOKEN when the file has none).
func (c *CPI) token(creds protocol.Credentials) (string, *protocol.Error) {
	t := creds[CredentialKey]
	if t == "" && *c.env.Config.OperatorTokenForCalls {
		t = c.env.Config.Token
	}
	if t == "" {
		return "", protocol.NewError(protocol.Unauthorized, "no Hetzner API token: send the %q credential (header Auth-Api-Token)", CredentialKey)
	}
	if err := config.CheckToken(t); err != nil {
		return "", protocol.NewError(protocol.Unauthorized, "the Hetzner API token is malformed: %s", err.Error()).WithRetry(false)
	}
	return t, nil
}

// operatorToken is the token for the live catalog: the config's; "" when
// there is none.
func (c *CPI) operatorToken() string {
	return c.env.Config.Token
}

// newClient builds an hcloud client through options only. Retries and
// action polling run under the caller's context, so they end with the
// call's deadline.
func (c *CPI) newClient(token string) *hcloud.Client {
	return c.newClientVia(token, c.env.HTTPClient)
}

// newClientVia is newClient over httpClient (nil: the default).
func (c *CPI) newClientVia(token string, httpClient *http.Client) *hcloud.Client {
	backoff := c.env.RetryBackoff
	if backoff == nil {
		backoff = hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 250 * time.Millisecond, Multiplier: 2, Cap: 4 * time.Second, Jitter: true,
		})
	}
	opts := []hcloud.ClientOption{
		hcloud.WithToken(token),
		hcloud.WithEndpoint(c.env.Config.Endpoint),
		hcloud.WithApplication(Name, c.env.Version),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: backoff, MaxRetries: 3}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(c.env.Config.PollInterval())}),
	}
	if httpClient != nil {
		opts = append(opts, hcloud.WithHTTPClient(httpClient))
	}
	return hcloud.NewClient(opts...)
}

func (c *CPI) hetzner(token, method string) *Hetzner {
	log := c.env.Log.WithField("method", method)
	project := c.openProject(token, log)
	polls := c.pollingFor(project, log)
	client := c.newClientVia(token, polls.httpClient(c.env.HTTPClient))
	if polls.cache != nil {
		polls.cache.SetClient(client)
	}
	return &Hetzner{
		client: client,
		cfg:    c.env.Config,
		log:    log,
		state:  newStateStore(project),
		model:  c.localModel,
		polls:  polls,
	}
}
