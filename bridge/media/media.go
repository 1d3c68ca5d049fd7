// Package media holds the types that flow between swarmtx's media stages:
// the RTMP puller, the ABR ladder, the CMAF segmenter and the LL-HLS origin.
package media

import "time"

// VideoClockRate is the clock rate of every video timestamp inside swarmtx.
// RTMP carries milliseconds, so every source timestamp maps to it exactly.
const VideoClockRate = 90000

// Sample is one access unit of one track on the stream's timeline.
type Sample struct {
	// DTS is the decode timestamp in the track's clock rate
	// (VideoClockRate for video, the sample rate for audio).
	DTS int64
	// PTSOffset is PTS minus DTS in the same clock rate (B-frames make it positive).
	PTSOffset int32
	// IsSync is true for random-access samples (IDR frames; every AAC frame).
	IsSync bool
	// Payload is AVCC-framed (4-byte lengths) for H.264 and a raw AU for AAC.
	Payload []byte
}

// PTS returns the presentation timestamp of the sample.
func (s Sample) PTS() int64 { return s.DTS + int64(s.PTSOffset) }

// DurationToTicks converts a duration on the stream timeline to clock-rate ticks.
// It is the one conversion used everywhere, so equal durations give equal ticks.
// It rounds to the nearest tick: TicksToDuration truncates to whole
// nanoseconds, and truncating again here would lose a tick (a 90 kHz frame
// step of 3000 ticks is 33333333.3 ns, which truncates back to 2999), so
// RTP timestamps would come out uneven. Rounding gives every tick back
// exactly for clock rates below 500 MHz.
func DurationToTicks(d time.Duration, clockRate int64) int64 {
	sec := int64(d / time.Second)
	rem := int64(d % time.Second) // same sign as d
	half := int64(time.Second / 2)
	if rem < 0 {
		half = -half
	}
	return sec*clockRate + (rem*clockRate+half)/int64(time.Second)
}

// TicksToDuration converts clock-rate ticks to a duration.
func TicksToDuration(ticks int64, clockRate int64) time.Duration {
	sec := ticks / clockRate
	rem := ticks % clockRate
	return time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(clockRate)
}
