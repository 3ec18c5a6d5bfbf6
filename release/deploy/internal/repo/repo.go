// Package repo finds the repository around the release/deploy module and
// the binaries its tests run.
package repo

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Root is the repository's root directory: the nearest directory above the
// working directory (a test's package directory) that holds
// cmd/nanobox-cpi-shim.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("cannot locate the repository: %v", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "cmd", "nanobox-cpi-shim")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no directory above %s holds cmd/nanobox-cpi-shim", dir)
		}
	}
}

// Commands are the binaries the deploy tests use.
var Commands = []string{"nanobox-cpi-shim", "nanobox-hcloud-cpi"}

var (
	buildOnce sync.Once
	buildDir  string
	buildOut  []byte
	buildErr  error
)

// BinDir is a directory holding Commands: $NANOBOX_HCLOUD_BIN when it has
// them all (`make test` builds them there first), else a temporary
// directory they are built into once per test process, the way the
// Makefile builds them (static, trimmed, without urfave/cli's doc flags).
func BinDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("NANOBOX_HCLOUD_BIN"); dir != "" {
		complete := true
		for _, c := range Commands {
			if _, err := os.Stat(filepath.Join(dir, c)); err != nil {
				complete = false
			}
		}
		if complete {
			return dir
		}
	}
	root := Root(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "deploy-bin-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-s -w -X main.version=test", "-o", buildDir + "/"}
		for _, c := range Commands {
			args = append(args, "./cmd/"+c)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building %v: %v\n%s", Commands, buildErr, buildOut)
	}
	return buildDir
}

// Cleanup removes binaries BinDir built; call it from TestMain.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// StartShim starts the shim binary with args and env, waits for its
// "listening" log line and returns the URL it serves (stopped at the end
// of the test). args must make it listen on 127.0.0.1:0.
func StartShim(t testing.TB, binary string, args, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", binary, err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	listening := regexp.MustCompile(`"?url"?[=:]"?(https?://127\.0\.0\.1:[0-9]+)`)
	var logs []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		logs = append(logs, sc.Text())
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			return m[1]
		}
	}
	t.Fatalf("%s %v did not start listening:\n%s", binary, args, strings.Join(logs, "\n"))
	return ""
}
