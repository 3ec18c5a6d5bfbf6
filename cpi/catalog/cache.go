package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// Cache keeps the last live catalog on disk, one file per API endpoint, so
// that most catalog calls cost no API request. Dir follows the state
// dir's rules (statedir.CheckDir): a directory that is not ours is no
// cache, and the file is read only when it is a regular file of ours.
type Cache struct {
	Dir      string
	Endpoint string
	TTL      time.Duration
	Now      func() time.Time // time.Now when nil
}

type cacheFile struct {
	FetchedAt time.Time `json:"fetched_at"`
	Endpoint  string    `json:"endpoint"`
	Model     *Model    `json:"model"`
}

func (c *Cache) path() string {
	sum := sha256.Sum256([]byte(c.Endpoint))
	return filepath.Join(c.Dir, "catalog-"+hex.EncodeToString(sum[:6])+".json")
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Load returns the cached model and whether it is still fresh. A missing,
// unreadable or foreign file is (nil, false).
func (c *Cache) Load() (m *Model, fresh bool) {
	if c.Dir == "" || statedir.CheckDir(c.Dir) != nil {
		return nil, false
	}
	data, err := statedir.ReadFile(c.path())
	if err != nil {
		return nil, false
	}
	var f cacheFile
	if json.Unmarshal(data, &f) != nil || f.Model == nil || f.Endpoint != c.Endpoint {
		return nil, false
	}
	age := c.now().Sub(f.FetchedAt)
	return f.Model, age >= 0 && age < c.TTL
}

// Store writes m atomically (temporary file, then rename).
func (c *Cache) Store(m *Model) error {
	if c.Dir == "" {
		return nil
	}
	data, err := json.Marshal(cacheFile{FetchedAt: c.now().UTC(), Endpoint: c.Endpoint, Model: m})
	if err != nil {
		return err
	}
	if err := statedir.CheckDir(c.Dir); err != nil {
		return err
	}
	return statedir.WriteFile(c.path(), data)
}
