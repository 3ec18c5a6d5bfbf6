package dist_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
)

// stub writes an executable shell script named name into dir.
func stub(t *testing.T, dir, name, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
}

// TestTestToolsInstallsOrSaysHow runs scripts/test-tools with a PATH of
// stubs only: id says who runs it, apt-get and sudo record their calls.
func TestTestToolsInstallsOrSaysHow(t *testing.T) {
	script := filepath.Join(repo.Root(t), "scripts", "test-tools")
	twoCommands := "  sudo apt-get update\n  sudo apt-get install -y --no-install-recommends shellcheck chromium\n"
	for _, tc := range []struct {
		name       string
		uid        string
		aptGet     bool   // apt-get is on PATH
		sudo       string // "" none, "ok" passwordless, "password" asks
		aptFails   bool
		wantCode   int
		wantStdout string
		wantStderr string
		wantCalls  string // apt-get's and sudo's calls, in order
	}{
		{name: "nothing missing", uid: "1000", aptGet: true, wantCode: 0},
		{name: "root installs", uid: "0", aptGet: true, wantCode: 0,
			wantStdout: "make test: installing the Debian packages its tests need: shellcheck chromium (apt-get update, then apt-get install)\n",
			wantCalls:  "apt-get update -qq\napt-get install -y -qq --no-install-recommends shellcheck chromium\n"},
		{name: "passwordless sudo installs", uid: "1000", aptGet: true, sudo: "ok", wantCode: 0,
			wantStdout: "make test: installing the Debian packages its tests need: shellcheck chromium (apt-get update, then apt-get install)\n",
			wantCalls: "sudo -n true\nsudo apt-get update -qq\napt-get update -qq\n" +
				"sudo apt-get install -y -qq --no-install-recommends shellcheck chromium\napt-get install -y -qq --no-install-recommends shellcheck chromium\n"},
		{name: "sudo wants a password", uid: "1000", aptGet: true, sudo: "password", wantCode: 1,
			wantStderr: "make test needs: shellcheck chromium. Install them with these two commands, then run make test again:\n" + twoCommands,
			wantCalls:  "sudo -n true\n"},
		{name: "no sudo", uid: "1000", aptGet: true, wantCode: 1,
			wantStderr: "make test needs: shellcheck chromium. Install them with these two commands, then run make test again:\n" + twoCommands},
		{name: "not Debian", uid: "0", wantCode: 1,
			wantStderr: "make test needs: shellcheck chromium. Install them with these two commands, then run make test again:\n" + twoCommands},
		{name: "apt-get fails", uid: "0", aptGet: true, aptFails: true, wantCode: 1,
			wantStdout: "make test: installing the Debian packages its tests need: shellcheck chromium (apt-get update, then apt-get install)\n",
			wantStderr: "E: no network\nmake test: installing shellcheck chromium failed (apt-get's output above)\n",
			wantCalls:  "apt-get update -qq\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			calls := filepath.Join(t.TempDir(), "calls")
			stub(t, bin, "id", "echo "+tc.uid)
			if tc.aptGet {
				fail := ""
				if tc.aptFails {
					fail = `echo "E: no network" >&2; exit 100`
				}
				stub(t, bin, "apt-get", `echo "apt-get $*" >>`+calls+"\n"+fail)
			}
			switch tc.sudo {
			case "ok":
				stub(t, bin, "sudo", `echo "sudo $*" >>`+calls+`; [ "$1" = -n ] && exit 0; exec "$@"`)
			case "password":
				stub(t, bin, "sudo", `echo "sudo $*" >>`+calls+`; exit 1`)
			}
			tools := []string{"shellcheck:shellcheck", "chromium:chromium"}
			if tc.name == "nothing missing" {
				stub(t, bin, "shellcheck", "")
				stub(t, bin, "chromium", "")
			}
			cmd := exec.Command("/bin/bash", append([]string{script}, tools...)...)
			cmd.Env = []string{"PATH=" + bin}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if err != nil {
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee)
				code = ee.ExitCode()
			}
			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, tc.wantStdout, stdout.String())
			assert.Equal(t, tc.wantStderr, stderr.String())
			got, err := os.ReadFile(calls)
			if !os.IsNotExist(err) {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantCalls, string(got))
		})
	}
}

// git runs git in dir with a fixed identity and clock.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// TestVersionFromTheVersionFile runs a copy of scripts/version in a small
// repository of its own.
func TestVersionFromTheVersionFile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repo.Root(t), "scripts", "version"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, version string
		git           bool
		tag           string
		dirty         bool
		want          string // %s is the short commit
		wantErr       string
	}{
		{name: "outside git", version: "0.1.0\n", want: "0.1.0-dev"},
		{name: "untagged commit", version: "0.1.0\n", git: true, want: "0.1.0-dev+g%s"},
		{name: "tagged release", version: "1.2.3\n", git: true, tag: "v1.2.3", want: "1.2.3"},
		{name: "tag of another version", version: "1.2.4\n", git: true, tag: "v1.2.3", want: "1.2.4-dev+g%s"},
		{name: "local changes", version: "1.2.3\n", git: true, tag: "v1.2.3", dirty: true, want: "1.2.3-dev+g%s.dirty"},
		{name: "not semantic", version: "1.2\n", wantErr: "holds '1.2', not MAJOR.MINOR.PATCH"},
		{name: "leading v", version: "v1.2.3\n", wantErr: "holds 'v1.2.3', not MAJOR.MINOR.PATCH"},
		{name: "leading zero", version: "01.2.3\n", wantErr: "not MAJOR.MINOR.PATCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "version"), src, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "VERSION"), []byte(tc.version), 0o644))
			commit := ""
			if tc.git {
				git(t, dir, "init", "-q")
				git(t, dir, "add", ".")
				git(t, dir, "commit", "-q", "-m", "x")
				commit = git(t, dir, "rev-parse", "--short=12", "HEAD")
				if tc.tag != "" {
					git(t, dir, "tag", "-a", "-m", tc.tag, tc.tag)
				}
				if tc.dirty {
					require.NoError(t, os.WriteFile(filepath.Join(dir, "VERSION"), []byte(tc.version+"\n"), 0o644))
				}
			}
			cmd := exec.Command("/bin/bash", filepath.Join(dir, "scripts", "version"))
			cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, stderr.String(), tc.wantErr)
				assert.Empty(t, stdout.String())
				return
			}
			require.NoError(t, err, stderr.String())
			want := strings.Replace(tc.want, "%s", commit, 1)
			assert.Equal(t, want+"\n", stdout.String())
		})
	}
}
