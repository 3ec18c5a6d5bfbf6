// Package nanobox is the Hetzner Cloud implementation of the Nanobox
// methods behind the external-CPI protocol (package protocol), on the
// shared core of package cpi.
//
// CPI is the per-call factory of protocol.NanoboxCPI: for each call it
// makes a nanoboxCall, whose account methods run on a *Hetzner built for
// the call's credentials. cmd/nanobox-hcloud-cpi registers it with
// cpi.Process.
package nanobox

import (
	"net/http"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// CredentialKey is the one credential field: the Hetzner API token.
const CredentialKey = "api-token"

// StatusProvisioning is query_server's status for a server that runs but
// is not yet what was ordered (its backups are still being enabled), so an
// orchestrator polling until "active" keeps polling.
const StatusProvisioning = "provisioning"

// CPI serves the Nanobox methods for one process (one call).
type CPI struct {
	env cpi.Env
}

// New returns a CPI. env.Config must have been validated.
func New(env cpi.Env) *CPI {
	return &CPI{env: env.WithDefaults()}
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
	return cpi.Client{
		Token: token, Endpoint: c.env.Config.Endpoint, Application: cpi.Name, Version: c.env.Version,
		Retries: 3, Backoff: backoff, Poll: c.env.Config.PollInterval(), HTTPClient: httpClient,
	}.New()
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
