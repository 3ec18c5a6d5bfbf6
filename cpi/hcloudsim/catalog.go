//lint:file-ignore SA1019 the simulator serves the deprecated fields and endpoints (datacenters, Deprecated, Traffic, FloatingIP) because the API document still has them and clients still read them

package hcloudsim

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// catalogJSON is the Hetzner catalog fixture, the repository's only copy (docs/development.md says where it
// came from); cpi/catalog's snapshot is generated from it too.
//
//go:embed seed/catalog.json
var catalogJSON []byte

// catalogFile is the shape of the fixture: GET /v1/locations and GET /v1/server_types in one file.
type catalogFile struct {
	Currency    string              `json:"currency"`
	VATRate     string              `json:"vat_rate"`
	Locations   []schema.Location   `json:"locations"`
	ServerTypes []schema.ServerType `json:"server_types"`
}

// catalog is the read-mostly seed data: locations, datacenters, server types, images, pricing basics.
type catalog struct {
	currency, vatRate string
	locations         []schema.Location
	datacenters       []schema.Datacenter
	serverTypes       []schema.ServerType
	images            []schema.Image
}

// datacenterSuffix names each location's datacenter as the API does ("fsn1-dc14").
var datacenterSuffix = map[string]string{"fsn1": "dc14", "nbg1": "dc3", "hel1": "dc2", "ash": "dc1", "hil": "dc1", "sin": "dc1"}

func loadCatalog() (*catalog, error) {
	var f catalogFile
	if err := json.Unmarshal(catalogJSON, &f); err != nil {
		return nil, fmt.Errorf("hcloudsim: parsing the embedded catalog: %w", err)
	}
	if len(f.Locations) == 0 || len(f.ServerTypes) == 0 {
		return nil, fmt.Errorf("hcloudsim: the embedded catalog has no locations or server types")
	}
	c := &catalog{currency: f.Currency, vatRate: f.VATRate, locations: f.Locations, serverTypes: f.ServerTypes}
	if c.currency == "" {
		c.currency = "EUR"
	}
	if c.vatRate == "" {
		c.vatRate = "0.000000"
	}
	for i, l := range f.Locations {
		suffix := datacenterSuffix[l.Name]
		if suffix == "" {
			suffix = "dc1"
		}
		dc := schema.Datacenter{ID: int64(i + 1), Name: l.Name + "-" + suffix, Description: l.Description + " DC " + suffix, Location: l}
		var ids []int64
		for _, st := range f.ServerTypes {
			for _, stl := range st.Locations {
				if stl.Name == l.Name {
					ids = append(ids, st.ID)
				}
			}
		}
		dc.ServerTypes = &schema.DatacenterServerTypes{Supported: ids, Available: ids, AvailableForMigration: ids}
		if ids == nil {
			dc.ServerTypes = &schema.DatacenterServerTypes{Supported: []int64{}, Available: []int64{}, AvailableForMigration: []int64{}}
		}
		c.datacenters = append(c.datacenters, dc)
	}
	c.images = systemImages()
	return c, nil
}

// systemImages are the usual Hetzner system images, one per architecture, IDs as the API's x86 images.
func systemImages() []schema.Image {
	type img struct {
		name, flavor, version, desc string
		x86, arm                    int64
	}
	list := []img{
		{"ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04", 67794396, 103908130},
		{"ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04", 161547269, 161547270},
		{"debian-12", "debian", "12", "Debian 12", 114690387, 114690389},
		{"debian-13", "debian", "13", "Debian 13", 310557660, 310557661},
		{"fedora-42", "fedora", "42", "Fedora 42", 232895431, 232895432},
		{"rocky-9", "rocky", "9", "Rocky Linux 9", 76766499, 103908164},
		{"alma-9", "alma", "9", "AlmaLinux 9", 76766500, 103908165},
		{"centos-stream-9", "centos", "9", "CentOS Stream 9", 59752342, 103908166},
	}
	created := time.Date(2024, 4, 25, 12, 0, 0, 0, time.UTC)
	var out []schema.Image
	for _, l := range list {
		for _, arch := range []struct {
			name string
			id   int64
		}{{"x86", l.x86}, {"arm", l.arm}} {
			name, version, at := l.name, l.version, created
			size := float32(5)
			out = append(out, schema.Image{
				ID: arch.id, Status: "available", Type: "system", Name: &name, Description: l.desc,
				ImageSize: nil, DiskSize: size, Created: &at, OSFlavor: l.flavor, OSVersion: &version,
				Architecture: arch.name, RapidDeploy: true, Labels: map[string]string{},
			})
		}
	}
	return out
}

func (c *catalog) location(idOrName string) (schema.Location, bool) {
	for _, l := range c.locations {
		if l.Name == idOrName || fmt.Sprint(l.ID) == idOrName {
			return l, true
		}
	}
	return schema.Location{}, false
}

func (c *catalog) datacenter(idOrName string) (schema.Datacenter, bool) {
	for _, d := range c.datacenters {
		if d.Name == idOrName || fmt.Sprint(d.ID) == idOrName {
			return d, true
		}
	}
	return schema.Datacenter{}, false
}

func (c *catalog) serverType(v schema.IDOrName) (schema.ServerType, bool) {
	for _, st := range c.serverTypes {
		if (v.ID != 0 && st.ID == v.ID) || (v.ID == 0 && st.Name == v.Name) {
			return st, true
		}
	}
	return schema.ServerType{}, false
}

// image finds an image by ID, or by name for the given architecture ("" = x86).
func (c *catalog) image(v schema.IDOrName, arch string) (schema.Image, bool) {
	if arch == "" {
		arch = "x86"
	}
	for _, im := range c.images {
		if v.ID != 0 && im.ID == v.ID {
			return im, true
		}
		if v.ID == 0 && im.Name != nil && *im.Name == v.Name && im.Architecture == arch {
			return im, true
		}
	}
	return schema.Image{}, false
}
