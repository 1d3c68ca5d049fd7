package tracker

import (
	"cmp"
	"slices"
)

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

// seedCmp orders candidates: score, then longest-lived, then id.
func seedCmp(sa, sb float64, a, b *peer) int {
	if c := cmp.Compare(sb, sa); c != 0 {
		return c
	}
	if c := a.joined.Compare(b.joined); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
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
// the peers the server pushes every part to, at depth 1. Only the server
// knows which viewers its seeders reach, so it picks them (per rendition,
// with Ranked) and the mesh's depths follow; the swarm never picks a seed
// itself. A seed that leaves, stops uploading or is shunned is dropped and
// not replaced until the next call.
func (s *Swarm) SetSeeds(ids []string) []Change {
	s.begin()
	want := make([]*peer, 0, len(ids))
	for _, id := range ids {
		if p := s.peers[id]; p != nil && p.up() && !p.shunned && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	s.installSeeds(want)
	return s.end()
}
