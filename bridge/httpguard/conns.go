package httpguard

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/netid"
)

// refusalLogEvery is how often a refused network is logged again: a flood
// must not turn into a flood of log lines.
const refusalLogEvery = time.Minute

// maxUnsent is the send queue a connection may hold unsent (limitUnsent):
// two chunks, so a reader that keeps up never waits for the next one.
const maxUnsent = 2 * sendChunk

// maxLogged bounds the networks whose last refusal log line is remembered.
const maxLogged = 4096

// connLimiter is a net.Listener that closes connections beyond
// MaxConnsPerNetwork open ones from the same network as soon as they are
// accepted, before the HTTP server spends a goroutine on them.
type connLimiter struct {
	net.Listener
	max int
	log *slog.Logger

	mu     sync.Mutex
	open   map[netip.Prefix]int
	logged map[netip.Prefix]refusals
}

type refusals struct {
	at    time.Time // of the last log line
	count int       // refused since
}

// LimitListener returns ln limited to s.MaxConnsPerNetwork open
// connections per network. Loopback is exempt: at this level a reverse
// proxy on this host is one network for all its viewers. Every connection
// it accepts keeps little unsent in the kernel (limitUnsent), so writes to
// a reader that stops block, and fail at their deadline, early.
func LimitListener(ln net.Listener, s Settings) net.Listener {
	s = s.WithDefaults()
	return &connLimiter{Listener: ln, max: s.MaxConnsPerNetwork, log: s.Logger,
		open: make(map[netip.Prefix]int), logged: make(map[netip.Prefix]refusals)}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		network := connNetwork(c)
		if !network.IsValid() {
			limitUnsent(c)
			return c, nil
		}
		l.mu.Lock()
		if l.open[network] >= l.max {
			l.refusedLocked(network, time.Now())
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.open[network]++
		l.mu.Unlock()
		limitUnsent(c)
		return &limitedConn{Conn: c, release: func() { l.release(network) }}, nil
	}
}

// connNetwork is the network c counts against; the zero Prefix for
// loopback and anything unknown, which are not limited here.
func connNetwork(c net.Conn) netip.Prefix {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil || ap.Addr().Unmap().IsLoopback() {
		return netip.Prefix{}
	}
	return netid.OfAddr(ap.Addr())
}

func (l *connLimiter) release(network netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[network]--; l.open[network] <= 0 {
		delete(l.open, network)
	}
}

func (l *connLimiter) refusedLocked(network netip.Prefix, now time.Time) {
	r, seen := l.logged[network]
	r.count++
	if seen && now.Sub(r.at) < refusalLogEvery {
		l.logged[network] = r
		return
	}
	if len(l.logged) >= maxLogged {
		for n, old := range l.logged {
			if now.Sub(old.at) >= refusalLogEvery {
				delete(l.logged, n)
			}
		}
		if len(l.logged) >= maxLogged {
			return // too many networks refused at once to remember: stay quiet
		}
	}
	l.log.Warn("refusing HTTP connections: too many open from one network",
		"network", network.String(), "limit", l.max, "config_key", KeyMaxConnsPerNetwork,
		"refused_since_last_report", r.count, "report_every", refusalLogEvery)
	l.logged[network] = refusals{at: now}
}

// Open returns the connections open from network (for tests and status).
func (l *connLimiter) Open(network netip.Prefix) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[network]
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite keeps the server's graceful close (FIN, then a short wait
// for the client to read) working through the wrapper.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
