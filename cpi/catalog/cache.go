package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Cache keeps the last live catalog on disk, one file per API endpoint, so
// that most catalog calls cost no API request.
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
	if c.Dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(c.path())
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
	return writeAtomic(c.path(), data)
}

// writeAtomic writes data to path through a temporary file in the same
// directory, so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("cache file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
