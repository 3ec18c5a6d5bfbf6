package nanobox

import (
	"context"
	"fmt"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func (c *CPI) catalogCache() *catalog.Cache {
	return &catalog.Cache{
		Dir:      c.env.Config.Catalog.CacheDir,
		Endpoint: c.env.Config.Endpoint,
		TTL:      c.env.Config.CatalogTTL(),
		Now:      c.env.Now,
	}
}

func (c *CPI) pricing() catalog.Pricing {
	return catalog.Pricing{EURToUSD: c.env.Config.Catalog.EURToUSD, Gross: c.env.Config.Catalog.PriceBasis == config.PriceGross}
}

// Catalog answers catalog: the cached live catalog while it is fresh (0
// API calls), else the live API with the operator token (2 calls, then
// cached), else the last cached or the embedded catalog. A failing live
// fetch is logged, never an error: the dashboard needs a catalog.
func (c *CPI) Catalog(ctx context.Context) ([]protocol.Region, error) {
	m, err := c.catalogModel(ctx)
	if err != nil {
		return nil, err
	}
	return catalog.Build(m, c.pricing()), nil
}

func (c *CPI) catalogModel(ctx context.Context) (*catalog.Model, error) {
	embedded, err := catalog.Embedded()
	if err != nil {
		return nil, protocol.NewError(protocol.InternalError, "%v", err)
	}
	cache := c.catalogCache()
	cached, fresh := cache.Load()
	if fresh {
		return cached, nil
	}
	token := c.operatorToken()
	if token == "" {
		if cached != nil {
			return cached, nil
		}
		return embedded, nil
	}
	live, err := c.fetchCatalog(ctx, token)
	if err != nil {
		fallback := "the embedded snapshot"
		if cached != nil {
			fallback = "the expired cache"
		}
		c.env.Log.WithError(err).Warnf("catalog: live catalog unavailable, serving %s", fallback)
		if cached != nil {
			return cached, nil
		}
		return embedded, nil
	}
	merged := catalog.Merge(live, embedded)
	if cached != nil {
		merged = catalog.Merge(merged, cached)
	}
	if err := cache.Store(merged); err != nil {
		c.env.Log.WithError(err).Warn("catalog: could not cache the live catalog")
	}
	return merged, nil
}

// fetchCatalog reads locations and server types: 2 API calls.
func (c *CPI) fetchCatalog(ctx context.Context, token string) (*catalog.Model, error) {
	client := c.newClient(token)
	locs, err := client.Location.All(ctx)
	if err != nil {
		return nil, cpi.CloudError("catalog: listing locations", nil, err)
	}
	types, err := client.ServerType.All(ctx)
	if err != nil {
		return nil, cpi.CloudError("catalog: listing server types", nil, err)
	}
	if len(locs) == 0 || len(types) == 0 {
		return nil, fmt.Errorf("catalog: the API listed %d locations and %d server types", len(locs), len(types))
	}
	return catalog.FromHetzner(c.env.Now().UTC().Format("2006-01-02T15:04Z"), "live API", locs, types), nil
}

// localModel is the catalog without API calls: the cached live catalog,
// fresh or not, else the embedded snapshot. order_server validates with it.
func (c *CPI) localModel() (*catalog.Model, error) {
	if cached, _ := c.catalogCache().Load(); cached != nil {
		return cached, nil
	}
	m, err := catalog.Embedded()
	if err != nil {
		return nil, protocol.NewError(protocol.InternalError, "%v", err)
	}
	return m, nil
}
