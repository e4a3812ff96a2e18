//go:build !linux

package store

import "syscall"

// childSysProcAttr puts the server in its own process group. Without Linux's
// Pdeathsig, a server whose owner was killed is stopped and replaced by the
// next launch on its data dir (see Server).
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
