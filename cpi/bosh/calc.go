package bosh

import (
	"strconv"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
)

// VMResources are calculate_vm_cloud_properties' argument (a vm_resources
// block): cores, RAM in MiB and ephemeral disk in MiB.
type VMResources struct {
	CPU               int64 `json:"cpu"`
	RAM               int64 `json:"ram"`
	EphemeralDiskSize int64 `json:"ephemeral_disk_size"`
}

// CalculateVMCloudProperties answers calculate_vm_cloud_properties: the
// cheapest x86 server type orderable in defaults.region (and not sold out
// there) with at least the cores, the RAM (Hetzner memory is GiB) and the
// ephemeral disk (Hetzner disk is GB, 10^9 bytes, of which the stemcell's
// root file system takes its share). It reads the catalog: the cached live
// one when the Nanobox catalog method has cached it, else the embedded
// snapshot; no API call.
func (c *CPI) CalculateVMCloudProperties(res VMResources) (map[string]any, error) {
	const op = "calculate_vm_cloud_properties"
	if res.CPU <= 0 || res.RAM <= 0 || res.EphemeralDiskSize < 0 {
		return nil, newError(CpiError, "%s: cpu and ram must be positive and ephemeral_disk_size not negative (got %d, %d MiB, %d MiB)",
			op, res.CPU, res.RAM, res.EphemeralDiskSize)
	}
	m, err := c.model()
	if err != nil {
		return nil, newError(CloudError, "%s: %v", op, err)
	}
	location := c.cfg.Defaults.Region
	best, bestPrice := "", 0.0
	for _, t := range m.OrderableTypes(location) {
		p, _ := t.PriceIn(location)
		if t.Architecture != "x86" || p.Unavailable || !fits(t, res) {
			continue
		}
		price := monthly(p, c.cfg.Catalog.PriceBasis == config.PriceGross)
		if best == "" || price < bestPrice {
			best, bestPrice = t.Name, price
		}
	}
	if best == "" {
		return nil, newError(CloudError, "%s: no x86 server type in %s has %d cores, %d MiB RAM and %d MiB disk", op, location, res.CPU, res.RAM, res.EphemeralDiskSize)
	}
	return map[string]any{"server_type": best}, nil
}

func fits(t catalog.ServerType, res VMResources) bool {
	const mib = 1 << 20
	return int64(t.Cores) >= res.CPU &&
		int64(t.MemoryGB*1024) >= res.RAM &&
		int64(t.DiskGB)*1_000_000_000/mib >= res.EphemeralDiskSize
}

func monthly(p catalog.Price, gross bool) float64 {
	s := p.MonthlyNet
	if gross {
		s = p.MonthlyGross
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 1e12 // an unreadable price never wins
	}
	return f
}
