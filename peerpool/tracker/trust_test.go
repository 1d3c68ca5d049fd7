package tracker

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSeparatedPairNeverLinkedAgain(t *testing.T) {
	for seed := range uint64(20) {
		// Small degrees: full peers, so refills split links and evict.
		s, c := newTest(seed, func(c *Config) { c.MaxNeighbours, c.MinNeighbours = 3, 2 })
		for i := range 12 {
			s.Join(fmt.Sprint("p", i), up(0))
		}
		refreshSeeds(s, 2) // depths, so Rebalance's depth-driven moves run too
		a := "p0"
		b := s.Neighbours(a)[0]
		s.Separate(a, b)
		if slices.Contains(s.Neighbours(a), b) {
			t.Fatalf("%s and %s still linked after Separate", a, b)
		}
		// Churn around them (their other neighbours leave, newcomers
		// join) and rebalancing never link the two again.
		for i := range 200 {
			c.advance(time.Second)
			for _, n := range s.Neighbours(b) {
				if n != a && i%3 == 0 {
					s.Leave(n)
					break
				}
			}
			s.Join(fmt.Sprint("q", i), up(0))
			s.Rebalance()
			refreshSeeds(s, 2)
			if slices.Contains(s.Neighbours(a), b) {
				t.Fatalf("seed %d, round %d: %s and %s linked again", seed, i, a, b)
			}
		}
		check(t, s, false)
	}
}

func TestShunnedPeerGetsNoNewLinks(t *testing.T) {
	s, c := newTest(8, nil)
	for i := range 10 {
		s.Join(fmt.Sprint("p", i), up(0))
		c.advance(time.Second)
	}
	refreshSeeds(s, 2) // the longest-lived: p0 and p1
	s.Shun("p0")
	if n := s.Neighbours("p0"); len(n) != 0 {
		t.Errorf("shunned peer kept neighbours %v", n)
	}
	if got := s.seedIDs(); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("seeds %v after shunning seed p0, want [p1]", got)
	}
	for i := range 50 {
		c.advance(time.Second)
		s.Join(fmt.Sprint("q", i), up(0))
		s.Rebalance()
		refreshSeeds(s, 2)
	}
	if n := s.Neighbours("p0"); len(n) != 0 {
		t.Errorf("shunned peer has neighbours %v", n)
	}
	if slices.Contains(s.Ranked(4, nil), "p0") {
		t.Error("shunned peer ranked as a seed candidate")
	}
	s.SetSeeds([]string{"p0", "p1"})
	if got := s.seedIDs(); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("seeds %v after SetSeeds(p0, p1), want the shunned p0 left out", got)
	}
	check(t, s, false)
}

func TestMeasuredLiarIsNotCreditedItsCap(t *testing.T) {
	s, _ := newTest(9, nil)
	s.Join("liar", up(1_000_000_000))
	s.Join("honest", up(0))
	s.ReportStats("liar", Stats{BytesSent: 0, Window: 2 * time.Second})
	s.ReportStats("honest", Stats{BytesSent: 800_000, Window: 2 * time.Second})
	s.mu.Lock()
	liar, honest := s.capacity(s.peers["liar"]), s.capacity(s.peers["honest"])
	s.mu.Unlock()
	if liar > float64(s.cfg.AssumedUploadBps) || liar >= honest {
		t.Errorf("capacity: liar %.0f, honest %.0f; a stated cap nobody confirmed must not rank above measured upload", liar, honest)
	}
	if r := s.Ranked(1, nil); len(r) != 1 || r[0] != "honest" {
		t.Errorf("best seed %v, want the measured uploader", r)
	}
}

func TestSetSeedsInstallsExactlyThose(t *testing.T) {
	s, c := newTest(10, nil)
	for i := range 30 {
		s.Join(fmt.Sprint("p", i), up(0))
	}
	s.SetSeeds([]string{"p3", "p7"})
	for range 10 {
		c.advance(5 * time.Second)
		s.Join(fmt.Sprint("n", c.t.Unix()), up(0))
		s.Rebalance()
	}
	sn := s.Snapshot()
	if !slices.Equal(sn.Seeds, []string{"p3", "p7"}) {
		t.Errorf("seeds %v, want [p3 p7]", sn.Seeds)
	}
	if len(sn.DepthHistogram) < 3 || sn.DepthHistogram[1] != 2 {
		t.Errorf("depths %v: want exactly the 2 seeds at depth 1 and the rest below", sn.DepthHistogram)
	}
	only := s.Ranked(3, func(id string) bool { return id != "p3" })
	if len(only) != 3 || slices.Contains(only, "p3") {
		t.Errorf("Ranked with a filter gave %v", only)
	}
	check(t, s, false)
}

func TestUnprovenPeerTakesFreeSlotsOnly(t *testing.T) {
	// Degrees of 4 with 12 peers joined at 4: every slot taken.
	s, _ := newTest(11, func(c *Config) { c.MaxNeighbours, c.MinNeighbours, c.JoinNeighbours = 4, 2, 4 })
	for i := range 12 {
		s.Join(fmt.Sprint("p", i), up(0))
	}
	before := s.Snapshot().Links
	p := up(0)
	p.Unproven = true
	s.Join("x", p)
	n := len(s.Neighbours("x"))
	if n == 0 {
		t.Fatal("unproven newcomer got no link at all: it could never prove itself")
	}
	// It takes free slots, and displaces at most one link for its first:
	// never splits links to get more.
	if after := s.Snapshot().Links; after < before+n-1 {
		t.Errorf("links %d → %d for a newcomer with %d: it broke more than one existing link", before, after, n)
	}
	// Nobody new is given it while it is unproven.
	for i := range 5 {
		id := fmt.Sprint("y", i)
		s.Join(id, up(0))
		if slices.Contains(s.Neighbours(id), "x") {
			t.Errorf("newcomer %s was given the unproven peer", id)
		}
	}
	p.Unproven = false
	s.Update("x", p)
	check(t, s, false)
}
