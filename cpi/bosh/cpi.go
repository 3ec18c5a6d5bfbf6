// Package bosh is the BOSH CPI (API v2; at v1 the persistent-disk methods
// refuse, see boshCall.needV2) on Hetzner Cloud: stemcells
// are existing Hetzner images (light stemcells), VMs are servers that get
// the agent settings in user_data, and persistent disks are Hetzner
// Volumes.
//
// Factory is the protocol.BoshFactory: each call gets a CPI built for it
// (New) from the job's rendered config and the request's context, where a
// director with a cpi-config sends the CPI's properties. The dispatcher
// checks the arguments, shapes the answers by api_version and bounds each
// call by timeouts.call_seconds. Every object the
// CPI creates carries the labels nanobox=true and managed-by=nanobox-hcloud;
// it never changes an object without them, nor one labelled nanobox=false.
package bosh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// Env is everything a BOSH CPI call depends on outside itself: what the
// Nanobox CPI's does (the job's rendered config, validated; the version
// for the User-Agent; a logger already redacting; the clock and the test
// seams), and the request's context.
type Env struct {
	cpi.Env
	Context json.RawMessage // the request's context ("" or null: none)
}

// CPI serves the BOSH methods for one call.
type CPI struct {
	env       Env
	cfg       *config.Config
	client    *hcloud.Client
	log       logrus.FieldLogger
	proj      *statedir.Project // see project
	projTried bool
}

// contextKeys are the config keys a director's cpi-config may set through
// the request's context; they win over the job's config.
var contextKeys = []string{"token", "endpoint", "labels", "defaults", "agent"}

// New returns the CPI for one call: the config is env.Config overlaid with
// the context's cpi-config properties (validated like the file: a bad value
// is a CpiError naming it). The Hetzner client is made on first use, so a
// method that needs no API call needs no token.
func New(env Env) (*CPI, error) {
	if env.Config == nil {
		env.Config, _ = config.Load("", nil) // the defaults with the endpoint resolved, which are valid
	}
	env.Env = env.Env.WithDefaults()
	cfg, err := overlay(env.Config, env.Context)
	if err != nil {
		return nil, err
	}
	return &CPI{env: env, cfg: cfg, log: env.Log}, nil
}

// overlay applies the context's cpi-config keys to a copy of cfg and
// validates the result.
func overlay(cfg *config.Config, raw json.RawMessage) (*config.Config, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return cfg, nil
	}
	var ctx map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ctx); err != nil {
		return nil, newError(CpiError, "the request's context is not a JSON object")
	}
	found := false
	for _, k := range contextKeys {
		if _, ok := ctx[k]; ok {
			found = true
		}
	}
	if !found {
		return cfg, nil
	}
	base, err := json.Marshal(cfg)
	if err != nil {
		return nil, newError(CpiError, "CPI config: %v", err)
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, newError(CpiError, "CPI config: %v", err)
	}
	for _, k := range contextKeys {
		if v, ok := ctx[k]; ok {
			merged[k] = v
		}
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return nil, newError(CpiError, "CPI config: %v", err)
	}
	out, err := config.Parse(data)
	if err != nil {
		// config's messages never echo values, so no token leaks here.
		return nil, newError(CpiError, "the cpi-config properties in the request's context: %v", err)
	}
	return out, nil
}

// hcloud returns the call's Hetzner client, made on first use: CpiError
// when no token is configured.
func (c *CPI) hcloud() (*hcloud.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	if c.cfg.Token == "" {
		return nil, newError(CpiError, "no Hetzner API token: set the job property nanobox_hcloud.token (or token in the cpi-config)")
	}
	backoff := c.env.RetryBackoff
	if backoff == nil {
		backoff = hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 500 * time.Millisecond, Multiplier: 2, Cap: 8 * time.Second, Jitter: true,
		})
	}
	httpClient := &http.Client{}
	if c.env.HTTPClient != nil {
		*httpClient = *c.env.HTTPClient
	}
	base := httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	httpClient.Transport = retryTransport{base: base, backoff: backoff}
	c.client = cpi.Client{
		Token: c.cfg.Token, Endpoint: c.cfg.Endpoint,
		Application: cpi.Name + "-bosh", Version: c.env.Version,
		Retries: 5, Backoff: backoff, Poll: c.cfg.PollInterval(),
		HTTPClient: httpClient,
	}.New()
	return c.client, nil
}

// MinCallTimeout is the least deadline of a BOSH call: create_vm waits for
// a server to be created, attached to its networks and started, which on
// Hetzner takes longer than the Nanobox calls' default call_seconds.
const MinCallTimeout = 10 * time.Minute

// deadline bounds one call: timeouts.call_seconds, at least MinCallTimeout.
func (c *CPI) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(c.cfg.CallTimeout(), MinCallTimeout))
}

// cleanupTimeout bounds the clean-up after a failure (deleting what a
// failed create_vm made), which runs even when the call's deadline passed.
const cleanupTimeout = 2 * time.Minute

func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// wait waits for an action; a nil action is done.
func (c *CPI) wait(ctx context.Context, op string, action *hcloud.Action) error {
	if action == nil {
		return nil
	}
	client, err := c.hcloud()
	if err != nil {
		return err
	}
	if err := client.Action.WaitFor(ctx, action); err != nil {
		return cloudError(op, err)
	}
	return nil
}

// model is the catalog: the cached live catalog when there is one (written
// by the Nanobox catalog method), else the embedded snapshot.
func (c *CPI) model() (*catalog.Model, error) {
	cache := &catalog.Cache{
		Dir:      c.cfg.Catalog.CacheDir,
		Endpoint: c.cfg.Endpoint,
		TTL:      c.cfg.CatalogTTL(),
		Now:      c.env.Now,
	}
	if m, _ := cache.Load(); m != nil {
		return m, nil
	}
	m, err := catalog.Embedded()
	if err != nil {
		return nil, fmt.Errorf("the embedded catalog: %w", err)
	}
	return m, nil
}
