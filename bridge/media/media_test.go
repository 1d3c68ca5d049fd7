package media

import (
	"testing"
	"time"
)

// TestTicksSurviveDurations: ticks of the clocks swarmtx meets come back
// exactly from their duration, negative ones too.
func TestTicksSurviveDurations(t *testing.T) {
	for _, rate := range []int64{VideoClockRate, 48000, 44100, 1000} {
		for _, base := range []int64{0, 123_456_789, -987_654} {
			for i := int64(0); i < 1000; i++ {
				ticks := base + i*(rate/30+1)
				if got := DurationToTicks(TicksToDuration(ticks, rate), rate); got != ticks {
					t.Fatalf("rate %d: %d ticks came back as %d", rate, ticks, got)
				}
			}
		}
	}
	if got := DurationToTicks(40*time.Millisecond, VideoClockRate); got != 3600 {
		t.Errorf("40 ms is %d ticks, want 3600", got)
	}
}
