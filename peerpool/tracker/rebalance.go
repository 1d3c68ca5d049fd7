package tracker

import (
	"cmp"
	"math"
	"slices"
)

// move is one bounded rewiring: links to remove and links to add, applied
// only if it still passes validMove at application time.
type move struct {
	prio float64
	rm   [][2]*peer
	add  [][2]*peer
}

// Rebalance is meant to run periodically (every few seconds). It
//
//  1. recomputes every depth exactly (BFS from the seeds, O(N+links));
//  2. tops up peers below MinNeighbours;
//  3. examines RebalanceSample random peers (more in a large swarm, by
//     default) and proposes, for each, the
//     best of:
//     - closer: link to a free uploader c with depth(c)+1 <= depth(p)-DepthSlack
//     (dropping p's deepest, weakest neighbour if p is full);
//     - slow: replace a neighbour whose measured upload is below
//     SlowFraction of the swarm mean by a non-slow candidate no deeper
//     than it plus one;
//     - promote: a peer with capacity >= PromoteFactor×mean at depth >= 3
//     takes the place of a shallow full uploader A's downstream neighbour
//     B whose capacity is PromoteFactor times lower (A–B, P–W become A–P,
//     B–W: every degree is kept);
//     ranked by hops gained × (1 + clamp(log2(capacity/mean), 0, 2)),
//     so high-upload peers move upstream first;
//     - same rendition: while p has fewer than SameRendition neighbours
//     on its rendition, replace its weakest neighbour u on another one by
//     a free uploader on p's, or, when none is free, swap links with a
//     peer c on p's rendition and its neighbour w on another (p–u, c–w
//     become p–c, u–w); ranked 1 + the neighbours p still lacks;
//  4. applies at most MaxRebalanceOps operations (by default more in a
//     large swarm: one per peersPerRebalanceOp peers) in all (top-ups
//     included). No link younger than MinEdgeAge is removed, nobody is
//     pushed below MinNeighbours or above MaxNeighbours, and nobody loses
//     its last uploading neighbour, so the mesh does not thrash.
func (s *Swarm) Rebalance() []Change {
	s.begin()
	s.fullDepth()
	maxOps, sample := s.rebalanceBudget()
	ops := maxOps
	for tries := 0; ops > 0 && len(s.needy.items) > 0 && tries < 2*maxOps; tries++ {
		p := s.needy.items[s.cfg.Rand.IntN(len(s.needy.items))]
		d := p.deg()
		s.fill(p, s.cfg.JoinNeighbours)
		if p.up() {
			s.serveNeedy(p)
		}
		if p.deg() != d {
			ops--
			s.settle()
		}
	}
	if ops == 0 || len(s.all.items) == 0 {
		return s.end()
	}
	var moves []move
	for range sample {
		p := s.all.items[s.cfg.Rand.IntN(len(s.all.items))]
		if m, ok := s.propose(p); ok {
			moves = append(moves, m)
		}
	}
	slices.SortStableFunc(moves, func(a, b move) int { return cmp.Compare(b.prio, a.prio) })
	for i := range moves {
		if ops == 0 {
			break
		}
		if s.validMove(&moves[i]) {
			for _, e := range moves[i].rm {
				s.removeEdge(e[0], e[1])
			}
			for _, e := range moves[i].add {
				s.addEdge(e[0], e[1])
			}
			s.settle()
			ops--
		}
	}
	return s.end()
}

// rebalanceBudget is how many operations one Rebalance may make and how
// many peers it examines (Config.MaxRebalanceOps, RebalanceSample).
func (s *Swarm) rebalanceBudget() (ops, sample int) {
	ops, sample = s.cfg.MaxRebalanceOps, s.cfg.RebalanceSample
	if s.cfg.rebalanceGrows {
		ops = max(ops, len(s.all.items)/peersPerRebalanceOp)
	}
	if s.cfg.sampleGrows {
		sample = max(sample, ops*samplePerRebalanceOp)
	}
	return ops, sample
}

func (s *Swarm) old(a, b *peer) bool {
	t, ok := a.edgeSince(b)
	return ok && s.now.Sub(t) >= s.cfg.MinEdgeAge
}

// dropCandidate is p's neighbour best dropped: an old link, not excl,
// deepest then weakest.
func (s *Swarm) dropCandidate(p, excl1, excl2 *peer) *peer {
	var w *peer
	for _, e := range p.nbrs {
		c := e.p
		if c == excl1 || c == excl2 || !s.old(p, c) || c.deg() <= s.cfg.MinNeighbours {
			continue
		}
		if w == nil || s.worse(c, w) {
			w = c
		}
	}
	return w
}

// sameRendition counts p's neighbours playing p's rendition.
func (s *Swarm) sameRendition(p *peer) int {
	n := 0
	for _, e := range p.nbrs {
		if e.p.params.Rendition == p.params.Rendition {
			n++
		}
	}
	return n
}

// otherRendition is p's neighbour best swapped for one on p's rendition
// (see propose), or nil: it plays another rendition, is an old link and
// can spare it.
func (s *Swarm) otherRendition(p *peer) *peer {
	var w *peer
	for _, e := range p.nbrs {
		c := e.p
		if c.params.Rendition == p.params.Rendition || !s.old(p, c) || c.deg() <= s.cfg.MinNeighbours {
			continue
		}
		if w == nil || s.worse(c, w) {
			w = c
		}
	}
	return w
}

// renditionSwap looks among a sample of peers for c on p's rendition, not
// linked to p, with an old link to a neighbour w on another rendition that
// is not linked to u: the swap p–u, c–w → p–c, u–w gives both p and c a
// neighbour on their rendition.
func (s *Swarm) renditionSwap(p, u *peer) (c, w *peer) {
	items := s.all.items
	for range 2 * sampleTry {
		c := items[s.cfg.Rand.IntN(len(items))]
		if c == p || c == u || c.params.Rendition != p.params.Rendition || c.connected(p) || !(c.up() || p.up()) {
			continue
		}
		for _, e := range c.nbrs {
			w := e.p
			if w != u && w != p && w.params.Rendition != c.params.Rendition && s.old(c, w) && !w.connected(u) && (w.up() || u.up()) {
				return c, w
			}
		}
	}
	return nil, nil
}

func (s *Swarm) upWeight(p *peer, ref float64) float64 {
	c := s.capacity(p)
	if c <= 0 || ref <= 0 {
		return 1
	}
	return 1 + min(max(math.Log2(c/ref), 0), 2)
}

func (s *Swarm) propose(p *peer) (move, bool) {
	var best move
	found := false
	consider := func(m move) {
		if s.validMove(&m) && (!found || m.prio > best.prio) {
			best, found = m, true
		}
	}
	ref := s.meanCap()
	w := s.upWeight(p, ref)
	dp := min(p.depth, maxFinite+1)

	// closer
	if !p.seed {
		if c := s.pick(p, 1, nil); len(c) == 1 {
			gain := dp - (c[0].depth + 1)
			if gain >= s.cfg.DepthSlack {
				m := move{prio: float64(gain) * w, add: [][2]*peer{{p, c[0]}}}
				if p.deg() >= s.cfg.MaxNeighbours {
					if d := s.dropCandidate(p, c[0], nil); d != nil {
						m.rm = [][2]*peer{{p, d}}
					}
				}
				consider(m)
			}
		}
	}

	// slow neighbour
	var u *peer
	for _, e := range p.nbrs {
		if s.slow(e.p) && s.old(p, e.p) && (u == nil || e.p.ewma < u.ewma) {
			u = e.p
		}
	}
	if u != nil {
		if c := s.pick(p, 1, u); len(c) == 1 && !s.slow(c[0]) && c[0].depth <= u.depth+1 {
			consider(move{prio: 1 + float64(max(0, u.depth-c[0].depth)), rm: [][2]*peer{{p, u}}, add: [][2]*peer{{p, c[0]}}})
		}
	}

	// same rendition
	if n := s.sameRendition(p); n < s.cfg.SameRendition {
		if u := s.otherRendition(p); u != nil {
			prio := 1 + float64(s.cfg.SameRendition-n)
			same := func(c *peer) bool { return c.up() && c.params.Rendition == p.params.Rendition }
			if c := s.pickWhere(p, 1, u, same); len(c) == 1 {
				consider(move{prio: prio, rm: [][2]*peer{{p, u}}, add: [][2]*peer{{p, c[0]}}})
			} else if c, w := s.renditionSwap(p, u); c != nil {
				// Peers of a rendition are often full: swap links instead,
				// p–u and c–w for p–c and u–w (every degree is kept).
				consider(move{prio: prio, rm: [][2]*peer{{p, u}, {c, w}}, add: [][2]*peer{{p, c}, {u, w}}})
			}
		}
	}

	// promote
	if p.up() && !p.seed && dp >= 3 && s.capacity(p) >= s.cfg.PromoteFactor*ref {
		capP := s.capacity(p)
		var bestA, bestB *peer
		s.upBuckets(min(dp-2, nBuckets-1), func(a *peer) bool {
			if a == p || a.deg() < s.cfg.MaxNeighbours || a.connected(p) || a.depth > dp-2 {
				return false
			}
			for _, e := range a.nbrs {
				b := e.p
				if b == p || b.seed || b.depth < a.depth || s.capacity(b)*s.cfg.PromoteFactor > capP || !s.old(a, b) {
					continue
				}
				if bestB == nil || a.depth < bestA.depth || (a.depth == bestA.depth && s.worse(b, bestB)) {
					bestA, bestB = a, b
				}
			}
			return bestA != nil
		})
		if bestA != nil {
			gain := dp - (bestA.depth + 1)
			m := move{prio: float64(gain) * w, rm: [][2]*peer{{bestA, bestB}}, add: [][2]*peer{{bestA, p}}}
			if p.deg() >= s.cfg.MaxNeighbours {
				var wn *peer
				for _, e := range p.nbrs {
					c := e.p
					if c == bestA || c == bestB || !s.old(p, c) || c.connected(bestB) || !(c.up() || bestB.up()) {
						continue
					}
					if wn == nil || s.worse(c, wn) {
						wn = c
					}
				}
				if wn != nil {
					m.rm = append(m.rm, [2]*peer{p, wn})
					m.add = append(m.add, [2]*peer{bestB, wn})
				}
			}
			if gain >= s.cfg.DepthSlack {
				consider(m)
			}
		}
	}
	return best, found
}

// validMove checks a move against the current state: removed links exist
// and are old enough, added links are new and have an uploader end, and
// every touched peer ends within [Min, Max] neighbours (Min only checked
// for peers that lose) and keeps an uploading neighbour if it had one.
func (s *Swarm) validMove(m *move) bool {
	type delta struct {
		p       *peer
		dd, dup int
	}
	var ds [8]delta
	n := 0
	at := func(p *peer) *delta {
		for i := range n {
			if ds[i].p == p {
				return &ds[i]
			}
		}
		ds[n] = delta{p: p}
		n++
		return &ds[n-1]
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	if len(m.rm)+len(m.add) > 4 || len(m.add) == 0 {
		return false
	}
	for _, e := range m.rm {
		a, b := e[0], e[1]
		if a.gone || b.gone || !a.connected(b) || !s.old(a, b) {
			return false
		}
		da, db := at(a), at(b)
		da.dd--
		db.dd--
		da.dup -= b2i(b.up())
		db.dup -= b2i(a.up())
	}
	for i, e := range m.add {
		a, b := e[0], e[1]
		if !validEdge(a, b) || a.params.Unproven || b.params.Unproven {
			return false
		}
		for _, f := range m.add[:i] {
			if (f[0] == a && f[1] == b) || (f[0] == b && f[1] == a) {
				return false
			}
		}
		da, db := at(a), at(b)
		da.dd++
		db.dd++
		da.dup += b2i(b.up())
		db.dup += b2i(a.up())
	}
	for _, d := range ds[:n] {
		nd := d.p.deg() + d.dd
		if nd > s.cfg.MaxNeighbours || (d.dd < 0 && nd < s.cfg.MinNeighbours) {
			return false
		}
		if !d.p.seed && d.p.upN > 0 && d.p.upN+d.dup < 1 {
			return false
		}
	}
	return true
}
