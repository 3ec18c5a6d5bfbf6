package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// cliRow is one hcloud CLI command beside the CPI method that does the same.
type cliRow struct {
	Command string      `json:"command"`
	Method  string      `json:"method"` // the scenario name it is compared with
	Runs    []methodRun `json:"runs"`
}

// runCLI measures the official hcloud CLI against the simulator when it is
// on PATH (HCLOUD_ENDPOINT and HCLOUD_TOKEN point it at the simulator; an
// empty HCLOUD_CONFIG keeps a user's contexts out). It records the path, or
// why it did not run.
func (b *bench) runCLI() error {
	path, err := exec.LookPath("hcloud")
	if err != nil {
		b.res.CLI.Absent = true
		b.logf("hcloud CLI: not on PATH; comparison skipped")
		return nil
	}
	b.res.CLI.Path = filepath.Base(path) // the name only: a machine path is no result
	home := filepath.Join(b.tmp, "cli-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + b.tmp,
		"HCLOUD_ENDPOINT=" + b.simURL, "HCLOUD_TOKEN=" + b.token,
		"HCLOUD_CONFIG=" + filepath.Join(home, "cli.toml"),
	}
	if res, err := measureExec(context.Background(), path, []string{"version"}, env, nil); err == nil {
		b.res.CLI.Version = firstLine(res.Stdout)
	}
	run := func(args ...string) (methodRun, error) {
		if err := b.admin.reset(); err != nil {
			return methodRun{}, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := b.measureProcess(ctx, path, args, env, nil)
		if err != nil {
			return methodRun{}, err
		}
		routes, total, err := b.admin.requests()
		if err != nil {
			return methodRun{}, err
		}
		if res.ExitCode != 0 {
			return methodRun{}, fmt.Errorf("hcloud %v exited %d: %s", args, res.ExitCode, firstLine(res.Stderr))
		}
		return methodRun{WallMs: ms(res.Wall), CPUMs: ms(res.CPU), RSSKiB: res.MaxRSS, APIRequests: total, Routes: routes}, nil
	}
	measure := func(command, method string, argsFor func(i int) []string) error {
		row := cliRow{Command: command, Method: method}
		for i := 0; i < b.runs; i++ {
			r, err := run(argsFor(i)...)
			if err != nil {
				return err
			}
			row.Runs = append(row.Runs, r)
		}
		b.res.CLI.Rows = append(b.res.CLI.Rows, &row)
		s := scenario{Runs: row.Runs}
		b.logf("%-40s wall p50 %6.1f ms  rss p50 %5.1f MiB  api requests %s", "hcloud "+command, s.wall().Median, s.rss().Median, requestsCell(s.requests()))
		return nil
	}
	if err := measure("server-type list", "catalog (live: operator token, empty cache)", func(int) []string {
		return []string{"server-type", "list"}
	}); err != nil {
		return err
	}
	keyName := func(i int) string { return fmt.Sprintf("bench-cli-key-%d", i) }
	keys := make([]string, b.runs)
	for i := range keys {
		k, err := newPublicKey()
		if err != nil {
			return err
		}
		keys[i] = k
	}
	if err := measure("ssh-key create", "create_key", func(i int) []string {
		return []string{"ssh-key", "create", "--name", keyName(i), "--public-key", keys[i]}
	}); err != nil {
		return err
	}
	srvName := func(i int) string { return fmt.Sprintf("bench-cli-srv-%d", i) }
	if err := measure("server create", "order_server (warm)", func(i int) []string {
		return []string{"server", "create", "--name", srvName(i), "--type", "cx23", "--image", "ubuntu-24.04",
			"--location", "nbg1", "--ssh-key", keyName(0)}
	}); err != nil {
		return err
	}
	ids, err := b.createdIDs("server", srvName, b.runs)
	if err != nil {
		return err
	}
	for _, c := range []struct{ command, method, verb string }{
		{"server describe", "query_server", "describe"},
		{"server reboot", "reboot_server", "reboot"},
		{"server delete", "cancel_server", "delete"},
	} {
		if err := measure(c.command, c.method, func(i int) []string { return []string{"server", c.verb, ids[i]} }); err != nil {
			return err
		}
	}
	return nil
}

// createdIDs finds the ids of the objects named name(0..n-1) of kind.
func (b *bench) createdIDs(kind string, name func(int) string, n int) ([]string, error) {
	objs, err := b.admin.created()
	if err != nil {
		return nil, err
	}
	byName := map[string]int64{}
	for _, o := range objs {
		if o.Kind == kind {
			byName[o.Name] = o.ID
		}
	}
	out := make([]string, n)
	for i := range out {
		id, ok := byName[name(i)]
		if !ok {
			return nil, fmt.Errorf("the simulator has no %s named %s", kind, name(i))
		}
		out[i] = strconv.FormatInt(id, 10)
	}
	return out, nil
}
