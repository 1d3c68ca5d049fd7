package bridge

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/dts"
	"github.com/swarmtx/swarmtx/bridge/media"
)

// timelineStart is where a stream's first frame lands: far enough from zero
// that audio a little ahead of the first video frame stays positive.
const timelineStart = 10 * media.VideoClockRate

// timeline maps one publisher session's timestamps onto the stream's
// continuous timeline. A publisher that reconnects restarts its clock; the
// stream's timeline goes on where the previous session ended, so players
// see one continuous presentation across the discontinuity.
type timeline struct {
	offset  int64 // 90 kHz ticks added to the session's timestamps
	started bool
	resume  int64 // where this session's first frame lands

	audioRate int64
	audioNext int64 // next AAC frame's DTS in audio ticks
	audioSet  bool

	lastVideoEnd int64 // DTS after the newest video frame, for the next session
	dts          *dts.Generator
	repaired     int // frames presented at their DTS because their PTS was earlier
}

func newTimeline(resumeAt int64, audioRate int, reorderDepth int) *timeline {
	return &timeline{resume: resumeAt, audioRate: int64(audioRate), dts: dts.New(reorderDepth)}
}

// video maps a frame's PTS onto the stream timeline and derives its DTS
// (see package dts): the DTS MediaMTX re-serves is not reliable with B-frames.
func (t *timeline) video(pts time.Duration) (int64, int64) {
	p := media.DurationToTicks(pts, media.VideoClockRate)
	if !t.started {
		// The first DTS lands on resume; the generator puts it a few
		// frames before the first PTS.
		t.offset = t.resume - p + t.dts.FirstFrameLead()
		t.started = true
	}
	p += t.offset
	d := t.dts.Next(p)
	if p < d {
		p = d
		t.repaired++
	}
	return p, d
}

// noteVideoEnd remembers where the stream's next frame would go.
func (t *timeline) noteVideoEnd(dts int64, frameTicks int64) {
	if end := dts + frameTicks; end > t.lastVideoEnd {
		t.lastVideoEnd = end
	}
}

// aacFrameSamples is the length of one AAC-LC access unit.
const aacFrameSamples = 1024

// maxAudioDrift is how far an AAC timestamp may stray from the frame count
// before the audio clock follows it (a gap in the publisher's audio).
const maxAudioDrift = 2 * aacFrameSamples

// audio converts an AAC frame's PTS to a DTS in audio ticks. RTMP carries
// milliseconds, so the DTS counts frames and only resynchronises on a real
// gap; otherwise every frame would jitter by a fraction of a millisecond.
// It returns false for audio before the session's first video frame.
func (t *timeline) audio(pts time.Duration) (int64, bool) {
	if !t.started {
		return 0, false
	}
	v := media.DurationToTicks(pts, media.VideoClockRate) + t.offset
	if v < 0 {
		return 0, false
	}
	want := v * t.audioRate / media.VideoClockRate
	if !t.audioSet || want-t.audioNext > maxAudioDrift || t.audioNext-want > maxAudioDrift {
		t.audioNext = want
		t.audioSet = true
	}
	dts := t.audioNext
	t.audioNext += aacFrameSamples
	return dts, true
}
