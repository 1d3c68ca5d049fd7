package signal

import (
	"slices"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Snapshot is a read-only picture of a stream's swarm at one moment, for
// operators (the dashboard): who is in it, on which rendition, whom the
// plugin's seeders push to, and what each viewer said in its last stats.
// It shares nothing with the Core: it may be kept and read on any
// goroutine.
type Snapshot struct {
	At time.Time
	// Viewers are the joined viewers, in the order the Core keeps them.
	Viewers []ViewerState
	// Seeds are the plugin's seeding peers, by rendition.
	Seeds []SeedState
	// Refused counts joins the hub turned away since it started, by kind
	// (RefusedFull, RefusedNetworkSessions, RefusedNetworkJoins,
	// RefusedOther).
	Refused map[string]int
}

// ViewerState is one joined viewer as the hub knows it.
type ViewerState struct {
	ID        wire.PeerID
	Rendition string
	JoinedAt  time.Time
	// Uploads: the viewer offers to upload and the hub lets it (not a
	// leaf for a slow uplink or a banned network).
	Uploads bool
	// InMesh: admitted to the mesh (not waiting behind its network's
	// sessions on probation); Proven: confirmed reachable by someone
	// outside its network; Unreachable: offered to nobody any more.
	InMesh, Proven, Unreachable bool
	// Neighbours is how many neighbours it has now, seeders included.
	Neighbours int
	// Stats are its last report's figures (zero before its first).
	HTTPBytes, P2PBytes, UploadBytes int64
	Stalls                           int
	StallMs                          int64
	LagMs                            int64 // -1 unknown
	Reported                         bool  // it has sent stats
	// From lists the bytes it confirmed receiving from each current
	// neighbour since that neighbour became one (a counter that restarts
	// when the link does): who feeds whom.
	From []wire.Received
	// Connections counts its open peer connections by ConnTypes index.
	Connections [numConnTypes]int
}

// SeedState is the plugin's seeder of a rendition and the viewers it
// pushes every new part to.
type SeedState struct {
	ID        wire.PeerID
	Rendition string
	// Count is the seed count the hub steers toward; Targets the viewers
	// picked, sorted.
	Count   int
	Targets []wire.PeerID
}

// Kinds of refused joins (Snapshot.Refused).
const (
	RefusedFull            = "full"
	RefusedNetworkSessions = "network-sessions"
	RefusedNetworkJoins    = "network-joins"
	RefusedOther           = "other"
)

// refusalKind names the kind of a reason Core.Join gave. The reasons are
// sentences for the viewer; the kinds are what an operator counts.
func refusalKind(reason string) string {
	switch {
	case strings.HasPrefix(reason, "the swarm is full"):
		return RefusedFull
	case strings.HasPrefix(reason, "too many swarm sessions"):
		return RefusedNetworkSessions
	case strings.HasPrefix(reason, "too many joins"):
		return RefusedNetworkJoins
	}
	return RefusedOther
}

// Snapshot copies the Core's view of the swarm at now.
func (c *Core) Snapshot(now time.Time) Snapshot {
	s := Snapshot{At: now, Viewers: make([]ViewerState, 0, len(c.order))}
	for _, m := range c.order {
		v := ViewerState{
			ID:          m.id,
			Rendition:   m.rendition,
			JoinedAt:    m.joinedAt,
			Uploads:     m.canUpload,
			InMesh:      m.admitted,
			Proven:      m.proven,
			Unreachable: m.unreachable,
			Neighbours:  len(m.neighbours),
			HTTPBytes:   m.lastStats.HTTPBytes,
			P2PBytes:    m.lastStats.P2PBytes,
			UploadBytes: m.lastStats.UploadBytes,
			Stalls:      m.lastStats.Stalls,
			StallMs:     m.lastStats.StallMs,
			LagMs:       -1,
			Connections: m.conns,
		}
		if reported(&m.lastStats) {
			v.Reported = true
			v.LagMs = m.lastStats.LagMs
		}
		// Only current neighbours: a viewer's word about anyone else is
		// not what the mesh is, as Stats does not credit it either.
		for _, r := range m.lastStats.From {
			if m.neighbours[r.Peer] && r.Bytes > 0 {
				v.From = append(v.From, r)
			}
		}
		s.Viewers = append(s.Viewers, v)
	}
	for _, rendition := range slices.Sorted(mapKeys(c.seeds)) {
		ls := c.seeds[rendition]
		s.Seeds = append(s.Seeds, SeedState{
			ID:        ls.id,
			Rendition: rendition,
			Count:     ls.count.N(),
			Targets:   slices.Sorted(mapKeys(ls.targets)),
		})
	}
	return s
}

// reported tells a viewer's last stats from the zero ones it has before
// its first report.
func reported(st *wire.Stats) bool {
	return st.Rendition != "" || st.HTTPBytes != 0 || st.P2PBytes != 0 || st.UploadBytes != 0 || st.Stalls != 0 ||
		st.StallMs != 0 || st.LagMs != 0 || st.Peers != 0 || len(st.From) > 0 || len(st.Paths) > 0 || st.Unreachable
}

// countRefusedLocked counts a join the core refused; h.mu is held.
func (h *Hub) countRefusedLocked(reason string) {
	if h.refused == nil {
		h.refused = make(map[string]int)
	}
	h.refused[refusalKind(reason)]++
}

// Snapshot is the swarm as the hub knows it now. It holds the hub's lock
// for one pass over the viewers, as any viewer's message does.
func (h *Hub) Snapshot() Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.core.Snapshot(time.Now())
	s.Refused = make(map[string]int, len(h.refused))
	for k, n := range h.refused {
		s.Refused[k] = n
	}
	return s
}
