package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

// snapshotJSON is the catalog compiled by scripts/update-catalog: small and
// pre-digested, so reading it costs microseconds.
//
//go:embed snapshot.json
var snapshotJSON []byte

var (
	snapshotOnce  sync.Once
	snapshotModel *Model
	snapshotErr   error
)

// Embedded returns the snapshot compiled into the binary. It is parsed on
// first use only; callers must not modify it.
func Embedded() (*Model, error) {
	snapshotOnce.Do(func() {
		m := &Model{}
		if err := json.Unmarshal(snapshotJSON, m); err != nil {
			snapshotErr = fmt.Errorf("embedded catalog snapshot: %w", err)
			return
		}
		snapshotModel = m
	})
	return snapshotModel, snapshotErr
}

// EmbeddedJSON is the raw snapshot, for scripts/update-catalog to merge with.
func EmbeddedJSON() []byte { return snapshotJSON }

// EmbeddedPlan is the plan of a size in a region in the embedded snapshot,
// read from its leading plan_index without parsing the rest: meta needs
// only this, on every start. "" when the snapshot does not list it.
func EmbeddedPlan(location, serverType string) string {
	want := location + "/" + serverType
	dec := json.NewDecoder(bytes.NewReader(snapshotJSON))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return embeddedPlanSlow(location, serverType)
	}
	if t, err := dec.Token(); err != nil || t != "plan_index" {
		return embeddedPlanSlow(location, serverType)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return embeddedPlanSlow(location, serverType)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			break
		}
		value, err := dec.Token()
		if err != nil {
			break
		}
		if key == want {
			plan, _ := value.(string)
			return plan
		}
	}
	return ""
}

func embeddedPlanSlow(location, serverType string) string {
	m, err := Embedded()
	if err != nil {
		return ""
	}
	return m.PlanFor(location, serverType)
}
