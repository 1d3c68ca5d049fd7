package tracker

import (
	"cmp"
	"slices"
)

const benchSize = 8

// seedScore ranks seed candidates: measured upload EWMA, divided by
// (1 + decayed failures). A peer not measured yet ranks by its declared cap
// (up to AssumedUploadBps) scaled down a thousandfold: above a measured
// peer that delivers nothing, below any that delivers. A seed target
// costs the server a copy per part, so it goes to upload that receivers
// confirmed, not to a newcomer's word.
func (s *Swarm) seedScore(p *peer) float64 {
	r := p.ewma
	if !p.measured {
		c := float64(s.cfg.AssumedUploadBps)
		if cp := float64(p.params.UploadCapBps); cp > 0 {
			c = min(cp, c)
		}
		r = c / 1000
	}
	return r / (1 + s.failScore(p, s.now))
}

// seedLess orders candidates: score, then longest-lived, then id.
func seedCmp(sa, sb float64, a, b *peer) int {
	if c := cmp.Compare(sb, sa); c != 0 {
		return c
	}
	if c := a.joined.Compare(b.joined); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func (s *Swarm) addSeed(p *peer) {
	p.seed = true
	s.seeds = append(s.seeds, p)
	p.depth = 1
	s.reindex(p)
	s.pendRelax = append(s.pendRelax, p)
}

func (s *Swarm) dropSeed(p *peer) {
	p.seed = false
	if i := slices.Index(s.seeds, p); i >= 0 {
		s.seeds = slices.Delete(s.seeds, i, i+1)
	}
	s.pendRaise = append(s.pendRaise, p)
	if !p.gone {
		s.reindex(p)
	}
	s.fillSeedsFromBench()
}

// fillSeedsFromBench tops the seed set up to seedTarget from the
// runners-up of the last ranking (O(bench)); a full ranking happens at
// the next Seeds call if the bench runs dry.
func (s *Swarm) fillSeedsFromBench() {
	for len(s.seeds) < s.seedTarget && len(s.bench) > 0 {
		p := s.bench[0]
		s.bench = s.bench[1:]
		if !p.gone && p.up() && !p.seed {
			s.addSeed(p)
		}
	}
}

// Seeds returns the n peers the server should push each new part to,
// best first: highest measured upload, then longest-lived; never a peer
// that cannot upload. The set is stable: between full re-rankings (every
// SeedRefresh) it only changes when a seed leaves or n changes, and at a
// re-ranking a sitting seed is only displaced by a peer scoring
// SeedHysteresis times better. Cost: O(n) per call, O(uploaders) per
// re-ranking. Fewer than n are returned when fewer peers can upload.
func (s *Swarm) Seeds(n int) []string {
	s.begin()
	n = max(n, 0)
	s.seedTarget = n
	if s.now.Sub(s.lastSelect) >= s.cfg.SeedRefresh {
		s.rank()
	}
	if len(s.seeds) > n {
		for _, p := range s.seeds[n:] {
			p.seed = false
			s.pendRaise = append(s.pendRaise, p)
			s.reindex(p)
		}
		s.seeds = s.seeds[:n]
	}
	s.fillSeedsFromBench()
	if len(s.seeds) < n && len(s.seeds) < len(s.up.items) {
		s.rank()
	}
	out := make([]string, len(s.seeds))
	for i, p := range s.seeds {
		out[i] = p.id
	}
	s.end()
	return out
}

// rank re-ranks every uploader and installs the best seedTarget (sitting
// seeds' scores multiplied by SeedHysteresis), keeping the next benchSize
// as the bench. O(uploaders × (n+bench)).
func (s *Swarm) rank() {
	s.lastSelect = s.now
	k := s.seedTarget + benchSize
	type cand struct {
		p     *peer
		score float64
	}
	top := make([]cand, 0, k+1)
	for _, p := range s.up.items {
		sc := s.seedScore(p)
		if p.seed {
			sc *= s.cfg.SeedHysteresis
			if sc == 0 {
				sc = 1e-9 // a sitting seed beats an unmeasured newcomer's tie
			}
		}
		c := cand{p, sc}
		i, _ := slices.BinarySearchFunc(top, c, func(a, b cand) int { return seedCmp(a.score, b.score, a.p, b.p) })
		if i >= k {
			continue
		}
		top = slices.Insert(top, i, c)
		if len(top) > k {
			top = top[:k]
		}
	}
	newSeeds := make([]*peer, 0, s.seedTarget)
	s.bench = s.bench[:0]
	for i, c := range top {
		if i < s.seedTarget {
			newSeeds = append(newSeeds, c.p)
		} else {
			s.bench = append(s.bench, c.p)
		}
	}
	s.installSeeds(newSeeds)
}

// installSeeds makes exactly want the seeds, at depth 1; depths around
// the old and new ones settle at the end of the call.
func (s *Swarm) installSeeds(want []*peer) {
	for _, p := range s.seeds {
		if !slices.Contains(want, p) {
			p.seed = false
			s.pendRaise = append(s.pendRaise, p)
			s.reindex(p)
		}
	}
	for _, p := range want {
		if !p.seed {
			p.seed = true
			p.depth = 1
			s.reindex(p)
			s.pendRelax = append(s.pendRelax, p)
		}
	}
	s.seeds = want
}

// Ranked returns up to n uploaders that ok accepts, best seed candidates
// first (measured upload, then longest-lived), changing nothing. A sitting
// seed's score counts SeedHysteresis times, so the ranking does not flap
// between near equals. O(uploaders × n).
func (s *Swarm) Ranked(n int, ok func(id string) bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.cfg.Now()
	type cand struct {
		p     *peer
		score float64
	}
	top := make([]cand, 0, n+1)
	for _, p := range s.up.items {
		if n <= 0 || (ok != nil && !ok(p.id)) {
			continue
		}
		sc := s.seedScore(p)
		if p.seed {
			sc *= s.cfg.SeedHysteresis
		}
		c := cand{p, sc}
		i, _ := slices.BinarySearchFunc(top, c, func(a, b cand) int { return seedCmp(a.score, b.score, a.p, b.p) })
		if i >= n {
			continue
		}
		top = slices.Insert(top, i, c)
		if len(top) > n {
			top = top[:n]
		}
	}
	out := make([]string, len(top))
	for i, c := range top {
		out[i] = c.p.id
	}
	return out
}

// SetSeeds makes exactly the present uploaders among ids the swarm's seeds:
// the peers the server pushes every part to, at depth 1. The server picks
// them (per rendition, with Ranked); the mesh's depths follow. From the
// first call on, the swarm no longer picks seeds itself (Join, Seeds'
// ranking and Rebalance leave them to the caller).
func (s *Swarm) SetSeeds(ids []string) []Change {
	s.begin()
	want := make([]*peer, 0, len(ids))
	for _, id := range ids {
		if p := s.peers[id]; p != nil && p.up() && !p.shunned && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	s.installSeeds(want)
	s.seedTarget = len(want)
	s.bench = s.bench[:0]
	s.lastSelect = s.now
	s.seedsSet = true
	return s.end()
}
