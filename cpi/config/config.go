// Package config loads and validates the CPI's JSON config file (the file
// the BOSH release renders and passes with -configPath).
//
// Every field is optional. Unknown fields are an error, and Load reports
// every problem of a file together, so an operator fixes them in one pass.
// Load also folds in the environment (HCLOUD_TOKEN, HCLOUD_ENDPOINT, the
// user's cache directory) once: the loaded config is what the CPI uses.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
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

// Config is the CPI config file. docs/configuration.md is generated from
// these field comments (make docs); each states what the
// field does and, where the file may leave it empty, what Load puts there.
type Config struct {
	// The operator's Hetzner API token, used for the live catalog and, with
	// operator_token_for_calls, for calls whose request carries no token.
	// Empty: $HCLOUD_TOKEN. Never logged or echoed.
	Token string `json:"token"`
	// Whether a call without an api-token credential uses the operator's
	// token. false: such a call answers Unauthorized.
	OperatorTokenForCalls *bool `json:"operator_token_for_calls"`
	// The Hetzner Cloud API base URL (http or https). Empty:
	// $HCLOUD_ENDPOINT, else https://api.hetzner.cloud/v1.
	Endpoint string `json:"endpoint"`
	// The image a server is ordered with when its order names none; one of
	// images.
	Image string `json:"image"`
	// The images meta offers (the image config field's values), each once.
	Images []string `json:"images"`
	// The private network every server joins.
	Network Network `json:"network"`
	// Extra Hetzner labels put on everything the adapter creates. The
	// adapter's own labels (nanobox, managed-by, nanobox-backups) cannot be
	// set here.
	Labels map[string]string `json:"labels"`
	// Whether servers and keys not labelled as the adapter's may be
	// changed. Objects labelled nanobox=false are never changed.
	AllowForeign bool `json:"allow_foreign"`
	// Meta's default region and size, used when an order names none.
	Defaults Defaults `json:"defaults"`
	// Where the live catalog is cached, for how long, and how its EUR
	// prices become dollars.
	Catalog Catalog `json:"catalog"`
	// The bounds of every call.
	Timeouts Timeouts `json:"timeouts"`
	// The URL of the bootstrap script meta announces to Nanobox (http or
	// https).
	BootstrapScript string `json:"bootstrap_script"`
	// How long Nanobox waits for a new server to bootstrap, 1 to 86400
	// seconds (meta's bootstrap_timeout).
	BootstrapTimeout int `json:"bootstrap_timeout_seconds"`
	// The absolute directory of the CPI's state between calls (the shared
	// server snapshot, the rate-limit budget, the network cache). It must
	// be owned by the CPI's user and not group- or world-writable, and is
	// created 0700 when absent; a directory that is not, or a file in it
	// that is a symbolic link or another user's, is not used (one warning;
	// calls then read the API directly). Empty: the first of
	// $STATE_DIRECTORY and $RUNTIME_DIRECTORY (systemd), then
	// $XDG_RUNTIME_DIR/nanobox-hcloud, $XDG_CACHE_HOME/nanobox-hcloud,
	// $HOME/.cache/nanobox-hcloud, and last $TMPDIR/nanobox-hcloud-<uid>
	// (/tmp when TMPDIR is unset). A token Hetzner rejects adds no file; the
	// files of a token unused for 24 hours are removed.
	StateDir string `json:"state_dir"`
	// How query_server reads servers (a snapshot shared by every CPI
	// process through state_dir) and how the project's rate-limit budget
	// is spent.
	Polling Polling `json:"polling"`
	// The BOSH agent settings the BOSH CPI methods write into a new VM's
	// user_data; the Nanobox methods do not read them.
	Agent Agent `json:"agent"`
}

// Network is the private network every server joins.
type Network struct {
	// "private": every server joins the network (its second NIC); "none":
	// one NIC, the public address is also reported as the internal one.
	Mode string `json:"mode"`
	// The network's name in the project, created when absent (mode
	// private).
	Name string `json:"name"`
	// The network's IPv4 range: private (RFC 1918), /24 or larger, not
	// overlapping 192.168.0.0/24, which Nanobox's vxlan uses (mode private).
	IPRange string `json:"ip_range"`
}

// Defaults are meta's default region and size.
type Defaults struct {
	// The region (Hetzner location) of an order that names none.
	Region string `json:"region"`
	// The size (Hetzner server type) of an order that names none.
	Size string `json:"size"`
}

// Catalog configures the catalog: where the live catalog is cached, for how
// long, and how EUR prices become dollars.
type Catalog struct {
	// The absolute directory of the live catalog's cache. Empty: state_dir.
	CacheDir string `json:"cache_dir"`
	// How long a live catalog is served from the cache, in seconds.
	TTLSeconds int `json:"ttl_seconds"`
	// The exchange rate that turns Hetzner's EUR prices into the dollars
	// Nanobox shows, 0.1 to 10.
	EURToUSD float64 `json:"eur_to_usd"`
	// "gross" (VAT included) or "net" (VAT excluded) prices.
	PriceBasis string `json:"price_basis"`
}

// Timeouts bound every call.
type Timeouts struct {
	// The deadline of one call, 1 to 600 seconds.
	CallSeconds int `json:"call_seconds"`
	// How often a running Hetzner action is polled, 10 to 60000 ms.
	PollIntervalMS int `json:"poll_interval_ms"`
	// How long a change (reboot, rename, config, cancel) waits for an
	// action already running on its server (Hetzner answers "locked"
	// meanwhile) before it answers a retryable error, 1 to 600 seconds; at
	// most half of call_seconds is used, so the answer comes in time.
	LockWaitSeconds int `json:"lock_wait_seconds"`
	// How long stop_server waits for a server to shut down after the
	// graceful (ACPI) shutdown before it powers it off, 1 to 600 seconds;
	// at most two thirds of call_seconds is used, so the power-off fits in
	// the call.
	ShutdownSeconds int `json:"shutdown_seconds"`
	// BOSH only: how old the creating mark of a server or volume whose
	// create did not finish must be before a call from another host
	// deletes it, 60 to 86400 seconds; never less than a BOSH call's
	// deadline plus its clean-up. A call from the host that made it does
	// not wait.
	OrphanSeconds int `json:"orphan_seconds"`
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
	if c.Timeouts.OrphanSeconds == 0 {
		c.Timeouts.OrphanSeconds = 900
	}
	if c.Timeouts.LockWaitSeconds == 0 {
		c.Timeouts.LockWaitSeconds = 10
	}
	if c.Timeouts.ShutdownSeconds == 0 {
		c.Timeouts.ShutdownSeconds = 60
	}
	if c.BootstrapScript == "" {
		c.BootstrapScript = "https://s3.amazonaws.com/tools.nanobox.io/bootstrap/ubuntu.sh"
	}
	if c.BootstrapTimeout == 0 {
		c.BootstrapTimeout = 900
	}
	c.Polling.applyDefaults()
	c.Agent.applyDefaults()
}

// The environment variables Load folds into the config.
const (
	TokenEnv    = "HCLOUD_TOKEN"    // token, when the file sets none
	EndpointEnv = "HCLOUD_ENDPOINT" // endpoint, when the file sets none
)

// Load reads, defaults and validates the file at path (an empty path means
// no file: the defaults), then folds in the environment (getenv; nil is an
// empty environment): every field then holds the value the CPI uses, and
// nothing reads the environment later. The error lists every problem of
// the file.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if c, err = Parse(data); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c.resolve(getenv)
	return c, nil
}

// Parse decodes, defaults and validates a config document: the file as
// written, with the defaults filled in and the environment not yet folded
// in (Load does that).
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

// resolve fills the fields the file left empty from the environment.
func (c *Config) resolve(getenv func(string) string) {
	if c.Token == "" {
		c.Token = getenv(TokenEnv)
	}
	if c.Endpoint == "" {
		c.Endpoint = getenv(EndpointEnv)
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.StateDir == "" {
		c.StateDir = defaultStateDir(getenv)
	}
	if c.Catalog.CacheDir == "" {
		c.Catalog.CacheDir = c.StateDir
	}
}

// defaultStateDir is the first of the state dir's defaults whose variable
// is set to an absolute path: systemd's StateDirectory= and
// RuntimeDirectory= (the service's own directory, used as is), then the
// user's own directories ($XDG_RUNTIME_DIR, $XDG_CACHE_HOME, $HOME/.cache,
// with nanobox-hcloud appended), and last a per-user directory in the
// shared temporary directory ($TMPDIR, else /tmp), nanobox-hcloud-<uid>,
// which statedir refuses when another user made it first.
func defaultStateDir(getenv func(string) string) string {
	for _, v := range []string{"STATE_DIRECTORY", "RUNTIME_DIRECTORY"} {
		first, _, _ := strings.Cut(getenv(v), ":") // systemd lists one per directive entry
		if filepath.IsAbs(first) {
			return first
		}
	}
	for _, d := range []struct{ env, sub string }{
		{"XDG_RUNTIME_DIR", "nanobox-hcloud"},
		{"XDG_CACHE_HOME", "nanobox-hcloud"},
		{"HOME", filepath.Join(".cache", "nanobox-hcloud")},
	} {
		if x := getenv(d.env); filepath.IsAbs(x) {
			return filepath.Join(x, d.sub)
		}
	}
	tmp := getenv("TMPDIR")
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "nanobox-hcloud-"+strconv.Itoa(os.Geteuid()))
}

// describe turns a decoding error into a message that never echoes values
// (the file holds a token): protocol's description of JSON errors, plus the
// unknown field the decoder names only in its text.
func describe(err error) string {
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + field
	}
	return protocol.DescribeJSONError(err)
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

// The labels the adapter sets: the ownership labels on everything it
// creates; on servers, the backups wish and what was ordered (the SSH key
// id and the image). A config cannot set them.
const (
	LabelNanobox   = "nanobox"
	LabelManagedBy = "managed-by"
	LabelBackups   = "nanobox-backups"
	LabelSSHKey    = "nanobox-ssh-key"
	LabelImage     = "nanobox-image"
	// On servers ordered with them: hashes of the order's user_data and of
	// its extra labels, so a re-order adopts only an exact match.
	LabelUserData    = "nanobox-user-data"
	LabelOrderLabels = "nanobox-labels"
)

// reservedLabels are the labels a config's labels may not name (in any
// case).
var reservedLabels = []string{LabelNanobox, LabelManagedBy, LabelBackups, LabelSSHKey, LabelImage, LabelUserData, LabelOrderLabels}

// problems collects the problems of one config.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Validate checks a defaulted config and reports every problem together,
// section by section in the order of the file.
func (c *Config) Validate() error {
	var p problems
	c.checkConnection(&p)
	c.checkImages(&p)
	c.Network.check(&p)
	c.checkLabels(&p)
	c.Defaults.check(&p)
	c.Catalog.check(&p)
	c.Timeouts.check(&p)
	c.checkBootstrap(&p)
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		p.add("state_dir: %q must be an absolute path", c.StateDir)
	}
	c.Polling.validate(p.add)
	c.Agent.validate(p.add)
	if len(p) > 0 {
		return &ProblemsError{Problems: p}
	}
	return nil
}

// isHTTPURL says whether s starts like an http(s) URL.
func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// MaxTokenLength bounds an API token: Hetzner's are 64 characters.
const MaxTokenLength = 256

// CheckToken says why t cannot be a Hetzner API token, without echoing it:
// white space, control or non-ASCII characters, or more than
// MaxTokenLength bytes. nil for "" (no token) and for a well-formed token.
// No request carrying such a token could ever succeed, so none is sent.
func CheckToken(t string) error {
	if len(t) > MaxTokenLength {
		return fmt.Errorf("longer than any token (%d bytes, at most %d)", len(t), MaxTokenLength)
	}
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return errors.New("contains characters no token has (white space, control characters or non-ASCII)")
		}
	}
	return nil
}

func (c *Config) checkConnection(p *problems) {
	if strings.TrimSpace(c.Token) != c.Token {
		p.add("token: must not have leading or trailing white space")
	} else if err := CheckToken(c.Token); err != nil {
		p.add("token: %s", err.Error())
	}
	if c.Endpoint != "" && !isHTTPURL(c.Endpoint) {
		p.add("endpoint: must be an http(s) URL")
	}
}

func (c *Config) checkImages(p *problems) {
	if !validImage(c.Image) {
		p.add("image: %q is not an image name", c.Image)
	}
	seen := map[string]bool{}
	for i, img := range c.Images {
		if !validImage(img) {
			p.add("images[%d]: %q is not an image name", i, img)
		}
		if seen[img] {
			p.add("images[%d]: %q is listed twice", i, img)
		}
		seen[img] = true
	}
	if validImage(c.Image) && !seen[c.Image] {
		p.add("image: %q must be one of images (%s)", c.Image, strings.Join(c.Images, ", "))
	}
}

func (n Network) check(p *problems) {
	switch n.Mode {
	case NetworkPrivate:
		if !(len(n.Name) <= 63 && networkName.MatchString(n.Name)) {
			p.add("network.name: %q is not a valid network name", n.Name)
		}
		if problem := ipRangeProblem(n.IPRange); problem != "" {
			p.add("network.ip_range: %q %s", n.IPRange, problem)
		}
	case NetworkNone:
	default:
		p.add("network.mode: %q must be %q or %q", n.Mode, NetworkPrivate, NetworkNone)
	}
}

// ipRangeProblem says what is wrong with a private network's range, or "".
func ipRangeProblem(ipRange string) string {
	pfx, err := netip.ParsePrefix(ipRange)
	switch {
	case err != nil || !pfx.Addr().Is4():
		return "is not an IPv4 CIDR range"
	case pfx.Masked() != pfx:
		return fmt.Sprintf("has host bits set (did you mean %s?)", pfx.Masked())
	case !pfx.Addr().IsPrivate():
		return "must be a private (RFC 1918) range"
	case pfx.Bits() > 24:
		return "is too small: /24 or larger is needed for one subnet per network zone"
	case pfx.Overlaps(vxlanRange):
		return "overlaps 192.168.0.0/24, which Nanobox's vxlan uses on every host"
	}
	return ""
}

func (c *Config) checkLabels(p *problems) {
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if problem := LabelProblem(k, c.Labels[k]); problem != "" {
			p.add("labels: %q %s", k, problem)
		}
	}
}

func (d Defaults) check(p *problems) {
	if !(len(d.Region) <= 16 && locationRe.MatchString(d.Region)) {
		p.add("defaults.region: %q is not a region id", d.Region)
	}
	if !(len(d.Size) <= 32 && sizeRe.MatchString(d.Size)) {
		p.add("defaults.size: %q is not a size id", d.Size)
	}
}

func (c Catalog) check(p *problems) {
	if c.TTLSeconds < 0 {
		p.add("catalog.ttl_seconds: must be positive")
	}
	if c.EURToUSD < 0.1 || c.EURToUSD > 10 {
		p.add("catalog.eur_to_usd: %v is not a plausible exchange rate (0.1 to 10)", c.EURToUSD)
	}
	if c.PriceBasis != PriceGross && c.PriceBasis != PriceNet {
		p.add("catalog.price_basis: %q must be %q or %q", c.PriceBasis, PriceGross, PriceNet)
	}
	if c.CacheDir != "" && !filepath.IsAbs(c.CacheDir) {
		p.add("catalog.cache_dir: %q must be an absolute path", c.CacheDir)
	}
}

func (t Timeouts) check(p *problems) {
	if t.CallSeconds < 1 || t.CallSeconds > 600 {
		p.add("timeouts.call_seconds: %d must be between 1 and 600", t.CallSeconds)
	}
	if t.PollIntervalMS < 10 || t.PollIntervalMS > 60000 {
		p.add("timeouts.poll_interval_ms: %d must be between 10 and 60000", t.PollIntervalMS)
	}
	if t.LockWaitSeconds < 1 || t.LockWaitSeconds > 600 {
		p.add("timeouts.lock_wait_seconds: %d must be between 1 and 600", t.LockWaitSeconds)
	}
	if t.ShutdownSeconds < 1 || t.ShutdownSeconds > 600 {
		p.add("timeouts.shutdown_seconds: %d must be between 1 and 600", t.ShutdownSeconds)
	}
	if t.OrphanSeconds < 60 || t.OrphanSeconds > 86400 {
		p.add("timeouts.orphan_seconds: %d must be between 60 and 86400", t.OrphanSeconds)
	}
}

func (c *Config) checkBootstrap(p *problems) {
	if !isHTTPURL(c.BootstrapScript) {
		p.add("bootstrap_script: must be an http(s) URL")
	}
	if c.BootstrapTimeout < 1 || c.BootstrapTimeout > 86400 {
		p.add("bootstrap_timeout_seconds: %d must be between 1 and 86400", c.BootstrapTimeout)
	}
}

// CallTimeout is the deadline of one call.
func (c *Config) CallTimeout() time.Duration {
	return time.Duration(c.Timeouts.CallSeconds) * time.Second
}

// OrphanAge is timeouts.orphan_seconds.
func (c *Config) OrphanAge() time.Duration {
	return time.Duration(c.Timeouts.OrphanSeconds) * time.Second
}

// LockWait bounds a change's wait for an action already running on its
// server: lock_wait_seconds, at most half of the call's deadline.
func (c *Config) LockWait() time.Duration {
	return min(time.Duration(c.Timeouts.LockWaitSeconds)*time.Second, c.CallTimeout()/2)
}

// ShutdownWait bounds stop_server's wait for a graceful shutdown:
// shutdown_seconds, at most two thirds of the call's deadline.
func (c *Config) ShutdownWait() time.Duration {
	return min(time.Duration(c.Timeouts.ShutdownSeconds)*time.Second, c.CallTimeout()*2/3)
}

// PollInterval is how often an action is polled.
func (c *Config) PollInterval() time.Duration {
	return time.Duration(c.Timeouts.PollIntervalMS) * time.Millisecond
}

// CatalogTTL is how long a live catalog is served from the disk cache.
func (c *Config) CatalogTTL() time.Duration {
	return time.Duration(c.Catalog.TTLSeconds) * time.Second
}
