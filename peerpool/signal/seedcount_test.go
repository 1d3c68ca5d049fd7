package signal

import (
	"testing"
	"time"
)

func TestSeedCountFollowsHTTPCopies(t *testing.T) {
	var c seedCount
	t0 := time.Unix(1000, 0)
	c.adaptLocked(t0, 2, 4)
	if c.n != 2 {
		t.Fatalf("starts at %d seeds, want the minimum 2", c.n)
	}
	window := func(at time.Time, http, media int64) bool {
		c.httpBytes, c.mediaBytes = http, media
		return c.adaptLocked(at, 2, 4)
	}
	if window(t0.Add(seedAdaptEvery/2), 5000, 1000) {
		t.Fatal("changed before the window ended")
	}
	steps := []struct {
		http, media int64
		want        int
	}{
		{1500, 1000, 3}, // 1.5 copies over HTTP: one more seed
		{2000, 1000, 4},
		{9000, 1000, 4}, // at the maximum
		{700, 1000, 4},  // between the thresholds: hold
		{100, 1000, 3},  // the swarm carries it: give one back
		{0, 1000, 2},
		{0, 1000, 2}, // at the minimum
		{5000, 0, 2}, // no media in the window: no decision
	}
	at := t0
	for i, s := range steps {
		at = at.Add(seedAdaptEvery)
		window(at, s.http, s.media)
		if c.n != s.want {
			t.Fatalf("step %d (%d HTTP bytes of %d): %d seeds, want %d", i, s.http, s.media, c.n, s.want)
		}
	}
}
