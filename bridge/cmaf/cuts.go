package cmaf

import (
	"sync"
	"time"
)

// Cut is the start of a segment, as decided by the leading rendition.
type Cut struct {
	PTS             int64 // video PTS of the segment's first keyframe, 90 kHz
	MSN             uint64
	ProgramDateTime time.Time
}

// Cuts is the segment clock of one stream. The source rendition decides
// where segments start; every ladder rendition cuts at the same keyframe
// PTS with the same media sequence number, so segment N covers the same
// time in every rendition and players can switch at any segment.
type Cuts struct {
	mu      sync.Mutex
	nextMSN uint64
	recent  []Cut // bounded: followers lag the leader by a few seconds at most
}

// maxRecentCuts bounds the memory of Cuts; followers lagging more than this
// many segments behind the leader lose alignment and wait for a fresh cut.
const maxRecentCuts = 64

// NewCuts returns a segment clock whose first segment gets firstMSN.
func NewCuts(firstMSN uint64) *Cuts {
	return &Cuts{nextMSN: firstMSN}
}

// Next allocates the next media sequence number for a segment starting at pts.
func (c *Cuts) Next(pts int64, pdt time.Time) Cut {
	c.mu.Lock()
	defer c.mu.Unlock()
	cut := Cut{PTS: pts, MSN: c.nextMSN, ProgramDateTime: pdt}
	c.nextMSN++
	c.recent = append(c.recent, cut)
	if len(c.recent) > maxRecentCuts {
		c.recent = append(c.recent[:0], c.recent[len(c.recent)-maxRecentCuts:]...)
	}
	return cut
}

// Lookup returns the cut the leader made at pts, if any.
func (c *Cuts) Lookup(pts int64) (Cut, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.recent) - 1; i >= 0; i-- {
		if c.recent[i].PTS == pts {
			return c.recent[i], true
		}
	}
	return Cut{}, false
}

// NextMSN returns the number the next segment will get.
func (c *Cuts) NextMSN() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextMSN
}

// Rebase forgets the cuts of an earlier publisher session. After a publisher
// reconnects, timestamps restart, so old PTS values must not match new frames.
func (c *Cuts) Rebase() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = nil
}
