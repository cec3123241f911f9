//go:build unix

package main

import "syscall"

// raiseOpenFiles raises the soft limit on open files to the hard limit
// and returns it (0 when it cannot tell): a load run holds two
// descriptors per stream, the client's and the server's.
func raiseOpenFiles() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return uint64(lim.Cur)
}
