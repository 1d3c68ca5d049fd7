package cmaf

import (
	"encoding/binary"
	"testing"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// FuzzSegmenter feeds arbitrary timestamps, sync flags and payloads (what a
// broken publisher could cause) and checks the segmenter neither panics nor
// emits parts that break its own invariants.
func FuzzSegmenter(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 20, 0, 0, 30, 1, 1, 40, 0})
	f.Add([]byte{255, 255, 1, 0, 0, 0, 128, 0, 1})
	f.Fuzz(func(t *testing.T, script []byte) {
		var rec recorder
		s := newTestSegmenter(t, "source", true, NewCuts(0), &rec)
		var dts int64
		for len(script) >= 3 {
			step := int64(binary.BigEndian.Uint16(script[:2])) - 1000
			flags := script[2]
			script = script[3:]
			dts += step * 30
			if flags&2 != 0 {
				s.WriteAudio(media.Sample{DTS: dts * 48000 / media.VideoClockRate, Payload: []byte{flags}})
				continue
			}
			_ = s.WriteVideo(media.Sample{DTS: dts, PTSOffset: int32(flags>>2) * 100, IsSync: flags&1 != 0, Payload: []byte{0, 0, 0, 1, flags}})
		}
		_ = s.Flush()
		seen := map[PartID]bool{}
		for _, p := range rec.parts {
			if seen[p.ID] {
				t.Fatalf("part %v emitted twice", p.ID)
			}
			seen[p.ID] = true
			if p.Duration <= 0 {
				t.Fatalf("part %v has duration %v", p.ID, p.Duration)
			}
		}
	})
}
