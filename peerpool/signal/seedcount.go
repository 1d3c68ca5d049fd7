package signal

import "time"

// Each seed target costs the server one copy of its rendition; each part a
// swarm viewer could not get from its neighbours in time costs a copy's
// share over HTTP. More seeds make the swarm shallower and its roots less
// busy, so fewer parts miss their deadline — up to a point that depends on
// the audience and its upload. The hub finds that point by probing: every
// window it moves the rendition's seed count one step, and turns back when
// the window's total (seed copies + the HTTP copies the rendition's swarm
// viewers report) came out worse than the one before. The count stays
// between Config.SeedsPerRendition and Config.MaxSeedsPerRendition. HTTP is
// taken from the viewers' reports, so plain HLS players outside the swarm
// do not sway it; a viewer lying in its reports can at most make the
// server seed MaxSeedsPerRendition copies.

// seedAdaptEvery is the measuring window: long enough for a new seed
// target's connection to come up and carry a few segments.
const seedAdaptEvery = 8 * time.Second

// seedNoise is the change in copies per window taken as noise rather than
// as the effect of the last step.
const seedNoise = 0.25

// seedCount is the adaptive seed count of one rendition.
type seedCount struct {
	window     time.Duration // 0: seedAdaptEvery
	n          int
	dir        int // +1 or -1: the next step
	last       float64
	haveLast   bool
	since      time.Time
	httpBytes  int64
	mediaBytes int64

	// The last window's figures (copies as the swarm's viewers report
	// them, for the log; viewers for Config.OnWindow); reported is set when
	// a window ends.
	copies   float64
	viewers  int
	reported bool
}

// adaptLocked ends a window that has lasted its window and steps n
// within lo..hi. It reports whether n changed.
//
// The swarm must never cost more than no swarm: when a window's copies
// (seeds plus HTTP) came out above the rendition's viewers, n steps down,
// below lo if need be, down to none; it climbs back one seed per window,
// and only while that seed still fits under the viewers.
func (c *seedCount) adaptLocked(now time.Time, lo, hi, viewers int) bool {
	if c.since.IsZero() {
		c.n, c.dir, c.since = lo, 1, now
		return false
	}
	window := c.window
	if window <= 0 {
		window = seedAdaptEvery
	}
	if now.Sub(c.since) < window || c.mediaBytes == 0 {
		return false
	}
	httpCopies := float64(c.httpBytes) / float64(c.mediaBytes)
	total := float64(c.n) + httpCopies
	c.copies, c.viewers, c.reported = total, viewers, true
	old := c.n
	switch {
	case total > float64(viewers):
		c.n, c.dir, c.haveLast = max(0, c.n-1), 1, false
	case c.n < lo:
		if float64(c.n+1)+httpCopies <= float64(viewers) {
			c.n++
		}
	default:
		if c.haveLast && total > c.last+seedNoise {
			c.dir = -c.dir // the last step made it worse: go back
		}
		c.last, c.haveLast = total, true
		c.n += c.dir
		if c.n >= hi {
			c.n, c.dir = hi, -1
		}
		if c.n <= lo {
			c.n, c.dir = lo, 1
		}
	}
	c.since, c.httpBytes, c.mediaBytes = now, 0, 0
	return c.n != old
}
