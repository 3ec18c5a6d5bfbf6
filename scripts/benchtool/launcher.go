package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// launcherC runs one command and reports its rusage on fd 3. Peak RSS
// needs it: Go starts children with vfork (CLONE_VM), and Linux folds the
// high-water RSS of the mm the child leaves at exec (the parent's, for
// vfork) into the child's ru_maxrss, so a child of the bench tool would
// report at least the bench tool's own peak. A tiny C parent that forks
// contaminates the figure by well under a MiB, less than any Go binary uses.
const launcherC = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;
	if (argc < 2) return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid < 0) return 3;
	if (pid == 0) {
		close(3);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) return 4;
	clock_gettime(CLOCK_MONOTONIC, &b);
	dprintf(3, "%lld %ld %lld %d\n",
		(long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec),
		ru.ru_maxrss,
		(long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
`

// buildLauncher compiles launcherC with cc when there is one; without it,
// measureProcess falls back to a direct exec (RSS then an upper bound).
func (b *bench) buildLauncher() {
	cc, err := exec.LookPath("cc")
	if err != nil {
		b.res.RSSMethod = "direct exec (no C compiler found): peak RSS includes the bench tool's own, an upper bound"
		return
	}
	src := filepath.Join(b.tmp, "launcher.c")
	bin := filepath.Join(b.tmp, "launcher")
	if err := os.WriteFile(src, []byte(launcherC), 0o644); err != nil {
		b.res.RSSMethod = "direct exec: " + err.Error()
		return
	}
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		b.res.RSSMethod = "direct exec (cc failed: " + firstLine(out) + "): peak RSS includes the bench tool's own, an upper bound"
		return
	}
	b.launcher = bin
	b.res.RSSMethod = "fork+exec from a tiny C launcher, wait4 rusage (ru_maxrss); wall time from fork to reap"
}

// measureProcess runs one process for the per-method table: through the
// launcher when there is one, else directly.
func (b *bench) measureProcess(ctx context.Context, path string, args, env []string, stdin []byte) (execResult, error) {
	if b.launcher == "" {
		return measureExec(ctx, path, args, env, stdin)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return execResult{}, err
	}
	defer r.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.launcher, append([]string{path}, args...)...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Run()
	w.Close()
	if err != nil {
		return execResult{}, fmt.Errorf("launcher: %w: %s", err, firstLine(stderr.Bytes()))
	}
	var report bytes.Buffer
	if _, err := report.ReadFrom(r); err != nil {
		return execResult{}, err
	}
	f := strings.Fields(report.String())
	if len(f) != 4 {
		return execResult{}, fmt.Errorf("launcher reported %q", report.String())
	}
	wall, err1 := strconv.ParseInt(f[0], 10, 64)
	rss, err2 := strconv.ParseInt(f[1], 10, 64)
	cpu, err3 := strconv.ParseInt(f[2], 10, 64)
	code, err4 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return execResult{}, fmt.Errorf("launcher reported %q", report.String())
	}
	return execResult{Wall: time.Duration(wall), MaxRSS: rss, CPU: time.Duration(cpu) * time.Microsecond,
		Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}
