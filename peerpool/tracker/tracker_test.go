package tracker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(seed uint64, mod func(*Config)) (*Swarm, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg := Config{Now: c.now, Rand: rand.New(rand.NewPCG(seed, seed+1))}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), c
}

func up(cap int64) PeerParams {
	return PeerParams{CanUpload: true, UploadCapBps: cap, Rendition: "720p"}
}

var leech = PeerParams{CanUpload: false, Rendition: "360p"}

// check verifies every structural invariant of the swarm; minDeg says
// whether every peer must have MinNeighbours.
func check(t *testing.T, s *Swarm, minDeg bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.cfg
	if len(s.all.items) != len(s.peers) {
		t.Fatalf("all set %d != peers %d", len(s.all.items), len(s.peers))
	}
	nUp := 0
	for id, p := range s.peers {
		if p.id != id || p.gone {
			t.Fatalf("peer %s: bad entry", id)
		}
		if _, b := s.bans[id]; b {
			t.Fatalf("banned peer %s present", id)
		}
		if p.deg() > cfg.MaxNeighbours {
			t.Fatalf("peer %s has %d neighbours > max", id, p.deg())
		}
		upN := 0
		for _, e := range p.nbrs {
			q := e.p
			if q.gone || s.peers[q.id] != q {
				t.Fatalf("peer %s linked to departed %s", id, q.id)
			}
			if q == p {
				t.Fatalf("self link %s", id)
			}
			if !q.connected(p) {
				t.Fatalf("asymmetric link %s -> %s", id, q.id)
			}
			if !p.up() && !q.up() {
				t.Fatalf("link between two non-uploaders %s %s", id, q.id)
			}
			if q.up() {
				upN++
			}
		}
		seen := map[*peer]bool{}
		for _, e := range p.nbrs {
			if seen[e.p] {
				t.Fatalf("duplicate link %s %s", id, e.p.id)
			}
			seen[e.p] = true
		}
		if upN != p.upN {
			t.Fatalf("peer %s upN %d, counted %d", id, p.upN, upN)
		}
		if p.shunned {
			for f := famUp; f < nFam; f++ {
				if p.in[f] != nil {
					t.Fatalf("shunned peer %s is in placement set %d", id, f)
				}
			}
			if p.seed {
				t.Fatalf("shunned peer %s is a seed", id)
			}
			continue
		}
		if p.up() {
			nUp++
		}
		// index consistency
		wantNeedy := p.deg() < cfg.MinNeighbours
		if (p.in[famNeedy] != nil) != wantNeedy {
			t.Fatalf("peer %s needy index wrong", id)
		}
		if p.up() {
			if p.in[famUpD] != &s.upD[bucketOf(p.depth)] || p.in[famUp] != &s.up {
				t.Fatalf("peer %s up index wrong", id)
			}
			wantFree := p.deg() < cfg.MaxNeighbours && !p.params.Unproven
			if wantFree && p.in[famFree] != &s.free[bucketOf(p.depth)] || !wantFree && p.in[famFree] != nil {
				t.Fatalf("peer %s free index wrong", id)
			}
		} else if p.in[famUp] != nil || p.in[famUpD] != nil || p.in[famFree] != nil || p.seed {
			t.Fatalf("non-uploader %s indexed as uploader or seed", id)
		}
		for f := range nFam {
			if set := p.in[f]; set != nil && set.items[p.pos[f]] != p {
				t.Fatalf("peer %s position wrong in family %d", id, f)
			}
		}
		if p.seed && p.depth != 1 {
			t.Fatalf("seed %s depth %d", id, p.depth)
		}
		if minDeg && p.deg() < cfg.MinNeighbours {
			t.Fatalf("peer %s (up=%v) has %d neighbours < min (peers %d, uploaders %d)", id, p.up(), p.deg(), len(s.peers), nUp)
		}
	}
	for _, p := range s.seeds {
		if p.gone || !p.up() || !p.seed {
			t.Fatalf("bad seed %s", p.id)
		}
	}
}

// exactDepths is BFS from the seeds, independent of the implementation.
func exactDepths(s *Swarm) map[*peer]int {
	d := map[*peer]int{}
	var q []*peer
	for _, p := range s.seeds {
		d[p] = 1
		q = append(q, p)
	}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		if !u.up() {
			continue
		}
		for _, e := range u.nbrs {
			if _, ok := d[e.p]; !ok {
				d[e.p] = d[u] + 1
				q = append(q, e.p)
			}
		}
	}
	return d
}

func TestJoinSymmetricAndFilled(t *testing.T) {
	s, _ := newTest(1, nil)
	for i := range 50 {
		ch := s.Join(fmt.Sprint("p", i), up(100_000))
		check(t, s, i >= s.cfg.MinNeighbours)
		// every link change is reported at both ends
		adds := map[[2]string]int{}
		for _, c := range ch {
			for _, a := range c.Add {
				k := [2]string{min(c.Peer, a), max(c.Peer, a)}
				adds[k]++
			}
		}
		for k, n := range adds {
			if n != 2 {
				t.Fatalf("link %v reported %d times", k, n)
			}
		}
	}
	if got := s.Neighbours("p49"); len(got) != s.cfg.JoinNeighbours {
		t.Fatalf("newcomer has %v", got)
	}
	if s.Len() != 50 || s.Neighbours("nobody") != nil {
		t.Fatal("Len/Neighbours")
	}
}

func TestFirstPeersConnectToEachOther(t *testing.T) {
	s, _ := newTest(2, nil)
	s.Join("a", up(0))
	ch := s.Join("b", up(0))
	if len(ch) != 2 || !slices.Equal(s.Neighbours("a"), []string{"b"}) {
		t.Fatalf("changes %+v", ch)
	}
	s.Join("c", leech)
	s.Join("d", leech)
	check(t, s, false)
	if !slices.Equal(s.Neighbours("c"), []string{"a", "b"}) {
		t.Fatalf("c: %v", s.Neighbours("c"))
	}
	// the two leeches must not be linked
	if slices.Contains(s.Neighbours("d"), "c") {
		t.Fatal("non-uploaders linked")
	}
}

func TestNonUploadersNeverUpstreamNorSeed(t *testing.T) {
	s, _ := newTest(3, nil)
	for i := range 40 {
		p := up(200_000)
		if i%3 == 0 {
			p = leech
		}
		s.Join(fmt.Sprint("p", i), p)
	}
	for i := range 40 {
		sent := int64(1000 * i)
		if i%3 == 0 {
			sent = 1e9 // no report makes a non-uploader a seed
		}
		s.ReportStats(fmt.Sprint("p", i), Stats{BytesSent: sent, Window: time.Second})
	}
	refreshSeeds(s, 8)
	seeds := s.seedIDs()
	if len(seeds) != 8 {
		t.Fatalf("seeds %v, want 8", seeds)
	}
	for _, id := range seeds {
		var n int
		fmt.Sscan(id[1:], &n)
		if n%3 == 0 {
			t.Fatalf("non-uploader %s is a seed", id)
		}
	}
	// Named outright, a non-uploader is not installed either.
	s.SetSeeds(append([]string{"p0"}, seeds...))
	if got := s.seedIDs(); !slices.Equal(got, seeds) {
		t.Fatalf("SetSeeds with a non-uploader: seeds %v, want %v", got, seeds)
	}
	check(t, s, true)
	// a leech that later opts out of saving data becomes an uploader, and back
	s.Update("p0", up(0))
	check(t, s, true)
	s.Update(seeds[0], leech)
	check(t, s, true)
	if slices.Contains(s.seedIDs(), seeds[0]) {
		t.Fatal("opted-out peer still seed")
	}
}

func TestLeaveRefills(t *testing.T) {
	s, _ := newTest(4, nil)
	for i := range 30 {
		s.Join(fmt.Sprint("p", i), up(0))
	}
	check(t, s, true)
	victim := "p10"
	nb := s.Neighbours(victim)
	ch := s.Leave(victim)
	check(t, s, true)
	if s.Has(victim) || s.Neighbours(victim) != nil {
		t.Fatal("still present")
	}
	touched := map[string]bool{}
	for _, c := range ch {
		if c.Peer == victim {
			t.Fatal("change sent to departed peer")
		}
		if slices.Contains(c.Remove, victim) {
			touched[c.Peer] = true
		}
	}
	for _, n := range nb {
		if !touched[n] {
			t.Fatalf("neighbour %s not told to drop %s", n, victim)
		}
	}
	if s.Leave("nobody") != nil {
		t.Fatal("leave of unknown")
	}
}

func TestBan(t *testing.T) {
	s, _ := newTest(5, func(c *Config) { c.BanCap = 3 })
	for i := range 20 {
		s.Join(fmt.Sprint("p", i), up(0))
	}
	s.Ban("p3", "bad hash")
	check(t, s, true)
	if !s.Banned("p3") || s.Has("p3") {
		t.Fatal("ban")
	}
	if r, _ := s.BanReason("p3"); r != "bad hash" {
		t.Fatal(r)
	}
	if ch := s.Join("p3", up(0)); ch != nil || s.Has("p3") {
		t.Fatal("banned peer rejoined")
	}
	for _, id := range []string{"x1", "x2", "x3"} {
		s.Ban(id, "flood")
	}
	if s.Banned("p3") || !s.Banned("x1") || !s.Banned("x3") || s.Snapshot().Banned != 3 {
		t.Fatal("ban cap: oldest must be forgotten first")
	}
}

func TestRankedOrderAndHysteresis(t *testing.T) {
	s, c := newTest(6, nil)
	for i := range 20 {
		s.Join(fmt.Sprint("p", i), up(0))
		c.advance(time.Second)
	}
	s.Join("leech", leech)
	// before any measurement: longest-lived first
	if got := s.Ranked(3, nil); !slices.Equal(got, []string{"p0", "p1", "p2"}) {
		t.Fatalf("unmeasured ranking %v", got)
	}
	refreshSeeds(s, 3)
	for i := range 20 {
		s.ReportStats(fmt.Sprint("p", i), Stats{BytesSent: int64(i) * 10_000, Window: time.Second})
	}
	s.ReportStats("leech", Stats{BytesSent: 1e9, Window: time.Second})
	// measured upload beats seniority, and the sitting seeds' bonus does
	// not save upload this low; a non-uploader is never ranked, whatever
	// it reports
	if got := s.Ranked(3, nil); !slices.Equal(got, []string{"p19", "p18", "p17"}) {
		t.Fatalf("ranked %v", got)
	}
	refreshSeeds(s, 3)
	// p16 now outscores p17 (EWMA ~204k > 170k) but not by
	// SeedHysteresis: the sitting seed keeps its place...
	s.ReportStats("p16", Stats{BytesSent: 20 * 230_000, Window: 20 * time.Second})
	if got := s.Ranked(3, nil); !slices.Equal(got, []string{"p19", "p18", "p17"}) {
		t.Fatalf("sitting seed displaced by a near equal: %v", got)
	}
	// ...which it would not hold unseated.
	s.SetSeeds([]string{"p19", "p18"})
	if got := s.Ranked(3, nil); !slices.Equal(got, []string{"p19", "p18", "p16"}) {
		t.Fatalf("without p17 sitting: %v, want p16 third", got)
	}
	// A challenger (EWMA ~690k) past SeedHysteresis times every sitting
	// seed (p16 ~306k, p19 285k, p18 270k as counted) takes the weakest's
	// place.
	refreshSeeds(s, 3)
	s.ReportStats("p15", Stats{BytesSent: 20 * 1_000_000, Window: 20 * time.Second})
	if got := s.Ranked(3, nil); !slices.Equal(got, []string{"p15", "p16", "p19"}) {
		t.Fatalf("strong challenger: %v", got)
	}
	// failures demote
	s.ReportStats("p19", Stats{Failures: 10})
	if got := s.Ranked(3, nil); slices.Contains(got, "p19") {
		t.Fatalf("failing peer still ranked: %v", got)
	}
	if got := s.Ranked(1, nil); len(got) != 1 {
		t.Fatal(got)
	}
	if got := s.Ranked(0, nil); len(got) != 0 {
		t.Fatal(got)
	}
	check(t, s, true)
}

// The swarm never picks a seed itself: a seed that leaves is dropped, and
// only the next SetSeeds fills its place.
func TestSeedLeavingIsNotReplaced(t *testing.T) {
	s, c := newTest(6, nil)
	for i := range 20 {
		s.Join(fmt.Sprint("p", i), up(0))
		c.advance(time.Second)
	}
	if got := s.seedIDs(); len(got) != 0 {
		t.Fatalf("seeds %v before any SetSeeds", got)
	}
	refreshSeeds(s, 3)
	s.Leave("p1")
	c.advance(time.Minute)
	s.Join("late", up(0))
	s.Rebalance()
	if got := s.seedIDs(); !slices.Equal(got, []string{"p0", "p2"}) {
		t.Fatalf("after a seed left: %v, want [p0 p2]", got)
	}
	check(t, s, true)
	refreshSeeds(s, 3)
	if got := s.seedIDs(); !slices.Equal(got, []string{"p0", "p2", "p3"}) {
		t.Fatalf("after the next SetSeeds: %v, want [p0 p2 p3]", got)
	}
}

// TestChurnInvariants runs a deterministic random churn and checks every
// invariant after every step.
func TestChurnInvariants(t *testing.T) {
	s, c := newTest(42, nil)
	r := rand.New(rand.NewPCG(7, 7))
	var ids, installed []string
	next := 0
	for step := range 4000 {
		c.advance(time.Duration(r.IntN(500)) * time.Millisecond)
		switch x := r.IntN(100); {
		case x < 45 || len(ids) < 5:
			id := fmt.Sprint("p", next)
			next++
			var p PeerParams
			switch r.IntN(4) {
			case 0:
				p = leech
			case 1:
				p = up(0)
			default:
				p = up(int64(50_000 + r.IntN(1_000_000)))
			}
			s.Join(id, p)
			ids = append(ids, id)
		case x < 80:
			i := r.IntN(len(ids))
			s.Leave(ids[i])
			ids = slices.Delete(ids, i, i+1)
		case x < 83:
			i := r.IntN(len(ids))
			s.Ban(ids[i], "test")
			if s.Has(ids[i]) || !s.Banned(ids[i]) {
				t.Fatal("ban failed")
			}
			s.Join(ids[i], up(0)) // refused
			ids = slices.Delete(ids, i, i+1)
		case x < 90:
			for range 10 {
				s.ReportStats(ids[r.IntN(len(ids))], Stats{BytesSent: int64(r.IntN(2_000_000)), Window: 2 * time.Second})
			}
		case x < 93:
			n := 2 + step%7
			want := s.Ranked(n, nil)
			refreshSeeds(s, n)
			installed = s.seedIDs()
			if !slices.Equal(installed, want) {
				t.Fatalf("step %d: seeds %v, ranked %v", step, installed, want)
			}
		case x < 96:
			s.Rebalance()
			// after Rebalance depths are exact
			ex := exactDepths(s)
			for _, p := range s.all.items {
				want, ok := ex[p]
				if !ok {
					want = depthInf
				}
				if p.depth != want {
					t.Fatalf("step %d: %s depth %d, exact %d", step, p.id, p.depth, want)
				}
			}
		case x < 98:
			id := ids[r.IntN(len(ids))]
			if r.IntN(2) == 0 {
				s.Update(id, leech)
			} else {
				s.Update(id, up(300_000))
			}
		default:
			s.ReportStats(ids[r.IntN(len(ids))], Stats{Failures: 1})
		}
		if len(ids) != s.Len() {
			t.Fatalf("step %d: %d ids, %d peers", step, len(ids), s.Len())
		}
		// Seeds only ever drop out between SetSeeds calls.
		got := s.seedIDs()
		for _, id := range got {
			if !slices.Contains(installed, id) {
				t.Fatalf("step %d: seed %s was never installed (installed %v)", step, id, installed)
			}
		}
		installed = got
		check(t, s, enough(s))
	}
	sn := s.Snapshot()
	t.Logf("after churn: %v", sn)
}

// enough: the swarm can give every peer MinNeighbours: at least
// Max uploaders and uploader slots for every non-uploader's Min links.
func enough(s *Swarm) bool {
	nUp := len(s.up.items)
	nLeech := len(s.peers) - nUp
	return nUp > s.cfg.MaxNeighbours && nUp*(s.cfg.MaxNeighbours-s.cfg.MinNeighbours) >= 2*nLeech*s.cfg.MinNeighbours
}

func TestMixed200(t *testing.T) {
	s, c := newTest(9, nil)
	r := rand.New(rand.NewPCG(1, 2))
	caps := map[string]int64{}
	for i := range 200 {
		id := fmt.Sprint("p", i)
		var p PeerParams
		switch x := r.IntN(10); {
		case x < 2:
			p = leech
		case x < 5:
			p = up(100_000) // weak
		case x < 9:
			p = up(400_000)
		default:
			p = up(int64(1_500_000 + r.IntN(1_000_000))) // strong
		}
		caps[id] = p.UploadCapBps
		s.Join(id, p)
		c.advance(50 * time.Millisecond)
		if i%10 == 0 {
			refreshSeeds(s, 2)
		}
	}
	check(t, s, true)
	t.Logf("after joins: %v", s.Snapshot())
	// peers report upload proportional to their caps; rebalance for a while
	for round := range 30 {
		for id, cp := range caps {
			s.ReportStats(id, Stats{BytesSent: cp * 9 / 10 * 2, Window: 2 * time.Second})
		}
		c.advance(2 * time.Second)
		ch := s.Rebalance()
		refreshSeeds(s, 2) // the hub's tick: Rebalance, then the seed refresh
		if ops, _ := s.rebalanceBudget(); len(ch) > 4*ops {
			t.Fatalf("round %d: rebalance touched %d peers", round, len(ch))
		}
		check(t, s, true)
	}
	seeds := s.seedIDs()
	// the seeds are the top uploaders
	var ranked []string
	for id := range caps {
		ranked = append(ranked, id)
	}
	slices.SortFunc(ranked, func(a, b string) int { return int(caps[b] - caps[a]) })
	top := ranked[:len(seeds)]
	slices.Sort(top)
	got := slices.Clone(seeds)
	slices.Sort(got)
	if !slices.Equal(got, top) {
		t.Fatalf("seeds %v, top uploaders %v", got, top)
	}
	sn := s.Snapshot()
	t.Logf("seeds %v; %v", seeds, sn)
	if sn.DepthHistogram[0] != 0 {
		t.Fatalf("%d unreachable peers", sn.DepthHistogram[0])
	}
	if sn.AvgDepth > 4.5 {
		t.Fatalf("average depth %.2f", sn.AvgDepth)
	}
	// strong uploaders sit upstream of weak ones
	var sumS, nS, sumW, nW float64
	for id, cp := range caps {
		d, _ := s.Depth(id)
		if cp >= 1_500_000 {
			sumS += float64(d)
			nS++
		} else if cp == 100_000 {
			sumW += float64(d)
			nW++
		}
	}
	t.Logf("mean depth: strong uploaders %.2f, weak uploaders %.2f", sumS/nS, sumW/nW)
	if sumS/nS > sumW/nW {
		t.Fatal("strong uploaders deeper than weak ones")
	}
}

func TestRebalanceReplacesSlowNeighbour(t *testing.T) {
	s, c := newTest(10, nil)
	for i := range 40 {
		s.Join(fmt.Sprint("p", i), up(400_000))
	}
	refreshSeeds(s, 2)
	c.advance(time.Minute)
	for i := range 40 {
		rate := int64(400_000)
		if i == 5 {
			rate = 1_000
		}
		s.ReportStats(fmt.Sprint("p", i), Stats{BytesSent: rate, Window: time.Second})
	}
	before := len(s.Neighbours("p5"))
	for range 20 {
		s.Rebalance()
		check(t, s, true)
	}
	after := len(s.Neighbours("p5"))
	t.Logf("slow peer degree %d -> %d", before, after)
	if after >= before && after > s.cfg.MinNeighbours {
		t.Fatal("slow peer's links were not replaced")
	}
	// rebalancing a settled swarm converges: no endless rewiring
	total := 0
	for range 20 {
		c.advance(time.Minute)
		total += len(s.Rebalance())
	}
	t.Logf("changes over 20 further rebalances: %d", total)
}

func benchJoinLeave(b *testing.B, n int) {
	s, _ := newTest(11, nil)
	r := rand.New(rand.NewPCG(3, 4))
	params := func() PeerParams {
		switch r.IntN(4) {
		case 0:
			return leech
		default:
			return up(int64(50_000 + r.IntN(1_000_000)))
		}
	}
	ids := make([]string, 0, n)
	for i := range n {
		id := fmt.Sprint("p", i)
		s.Join(id, params())
		ids = append(ids, id)
	}
	refreshSeeds(s, 4)
	s.Rebalance()
	next := n
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := r.IntN(len(ids))
		s.Leave(ids[j])
		id := "q" + fmt.Sprint(next)
		next++
		ids[j] = id
		s.Join(id, params())
	}
	b.StopTimer()
	if testing.Verbose() {
		b.Logf("n=%d: %v", n, s.Snapshot())
	}
}

// BenchmarkJoinLeave: one op = one Leave + one Join at a steady swarm size.
func BenchmarkJoinLeave(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint("peers=", n), func(b *testing.B) { benchJoinLeave(b, n) })
	}
}

// BenchmarkRebalance: one Rebalance (exact depth pass + bounded rewiring)
// and one seed refresh (Ranked + SetSeeds) per op on a 100k-peer swarm.
func BenchmarkRebalance(b *testing.B) {
	s, c := newTest(12, nil)
	for i := range 100_000 {
		s.Join(fmt.Sprint("p", i), up(int64(50_000+i%7*200_000)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.advance(2 * time.Second)
		s.Rebalance()
		refreshSeeds(s, 4)
	}
}

// Viewers of a small rendition who joined among viewers of a big one end
// up with neighbours on their own rendition after a few rebalances.
func TestRebalanceGathersRenditions(t *testing.T) {
	s, c := newTest(11, nil)
	small := func(i int) bool { return i%5 == 4 } // 8 of 40 play 180p
	for i := range 40 {
		p := up(400_000)
		if small(i) {
			p.Rendition = "180p"
		}
		s.Join(fmt.Sprint("p", i), p)
	}
	refreshSeeds(s, 2)
	sameOf := func(i int) int {
		n := 0
		for _, id := range s.Neighbours(fmt.Sprint("p", i)) {
			var j int
			fmt.Sscan(id[1:], &j)
			if small(j) == small(i) {
				n++
			}
		}
		return n
	}
	least := func() (int, float64) {
		low, sum, n := 1<<30, 0, 0
		for i := range 40 {
			if small(i) {
				low = min(low, sameOf(i))
				sum += sameOf(i)
				n++
			}
		}
		return low, float64(sum) / float64(n)
	}
	lowBefore, meanBefore := least()
	for range 30 {
		c.advance(time.Minute)
		s.Rebalance()
		check(t, s, true)
	}
	low, mean := least()
	t.Logf("180p viewers' neighbours on 180p: least %d, mean %.1f before; least %d, mean %.1f after", lowBefore, meanBefore, low, mean)
	if low < s.cfg.SameRendition {
		t.Errorf("a 180p viewer has %d neighbours on 180p after rebalancing, want at least %d", low, s.cfg.SameRendition)
	}
	// Settled: no endless rewiring.
	total := 0
	for range 10 {
		c.advance(time.Minute)
		total += len(s.Rebalance())
	}
	t.Logf("changes over 10 further rebalances: %d", total)
}

// By default a large swarm's Rebalance makes more operations and looks at
// more peers; limits the caller set stay as they are.
func TestRebalanceBudgetGrowsWithTheSwarm(t *testing.T) {
	s, _ := newTest(9, nil)
	for i := range 400 {
		s.Join(fmt.Sprintf("p%d", i), up(250_000))
	}
	if ops, sample := s.rebalanceBudget(); ops != 400/peersPerRebalanceOp || sample != ops*samplePerRebalanceOp {
		t.Errorf("400 peers: %d operations on a sample of %d, want %d on %d", ops, sample, 400/peersPerRebalanceOp, 400/peersPerRebalanceOp*samplePerRebalanceOp)
	}
	fixed, _ := newTest(9, func(c *Config) { c.MaxRebalanceOps, c.RebalanceSample = 4, 64 })
	for i := range 400 {
		fixed.Join(fmt.Sprintf("p%d", i), up(250_000))
	}
	if ops, sample := fixed.rebalanceBudget(); ops != 4 || sample != 64 {
		t.Errorf("set limits became %d operations on %d", ops, sample)
	}
	small, _ := newTest(9, nil)
	for i := range 30 {
		small.Join(fmt.Sprintf("p%d", i), up(250_000))
	}
	if ops, sample := small.rebalanceBudget(); ops != 4 || sample != 64 {
		t.Errorf("30 peers: %d operations on %d, want the defaults 4 on 64", ops, sample)
	}
}
