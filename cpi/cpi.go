// Package cpi is the Hetzner Cloud implementation of the Nanobox methods
// behind the external-CPI protocol (package protocol).
//
// Each capability is one interface (Metadata, CatalogSource, Account, Keys,
// Servers); Methods builds the protocol's method table from them, and
// Dispatcher wraps that table for cmd/nanobox-hcloud-cpi. Methods that need
// the cloud get a *Hetzner built for the call's credentials, under the
// call's deadline (timeouts.call_seconds).
package cpi

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Name is the CPI's name in info and in hcloud-go's User-Agent.
const Name = "nanobox-hcloud"

// CredentialKey is the one credential field: the Hetzner API token.
const CredentialKey = "api-token"

// Ownership labels, set on everything the adapter creates.
const (
	LabelNanobox   = "nanobox"
	LabelManagedBy = "managed-by"
	ManagedByValue = "nanobox-hcloud"
)

// LabelBackups records on a server whether Nanobox wants its backups on
// ("enabled" or "disabled"): order_server sets it at create time (Hetzner's
// create cannot enable backups, and a new server is locked by its create
// action for a while), update_config keeps it in step, and query_server
// enables backups on a running server whose label asks for them.
const LabelBackups = "nanobox-backups"

// StatusProvisioning is query_server's status for a server that runs but
// is not yet what was ordered (its backups are still being enabled), so an
// orchestrator polling until "active" keeps polling.
const StatusProvisioning = "provisioning"

// Metadata answers meta (no API call).
type Metadata interface {
	Meta() (protocol.Meta, error)
}

// CatalogSource answers catalog.
type CatalogSource interface {
	Catalog(ctx context.Context) ([]protocol.Region, error)
}

// Account answers verify.
type Account interface {
	Verify(ctx context.Context) error
}

// Keys manages SSH keys (the "reference" key method).
type Keys interface {
	CreateKey(ctx context.Context, body protocol.KeyBody) (protocol.IDResult, error)
	QueryKey(ctx context.Context, id string) (protocol.Key, error)
	DeleteKey(ctx context.Context, id string) error
}

// Servers manages servers.
type Servers interface {
	OrderServer(ctx context.Context, body protocol.OrderServerBody) (protocol.IDResult, error)
	QueryServer(ctx context.Context, id string) (protocol.Server, error)
	CancelServer(ctx context.Context, id string) error
	RebootServer(ctx context.Context, id string) error
	RenameServer(ctx context.Context, id string, body protocol.RenameBody) error
	UpdateConfig(ctx context.Context, id string, body protocol.ConfigBody) error
	InstallKey(ctx context.Context, id string, body protocol.KeyBody) error
}

// Env is everything a CPI depends on outside itself.
type Env struct {
	Config  *config.Config
	Version string
	Getenv  func(string) string // os.Getenv in production
	Log     logrus.FieldLogger  // already redacting
	Now     func() time.Time    // time.Now when nil

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
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
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
	return &CPI{env: env}
}

// Dispatcher returns the protocol dispatcher over Methods; logField gives
// the response's log field.
func (c *CPI) Dispatcher(logField func() string) *protocol.Dispatcher {
	return &protocol.Dispatcher{Name: Name, Version: c.env.Version, Methods: c.Methods(), Log: logField}
}

// Methods is the method table: one handler per protocol method.
func (c *CPI) Methods() map[string]protocol.Handler {
	return map[string]protocol.Handler{
		protocol.MethodMeta: func(context.Context, protocol.Call) (any, error) {
			return c.Meta()
		},
		protocol.MethodCatalog: func(ctx context.Context, _ protocol.Call) (any, error) {
			ctx, cancel := c.deadline(ctx)
			defer cancel()
			return c.Catalog(ctx)
		},
		protocol.MethodVerify: c.cloud(func(ctx context.Context, h *Hetzner, _ protocol.Call) (any, error) {
			return nil, h.Verify(ctx)
		}),
		protocol.MethodCreateKey: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			var body protocol.KeyBody
			if err := call.DecodeBody(&body); err != nil {
				return nil, err
			}
			return h.CreateKey(ctx, body)
		}),
		protocol.MethodQueryKey: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			return h.QueryKey(ctx, call.Params[0])
		}),
		protocol.MethodDeleteKey: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			return nil, h.DeleteKey(ctx, call.Params[0])
		}),
		protocol.MethodOrderServer: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			var body protocol.OrderServerBody
			if err := call.DecodeBody(&body); err != nil {
				return nil, err
			}
			return h.OrderServer(ctx, body)
		}),
		protocol.MethodQueryServer: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			return h.QueryServer(ctx, call.Params[0])
		}),
		protocol.MethodCancelServer: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			return nil, h.CancelServer(ctx, call.Params[0])
		}),
		protocol.MethodInstallKey: func(ctx context.Context, call protocol.Call) (any, error) {
			// No credentials or client needed to say no.
			return nil, (&Hetzner{}).InstallKey(ctx, call.Params[0], protocol.KeyBody{})
		},
		protocol.MethodUpdateConfig: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			var body protocol.ConfigBody
			if err := call.DecodeBody(&body); err != nil {
				return nil, err
			}
			return nil, h.UpdateConfig(ctx, call.Params[0], body)
		}),
		protocol.MethodRebootServer: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			return nil, h.RebootServer(ctx, call.Params[0])
		}),
		protocol.MethodRenameServer: c.cloud(func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error) {
			var body protocol.RenameBody
			if err := call.DecodeBody(&body); err != nil {
				return nil, err
			}
			return nil, h.RenameServer(ctx, call.Params[0], body)
		}),
	}
}

// cloudHandler is a handler that needs the Hetzner API.
type cloudHandler func(ctx context.Context, h *Hetzner, call protocol.Call) (any, error)

// cloud wraps a cloudHandler: it resolves the call's token, builds the
// client and runs the handler under the call's deadline.
func (c *CPI) cloud(fn cloudHandler) protocol.Handler {
	return func(ctx context.Context, call protocol.Call) (any, error) {
		token, perr := c.token(call.Context.Credentials)
		if perr != nil {
			return nil, perr
		}
		ctx, cancel := c.deadline(ctx)
		defer cancel()
		h := c.hetzner(token, call.Method)
		return fn(ctx, h, call)
	}
}

// deadline bounds one call by timeouts.call_seconds.
func (c *CPI) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.env.Config.CallTimeout())
}

// token is the API token of a call: the api-token credential, else (when
// operator_token_for_calls) the config's token, else HCLOUD_TOKEN.
func (c *CPI) token(creds protocol.Credentials) (string, *protocol.Error) {
	t := creds[CredentialKey]
	if t == "" && *c.env.Config.OperatorTokenForCalls {
		t = c.env.Config.Token
		if t == "" {
			t = c.env.Getenv("HCLOUD_TOKEN")
		}
	}
	if t == "" {
		return "", protocol.NewError(protocol.Unauthorized, "no Hetzner API token: send the %q credential (header Auth-Api-Token)", CredentialKey)
	}
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return "", protocol.NewError(protocol.Unauthorized, "the Hetzner API token contains characters no token has (white space or non-ASCII)")
		}
	}
	return t, nil
}

// operatorToken is the token for the live catalog: the config's, else
// HCLOUD_TOKEN; "" when there is none.
func (c *CPI) operatorToken() string {
	if c.env.Config.Token != "" {
		return c.env.Config.Token
	}
	return c.env.Getenv("HCLOUD_TOKEN")
}

// newClient builds an hcloud client through options only. Retries and
// action polling run under the caller's context, so they end with the
// call's deadline.
func (c *CPI) newClient(token string) *hcloud.Client {
	backoff := c.env.RetryBackoff
	if backoff == nil {
		backoff = hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 250 * time.Millisecond, Multiplier: 2, Cap: 4 * time.Second, Jitter: true,
		})
	}
	opts := []hcloud.ClientOption{
		hcloud.WithToken(token),
		hcloud.WithEndpoint(c.env.Config.ResolvedEndpoint(c.env.Getenv)),
		hcloud.WithApplication(Name, c.env.Version),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: backoff, MaxRetries: 3}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(c.env.Config.PollInterval())}),
	}
	if c.env.HTTPClient != nil {
		opts = append(opts, hcloud.WithHTTPClient(c.env.HTTPClient))
	}
	return hcloud.NewClient(opts...)
}

func (c *CPI) hetzner(token, method string) *Hetzner {
	return &Hetzner{
		client: c.newClient(token),
		cfg:    c.env.Config,
		log:    c.env.Log.WithField("method", method),
		state:  newStateStore(c.env.Config.ResolvedStateDir(c.env.Getenv), c.env.Config.ResolvedEndpoint(c.env.Getenv), token),
		model:  c.localModel,
	}
}
