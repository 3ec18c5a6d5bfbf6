//go:build !linux

package shim

import "syscall"

// childProcAttr puts each CPI in a process group of its own. This system
// has no parent-death signal: a CPI outlives a shim killed by SIGKILL until
// its own deadline; every other exit path of the shim kills its group.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// lockForkThread is a no-op without a parent-death signal.
func lockForkThread() (unlock func()) { return func() {} }
