package store

import "syscall"

// childSysProcAttr puts the server in its own process group and has the kernel
// send it SIGTERM when the thread that started it (kept for the child's life,
// see startChild) ends, so a killed or crashed owner never leaves it running.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
