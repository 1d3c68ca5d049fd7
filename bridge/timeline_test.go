package bridge

import (
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/media"
)

func TestTimelineContinuesAcrossSessions(t *testing.T) {
	tl := newTimeline(timelineStart, 48000, 2)
	p0, d0 := tl.video(5 * time.Second)
	if d0 != timelineStart || p0 != timelineStart+6000 {
		t.Fatalf("first frame PTS %d DTS %d, want %d and %d", p0, d0, timelineStart+6000, timelineStart)
	}
	var last int64
	for i := 1; i <= 30; i++ {
		_, last = tl.video(5*time.Second + time.Duration(i)*time.Second/30)
	}
	tl.noteVideoEnd(last, 3000)

	next := newTimeline(tl.lastVideoEnd, 48000, 2)
	_, d2 := next.video(0) // the reconnected publisher starts from zero
	if d2 != last+3000 {
		t.Fatalf("resumed DTS %d, want %d", d2, last+3000)
	}
}

func TestTimelineAudioCountsFrames(t *testing.T) {
	tl := newTimeline(timelineStart, 48000, 0)
	if _, ok := tl.audio(0); ok {
		t.Fatal("audio before video was accepted")
	}
	tl.video(0)
	var prev int64 = -1
	for i := 0; i < 100; i++ {
		// milliseconds, as RTMP carries them: 21.333 ms per frame rounded
		pts := time.Duration(i*1024*1000/48000) * time.Millisecond
		dts, ok := tl.audio(pts)
		if !ok {
			t.Fatal("audio dropped")
		}
		if prev >= 0 && dts-prev != 1024 {
			t.Fatalf("frame %d: step %d, want 1024", i, dts-prev)
		}
		prev = dts
	}
	// A one-second gap in the publisher's audio moves the clock.
	dts, _ := tl.audio(time.Duration(100*1024*1000/48000)*time.Millisecond + time.Second)
	if dts-prev < 48000 {
		t.Fatalf("gap not followed: step %d", dts-prev)
	}
}

// TestTimelineKeepsRTPTicks: 300 frames at 30 fps, as RTSP delivers them
// (3000-tick steps of a 90 kHz RTP clock, handed over as durations), land
// on the timeline exactly 3000 ticks apart: a tick lost in the conversion
// would make frames uneven and parts drift from their target.
func TestTimelineKeepsRTPTicks(t *testing.T) {
	tl := newTimeline(timelineStart, 48000, 0)
	const start = 123_456_789 // RTP clocks start anywhere
	var first int64
	bad := 0
	for i := int64(0); i < 300; i++ {
		pts, _ := tl.video(media.TicksToDuration(start+i*3000, media.VideoClockRate))
		if i == 0 {
			first = pts
		}
		if pts != first+i*3000 {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of 300 frames are off their 3000-tick grid", bad)
	}
}
