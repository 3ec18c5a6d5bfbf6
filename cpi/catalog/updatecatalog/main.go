// Command updatecatalog regenerates cpi/catalog/snapshot.json, the catalog
// embedded in the CPI. scripts/update-catalog runs it.
//
// The source is either the catalog fixture (the default,
// cpi/hcloudsim/seed/catalog.json, in the shape of GET /v1/locations and
// GET /v1/server_types) or, with -live, the
// API itself (HCLOUD_TOKEN, HCLOUD_ENDPOINT). Whatever the previous
// snapshot listed and the source no longer does stays listed as retired, as
// do the server types Hetzner withdrew before the fixture was compiled.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "update-catalog:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("update-catalog", flag.ContinueOnError)
	fixture := fs.String("fixture", "cpi/hcloudsim/seed/catalog.json", "fixture file in the shape of the API's list responses")
	live := fs.Bool("live", false, "read the live API (HCLOUD_TOKEN, HCLOUD_ENDPOINT) instead of the fixture")
	out := fs.String("out", "cpi/catalog/snapshot.json", "snapshot to write")
	fresh := fs.Bool("fresh", false, "do not keep entries of the previous snapshot as retired")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var current *catalog.Model
	var err error
	if *live {
		current, err = fromAPI()
	} else {
		current, err = fromFixture(*fixture)
	}
	if err != nil {
		return err
	}
	merged := current
	if !*fresh {
		if data, err := os.ReadFile(*out); err == nil {
			var previous catalog.Model
			if err := json.Unmarshal(data, &previous); err != nil {
				return fmt.Errorf("previous snapshot %s: %w", *out, err)
			}
			merged = catalog.Merge(merged, &previous)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	merged = catalog.Merge(merged, withdrawn()).WithPlanIndex()
	data, err := json.MarshalIndent(merged, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "update-catalog: wrote %s: %d locations, %d server types (source: %s)\n",
		*out, len(merged.Locations), len(merged.ServerTypes), merged.Source)
	return nil
}

type fixtureFile struct {
	AsOf        string              `json:"as_of"`
	Locations   []schema.Location   `json:"locations"`
	ServerTypes []schema.ServerType `json:"server_types"`
}

func fromFixture(path string) (*catalog.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f fixtureFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	locs := make([]*hcloud.Location, 0, len(f.Locations))
	for _, l := range f.Locations {
		locs = append(locs, hcloud.LocationFromSchema(l))
	}
	types := make([]*hcloud.ServerType, 0, len(f.ServerTypes))
	for _, t := range f.ServerTypes {
		types = append(types, hcloud.ServerTypeFromSchema(t))
	}
	return catalog.FromHetzner(f.AsOf, "hetzner-catalog-fixture.json", locs, types), nil
}

func fromAPI() (*catalog.Model, error) {
	// The CPI's own loader, with no file: the token and endpoint come from
	// the environment exactly as the CPI takes them.
	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("-live needs " + config.TokenEnv)
	}
	opts := []hcloud.ClientOption{hcloud.WithToken(cfg.Token), hcloud.WithEndpoint(cfg.Endpoint), hcloud.WithApplication("nanobox-hcloud-update-catalog", "")}
	client := hcloud.NewClient(opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	locs, err := client.Location.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing locations: %w", err)
	}
	types, err := client.ServerType.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing server types: %w", err)
	}
	return catalog.FromHetzner(time.Now().UTC().Format("2006-01-02"), "live API", locs, types), nil
}

// withdrawn lists server types Hetzner sold in locations where they can no
// longer be ordered, with their last list prices (net EUR, approximate), so
// that a dashboard showing them keeps working: Gen2 CX (cx22-cx52, removed
// from the API in January 2026) and Gen1 CPX in the EU (deprecated
// 2025-10-16).
func withdrawn() *catalog.Model {
	eu := []string{"fsn1", "nbg1", "hel1"}
	mk := func(name, category string, cores int, mem float64, disk int, monthly float64) catalog.ServerType {
		t := catalog.ServerType{Name: name, Category: category, CPUType: "shared", Architecture: "x86",
			Cores: cores, MemoryGB: mem, DiskGB: disk}
		for _, l := range eu {
			m := fmt.Sprintf("%.2f", monthly)
			h := fmt.Sprintf("%.4f", monthly/624)
			t.Prices = append(t.Prices, catalog.Price{Location: l, HourlyNet: h, HourlyGross: h,
				MonthlyNet: m, MonthlyGross: m, TrafficTB: 20, Retired: true})
		}
		return t
	}
	return &catalog.Model{ServerTypes: []catalog.ServerType{
		mk("cx22", "cost_optimized", 2, 4, 40, 3.79),
		mk("cx32", "cost_optimized", 4, 8, 80, 6.80),
		mk("cx42", "cost_optimized", 8, 16, 160, 16.40),
		mk("cx52", "cost_optimized", 16, 32, 320, 32.40),
		mk("cpx11", "regular_purpose", 2, 2, 40, 4.35),
		mk("cpx21", "regular_purpose", 3, 4, 80, 7.55),
		mk("cpx31", "regular_purpose", 4, 8, 160, 13.60),
		mk("cpx41", "regular_purpose", 8, 16, 240, 25.20),
		mk("cpx51", "regular_purpose", 16, 32, 360, 54.90),
	}}
}
