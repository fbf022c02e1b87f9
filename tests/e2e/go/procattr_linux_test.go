//go:build linux

package e2e

import "syscall"

// childProcAttr makes child processes (server, out-of-process workers) die
// with the test binary, so a crashed or interrupted run leaves no orphans.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
