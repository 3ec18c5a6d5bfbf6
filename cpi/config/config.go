// Package config loads and validates the CPI's JSON config file (the file
// the BOSH release renders and passes with -configPath).
//
// Every field is optional. Unknown fields are an error, and Load reports
// every problem of a file together, so an operator fixes them in one pass.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Network modes.
const (
	NetworkPrivate = "private" // every server joins a private network (eth1)
	NetworkNone    = "none"    // one NIC: the public one is reported as internal
)

// Price bases for converting Hetzner prices.
const (
	PriceGross = "gross" // VAT included, what a consumer in the EU pays
	PriceNet   = "net"   // VAT excluded
)

// DefaultEndpoint is Hetzner's Cloud API.
const DefaultEndpoint = "https://api.hetzner.cloud/v1"

// Config is the CPI config file. README.md ("The config file") documents each field.
type Config struct {
	Token                 string            `json:"token"`
	OperatorTokenForCalls *bool             `json:"operator_token_for_calls"`
	Endpoint              string            `json:"endpoint"`
	Image                 string            `json:"image"`
	Images                []string          `json:"images"`
	Network               Network           `json:"network"`
	Labels                map[string]string `json:"labels"`
	AllowForeign          bool              `json:"allow_foreign"`
	Defaults              Defaults          `json:"defaults"`
	Catalog               Catalog           `json:"catalog"`
	Timeouts              Timeouts          `json:"timeouts"`
	BootstrapScript       string            `json:"bootstrap_script"`
	BootstrapTimeout      int               `json:"bootstrap_timeout_seconds"`
	StateDir              string            `json:"state_dir"`
	Agent                 Agent             `json:"agent"`
}

// Network is the private network every server joins.
type Network struct {
	Mode    string `json:"mode"`
	Name    string `json:"name"`
	IPRange string `json:"ip_range"`
}

// Defaults are meta's default region and size.
type Defaults struct {
	Region string `json:"region"`
	Size   string `json:"size"`
}

// Catalog configures the catalog: where the live catalog is cached, for how
// long, and how EUR prices become dollars.
type Catalog struct {
	CacheDir   string  `json:"cache_dir"`
	TTLSeconds int     `json:"ttl_seconds"`
	EURToUSD   float64 `json:"eur_to_usd"`
	PriceBasis string  `json:"price_basis"`
}

// Timeouts bound every call.
type Timeouts struct {
	CallSeconds    int `json:"call_seconds"`
	PollIntervalMS int `json:"poll_interval_ms"`
}

// DefaultImages are the values of the image config field when the file names none.
var DefaultImages = []string{"ubuntu-22.04", "ubuntu-24.04", "debian-12", "debian-13"}

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.OperatorTokenForCalls == nil {
		t := true
		c.OperatorTokenForCalls = &t
	}
	if c.Image == "" {
		c.Image = "ubuntu-24.04"
	}
	if len(c.Images) == 0 {
		c.Images = append([]string(nil), DefaultImages...)
	}
	if c.Network.Mode == "" {
		c.Network.Mode = NetworkPrivate
	}
	if c.Network.Name == "" {
		c.Network.Name = "nanobox"
	}
	if c.Network.IPRange == "" {
		c.Network.IPRange = "10.0.0.0/16"
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if c.Defaults.Region == "" {
		c.Defaults.Region = "nbg1"
	}
	if c.Defaults.Size == "" {
		c.Defaults.Size = "cx23"
	}
	if c.Catalog.TTLSeconds == 0 {
		c.Catalog.TTLSeconds = 3600
	}
	if c.Catalog.EURToUSD == 0 {
		c.Catalog.EURToUSD = 1.08
	}
	if c.Catalog.PriceBasis == "" {
		c.Catalog.PriceBasis = PriceGross
	}
	if c.Timeouts.CallSeconds == 0 {
		c.Timeouts.CallSeconds = 45
	}
	if c.Timeouts.PollIntervalMS == 0 {
		c.Timeouts.PollIntervalMS = 500
	}
	if c.BootstrapScript == "" {
		c.BootstrapScript = "https://s3.amazonaws.com/tools.nanobox.io/bootstrap/ubuntu.sh"
	}
	if c.BootstrapTimeout == 0 {
		c.BootstrapTimeout = 900
	}
	c.Agent.applyDefaults()
}

// Load reads, defaults and validates the file at path. An empty path means
// no file: the defaults. The returned error lists every problem.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes, defaults and validates a config document.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("not a valid config document: %s", describe(err))
	}
	if dec.More() {
		return nil, errors.New("not a valid config document: data after the JSON object")
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// describe turns a decoding error into a message that never echoes values
// (the file holds a token).
func describe(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q has the wrong type (%s given)", typeErr.Field, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}

// ProblemsError lists every problem found in a config.
type ProblemsError struct{ Problems []string }

func (e *ProblemsError) Error() string {
	return fmt.Sprintf("%d problem(s): %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// The patterns are compiled on first use: this package is on every call's
// start-up path, and most calls run without a config needing them.
var (
	imageName   = lazyRegexp(`^[a-z0-9][a-z0-9._-]*$`) // ≤ 63, checked apart
	locationRe  = lazyRegexp(`^[a-z][a-z0-9-]+$`)      // ≤ 16
	sizeRe      = lazyRegexp(`^[a-z][a-z0-9-]+$`)      // ≤ 32
	networkName = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	labelPrefix = lazyRegexp(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	labelName   = lazyRegexp(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
)

// lazyRegexp compiles pattern once, when first matched.
type lazyRegexp string

var compiled sync.Map

func (p lazyRegexp) MatchString(s string) bool {
	if re, ok := compiled.Load(p); ok {
		return re.(*regexp.Regexp).MatchString(s)
	}
	re := regexp.MustCompile(string(p))
	compiled.Store(p, re)
	return re.MatchString(s)
}

// Lengths are checked apart from the patterns: counted repetitions like
// {0,251} make regexps slow to compile.

// validLabelKey: an optional DNS-subdomain prefix (≤253) and "/", then a
// name of 1-63 characters, as Hetzner (and Kubernetes) define label keys.
func validLabelKey(k string) bool {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	} else if prefix == "" || len(prefix) > 253 || !labelPrefix.MatchString(prefix) {
		return false
	}
	return len(name) <= 63 && labelName.MatchString(name)
}

func validImage(s string) bool { return len(s) <= 63 && imageName.MatchString(s) }

// validLabelValue: empty, or 1-63 characters like a key's name.
func validLabelValue(v string) bool {
	return v == "" || (len(v) <= 63 && labelName.MatchString(v))
}

// vxlanRange is what Nanobox's vxlan uses on every host (rule 5 of the spec).
var vxlanRange = netip.MustParsePrefix("192.168.0.0/24")

// ReservedLabels are set by the adapter: the ownership labels on
// everything it creates, and the backups wish on servers.
var ReservedLabels = []string{"nanobox", "managed-by", "nanobox-backups"}

// Validate checks a defaulted config and reports every problem together.
func (c *Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if strings.TrimSpace(c.Token) != c.Token {
		add("token: must not have leading or trailing white space")
	}
	if c.Endpoint != "" {
		if !(strings.HasPrefix(c.Endpoint, "https://") || strings.HasPrefix(c.Endpoint, "http://")) {
			add("endpoint: must be an http(s) URL")
		}
	}
	if !validImage(c.Image) {
		add("image: %q is not an image name", c.Image)
	}
	seen := map[string]bool{}
	for i, img := range c.Images {
		if !validImage(img) {
			add("images[%d]: %q is not an image name", i, img)
		}
		if seen[img] {
			add("images[%d]: %q is listed twice", i, img)
		}
		seen[img] = true
	}
	if validImage(c.Image) && !seen[c.Image] {
		add("image: %q must be one of images (%s)", c.Image, strings.Join(c.Images, ", "))
	}
	switch c.Network.Mode {
	case NetworkPrivate:
		if !(len(c.Network.Name) <= 63 && networkName.MatchString(c.Network.Name)) {
			add("network.name: %q is not a valid network name", c.Network.Name)
		}
		pfx, err := netip.ParsePrefix(c.Network.IPRange)
		switch {
		case err != nil || !pfx.Addr().Is4():
			add("network.ip_range: %q is not an IPv4 CIDR range", c.Network.IPRange)
		case pfx.Masked() != pfx:
			add("network.ip_range: %q has host bits set (did you mean %s?)", c.Network.IPRange, pfx.Masked())
		case !pfx.Addr().IsPrivate():
			add("network.ip_range: %q must be a private (RFC 1918) range", c.Network.IPRange)
		case pfx.Bits() > 24:
			add("network.ip_range: %q is too small: /24 or larger is needed for one subnet per network zone", c.Network.IPRange)
		case pfx.Overlaps(vxlanRange):
			add("network.ip_range: %q overlaps 192.168.0.0/24, which Nanobox's vxlan uses on every host", c.Network.IPRange)
		}
	case NetworkNone:
	default:
		add("network.mode: %q must be %q or %q", c.Network.Mode, NetworkPrivate, NetworkNone)
	}
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Labels[k]
		switch {
		case !validLabelKey(k):
			add("labels: %q is not a valid Hetzner label key", k)
		case isReserved(k):
			add("labels: %q is set by the adapter and cannot be configured", k)
		}
		if !validLabelValue(v) {
			add("labels[%q]: value is not a valid Hetzner label value", k)
		}
	}
	if !(len(c.Defaults.Region) <= 16 && locationRe.MatchString(c.Defaults.Region)) {
		add("defaults.region: %q is not a region id", c.Defaults.Region)
	}
	if !(len(c.Defaults.Size) <= 32 && sizeRe.MatchString(c.Defaults.Size)) {
		add("defaults.size: %q is not a size id", c.Defaults.Size)
	}
	if c.Catalog.TTLSeconds < 0 {
		add("catalog.ttl_seconds: must be positive")
	}
	if c.Catalog.EURToUSD < 0.1 || c.Catalog.EURToUSD > 10 {
		add("catalog.eur_to_usd: %v is not a plausible exchange rate (0.1 to 10)", c.Catalog.EURToUSD)
	}
	if c.Catalog.PriceBasis != PriceGross && c.Catalog.PriceBasis != PriceNet {
		add("catalog.price_basis: %q must be %q or %q", c.Catalog.PriceBasis, PriceGross, PriceNet)
	}
	if c.Timeouts.CallSeconds < 1 || c.Timeouts.CallSeconds > 600 {
		add("timeouts.call_seconds: %d must be between 1 and 600", c.Timeouts.CallSeconds)
	}
	if c.Timeouts.PollIntervalMS < 10 || c.Timeouts.PollIntervalMS > 60000 {
		add("timeouts.poll_interval_ms: %d must be between 10 and 60000", c.Timeouts.PollIntervalMS)
	}
	if !(strings.HasPrefix(c.BootstrapScript, "https://") || strings.HasPrefix(c.BootstrapScript, "http://")) {
		add("bootstrap_script: must be an http(s) URL")
	}
	if c.BootstrapTimeout < 1 || c.BootstrapTimeout > 86400 {
		add("bootstrap_timeout_seconds: %d must be between 1 and 86400", c.BootstrapTimeout)
	}
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		add("state_dir: %q must be an absolute path", c.StateDir)
	}
	if c.Catalog.CacheDir != "" && !filepath.IsAbs(c.Catalog.CacheDir) {
		add("catalog.cache_dir: %q must be an absolute path", c.Catalog.CacheDir)
	}
	c.Agent.validate(add)
	if len(p) > 0 {
		return &ProblemsError{Problems: p}
	}
	return nil
}

func isReserved(key string) bool {
	for _, r := range ReservedLabels {
		if strings.EqualFold(key, r) {
			return true
		}
	}
	return false
}

// CallTimeout is the deadline of one call.
func (c *Config) CallTimeout() time.Duration {
	return time.Duration(c.Timeouts.CallSeconds) * time.Second
}

// PollInterval is how often an action is polled.
func (c *Config) PollInterval() time.Duration {
	return time.Duration(c.Timeouts.PollIntervalMS) * time.Millisecond
}

// CatalogTTL is how long a live catalog is served from the disk cache.
func (c *Config) CatalogTTL() time.Duration {
	return time.Duration(c.Catalog.TTLSeconds) * time.Second
}

// ResolvedStateDir is state_dir, or $XDG_CACHE_HOME/nanobox-hcloud (the user
// cache directory) when empty. getenv is os.Getenv in production.
func (c *Config) ResolvedStateDir(getenv func(string) string) string {
	if c.StateDir != "" {
		return c.StateDir
	}
	return defaultCacheDir(getenv)
}

// ResolvedCacheDir is catalog.cache_dir, or the state dir when empty.
func (c *Config) ResolvedCacheDir(getenv func(string) string) string {
	if c.Catalog.CacheDir != "" {
		return c.Catalog.CacheDir
	}
	return c.ResolvedStateDir(getenv)
}

func defaultCacheDir(getenv func(string) string) string {
	if x := getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "nanobox-hcloud")
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".cache", "nanobox-hcloud")
	}
	return filepath.Join(os.TempDir(), "nanobox-hcloud")
}

// ResolvedEndpoint is the API endpoint: the config's, else HCLOUD_ENDPOINT,
// else Hetzner's.
func (c *Config) ResolvedEndpoint(getenv func(string) string) string {
	if c.Endpoint != "" {
		return c.Endpoint
	}
	if e := getenv("HCLOUD_ENDPOINT"); e != "" {
		return e
	}
	return DefaultEndpoint
}
