package exchange

import (
	"sort"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Stats are a Machine's counters since New. Bytes are DATA payload bytes.
type Stats struct {
	BytesReceived int64 // from neighbours, including duplicates and discarded bytes
	BytesSent     int64
	PartsOffered  int64 // given to Offer (HTTP or seed)
	PartsFromPeer int64 // verified parts received from neighbours
	PartsServed   int64 // parts sent in full (answers to WANT and pushes)
	Duplicates    int64 // verified parts received that were already stored
	Declined      int64 // WANTs answered NOPE because the upload queue was full (busy.go)
	HashMismatch  int64
	ProtocolError int64
	Banned        []wire.PeerID
	Neighbours    map[wire.PeerID]NeighbourStats // every neighbour since New

	all map[wire.PeerID]*NeighbourStats
}

// NeighbourStats are the counters of one neighbour.
type NeighbourStats struct {
	BytesReceived int64
	BytesSent     int64
	PartsReceived int64
	PartsSent     int64
	ThroughputBps float64 // measured receive rate (EWMA), 0 if unknown
	Connected     bool
}

func (s *Stats) nstats(id wire.PeerID) *NeighbourStats {
	if s.all == nil {
		s.all = make(map[wire.PeerID]*NeighbourStats)
	}
	n := s.all[id]
	if n == nil {
		n = new(NeighbourStats)
		s.all[id] = n
	}
	return n
}

// Stats returns a copy of the counters.
func (m *Machine) Stats() Stats {
	s := m.st
	s.Banned = nil
	for id := range m.banned {
		s.Banned = append(s.Banned, id)
	}
	sort.Slice(s.Banned, func(i, j int) bool { return s.Banned[i] < s.Banned[j] })
	s.all = nil
	s.Neighbours = make(map[wire.PeerID]NeighbourStats, len(m.st.all))
	for id, ns := range m.st.all {
		v := *ns
		if n := m.neighbours[id]; n != nil {
			v.Connected = n.open
			v.ThroughputBps = n.throughput
		}
		s.Neighbours[id] = v
	}
	return s
}
