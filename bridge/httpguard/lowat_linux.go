package httpguard

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT from linux/tcp.h (not in syscall).
const tcpNotSentLowat = 0x19

// limitUnsent caps the bytes a connection's kernel send queue holds before
// they are sent. Without it the kernel takes megabytes (on loopback several)
// for a reader that takes nothing, so its writes succeed, its deadlines
// never fire and the bytes are counted as served. Bytes in flight are not
// capped, so throughput on long, fast paths is unchanged.
func limitUnsent(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, maxUnsent)
	})
}
