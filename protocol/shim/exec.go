package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Default output bounds for one CPI call. A catalog is tens of KiB; anything
// near these limits is a CPI that does not speak the protocol.
const (
	DefaultMaxStdout = 8 << 20
	DefaultMaxStderr = 64 << 10
)

// Runner executes the CPI binary, one process per call. It is safe for
// concurrent use.
//
// Each child runs in its own process group (Setpgid) with only the
// environment in Env, and on Linux dies with the shim (Pdeathsig: SIGKILL),
// whatever ends the shim. When the call's context ends first (timeout or client
// disconnect) the whole group is killed; when the CPI exits on its own, what
// is left of its group (a stray grandchild) is killed too, before the child
// is reaped, so the group id cannot have been reused. Every child is reaped.
// There is no shell: the binary is executed directly. (exec.CommandContext
// is not used because its cancellation kills only the leader, and only
// after the context ends; the group must go, and before the reaping.)
type Runner struct {
	Path      string   // the CPI binary
	Args      []string // e.g. ["-configPath", "cpi.json"]
	Env       []string // the child's whole environment
	MaxStdout int      // bytes kept of stdout; more is an error
	MaxStderr int      // bytes kept of stderr; more is dropped (and marked)
	// WaitDelay bounds how long to wait for the output pipes to close after
	// the CPI exited (a grandchild that escaped the group may hold them).
	WaitDelay time.Duration
}

// Outcome is how a CPI call ended.
type Outcome struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int    // -1 when killed by a signal or never started
	Signal   string // the signal that ended it, if any
	Killed   bool   // the shim killed it (context ended)
	Overflow bool   // stdout exceeded MaxStdout
	PID      int
	Duration time.Duration
}

// ErrStart wraps a failure to start the CPI at all.
var ErrStart = errors.New("starting the CPI")

// Run executes one call: request on stdin, response collected from stdout.
// It returns an error only when the CPI could not be started; every other
// failure is described by the Outcome.
func (r *Runner) Run(ctx context.Context, request []byte) (Outcome, error) {
	start := time.Now()
	stdout := &cappedBuffer{max: r.maxStdout()}
	stderr := &cappedBuffer{max: r.maxStderr()}
	cmd := exec.Command(r.Path, r.Args...)
	cmd.Env = r.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never inherit the shim's environment
	}
	cmd.Stdin = bytes.NewReader(request)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = r.waitDelay()
	defer lockForkThread()()
	if err := cmd.Start(); err != nil {
		return Outcome{ExitCode: -1, Duration: time.Since(start)}, fmt.Errorf("%w %s: %v", ErrStart, r.Path, err)
	}
	pid := cmd.Process.Pid

	exited := make(chan struct{})
	go func() {
		// Wait for the exit without reaping: while the leader is a zombie
		// its pid, and so its process group id, cannot be reused.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		close(exited)
	}()

	killed := false
	select {
	case <-exited:
	case <-ctx.Done():
		killed = true
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	// Whatever is left of the group (a grandchild) goes too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	waitErr := cmd.Wait()

	out := Outcome{
		Stdout:   stdout.Bytes(),
		Stderr:   stderr.Bytes(),
		Killed:   killed,
		Overflow: stdout.overflow,
		PID:      pid,
		Duration: time.Since(start),
		ExitCode: -1,
	}
	if ps := cmd.ProcessState; ps != nil {
		out.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			out.Signal = ws.Signal().String()
		}
	}
	if stderr.overflow {
		out.Stderr = append(out.Stderr, "\n[stderr truncated]"...)
	}
	_ = waitErr // described by ProcessState; ErrWaitDelay only means a stray pipe holder
	return out, nil
}

func (r *Runner) maxStdout() int {
	if r.MaxStdout > 0 {
		return r.MaxStdout
	}
	return DefaultMaxStdout
}

func (r *Runner) maxStderr() int {
	if r.MaxStderr > 0 {
		return r.MaxStderr
	}
	return DefaultMaxStderr
}

func (r *Runner) waitDelay() time.Duration {
	if r.WaitDelay > 0 {
		return r.WaitDelay
	}
	return 2 * time.Second
}

// cappedBuffer keeps at most max bytes and records that more came. It
// accepts (and drops) the excess so the child never blocks on a full pipe.
type cappedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

// ReadFrom lets os/exec's copying goroutine read the pipe straight into
// the buffer (io.Copy would allocate 32 KiB per stream and call).
func (b *cappedBuffer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	var scratch []byte
	for {
		b.mu.Lock()
		room := b.max - b.buf.Len()
		var dst []byte
		if room > 0 {
			b.buf.Grow(min(room, readChunk))
			dst = b.buf.AvailableBuffer()
			dst = dst[:min(cap(dst), room)]
		}
		b.mu.Unlock()
		if dst == nil {
			if scratch == nil {
				scratch = make([]byte, readChunk)
			}
			dst = scratch
		}
		n, err := r.Read(dst)
		total += int64(n)
		if n > 0 {
			b.mu.Lock()
			if room > 0 {
				b.buf.Write(dst[:n])
			} else {
				b.overflow = true
			}
			b.mu.Unlock()
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readChunk is how much cappedBuffer reads at a time.
const readChunk = 4096

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}
