package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// execResult is one measured process run.
type execResult struct {
	Wall     time.Duration // from Start to the end of Wait
	CPU      time.Duration // user + system time of the child
	MaxRSS   int64         // peak resident set, KiB (rusage ru_maxrss)
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// measureExec runs path with args, stdin and env, and measures the whole
// process: wall time from fork to reap, CPU time and peak RSS from the
// child's rusage.
func measureExec(ctx context.Context, path string, args []string, env []string, stdin []byte) (execResult, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	res := execResult{Wall: wall, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1}
	ps := cmd.ProcessState
	if ps == nil {
		return res, fmt.Errorf("running %s: %w", filepath.Base(path), err)
	}
	res.ExitCode = ps.ExitCode()
	res.CPU = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss // KiB on Linux
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("running %s: %w", filepath.Base(path), err)
	}
	return res, nil
}

// server is a long-running child process (the simulator or the shim).
type server struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startServer starts path with args and env, sending stderr to logPath.
// It returns the server and a reader of its stdout.
func startServer(name, path string, args, env []string, logPath string) (*server, *bufio.Reader, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	return s, bufio.NewReader(out), nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 15 s, then kills.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200 or the deadline passes.
func waitHTTP(url string, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s did not answer 200 within %s (last error: %v)", url, deadline, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStatusKiB reads a "Name:   123 kB" field of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// resetPeakRSS resets VmHWM of pid to its current RSS (clear_refs 5), so
// the next read measures the peak of what follows. It reports whether the
// kernel accepted it.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// cpiProcesses counts live processes that are children of parent or whose
// executable is exe: the CPI processes left behind.
func cpiProcesses(parent int, exe string) (children, byExe int) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return -1, -1
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 {
				f := strings.Fields(string(stat[i+1:]))
				if len(f) > 1 && f[1] == strconv.Itoa(parent) {
					children++
				}
			}
		}
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && target == exe {
			byExe++
		}
	}
	return children, byExe
}

// simAdmin talks to the simulator's /_sim hooks.
type simAdmin struct {
	base  string // http://127.0.0.1:port
	token string
	http  *http.Client
}

func (a *simAdmin) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *simAdmin) reset() error { return a.do(http.MethodPost, "/_sim/requests/reset", nil, nil) }

// requests returns the per-route counters and the total since the last reset.
func (a *simAdmin) requests() (map[string]int, int, error) {
	var out struct {
		Requests map[string]int `json:"requests"`
		Total    int            `json:"total"`
	}
	err := a.do(http.MethodGet, "/_sim/requests", nil, &out)
	return out.Requests, out.Total, err
}

// created lists every object the simulator ever created.
func (a *simAdmin) created() ([]createdObject, error) {
	var out []createdObject
	err := a.do(http.MethodGet, "/_sim/created", nil, &out)
	return out, err
}

type createdObject struct {
	Kind string
	ID   int64
	Name string
}

// procCPU returns a process's own CPU time and that of its reaped children
// (utime+stime and cutime+cstime of /proc/<pid>/stat).
func procCPU(pid int) (self, children time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// After "pid (comm)": state is field 3; utime, stime, cutime, cstime are 14-17.
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks [4]int64
	for k := 0; k < 4; k++ {
		if ticks[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	const hz = 100 // USER_HZ on Linux
	tick := time.Second / hz
	return time.Duration(ticks[0]+ticks[1]) * tick, time.Duration(ticks[2]+ticks[3]) * tick, nil
}
