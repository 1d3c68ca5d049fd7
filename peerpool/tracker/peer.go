package tracker

import (
	"math"
	"time"
)

// Depth bookkeeping: seeds are at depth 1; a peer's depth is 1 + the least
// depth of its uploading neighbours; a peer with no such path is
// unreachable. Depths above maxFinite count as unreachable (this also ends
// count-to-infinity in the local updates).
const (
	depthInf  = 1 << 20
	maxFinite = 64
	nBuckets  = 17 // bucket b holds depth b for 1..15; bucket 16 holds ≥16 and unreachable
	sampleTry = 12 // random draws per bucket when a bucket is large
	raiseCap  = 128
)

func bucketOf(d int) int { return min(max(d, 1), nBuckets-1) }

// set families: a peer sits in at most one set of each family.
const (
	famAll   = iota // every peer
	famUp           // uploaders
	famUpD          // uploaders, bucketed by depth
	famFree         // uploaders with a free slot, bucketed by depth
	famNeedy        // peers below MinNeighbours
	nFam
)

type edge struct {
	p     *peer
	since time.Time
}

type peer struct {
	id     string
	params PeerParams
	joined time.Time
	gone   bool

	nbrs  []edge
	upN   int // neighbours that can upload
	depth int
	seed  bool

	// apart are peers never to be linked with this one again (a report
	// between the two cut their link); shunned peers get no new links.
	apart   []*peer
	shunned bool

	measured bool
	ewma     float64 // measured upload, bytes/s
	fail     float64 // failure score at failAt
	failAt   time.Time
	contrib  float64 // this peer's term in Swarm.sumCap
	ewmaTerm float64 // this peer's term in Swarm.sumEwma
	counted  bool    // ewmaTerm is in Swarm.sumEwma / nMeasured

	in    [nFam]*pset
	pos   [nFam]int
	mark  uint64 // sampling de-duplication (Swarm.epoch)
	nmark uint64 // "is a neighbour of the peer being placed" (Swarm.nepoch)
}

func (p *peer) up() bool { return p.params.CanUpload }
func (p *peer) deg() int { return len(p.nbrs) }

func (p *peer) isApart(q *peer) bool {
	for _, a := range p.apart {
		if a == q {
			return true
		}
	}
	return false
}

func (p *peer) connected(q *peer) bool {
	for _, e := range p.nbrs {
		if e.p == q {
			return true
		}
	}
	return false
}

func (p *peer) edgeSince(q *peer) (time.Time, bool) {
	for _, e := range p.nbrs {
		if e.p == q {
			return e.since, true
		}
	}
	return time.Time{}, false
}

func (p *peer) dropNbr(q *peer) {
	for i, e := range p.nbrs {
		if e.p == q {
			copy(p.nbrs[i:], p.nbrs[i+1:])
			p.nbrs[len(p.nbrs)-1] = edge{}
			p.nbrs = p.nbrs[:len(p.nbrs)-1]
			return
		}
	}
}

// pset is an indexed set: O(1) add, remove and uniform random draw, with a
// deterministic order.
type pset struct {
	fam   int
	items []*peer
}

func (s *pset) add(p *peer) {
	p.in[s.fam] = s
	p.pos[s.fam] = len(s.items)
	s.items = append(s.items, p)
}

func (s *pset) remove(p *peer) {
	i := p.pos[s.fam]
	last := s.items[len(s.items)-1]
	s.items[i] = last
	last.pos[s.fam] = i
	s.items[len(s.items)-1] = nil
	s.items = s.items[:len(s.items)-1]
	p.in[s.fam] = nil
}

// place moves p into set t of family fam (nil: out of the family).
func place(p *peer, fam int, t *pset) {
	cur := p.in[fam]
	if cur == t {
		return
	}
	if cur != nil {
		cur.remove(p)
	}
	if t != nil {
		t.add(p)
	}
}

// capacity is the upload a peer is credited with, bytes/s: its declared
// cap (or AssumedUploadBps when none) until it is measured; then its
// measured EWMA or, when that is lower (it has not been asked for much),
// the declared cap up to AssumedUploadBps. A declared cap above that
// counts only as far as receivers confirm it: a peer stating a huge cap
// is not placed upstream on its word. Never above a declared cap; 0 for
// non-uploaders.
func (s *Swarm) capacity(p *peer) float64 {
	if !p.up() || p.shunned {
		return 0
	}
	c := float64(p.params.UploadCapBps)
	base := c
	if base <= 0 {
		base = float64(s.cfg.AssumedUploadBps)
	}
	v := base
	if p.measured {
		v = max(p.ewma, min(base, float64(s.cfg.AssumedUploadBps)))
	}
	if c > 0 && v > c {
		v = c
	}
	return v
}

func (s *Swarm) failScore(p *peer, now time.Time) float64 {
	if p.fail == 0 {
		return 0
	}
	dt := now.Sub(p.failAt).Seconds()
	return p.fail * math.Exp2(-dt/s.cfg.FailureHalfLife.Seconds())
}

// slow: measured, and far below the swarm's mean measured upload.
func (s *Swarm) slow(p *peer) bool {
	if !p.up() || !p.measured || s.nMeasured < 2 {
		return false
	}
	mean := s.sumEwma / float64(s.nMeasured)
	return p.ewma < s.cfg.SlowFraction*mean
}

// effUpload is capacity discounted by failures and slowness; it ranks
// neighbour candidates.
func (s *Swarm) effUpload(p *peer) float64 {
	v := s.capacity(p) / (1 + s.failScore(p, s.now))
	if s.slow(p) {
		v *= s.cfg.SlowFraction
	}
	return v
}

func (s *Swarm) meanCap() float64 {
	n := len(s.up.items)
	if n == 0 || s.sumCap <= 0 {
		return float64(s.cfg.AssumedUploadBps)
	}
	return s.sumCap / float64(n)
}

// cost ranks a neighbour candidate (lower is better):
//
//	cost = min(depth, 65) + UploadWeight*clamp(log2(meanCapacity/effUpload), -2, 2)
func (s *Swarm) cost(c *peer, ref float64) float64 {
	d := float64(min(c.depth, maxFinite+1))
	u := s.effUpload(c)
	var t float64
	if u <= 0 {
		t = 2
	} else {
		t = min(max(math.Log2(ref/u), -2), 2)
	}
	return d + s.cfg.UploadWeight*t
}

// account adds (sign=+1) or removes (sign=-1) p's terms in the swarm sums;
// call with -1 before changing a peer's params or measurements, +1 after.
func (s *Swarm) account(p *peer, sign float64) {
	if sign < 0 {
		s.sumCap -= p.contrib
		if p.counted {
			s.sumEwma -= p.ewmaTerm
			s.nMeasured--
		}
		p.contrib, p.ewmaTerm, p.counted = 0, 0, false
		return
	}
	p.contrib = s.capacity(p)
	s.sumCap += p.contrib
	if p.up() && !p.shunned && p.measured {
		p.ewmaTerm, p.counted = p.ewma, true
		s.sumEwma += p.ewma
		s.nMeasured++
	}
}
