package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// environment describes the machine and the build measured.
func environment(b *bench) map[string]string {
	env := map[string]string{
		"go":      runtime.Version(),
		"os/arch": runtime.GOOS + "/" + runtime.GOARCH,
		"cpus":    strconv.Itoa(runtime.NumCPU()),
		"cpu":     cpuModel(),
		"kernel":  readTrim("/proc/sys/kernel/osrelease"),
		"commit":  command("git", "describe", "--always", "--dirty", "--tags"),
		"date":    time.Now().UTC().Format(time.RFC3339),
		"memory":  memTotal(),
	}
	for _, p := range []string{b.cpi, b.shim, b.sim} {
		if st, err := os.Stat(p); err == nil {
			env["size "+filepath.Base(p)] = strconv.FormatFloat(float64(st.Size())/(1<<20), 'f', 1, 64) + " MiB"
		}
	}
	return env
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
			f := strings.Fields(v)
			if n, err := strconv.ParseFloat(f[0], 64); err == nil {
				return strconv.FormatFloat(n/(1<<20), 'f', 1, 64) + " GiB"
			}
		}
	}
	return "unknown"
}

func readTrim(p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func newAdminClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
