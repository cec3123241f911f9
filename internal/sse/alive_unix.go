//go:build unix

package sse

import (
	"net"
	"syscall"
)

// Alive reports whether the client of a hijacked connection may still be
// there: false once it has closed its side (a peek reads end of file) or
// the connection failed. It never blocks.
func Alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [1]byte
	if err := raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil, n == 0:
			alive = false // reset, or end of file
		}
	}); err != nil {
		return false
	}
	return alive
}
