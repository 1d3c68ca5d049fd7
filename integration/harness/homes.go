package harness

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

var homes atomic.Uint32

// HomeHeader gives one viewer a home network of its own, named the way a
// reverse proxy on the server's host names a client: an X-Forwarded-For
// address from 198.18.0.0/15, the range set aside for benchmarks. The swarm
// limits and weighs viewers per network, so viewers that all came from
// loopback would be one household; in a test each stands for its own.
func HomeHeader() http.Header {
	n := homes.Add(1)
	return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.%d.%d.%d", 18+(n>>16)&1, (n>>8)&255, n&255)}}
}
