package catalog

import (
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
