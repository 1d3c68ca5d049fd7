// Package seeding decides how many copies of each part the server seeds
// into a rendition's swarm. It is pure logic with no I/O and no clock (the
// caller passes the time): the signaling hub drives it in production and
// the swarm simulator drives the same code on a virtual clock.
package seeding

import (
	"math"
	"time"
)

// Each seed target costs the server one copy of its rendition; each part a
// swarm viewer could not get from its neighbours in time costs a copy's
// share over HTTP. More seeds make the swarm shallower and its roots less
// busy, so fewer parts miss their deadline — up to a point that depends on
// the audience and its upload. The count finds that point by probing:
// every window it moves the rendition's seed count one step (a quarter of
// itself, more while the swarm is far short, at least one seed), and
// turns back when the window's total (seed copies + the HTTP copies the
// rendition's swarm viewers report) came out worse than the one before by
// more than noise. The count stays between the lower and upper bounds Adapt is given. HTTP
// is taken from the viewers' reports, so plain HLS players outside the
// swarm do not sway it; a viewer lying in its reports can at most make the
// server seed the upper bound's copies.

// AdaptEvery is the default measuring window: long enough for a new seed
// target's connection to come up and carry a few segments.
const AdaptEvery = 8 * time.Second

// seedNoise is the change in copies per window taken as noise rather than
// as the effect of the last step, and noiseShare the share of the
// window's copies taken as noise when that is more: a large swarm's HTTP
// copies wander by several from one window to the next with no change
// of seeds at all.
const (
	seedNoise  = 0.25
	noiseShare = 0.03
)

// A step moves the count by a stepShare of itself, at least one seed.
// Going up while the swarm's HTTP copies are more than twice the seeds
// (far short), it moves by half of itself, or straight to sqrt(n·http)
// when that is further: where seeds plus HTTP would cost least if the
// HTTP the swarm needs fell as one over the seeds. A swarm that needs
// dozens of seeds reaches them in a window or two rather than one seed
// per window, and a small one still moves one at a time.
const (
	stepShare  = 0.25
	shortShare = 0.5
)

func step(n, dir int, httpCopies float64) int {
	if dir > 0 && httpCopies > 2*float64(n) {
		cheapest := int(math.Sqrt(float64(max(n, 1)) * httpCopies))
		return max(1, int(float64(n)*shortShare), cheapest-n)
	}
	return max(1, int(float64(n)*stepShare))
}

// Count is the adaptive seed count of one rendition. The zero value is
// ready; it is not safe for concurrent use.
type Count struct {
	// Window is the measuring window (0: AdaptEvery).
	Window time.Duration

	n          int
	dir        int     // +1 or -1: the next step
	last       float64 // the copies of the window before
	lastN      int     // and its seed count
	haveLast   bool
	since      time.Time
	httpBytes  int64
	mediaBytes int64

	ended Ended
	fresh bool // ended holds a window not yet taken
}

// Ended is what a finished window measured: the copies as the swarm's
// viewers report them (seeds plus HTTP) and the rendition's viewers.
type Ended struct {
	Copies  float64
	Viewers int
}

// N is the current seed count.
func (c *Count) N() int { return c.n }

// AddMedia counts media bytes of the rendition cut in this window.
func (c *Count) AddMedia(bytes int64) { c.mediaBytes += bytes }

// AddHTTP counts bytes the rendition's swarm viewers report fetching over
// HTTP in this window.
func (c *Count) AddHTTP(bytes int64) { c.httpBytes += bytes }

// LastEnded returns the window that ended at the last Adapt, or false when
// no window ended since the last call.
func (c *Count) LastEnded() (Ended, bool) {
	if !c.fresh {
		return Ended{}, false
	}
	c.fresh = false
	return c.ended, true
}

// Adapt ends a window that has lasted its window and steps the count
// within lo..hi. It reports whether the count changed.
//
// The swarm must never cost more than no swarm: when a window's copies
// (seeds plus HTTP) came out above the rendition's viewers, the count
// steps down, below lo if need be, down to none; it climbs back one seed
// per window, and only while that seed still fits under the viewers.
func (c *Count) Adapt(now time.Time, lo, hi, viewers int) bool {
	if c.since.IsZero() {
		c.n, c.dir, c.since = lo, 1, now
		return false
	}
	window := c.Window
	if window <= 0 {
		window = AdaptEvery
	}
	if now.Sub(c.since) < window || c.mediaBytes == 0 {
		return false
	}
	httpCopies := float64(c.httpBytes) / float64(c.mediaBytes)
	total := float64(c.n) + httpCopies
	c.ended, c.fresh = Ended{Copies: total, Viewers: viewers}, true
	old := c.n
	switch {
	case total > float64(viewers):
		c.n, c.dir, c.haveLast = max(0, c.n-1), 1, false
	case c.n < lo:
		if float64(c.n+1)+httpCopies <= float64(viewers) {
			c.n++
		}
	default:
		if c.haveLast && c.lastN != c.n && total > c.last+max(seedNoise, noiseShare*c.last) {
			c.dir = -c.dir // the last step made it worse: go back
		}
		farShort := httpCopies > 2*float64(c.n)
		switch {
		case httpCopies < 1:
			// A seed costs a whole copy and can save at most the HTTP the
			// swarm still needs: below a copy, another cannot pay for
			// itself, so the count only falls (and rests at lo).
			c.dir = -1
		case farShort:
			// While the swarm fetches more than twice its seeds over
			// HTTP, it is still forming (newcomers, connections coming
			// up) or short of roots: one window's total against the
			// last then measures that trend more than the last step, and
			// turning back on it leaves a large swarm on HTTP for
			// minutes. The count climbs (to hi at most, a bounded cost)
			// and probes once the need is down to the seeds' scale.
			c.dir = 1
		}
		c.last, c.lastN, c.haveLast = total, c.n, true
		c.n += c.dir * step(c.n, c.dir, httpCopies)
		if c.n >= hi {
			c.n, c.dir = hi, -1
			if farShort {
				c.dir = 1
			}
		}
		if c.n <= lo {
			c.n, c.dir = lo, 1
		}
	}
	c.since, c.httpBytes, c.mediaBytes = now, 0, 0
	return c.n != old
}
