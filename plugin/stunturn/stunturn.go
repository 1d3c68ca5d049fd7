// Package stunturn is the origin's own STUN server and optional TURN relay
// (pion/turn), so viewers behind NATs find their public addresses, and
// viewers behind NATs that STUN cannot open reach each other, with no
// third-party host. Every byte it sends is counted (Settings.OnSent): a
// relay is server bandwidth like any other.
package stunturn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/turn/v5"

	"github.com/swarmtx/swarmtx/plugin/turncred"
)

// Socket labels for Settings.OnSent.
const (
	// SocketListener is the STUN/TURN port: binding answers, TURN control
	// messages and relayed data on its way to a TURN client.
	SocketListener = "listener"
	// SocketRelay is an allocation's relay port: relayed data on its way
	// from a TURN client to its peer.
	SocketRelay = "relay"
)

// Settings configure a Server.
type Settings struct {
	// Address is the UDP address to answer STUN (and TURN) on, e.g. ":3478".
	Address string
	// TURN, when set, makes the server a TURN relay as well.
	TURN *TURNSettings
	// OnSent is told the bytes of every datagram the server sends, by socket.
	OnSent func(socket string, n int)
	Logger *slog.Logger
}

// TURNSettings configure the relay.
type TURNSettings struct {
	// Credentials checks the time-limited REST API credentials viewers are
	// given; nothing else is accepted.
	Credentials *turncred.Minter
	// Realm is the TURN realm (default "swarmtx").
	Realm string
	// RelayIP is the public address allocations are advertised at.
	RelayIP net.IP
	// MinPort and MaxPort bound the relay ports (default 49152..65535).
	MinPort, MaxPort uint16
	// QuotaBytes bounds the bytes one user (one viewer's credential) may
	// have relayed, both ways; beyond it its datagrams are dropped and it
	// falls back to what it can do without the relay. 0: no bound.
	QuotaBytes int64
	// MaxAllocationsPerUser bounds one user's open allocations (a browser
	// makes one per peer connection; default 32).
	MaxAllocationsPerUser int
}

// Server answers STUN and, when configured, relays TURN.
type Server struct {
	conn   net.PacketConn
	server *turn.Server
	users  *users
}

// Start listens and serves until Close.
func Start(s Settings) (*Server, error) {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.OnSent == nil {
		s.OnSent = func(string, int) {}
	}
	pc, err := net.ListenPacket("udp", s.Address)
	if err != nil {
		return nil, fmt.Errorf("listen for STUN on UDP %s: %w", s.Address, err)
	}
	srv := &Server{conn: pc, users: &users{alloc: make(map[string]int), bytes: make(map[string]int64), expiry: make(map[string]time.Time)}}
	cfg := turn.ServerConfig{
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: &countingPacketConn{PacketConn: pc, socket: SocketListener, onSent: s.OnSent},
		}},
		// Without TURN every Allocate is refused: nobody has a key.
		AuthHandler: func(*turn.RequestAttributes) (string, []byte, bool) { return "", nil, false },
	}
	if t := s.TURN; t != nil {
		if t.Credentials == nil {
			pc.Close()
			return nil, errors.New("TURN relay: no credential secret")
		}
		if t.RelayIP == nil || t.RelayIP.IsUnspecified() {
			pc.Close()
			return nil, errors.New("TURN relay: no public relay address")
		}
		if t.Realm == "" {
			t.Realm = "swarmtx"
		}
		if t.MinPort == 0 && t.MaxPort == 0 {
			t.MinPort, t.MaxPort = 49152, 65535
		}
		if t.MaxAllocationsPerUser <= 0 {
			t.MaxAllocationsPerUser = 32
		}
		cfg.Realm = t.Realm
		cfg.PacketConnConfigs[0].RelayAddressGenerator = &countingRelays{
			next: &turn.RelayAddressGeneratorPortRange{
				RelayAddress: t.RelayIP, Address: "0.0.0.0", MinPort: t.MinPort, MaxPort: t.MaxPort,
			},
			users: srv.users, quota: t.QuotaBytes, onSent: s.OnSent,
		}
		log := s.Logger
		cfg.AuthHandler = func(ra *turn.RequestAttributes) (string, []byte, bool) {
			now := time.Now()
			pw, user, err := t.Credentials.Password(ra.Username, now)
			if err != nil {
				log.Debug("TURN request refused", "remote", ra.SrcAddr, "error", err)
				return "", nil, false
			}
			expiry, _, _ := turncred.Parse(ra.Username) // checked by Password
			srv.users.seen(user, expiry, now)
			return user, turn.GenerateAuthKey(ra.Username, ra.Realm, pw), true
		}
		max := t.MaxAllocationsPerUser
		// pion hands the quota check the user AuthHandler returned.
		cfg.QuotaHandler = func(user, _ string, _ net.Addr) bool { return srv.users.allocations(user) < max }
		cfg.EventHandler = turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, user, _ string, _ net.Addr, _ int) { srv.users.allocated(user, 1) },
			OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) { srv.users.allocated(user, -1) },
		}
	}
	if srv.server, err = turn.NewServer(cfg); err != nil {
		pc.Close()
		return nil, fmt.Errorf("start STUN/TURN server on UDP %s: %w", s.Address, err)
	}
	return srv, nil
}

// Addr is the address the server answers on.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Close stops the server and its allocations.
func (s *Server) Close() error { return s.server.Close() }

// users counts each TURN user's allocations and relayed bytes. A user's
// count is kept until its credential has expired and it has no allocation
// left: closing and reopening allocations with the same credential never
// resets its quota.
type users struct {
	mu        sync.Mutex
	alloc     map[string]int
	bytes     map[string]int64
	expiry    map[string]time.Time
	lastPrune time.Time
}

func (u *users) allocations(user string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.alloc[user]
}

func (u *users) allocated(user string, d int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.alloc[user] += d
	if u.alloc[user] <= 0 {
		delete(u.alloc, user)
	}
}

// seen records a user's credential expiry at an authenticated request, and
// now and then forgets users whose credentials expired with nothing open.
func (u *users) seen(user string, expiry, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if expiry.After(u.expiry[user]) {
		u.expiry[user] = expiry
	}
	if now.Sub(u.lastPrune) < time.Minute {
		return
	}
	u.lastPrune = now
	for name, exp := range u.expiry {
		if now.After(exp) && u.alloc[name] == 0 {
			delete(u.expiry, name)
			delete(u.bytes, name)
		}
	}
}

// relayed adds n bytes to user's count and reports whether the user is
// still within quota (0: no quota).
func (u *users) relayed(user string, n int, quota int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bytes[user] += int64(n)
	return quota <= 0 || u.bytes[user] <= quota
}

var errTCPRelay = errors.New("TURN TCP relaying is not offered")
