//go:build !linux

package redistest

import "os/exec"

// setPdeathsig does nothing where the kernel offers no parent-death signal.
func setPdeathsig(*exec.Cmd) {}
