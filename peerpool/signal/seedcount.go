package signal

import "time"

// Each seed target costs the server one copy of its rendition; each part a
// swarm viewer could not get from its neighbours in time costs a copy's
// share over HTTP. The hub moves the number of seed targets of each
// rendition between Config.SeedsPerRendition and
// Config.MaxSeedsPerRendition by the HTTP bytes the rendition's swarm
// viewers report (viewers outside the swarm, plain HLS players, are no
// seed's business): above one copy per window, the swarm lacks upload or
// depth near the root and one more seed (one more copy) saves more than it
// costs; below half a copy, the swarm carries the stream and a seed is
// given back. A viewer lying in its reports can at most make the server
// seed MaxSeedsPerRendition copies.

// seedAdaptEvery is the measuring window: long enough for a new seed
// target's connection to come up and carry a few segments.
const seedAdaptEvery = 8 * time.Second

// Thresholds, in copies of the rendition sent over HTTP during a window.
const (
	moreSeedsAbove  = 1.0
	fewerSeedsBelow = 0.5
)

// seedCount is the adaptive seed count of one rendition.
type seedCount struct {
	n          int
	since      time.Time
	httpBytes  int64
	mediaBytes int64
}

// adaptLocked ends a window that has lasted seedAdaptEvery and moves n
// within lo..hi by what the window measured. It reports whether n changed.
func (c *seedCount) adaptLocked(now time.Time, lo, hi int) bool {
	if c.since.IsZero() {
		c.n, c.since = lo, now
		return false
	}
	if now.Sub(c.since) < seedAdaptEvery || c.mediaBytes == 0 {
		return false
	}
	copies := float64(c.httpBytes) / float64(c.mediaBytes)
	old := c.n
	switch {
	case copies > moreSeedsAbove:
		c.n++
	case copies < fewerSeedsBelow:
		c.n--
	}
	c.n = min(max(c.n, lo), hi)
	c.since, c.httpBytes, c.mediaBytes = now, 0, 0
	return c.n != old
}
