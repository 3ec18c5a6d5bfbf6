package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// runReady is the line make run prints once the adapter and the simulator
// answer.
const runReady = "Ctrl-C stops both."

// stoppingLines are what make run prints when it is told to stop, by
// Ctrl-C or SIGTERM alike: its own line, then the shim's last log lines.
var stoppingLines = []string{"stopping the adapter and the simulator...", "msg=stopped"}

// openPTY is a pseudo-terminal: the controlling side and the terminal a
// child gets as its stdin, stdout and stderr.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err, "a pseudo-terminal is needed to press Ctrl-C")
	t.Cleanup(func() { ptmx.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// runOutput collects what make run prints and says when a line appeared.
type runOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{}
	once sync.Once
}

func (o *runOutput) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		o.mu.Lock()
		o.buf.WriteString(sc.Text() + "\n")
		ready := strings.Contains(sc.Text(), runReady)
		o.mu.Unlock()
		if ready {
			o.once.Do(func() { close(o.seen) })
		}
	}
}

func (o *runOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// makeRun is `make run` in the repository, without the make variables of a
// make test that may be running this test.
func makeRun(t *testing.T) *exec.Cmd {
	cmd := exec.Command("make", "run")
	cmd.Dir = repotest.RepoRoot(t)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") && !strings.HasPrefix(kv, "MFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// waitReady waits for make run to be ready (or to have died), then checks
// that the printed token is on no process's command line.
func waitReady(t *testing.T, out *runOutput, exited <-chan error) {
	t.Helper()
	select {
	case <-out.seen:
	case err := <-exited:
		t.Fatalf("make run exited before it was ready (%v):\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run was not ready within 3 minutes:\n%s", out.String())
	}
	m := regexp.MustCompile(`TOKEN=([0-9a-f]+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 2, "make run prints the token:\n%s", out.String())
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process is gone
		}
		assert.NotContains(t, string(data), m[1], "the simulator token is on a command line (%s): ps shows it", path)
	}
}

// TestMakeRunStopsOnCtrlCWithExitZero: Ctrl-C on make run, in a terminal,
// stops the adapter and the simulator with the same lines as SIGTERM and
// make exits 0.
func TestMakeRunStopsOnCtrlCWithExitZero(t *testing.T) {
	ptmx, tty := openPTY(t)
	cmd := makeRun(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	// The test keeps its end of the terminal open until it is done: once
	// every process has closed it, Linux may drop the last output still in
	// flight (a read of the controlling side fails with EIO instead).
	out := &runOutput{seen: make(chan struct{})}
	go out.consume(ptmx)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitReady(t, out, exited)

	_, err := ptmx.Write([]byte{0x03}) // Ctrl-C: SIGINT to the terminal's foreground process group
	require.NoError(t, err)
	select {
	case err := <-exited:
		require.NoError(t, err, "make run exits 0 on Ctrl-C:\n%s", out.String())
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("make run did not stop within a minute of Ctrl-C:\n%s", out.String())
	}
	for _, line := range stoppingLines {
		assert.Eventually(t, func() bool { return strings.Contains(out.String(), line) }, 5*time.Second, 10*time.Millisecond,
			"make run prints %q:\n%s", line, out.String())
	}
	assert.NotContains(t, out.String(), "make: ***")
}

// pipedRun is make run started without a terminal, its output collected.
type pipedRun struct {
	cmd    *exec.Cmd
	out    *runOutput
	read   chan struct{} // closed once all the output is read
	exited chan error    // make's exit
}

// startPipedRun starts make run without a terminal and waits until it is
// ready.
func startPipedRun(t *testing.T) *pipedRun {
	r := &pipedRun{cmd: makeRun(t), out: &runOutput{seen: make(chan struct{})}, read: make(chan struct{}), exited: make(chan error, 1)}
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	require.NoError(t, r.cmd.Start())
	go func() { r.out.consume(pr); close(r.read) }()
	go func() { err := r.cmd.Wait(); pw.Close(); r.exited <- err }()
	waitReady(t, r.out, r.exited)
	return r
}

// terminate sends SIGTERM to the script make runs as its one child, and
// returns make's exit (an error when it takes over a minute).
func (r *pipedRun) terminate() error {
	pid := r.cmd.Process.Pid
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return err
	}
	var script int
	if _, err := fmt.Sscan(string(children), &script); err != nil {
		return fmt.Errorf("make's child %q: %w", children, err)
	}
	if err := syscall.Kill(script, syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-r.exited:
		<-r.read
		return err
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		return errors.New("make run did not stop within a minute of SIGTERM")
	}
}

// TestMakeRunStopsOnSIGTERMWithExitZero: without a terminal, SIGTERM to
// make run's script stops both with exit 0, and make exits 0.
func TestMakeRunStopsOnSIGTERMWithExitZero(t *testing.T) {
	r := startPipedRun(t)
	require.NoError(t, r.terminate(), "make run exits 0 on SIGTERM:\n%s", r.out.String())
	for _, line := range stoppingLines {
		assert.Contains(t, r.out.String(), line)
	}
}

// readmeLifecycle is the shell block of README.md's lifecycle section.
func readmeLifecycle(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repotest.RepoRoot(t), "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(data), "<!-- lifecycle")
	require.True(t, ok, "README.md has a lifecycle block")
	block, _, ok := strings.Cut(rest, "<!-- end of lifecycle -->")
	require.True(t, ok)
	_, block, ok = strings.Cut(block, "```sh\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	return block
}

// TestReadmeLifecycleWorksAsPrinted: the README's curl lines, pasted after
// the export line make run prints, run a whole lifecycle.
func TestReadmeLifecycleWorksAsPrinted(t *testing.T) {
	block := readmeLifecycle(t)
	r := startPipedRun(t)
	defer func() { assert.NoError(t, r.terminate()) }()
	export := regexp.MustCompile(`(?m)^\s*(export URL=\S+ TOKEN=\S+)$`).FindStringSubmatch(r.out.String())
	require.Len(t, export, 2, "make run prints the export line:\n%s", r.out.String())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", export[1]+"\n"+block)
	sh.WaitDelay = time.Second // curl or sleep may outlive a killed bash
	out, err := sh.CombinedOutput()
	require.NoError(t, err, "the README lifecycle (2 minutes at most):\n%s", out)
	assert.Contains(t, string(out), `"id":"hetzner"`, "meta")
	assert.Equal(t, 5, strings.Count(string(out), "200\n"), "verify, rename, reboot, cancel and delete_key answer 200:\n%s", out)
	assert.Contains(t, string(out), `"status":"`, "the server's status:\n%s", out)
}
