package tracker

import (
	"fmt"
	"slices"
)

// Read-only views of a swarm's state for the tests. Production never asks
// a swarm what it holds (the hub keeps its own sessions), so these live
// here rather than in the package's API.

// refreshSeeds does what the hub does on each refresh: rank the uploaders
// and make the best n the seeds.
func refreshSeeds(s *Swarm, n int) []Change {
	return s.SetSeeds(s.Ranked(n, nil))
}

// seedIDs lists the current seeds in the order they were installed.
func (s *Swarm) seedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.seeds))
	for i, p := range s.seeds {
		out[i] = p.id
	}
	return out
}

// Banned reports whether id is (still remembered as) banned.
func (s *Swarm) Banned(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.bans[id]
	return ok
}

// BanReason returns the reason given when id was banned.
func (s *Swarm) BanReason(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.bans[id]
	return r, ok
}

// Neighbours returns id's neighbours, sorted; nil if id is not present.
func (s *Swarm) Neighbours(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.peers[id]
	if x == nil {
		return nil
	}
	out := make([]string, 0, len(x.nbrs))
	for _, e := range x.nbrs {
		out = append(out, e.p.id)
	}
	slices.Sort(out)
	return out
}

// Has reports whether id is in the swarm.
func (s *Swarm) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[id] != nil
}

// Depth returns id's depth estimate (1 = seed) and false when id is
// absent or has no path from a seed.
func (s *Swarm) Depth(id string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.peers[id]
	if x == nil || x.depth >= depthInf {
		return 0, false
	}
	return x.depth, true
}

// Len is the number of peers.
func (s *Swarm) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers)
}

// Snapshot is a swarm's state summed up.
type Snapshot struct {
	Peers, Uploaders, Links int
	Seeds                   []string
	// DepthHistogram[d] counts peers at depth d (1 = seed); index 0
	// counts peers with no path from a seed.
	DepthHistogram []int
	AvgDepth       float64 // over reachable peers
	BelowMin       int     // peers with fewer than MinNeighbours
	Banned         int
	CapacityBps    float64        // Σ capacity of uploaders, bytes/s
	Renditions     map[string]int // peers per rendition
}

// Snapshot walks the whole swarm: O(N).
func (s *Swarm) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := Snapshot{
		Peers: len(s.peers), Uploaders: len(s.up.items), BelowMin: len(s.needy.items),
		Banned: len(s.bans), CapacityBps: s.sumCap, Renditions: map[string]int{},
		DepthHistogram: []int{0},
	}
	for _, p := range s.seeds {
		sn.Seeds = append(sn.Seeds, p.id)
	}
	sum, n := 0, 0
	for _, p := range s.all.items {
		sn.Links += p.deg()
		sn.Renditions[p.params.Rendition]++
		d := p.depth
		if d >= depthInf {
			d = 0
		} else {
			sum += d
			n++
		}
		for len(sn.DepthHistogram) <= d {
			sn.DepthHistogram = append(sn.DepthHistogram, 0)
		}
		sn.DepthHistogram[d]++
	}
	sn.Links /= 2
	if n > 0 {
		sn.AvgDepth = float64(sum) / float64(n)
	}
	return sn
}

// String renders a snapshot on one line.
func (sn Snapshot) String() string {
	return fmt.Sprintf("peers=%d uploaders=%d links=%d seeds=%v depth=%v avg=%.2f belowMin=%d banned=%d",
		sn.Peers, sn.Uploaders, sn.Links, sn.Seeds, sn.DepthHistogram, sn.AvgDepth, sn.BelowMin, sn.Banned)
}
