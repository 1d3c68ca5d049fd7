package bridge

import (
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/media"
)

func TestTimelineContinuesAcrossSessions(t *testing.T) {
	tl := newTimeline(timelineStart, 48000)
	_, d0 := tl.video(5*time.Second+66*time.Millisecond, 5*time.Second)
	if d0 != timelineStart {
		t.Fatalf("first DTS %d, want %d", d0, timelineStart)
	}
	_, d1 := tl.video(6*time.Second, 6*time.Second)
	tl.noteVideoEnd(d1, 3000)

	next := newTimeline(tl.lastVideoEnd, 48000)
	_, d2 := next.video(0, 0) // the reconnected publisher starts from zero
	if want := int64(timelineStart + media.VideoClockRate + 3000); d2 != want {
		t.Fatalf("resumed DTS %d, want %d", d2, want)
	}
}

func TestTimelineAudioCountsFrames(t *testing.T) {
	tl := newTimeline(timelineStart, 48000)
	if _, ok := tl.audio(0); ok {
		t.Fatal("audio before video was accepted")
	}
	tl.video(0, 0)
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
