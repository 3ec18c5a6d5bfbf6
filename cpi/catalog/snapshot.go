package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
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

// EmbeddedPlan is the plan of a size in a region in the embedded snapshot,
// read from its plan_index without parsing the catalog: meta needs only
// this, on every start. "" when the snapshot does not list it.
//
// The index is a flat object of "location/type": "plan" strings (written by
// scripts/update-catalog; names and plan ids need no JSON escaping), so a
// byte search inside it is exact. Anything unexpected falls back to a full
// parse.
func EmbeddedPlan(location, serverType string) string {
	want := location + "/" + serverType
	if strings.ContainsAny(want, "\"\\") {
		return ""
	}
	start := bytes.Index(snapshotJSON, []byte(`"plan_index"`))
	if start < 0 {
		return embeddedPlanSlow(location, serverType)
	}
	end := bytes.IndexByte(snapshotJSON[start:], '}')
	if end < 0 {
		return embeddedPlanSlow(location, serverType)
	}
	index := snapshotJSON[start : start+end]
	k := bytes.Index(index, []byte(`"`+want+`"`))
	if k < 0 {
		return ""
	}
	rest := bytes.TrimLeft(index[k+len(want)+2:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return embeddedPlanSlow(location, serverType)
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return embeddedPlanSlow(location, serverType)
	}
	q := bytes.IndexAny(rest[1:], "\"\\")
	if q < 0 || rest[1+q] != '"' {
		return embeddedPlanSlow(location, serverType)
	}
	return string(rest[1 : 1+q])
}

func embeddedPlanSlow(location, serverType string) string {
	m, err := Embedded()
	if err != nil {
		return ""
	}
	return m.PlanFor(location, serverType)
}
