package signal

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// What NAT traversal came to, from the candidate pairs viewers report in
// stats.paths. A viewer's report is its word about itself: it replaces
// the session's previous one, and counts no more connections than the
// neighbours the hub gave it, so one session cannot inflate the figures.

// Connection types, by a pair's worse end and its protocol: a relay at
// either end costs the TURN server, a reflexive one (srflx or prflx) took
// a NAT's mapping, host is direct.
const (
	ConnHostUDP  = "host/udp"
	ConnSrflxUDP = "srflx/udp"
	ConnRelayUDP = "relay/udp"
	ConnHostTCP  = "host/tcp"
	ConnSrflxTCP = "srflx/tcp"
	ConnRelayTCP = "relay/tcp"
)

// ConnTypes lists the connection types, the usual ones first.
var ConnTypes = [numConnTypes]string{ConnHostUDP, ConnSrflxUDP, ConnRelayUDP, ConnHostTCP, ConnSrflxTCP, ConnRelayTCP}

const numConnTypes = 6

// connCounts are connections by ConnTypes index.
type connCounts [numConnTypes]int

// Connections are a stream's peer connections as its viewers report them
// (Config.OnConnections).
type Connections struct {
	// ByType counts, for each of ConnTypes, the open connections viewers
	// report; a link between two viewers counts at both ends, one with the
	// server's seeder at the viewer's.
	ByType map[string]int
	// WithoutP2P are the viewers joined for noP2PAfter or longer that have
	// received no media from peers.
	WithoutP2P int
}

// noP2PAfter is how long a viewer may be joined without media from peers
// before it counts as one without P2P: time to be given neighbours and
// connect to them.
const noP2PAfter = 10 * time.Second

// connType is the ConnTypes index of a reported pair.
func connType(p wire.Path) int {
	i := 0 // host
	switch {
	case p.Local == wire.CandidateRelay || p.Remote == wire.CandidateRelay:
		i = 2
	case p.Local != wire.CandidateHost || p.Remote != wire.CandidateHost:
		i = 1
	}
	if p.Protocol == wire.ProtocolTCP {
		i += 3
	}
	return i
}

// countConns sums a viewer's reported pairs by type, at most limit
// connections in all: the neighbours the hub gave it.
func countConns(paths []wire.Path, limit int) connCounts {
	var c connCounts
	for _, p := range paths {
		n := min(p.Count, limit)
		if n <= 0 {
			break
		}
		c[connType(p)] += n
		limit -= n
	}
	return c
}

// connections sums the members' latest reports.
func (c *Core) connections(now time.Time) Connections {
	var total connCounts
	without := 0
	for _, m := range c.order {
		for i, n := range m.conns {
			total[i] += n
		}
		if m.lastStats.P2PBytes == 0 && now.Sub(m.joinedAt) >= noP2PAfter {
			without++
		}
	}
	conns := Connections{ByType: make(map[string]int, numConnTypes), WithoutP2P: without}
	for i, name := range ConnTypes {
		conns.ByType[name] = total[i]
	}
	return conns
}

// unreachable acts on a viewer's word that none of its neighbours'
// channels opened: it is offered to nobody from now on (tracker's Shun),
// keeps its session and watches over HTTP. Nobody else loses by it, so
// its word is enough. A seed target that reaches nobody is replaced.
func (c *Core) unreachable(now time.Time, m *member) {
	if m.unreachable || !m.admitted {
		return
	}
	m.unreachable = true
	c.apply(c.mesh.Shun(string(m.id)))
	c.endProbation(m)
	c.log.Info("viewer gets no new neighbours: it says none of its neighbours' channels opened", "peer", m.id, "remote", m.remote)
	if c.isTarget(m.id) {
		c.refreshSeeds(now)
	}
}
