package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// store holds verified parts, newest last, bounded by count and bytes.
type store struct {
	maxParts int
	maxBytes int
	bytes    int
	parts    map[wire.PartID]*stored
	order    []wire.PartID // insertion order, oldest first
}

type stored struct {
	data []byte
}

func newStore(maxParts, maxBytes int) *store {
	return &store{maxParts: maxParts, maxBytes: maxBytes, parts: make(map[wire.PartID]*stored)}
}

func (s *store) get(id wire.PartID) *stored { return s.parts[id] }

// add stores data under id unless it is already there; it evicts the
// oldest parts to stay within bounds (never the one just added).
func (s *store) add(id wire.PartID, data []byte) bool {
	if _, ok := s.parts[id]; ok {
		return false
	}
	s.parts[id] = &stored{data: data}
	s.order = append(s.order, id)
	s.bytes += len(data)
	for len(s.order) > 1 && (len(s.order) > s.maxParts || s.bytes > s.maxBytes) {
		old := s.order[0]
		s.order[0] = wire.PartID{}
		s.order = s.order[1:]
		s.bytes -= len(s.parts[old].data)
		delete(s.parts, old)
	}
	if cap(s.order) > 4*s.maxParts { // keep the backing array from creeping
		s.order = append([]wire.PartID(nil), s.order...)
	}
	return true
}

// newest returns up to n of the most recently stored part ids.
func (s *store) newest(n int) []wire.PartID {
	if n > len(s.order) {
		n = len(s.order)
	}
	return append([]wire.PartID(nil), s.order[len(s.order)-n:]...)
}

// idSet is a set of part ids bounded by count; the oldest insertions go first.
type idSet struct {
	max   int
	m     map[wire.PartID]struct{}
	order []wire.PartID
}

func newIDSet(max int) *idSet { return &idSet{max: max, m: make(map[wire.PartID]struct{})} }

func (s *idSet) has(id wire.PartID) bool { _, ok := s.m[id]; return ok }

func (s *idSet) add(id wire.PartID) {
	if _, ok := s.m[id]; ok {
		return
	}
	s.m[id] = struct{}{}
	s.order = append(s.order, id)
	for len(s.m) > s.max && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		delete(s.m, old)
	}
	if len(s.order) > 2*s.max { // drop ids deleted since insertion
		kept := make([]wire.PartID, 0, len(s.m))
		for _, id := range s.order {
			if _, ok := s.m[id]; ok {
				kept = append(kept, id)
			}
		}
		s.order = kept
	}
}

func (s *idSet) del(id wire.PartID) { delete(s.m, id) }

// bucket is a token bucket in bytes for the upload cap, shared by all of
// a peer's neighbours. A frame may be sent whenever the balance is not
// negative, and its size is then spent (the balance may go negative: one
// frame can be larger than the burst). A transfer of n bytes starting with
// a full bucket thus lasts at least (n − burst − last frame) / rate.
type bucket struct {
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rateBps int64, now time.Time) *bucket {
	b := &bucket{rate: float64(rateBps), burst: float64(rateBps) / 10, last: now}
	b.tokens = b.burst
	return b
}

// readyAt is when a frame may be sent (now or earlier: at once).
func (b *bucket) readyAt(now time.Time) time.Time {
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 0 {
		return now
	}
	return now.Add(time.Duration(-b.tokens/b.rate*float64(time.Second)) + time.Millisecond)
}

func (b *bucket) spend(n int) { b.tokens -= float64(n) }

// owed is what the frames already sent overdrew, in bytes, at now.
func (b *bucket) owed(now time.Time) float64 {
	b.readyAt(now)
	return max(0, -b.tokens)
}

// owesAtMost is when the overdraft is down to x bytes.
func (b *bucket) owesAtMost(x float64) time.Time {
	if -b.tokens <= x {
		return b.last
	}
	return b.last.Add(time.Duration((-b.tokens - x) / b.rate * float64(time.Second)))
}
