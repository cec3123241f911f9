package redistest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill redis-server if the test binary dies
// before its cleanup runs (a timeout, a kill -9), so no server outlives it.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
