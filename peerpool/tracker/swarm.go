package tracker

import (
	"math"
	"slices"
	"sync"
	"time"
)

// PeerParams is what a peer declares when it joins (or later, via Update).
type PeerParams struct {
	// CanUpload is false for viewers who opted out or ask to save data:
	// they get neighbours to download from but are never anyone's
	// upstream and never seeds. Two non-uploaders are never neighbours.
	CanUpload bool
	// UploadCapBps is the viewer's upload cap in bytes/s; 0 = unknown or
	// unlimited.
	UploadCapBps int64
	// Rendition the peer is playing. Joins ignore it; Rebalance gathers
	// the viewers of a rendition (Config.SameRendition).
	Rendition string
	// Unproven: the server has not seen the peer open a data channel yet.
	// It takes only free slots (and displaces one link for its first, so
	// it can prove itself in a full mesh), and nobody is given it as a
	// new neighbour.
	Unproven bool
}

// Change is one message for the signaling layer: peer Peer must connect to
// the peers in Add and disconnect from those in Remove. Neighbour
// relations are symmetric, so every link change appears in both ends'
// Changes.
type Change struct {
	Peer   string
	Add    []string
	Remove []string
}

// Stats is a peer's periodic report (or a report about it).
type Stats struct {
	// BytesSent to neighbours during Window (feeds the upload EWMA);
	// ignored when Window <= 0.
	BytesSent int64
	Window    time.Duration
	// Failures: failed transfers, failed connections or stalls caused by
	// this peer since the last report. They decay with FailureHalfLife and
	// divide the peer's score by (1 + decayed failures).
	Failures int
}

// Swarm is the tracker of one stream. Create it with New.
type Swarm struct {
	mu  sync.Mutex
	cfg Config
	now time.Time // clock reading of the current call

	peers  map[string]*peer
	all    pset
	up     pset
	upD    [nBuckets]pset
	free   [nBuckets]pset
	needy  pset
	epoch  uint64
	nepoch uint64

	sumCap    float64 // Σ capacity over uploaders
	sumEwma   float64 // Σ measured EWMA over measured uploaders
	nMeasured int

	seeds []*peer // as SetSeeds installed them, less those since dropped

	bans    map[string]string
	banRing []string
	banHead int

	// per-call scratch
	batch      map[string]*Change
	order      []string
	pendRaise  []*peer
	pendRelax  []*peer
	depthStale bool
	pool       []*peer
}

// New returns an empty swarm.
func New(cfg Config) *Swarm {
	cfg = cfg.withDefaults()
	s := &Swarm{
		cfg:   cfg,
		peers: make(map[string]*peer),
		bans:  make(map[string]string),
		batch: make(map[string]*Change),
	}
	s.all.fam, s.up.fam, s.needy.fam = famAll, famUp, famNeedy
	for b := range nBuckets {
		s.upD[b].fam = famUpD
		s.free[b].fam = famFree
	}
	return s
}

func (s *Swarm) begin() {
	s.mu.Lock()
	s.now = s.cfg.Now()
}

// end settles depths and returns the accumulated changes (for peers still
// present), then unlocks.
func (s *Swarm) end() []Change {
	s.settle()
	var out []Change
	for _, id := range s.order {
		c := s.batch[id]
		delete(s.batch, id)
		if p := s.peers[id]; p == nil || (len(c.Add) == 0 && len(c.Remove) == 0) {
			continue
		}
		out = append(out, *c)
	}
	s.order = s.order[:0]
	s.mu.Unlock()
	return out
}

func (s *Swarm) change(id string) *Change {
	c := s.batch[id]
	if c == nil {
		c = &Change{Peer: id}
		s.batch[id] = c
		s.order = append(s.order, id)
	}
	return c
}

func note(add, cancel *[]string, id string) {
	if i := slices.Index(*cancel, id); i >= 0 {
		*cancel = slices.Delete(*cancel, i, i+1)
		return
	}
	*add = append(*add, id)
}

// reindex puts p in the sets its state calls for.
func (s *Swarm) reindex(p *peer) {
	if p.gone {
		return
	}
	if p.shunned {
		for f := famUp; f < nFam; f++ {
			place(p, f, nil)
		}
		return
	}
	var ud, fr *pset
	if p.up() {
		ud = &s.upD[bucketOf(p.depth)]
		if p.deg() < s.cfg.MaxNeighbours {
			fr = &s.free[bucketOf(p.depth)]
		}
		place(p, famUp, &s.up)
	} else {
		place(p, famUp, nil)
	}
	if p.params.Unproven {
		fr = nil
	}
	place(p, famUpD, ud)
	place(p, famFree, fr)
	if p.deg() < s.cfg.MinNeighbours {
		place(p, famNeedy, &s.needy)
	} else {
		place(p, famNeedy, nil)
	}
}

func validEdge(a, b *peer) bool {
	return a != b && !a.gone && !b.gone && !a.shunned && !b.shunned && (a.up() || b.up()) &&
		!a.connected(b) && !a.isApart(b)
}

func (s *Swarm) addEdge(a, b *peer) {
	a.nbrs = append(a.nbrs, edge{b, s.now})
	b.nbrs = append(b.nbrs, edge{a, s.now})
	if b.up() {
		a.upN++
	}
	if a.up() {
		b.upN++
	}
	ca, cb := s.change(a.id), s.change(b.id)
	note(&ca.Add, &ca.Remove, b.id)
	note(&cb.Add, &cb.Remove, a.id)
	s.reindex(a)
	s.reindex(b)
	s.pendRelax = append(s.pendRelax, a, b)
}

func (s *Swarm) removeEdge(a, b *peer) {
	a.dropNbr(b)
	b.dropNbr(a)
	if b.up() {
		a.upN--
	}
	if a.up() {
		b.upN--
	}
	ca, cb := s.change(a.id), s.change(b.id)
	note(&ca.Remove, &ca.Add, b.id)
	note(&cb.Remove, &cb.Add, a.id)
	s.reindex(a)
	s.reindex(b)
	s.pendRaise = append(s.pendRaise, a, b)
}

// ---- depth ----

func (s *Swarm) localDepth(v *peer) int {
	if v.seed {
		return 1
	}
	best := depthInf
	for _, e := range v.nbrs {
		if e.p.up() && e.p.depth < depthInf && e.p.depth+1 < best {
			best = e.p.depth + 1
		}
	}
	if best > maxFinite {
		best = depthInf
	}
	return best
}

// relax propagates depth decreases from the given peers (exact).
func (s *Swarm) relax(q []*peer) {
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		if u.gone {
			continue
		}
		if d := s.localDepth(u); d < u.depth {
			u.depth = d
			s.reindex(u)
		}
		if !u.up() || u.depth >= depthInf {
			continue
		}
		for _, e := range u.nbrs {
			if v := e.p; u.depth+1 < v.depth && !v.seed {
				v.depth = u.depth + 1
				s.reindex(v)
				q = append(q, v)
			}
		}
	}
}

// raise recomputes depths around peers that lost an upstream link, with a
// bounded budget; past the budget the estimate is left for Rebalance's
// exact pass.
func (s *Swarm) raise(q []*peer) {
	var down []*peer
	for budget := raiseCap; len(q) > 0; budget-- {
		if budget == 0 {
			s.depthStale = true
			break
		}
		v := q[0]
		q = q[1:]
		if v.gone {
			continue
		}
		nd := s.localDepth(v)
		if nd == v.depth {
			continue
		}
		old := v.depth
		v.depth = nd
		s.reindex(v)
		if nd < old {
			down = append(down, v)
			continue
		}
		if v.up() {
			for _, e := range v.nbrs {
				if e.p.depth == old+1 { // may have depended on v
					q = append(q, e.p)
				}
			}
		}
	}
	s.relax(down)
}

func (s *Swarm) settle() {
	if len(s.pendRaise) > 0 {
		s.raise(s.pendRaise)
	}
	if len(s.pendRelax) > 0 {
		s.relax(s.pendRelax)
	}
	clear(s.pendRaise)
	clear(s.pendRelax)
	s.pendRaise, s.pendRelax = s.pendRaise[:0], s.pendRelax[:0]
}

// fullDepth recomputes every depth exactly (BFS from the seeds) and the
// swarm sums (no float drift). O(N + edges).
func (s *Swarm) fullDepth() {
	old := make([]int, len(s.all.items))
	for i, p := range s.all.items {
		old[i] = p.depth
		p.depth = depthInf
	}
	q := make([]*peer, 0, len(s.seeds))
	for _, p := range s.seeds {
		p.depth = 1
		q = append(q, p)
	}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		if !u.up() || u.depth >= maxFinite {
			continue
		}
		for _, e := range u.nbrs {
			if e.p.depth == depthInf {
				e.p.depth = u.depth + 1
				q = append(q, e.p)
			}
		}
	}
	s.sumCap, s.sumEwma, s.nMeasured = 0, 0, 0
	for i, p := range s.all.items {
		p.contrib, p.ewmaTerm, p.counted = 0, 0, false
		s.account(p, 1)
		if p.depth != old[i] {
			s.reindex(p)
		}
	}
	s.depthStale = false
}

// ---- choosing neighbours ----

func (s *Swarm) nextEpoch() uint64 { s.epoch++; return s.epoch }

// sample calls f on up to 2*sampleTry peers drawn uniformly from the
// buckets 1..maxBucket of a bucketed family (every member when there are
// no more than that). O(sampleTry + nBuckets) whatever the swarm size.
func (s *Swarm) sample(sets *[nBuckets]pset, maxBucket int, f func(*peer)) {
	maxBucket = min(maxBucket, nBuckets-1)
	total := 0
	for b := 1; b <= maxBucket; b++ {
		total += len(sets[b].items)
	}
	if total == 0 {
		return
	}
	if total <= 2*sampleTry {
		for b := 1; b <= maxBucket; b++ {
			for _, p := range sets[b].items {
				f(p)
			}
		}
		return
	}
	for range 2 * sampleTry {
		i := s.cfg.Rand.IntN(total)
		for b := 1; b <= maxBucket; b++ {
			if n := len(sets[b].items); i < n {
				f(sets[b].items[i])
				break
			} else {
				i -= n
			}
		}
	}
}

// pick returns up to k uploaders with a free slot that x may connect to:
// the k lowest-cost (see cost) of a uniform random sample of 2*sampleTry
// free uploaders. Sampling keeps the mesh a random graph, hence an
// expander with logarithmic depth; ranking the sample biases it towards
// low depth and high upload. O(k + sampleTry) whatever the swarm size.
func (s *Swarm) pick(x *peer, k int, excl *peer) []*peer {
	return s.pickWhere(x, k, excl, nil)
}

// pickWhere is pick among the candidates ok accepts (nil: all).
func (s *Swarm) pickWhere(x *peer, k int, excl *peer, ok func(*peer) bool) []*peer {
	if k <= 0 {
		return nil
	}
	ep := s.nextEpoch()
	x.mark = ep
	for _, e := range x.nbrs {
		e.p.mark = ep
	}
	if excl != nil {
		excl.mark = ep
	}
	pool := s.pool[:0]
	s.sample(&s.free, nBuckets-1, func(c *peer) {
		if c.mark == ep {
			return
		}
		c.mark = ep
		if validEdge(x, c) && (ok == nil || ok(c)) {
			pool = append(pool, c)
		}
	})
	ref := s.meanCap()
	slices.SortStableFunc(pool, func(a, b *peer) int {
		ca, cb := s.cost(a, ref), s.cost(b, ref)
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return a.deg() - b.deg()
	})
	s.pool = pool
	return pool[:min(k, len(pool))]
}

// upBuckets calls f on a uniform sample of the uploaders in depth buckets
// 1..maxBucket, each at most once.
func (s *Swarm) upBuckets(maxBucket int, f func(a *peer) bool) {
	ep := s.nextEpoch()
	s.sample(&s.upD, maxBucket, func(a *peer) {
		if a.mark != ep {
			a.mark = ep
			f(a)
		}
	})
}

// worse reports whether b is a worse neighbour to keep than a: deeper,
// then less upload.
func (s *Swarm) worse(b, a *peer) bool {
	if b.depth != a.depth {
		return b.depth > a.depth
	}
	return s.effUpload(b) < s.effUpload(a)
}

// findSplit looks for a link A–B of a full uploader A (lowest depth
// first, up to bucket maxBucket, seeds skipped if noSeeds) that x can
// split: x links to both ends, A–B is removed, so A and B keep their
// degree and x gains two links. B is A's worst neighbour that fits.
func (s *Swarm) findSplit(x *peer, maxBucket int, noSeeds bool) (bestA, bestB *peer) {
	var bestCost float64
	ref := s.meanCap()
	s.nepoch++
	nm := s.nepoch
	x.nmark = nm
	for _, e := range x.nbrs {
		e.p.nmark = nm
	}
	s.upBuckets(maxBucket, func(a *peer) bool {
		if a.nmark == nm || a.deg() < s.cfg.MaxNeighbours || (noSeeds && a.seed) || a.isApart(x) {
			return false
		}
		var b *peer
		for _, e := range a.nbrs {
			c := e.p
			if c.nmark == nm || !(x.up() || c.up()) || c.isApart(x) || c.params.Unproven {
				continue
			}
			if !x.up() && (!c.up() || a.upN < 2 || c.upN < 2) {
				continue
			}
			if b == nil || s.worse(c, b) {
				b = c
			}
		}
		if b != nil {
			if c := s.cost(a, ref); bestA == nil || c < bestCost {
				bestA, bestB, bestCost = a, b, c
			}
		}
		return bestA != nil
	})
	return bestA, bestB
}

func (s *Swarm) split(x, a, b *peer) {
	s.removeEdge(a, b)
	s.addEdge(x, a)
	s.addEdge(x, b)
}

func (s *Swarm) splitOnce(x *peer) bool {
	a, b := s.findSplit(x, nBuckets-1, false)
	if a == nil {
		return false
	}
	s.split(x, a, b)
	return true
}

// evictAttach attaches x to a full uploader A that drops its worst
// neighbour B, provided B keeps MinNeighbours and an upstream.
func (s *Swarm) evictAttach(x *peer) bool {
	var bestA, bestB *peer
	var bestCost float64
	ref := s.meanCap()
	s.upBuckets(nBuckets-1, func(a *peer) bool {
		if a == x || a.deg() < s.cfg.MaxNeighbours || a.connected(x) || a.isApart(x) {
			return false
		}
		var b *peer
		for _, e := range a.nbrs {
			c := e.p
			if c == x || c.deg() <= s.cfg.MinNeighbours {
				continue
			}
			if a.up() && c.upN < 2 {
				continue
			}
			if !x.up() && c.up() && a.upN < 2 {
				continue
			}
			if b == nil || s.worse(c, b) {
				b = c
			}
		}
		if b != nil {
			if c := s.cost(a, ref); bestA == nil || c < bestCost {
				bestA, bestB, bestCost = a, b, c
			}
		}
		return bestA != nil
	})
	if bestA == nil {
		return false
	}
	s.removeEdge(bestA, bestB)
	s.addEdge(x, bestA)
	return true
}

// fill raises x's degree towards want: free slots first, then link
// splits, then (only below MinNeighbours) evictions.
func (s *Swarm) fill(x *peer, want int) {
	want = min(want, s.cfg.MaxNeighbours)
	if x.deg() >= want || x.shunned {
		return
	}
	if x.params.Unproven {
		for _, c := range s.pick(x, want-x.deg(), nil) {
			s.addEdge(x, c)
		}
		if x.deg() == 0 {
			s.evictAttach(x)
		}
		return
	}
	if x.deg() == 0 && want >= 2 {
		// The first link decides x's depth: when the best free slot is
		// DepthSlack hops deeper than a full non-seed uploader, split one
		// of that uploader's links instead. Free slots otherwise
		// accumulate at the newest, deepest peers and joins form chains.
		df := depthInf
		if c := s.pick(x, 1, nil); len(c) == 1 {
			df = min(c[0].depth, maxFinite+1)
		}
		if df > 1+s.cfg.DepthSlack {
			if a, b := s.findSplit(x, bucketOf(df-s.cfg.DepthSlack), true); a != nil && a.depth+s.cfg.DepthSlack <= df {
				s.split(x, a, b)
			}
		}
	}
	for _, c := range s.pick(x, want-x.deg(), nil) {
		s.addEdge(x, c)
	}
	for x.deg()+2 <= want && s.splitOnce(x) {
	}
	for x.deg() < s.cfg.MinNeighbours && s.evictAttach(x) {
	}
}

// serveNeedy gives an uploader's spare slots to peers below
// MinNeighbours.
func (s *Swarm) serveNeedy(x *peer) {
	if x.params.Unproven {
		return // nobody is given it until it has proved itself
	}
	for tries := 2 * sampleTry; tries > 0 && x.deg() < s.cfg.MaxNeighbours && len(s.needy.items) > 0; tries-- {
		c := s.needy.items[s.cfg.Rand.IntN(len(s.needy.items))]
		if validEdge(x, c) && !c.params.Unproven {
			s.addEdge(x, c)
		}
	}
}

// ---- public API ----

// Join adds a peer and returns the neighbour changes to send (to the
// newcomer and to the peers it was connected to). A banned id is refused:
// Join returns nil and the peer is not added. A known id is treated as
// Update.
func (s *Swarm) Join(id string, p PeerParams) []Change {
	s.begin()
	if _, banned := s.bans[id]; banned {
		return s.end()
	}
	if x := s.peers[id]; x != nil {
		s.update(x, p)
		return s.end()
	}
	x := &peer{id: id, params: p, joined: s.now, depth: depthInf}
	for i := range x.pos {
		x.pos[i] = -1
	}
	s.peers[id] = x
	s.all.add(x)
	s.account(x, 1)
	s.reindex(x)
	s.fill(x, s.cfg.JoinNeighbours)
	if x.up() {
		s.serveNeedy(x)
	}
	return s.end()
}

// Update changes a present peer's parameters (upload opt-out or cap,
// rendition). Switching rendition changes nothing in the mesh; turning
// upload off drops its links to other non-uploaders (they are refilled)
// and its seat as seed.
func (s *Swarm) Update(id string, p PeerParams) []Change {
	s.begin()
	if x := s.peers[id]; x != nil {
		s.update(x, p)
	}
	return s.end()
}

func (s *Swarm) update(x *peer, p PeerParams) {
	wasUp, wasUnproven := x.up(), x.params.Unproven
	s.account(x, -1)
	x.params = p
	s.account(x, 1)
	if wasUp == x.up() {
		s.reindex(x)
		if wasUnproven && !p.Unproven {
			// Proven: it may now be given to others and fill like anyone.
			s.fill(x, s.cfg.JoinNeighbours)
			if x.up() {
				s.serveNeedy(x)
			}
		}
		return
	}
	for _, e := range x.nbrs {
		if wasUp {
			e.p.upN--
		} else {
			e.p.upN++
		}
		s.pendRaise = append(s.pendRaise, e.p)
	}
	s.pendRaise = append(s.pendRaise, x)
	s.pendRelax = append(s.pendRelax, x)
	s.reindex(x)
	if wasUp {
		if x.seed {
			s.dropSeed(x)
		}
		var lost []*peer
		for _, e := range slices.Clone(x.nbrs) {
			if !e.p.up() {
				s.removeEdge(x, e.p)
				lost = append(lost, e.p)
			}
		}
		for _, n := range lost {
			if n.deg() < s.cfg.MinNeighbours {
				s.fill(n, s.cfg.JoinNeighbours)
			}
		}
		s.fill(x, s.cfg.MinNeighbours)
	} else {
		s.serveNeedy(x)
	}
}

// Leave removes a peer and refills the neighbours it leaves short: first
// by pairing its former neighbours with each other (their degrees are
// restored and the departed peer's position is bridged), then by normal
// neighbour choice for any still below MinNeighbours.
func (s *Swarm) Leave(id string) []Change {
	s.begin()
	if x := s.peers[id]; x != nil {
		s.leave(x)
	}
	return s.end()
}

func (s *Swarm) leave(x *peer) {
	nb := make([]*peer, 0, len(x.nbrs))
	for _, e := range x.nbrs {
		nb = append(nb, e.p)
	}
	for _, n := range nb {
		s.removeEdge(x, n)
	}
	if x.seed {
		s.dropSeed(x)
	}
	s.account(x, -1)
	for f := range nFam {
		place(x, f, nil)
	}
	x.gone = true
	for _, a := range x.apart {
		if i := slices.Index(a.apart, x); i >= 0 {
			a.apart = slices.Delete(a.apart, i, i+1)
		}
	}
	x.apart = nil
	delete(s.peers, x.id)

	s.cfg.Rand.Shuffle(len(nb), func(i, j int) { nb[i], nb[j] = nb[j], nb[i] })
	paired := make([]bool, len(nb))
	for i, a := range nb {
		if paired[i] {
			continue
		}
		for j := i + 1; j < len(nb); j++ {
			b := nb[j]
			if !paired[j] && a.deg() < s.cfg.MaxNeighbours && b.deg() < s.cfg.MaxNeighbours && validEdge(a, b) &&
				!a.params.Unproven && !b.params.Unproven {
				s.addEdge(a, b)
				paired[i], paired[j] = true, true
				break
			}
		}
	}
	for _, n := range nb {
		if n.deg() < s.cfg.MinNeighbours {
			s.fill(n, s.cfg.JoinNeighbours)
		}
	}
}

// Ban removes the peer like Leave and refuses the id from then on. Bans
// are remembered up to BanCap ids, oldest forgotten first. Banning an id
// that is not present records the ban.
func (s *Swarm) Ban(id, reason string) []Change {
	s.begin()
	if _, ok := s.bans[id]; ok {
		s.bans[id] = reason
	} else {
		if len(s.banRing) < s.cfg.BanCap {
			s.banRing = append(s.banRing, id)
		} else {
			delete(s.bans, s.banRing[s.banHead])
			s.banRing[s.banHead] = id
			s.banHead = (s.banHead + 1) % len(s.banRing)
		}
		s.bans[id] = reason
	}
	if x := s.peers[id]; x != nil {
		s.leave(x)
	}
	return s.end()
}

// Separate cuts the link between a and b, if any, and never links the two
// again: one of them reported the other, and whoever lied, the pair has
// nothing to gain from each other. Both are refilled if left short.
func (s *Swarm) Separate(a, b string) []Change {
	s.begin()
	x, y := s.peers[a], s.peers[b]
	if x == nil || y == nil || x == y {
		return s.end()
	}
	if !x.isApart(y) {
		x.apart = append(x.apart, y)
		y.apart = append(y.apart, x)
	}
	if x.connected(y) {
		s.removeEdge(x, y)
		for _, p := range []*peer{x, y} {
			if p.deg() < s.cfg.MinNeighbours {
				s.fill(p, s.cfg.JoinNeighbours)
			}
		}
	}
	return s.end()
}

// Shun takes a peer out of the mesh for good: its links are cut (the
// neighbours it leaves short are refilled) and it is never given new ones,
// never a seed, nobody's candidate. For a session whose word is no longer
// believed, or that its neighbours could get nothing from; it goes on
// watching without the swarm.
func (s *Swarm) Shun(id string) []Change {
	s.begin()
	x := s.peers[id]
	if x == nil || x.shunned {
		return s.end()
	}
	s.account(x, -1)
	x.shunned = true
	s.account(x, 1)
	if x.seed {
		s.dropSeed(x)
	}
	nb := make([]*peer, 0, len(x.nbrs))
	for _, e := range x.nbrs {
		nb = append(nb, e.p)
	}
	for _, n := range nb {
		s.removeEdge(x, n)
	}
	s.reindex(x)
	for _, n := range nb {
		if n.deg() < s.cfg.MinNeighbours {
			s.fill(n, s.cfg.JoinNeighbours)
		}
	}
	return s.end()
}

// ReportStats records a peer's upload measurement and/or failures. The
// first measurement sets the upload EWMA; each later one moves it
// 1-exp(-Window/UploadTau) of the way to BytesSent/Window, so a report
// counts in proportion to the time it covers.
func (s *Swarm) ReportStats(id string, st Stats) {
	s.begin()
	defer s.mu.Unlock()
	x := s.peers[id]
	if x == nil {
		return
	}
	s.account(x, -1)
	if st.Window > 0 && st.BytesSent >= 0 {
		rate := float64(st.BytesSent) / st.Window.Seconds()
		if !x.measured {
			x.ewma, x.measured = rate, true
		} else {
			a := 1 - math.Exp(-st.Window.Seconds()/s.cfg.UploadTau.Seconds())
			x.ewma += a * (rate - x.ewma)
		}
	}
	if st.Failures > 0 {
		x.fail = s.failScore(x, s.now) + float64(st.Failures)
		x.failAt = s.now
	}
	s.account(x, 1)
	s.reindex(x)
}
