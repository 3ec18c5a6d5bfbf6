//go:build linux

package shim

import (
	"runtime"
	"syscall"
)

// childProcAttr puts each CPI in a process group of its own and ties its
// life to the shim's: the kernel sends it SIGKILL when the shim dies, even
// by SIGKILL, when no exit path of the shim's own can run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// lockForkThread keeps the calling goroutine on its OS thread until the
// returned function runs. Linux delivers the parent-death signal when the
// thread that forked the child exits, not the process: the thread must
// live as long as the child does.
func lockForkThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
