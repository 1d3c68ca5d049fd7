package sim

import (
	"crypto/sha256"
	"math/rand/v2"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// partsPerSegment groups parts into segments for their ids, as an LL-HLS
// origin with segments of four parts does.
const partsPerSegment = 4

// origin cuts the rendition's parts: their bytes, hashes and chunk hashes
// are real, so every Machine verifies them as it would the server's.
type origin struct {
	cfg   Config
	salt  uint64
	parts [64]struct {
		k    int32
		data []byte
	}
}

// cutAt is when part k is complete and announced. The stream is live
// before the run begins (preroll): a viewer arriving at any moment finds
// the segment it joins in under way, as a viewer of a running stream does,
// rather than every early viewer starting at the stream's first part.
func (s *Sim) cutAt(k int32) time.Duration {
	return time.Duration(k+1-s.preroll()) * s.cfg.PartDuration
}

// preroll is how many parts are cut before the run begins: enough for
// a newcomer's hold-back and a whole segment to rewind into.
func (s *Sim) preroll() int32 { return int32(s.cfg.HoldBack) + partsPerSegment }

func (s *Sim) partID(k int32) wire.PartID {
	return wire.PartID{Rendition: s.cfg.Rendition, MSN: uint64(k / partsPerSegment), Index: int(k % partsPerSegment)}
}

func (s *Sim) partIndex(id wire.PartID) int32 {
	return int32(id.MSN)*partsPerSegment + int32(id.Index)
}

// cut makes part k's bytes and announcement.
func (o *origin) cut(k int32, id wire.PartID) ([]byte, *wire.PartAnnounce) {
	data := make([]byte, o.cfg.partBytes())
	r := rand.New(rand.NewPCG(o.salt, uint64(k)))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	a := &wire.PartAnnounce{ID: id, Size: len(data), SHA256: sha256.Sum256(data),
		DurationMs: int(o.cfg.PartDuration / time.Millisecond), Independent: k%partsPerSegment == 0}
	a.ChunkSize, a.Chunks = wire.ChunkHashes(data)
	slot := &o.parts[int(k)%len(o.parts)]
	slot.k, slot.data = k+1, data
	return data, a
}

// bytes are part k's bytes while the origin still serves it.
func (o *origin) bytes(k int32) []byte {
	if slot := o.parts[int(k)%len(o.parts)]; slot.k == k+1 {
		return slot.data
	}
	return nil
}

// cutPart runs every part duration: the part is announced to every
// viewer and handed to the seeder, which pushes it to its targets. The
// preroll's parts, cut before the run, are not the run's media.
func (s *Sim) cutPart(k int32) {
	data, a := s.origin.cut(k, s.partID(k))
	if s.cutAt(k) > 0 {
		s.rep.mediaBytes += int64(len(data))
		s.rep.parts++
	}
	s.announce(a)
	if s.seeder != nil {
		now := s.at(s.now)
		if err := s.seeder.m.Expect(now, a); err != nil {
			s.fail(err)
			return
		}
		if err := s.seeder.m.Offer(now, a.ID, data); err != nil {
			s.fail(err)
			return
		}
		s.seeder.hops.set(k, 0)
		s.drive(s.seeder)
	}
	if next := k + 1; s.cutAt(next) <= s.cfg.Duration {
		s.queue.push(event{at: max(s.cutAt(next), 0), kind: evCut, part: next})
	}
}
