package harness

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	// handedOut stops FreePort from returning the same port twice in one test
	// binary: the kernel happily reuses a just-closed ephemeral port.
	handedOut = map[int]bool{}
)

// FreePort returns a port on 127.0.0.1 that is currently free for both TCP and
// UDP (SRT listens on UDP), and that this process has not handed out before.
// There is an unavoidable race with other processes between this call and the
// eventual listen; in practice the ephemeral range makes it negligible.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("FreePort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, uerr := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if uerr != nil {
			continue
		}
		u.Close()
		if handedOut[port] {
			continue
		}
		handedOut[port] = true
		return port
	}
	t.Fatalf("FreePort: no free TCP+UDP port after 100 tries")
	return 0
}
