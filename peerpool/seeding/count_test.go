package seeding

import (
	"testing"
	"time"
)

// The probing seed count settles around the count with the fewest total
// copies of a swarm whose HTTP need falls with each seed, and stays within
// its bounds.
func TestSeedCountFindsTheCheapestCount(t *testing.T) {
	// HTTP copies the swarm needs with n seeds: 6 with 2 seeds, 3.5 with 3,
	// 2.2 with 4, 1.6 with 5, 1.4 with 6, 1.3 beyond: the total (seeds +
	// HTTP) is lowest at 4 (6.2), then 3 (6.5) and 5 (6.6).
	httpCopies := map[int]float64{2: 6, 3: 3.5, 4: 2.2, 5: 1.6, 6: 1.4, 7: 1.3, 8: 1.3}
	var c Count
	at := time.Unix(1000, 0)
	c.Adapt(at, 2, 8, 30)
	if c.N() != 2 {
		t.Fatalf("starts at %d seeds, want the minimum 2", c.N())
	}
	if c.Adapt(at.Add(AdaptEvery/2), 2, 8, 30) {
		t.Fatal("changed before the window ended")
	}
	seen := map[int]int{}
	for range 40 {
		at = at.Add(AdaptEvery)
		c.mediaBytes = 1_000_000
		c.httpBytes = int64(httpCopies[c.N()] * 1_000_000)
		c.Adapt(at, 2, 8, 30)
		if c.N() < 2 || c.N() > 8 {
			t.Fatalf("%d seeds, outside 2..8", c.N())
		}
		seen[c.N()]++
	}
	if near := seen[3] + seen[4] + seen[5]; near < 36 || seen[4] < seen[3] || seen[4] < seen[5] {
		t.Errorf("windows by seed count %v: want nearly all at 3-5, most at 4 (the cheapest)", seen)
	}

	// A swarm that needs no HTTP at all goes back to the minimum.
	for range 10 {
		at = at.Add(AdaptEvery)
		c.mediaBytes, c.httpBytes = 1_000_000, 0
		c.Adapt(at, 2, 8, 30)
	}
	if c.N() > 3 {
		t.Errorf("%d seeds for a swarm that needs no HTTP, want 2 or 3", c.N())
	}

	// No media in a window: no decision.
	n := c.N()
	at = at.Add(AdaptEvery)
	c.mediaBytes, c.httpBytes = 0, 5_000_000
	if c.Adapt(at, 2, 8, 30) || c.N() != n {
		t.Error("changed on a window without media")
	}
}

// Under load the swarm can cost more than no swarm: seeds push parts the
// viewers fetch over HTTP anyway. The count then backs off, below its
// minimum and down to none, until copies fit under the viewers again; it
// climbs back only while a seed fits.
func TestSeedCountNeverCostsMoreThanTheViewers(t *testing.T) {
	var c Count
	at := time.Unix(1000, 0)
	const viewers = 6
	c.Adapt(at, 2, 8, viewers)
	// Every viewer fetches nearly everything over HTTP whatever the seeds.
	for i := range 6 {
		at = at.Add(AdaptEvery)
		c.mediaBytes, c.httpBytes = 1_000_000, 5_500_000
		c.Adapt(at, 2, 8, viewers)
		if i >= 2 && c.N() != 0 {
			t.Fatalf("window %d: %d seeds while HTTP alone costs 5.5 of 6 copies", i, c.N())
		}
	}
	if c.ended.Copies > 6 {
		t.Errorf("last window cost %.1f copies for %d viewers", c.ended.Copies, viewers)
	}
	// The swarm recovers (its viewers need little HTTP): seeds come back
	// one window at a time.
	var ns []int
	for range 4 {
		at = at.Add(AdaptEvery)
		c.mediaBytes, c.httpBytes = 1_000_000, 1_000_000
		c.Adapt(at, 2, 8, viewers)
		ns = append(ns, c.N())
	}
	if ns[0] != 1 || ns[1] != 2 {
		t.Errorf("seed counts while recovering %v, want 1 then 2", ns)
	}
	// One viewer: at most one copy, seeds included.
	var one Count
	one.Adapt(at, 2, 8, 1)
	for range 3 {
		at = at.Add(AdaptEvery)
		one.mediaBytes, one.httpBytes = 1_000_000, 0
		one.Adapt(at, 2, 8, 1)
	}
	if one.N() > 1 {
		t.Errorf("%d seeds for a single viewer", one.N())
	}
}

// A swarm that needs less than a copy over HTTP gets no more seeds: one
// would cost a whole copy to save less. The count rests at its minimum
// instead of probing above it.
func TestSeedCountRestsWhenASeedCannotPayForItself(t *testing.T) {
	var c Count
	at := time.Unix(1000, 0)
	c.Adapt(at, 1, 8, 30)
	for i := range 10 {
		at = at.Add(AdaptEvery)
		c.mediaBytes, c.httpBytes = 1_000_000, 900_000 // 0.9 copies over HTTP
		c.Adapt(at, 1, 8, 30)
		if c.N() != 1 {
			t.Fatalf("window %d: %d seeds with 0.9 copies over HTTP, want the minimum 1", i, c.N())
		}
	}
	// More than a copy over HTTP: a seed may pay, so the count probes.
	at = at.Add(AdaptEvery)
	c.mediaBytes, c.httpBytes = 1_000_000, 3_000_000
	c.Adapt(at, 1, 8, 30)
	if c.N() != 2 {
		t.Errorf("%d seeds with 3 copies over HTTP, want a second one tried", c.N())
	}
}

// A large swarm that needs dozens of seeds reaches them in a few windows,
// and its window-to-window wander in HTTP copies does not turn the count
// back: HTTP copies 1600/n (at most 900 of the 1000 viewers) with a few
// percent of noise, cheapest at 40 seeds (80 copies in all).
func TestSeedCountClimbsFastInALargeSwarm(t *testing.T) {
	var c Count
	at := time.Unix(1000, 0)
	c.Adapt(at, 1, 100, 1000)
	wander := []float64{1.03, 0.97, 1.02, 0.98, 1.04, 0.96}
	var totals []float64
	for w := range 40 {
		at = at.Add(AdaptEvery)
		http := min(900, 1600/float64(max(c.N(), 1))) * wander[w%len(wander)]
		c.mediaBytes = 1_000_000
		c.httpBytes = int64(http * 1_000_000)
		if w >= 15 {
			totals = append(totals, float64(c.N())+http)
		}
		c.Adapt(at, 1, 100, 1000)
		if w == 14 && (c.N() < 20 || c.N() > 70) {
			t.Fatalf("%d seeds after 15 windows, want near the cheapest 40", c.N())
		}
	}
	var sum float64
	for _, x := range totals {
		sum += x
	}
	if mean := sum / float64(len(totals)); mean > 1.25*80 {
		t.Errorf("%.0f copies a window once settled, want within a quarter of the cheapest 80", mean)
	}
}

// A swarm still forming fetches less over HTTP each window whatever the
// seeds do, and a window with more seeds can come out worse by chance:
// while its HTTP copies are more than twice the seeds the count does not
// turn back on that, and it stays within its bound.
func TestSeedCountKeepsClimbingWhileFarShort(t *testing.T) {
	var c Count
	at := time.Unix(1000, 0)
	c.Adapt(at, 1, 20, 1000)
	http := []float64{600, 650, 500, 520, 400, 300, 320, 200}
	prev := c.N()
	for w, h := range http {
		at = at.Add(AdaptEvery)
		c.mediaBytes, c.httpBytes = 1_000_000, int64(h*1_000_000)
		c.Adapt(at, 1, 20, 1000)
		if c.N() < prev || c.N() > 20 {
			t.Fatalf("window %d (%.0f HTTP copies): %d seeds after %d", w, h, c.N(), prev)
		}
		prev = c.N()
	}
	if c.N() != 20 {
		t.Errorf("%d seeds while HTTP stays far above them, want the bound 20", c.N())
	}
}
