// Package dts derives decode timestamps for H.264 frames that arrive in
// decode order with presentation timestamps only.
//
// With B-frames, frame n of the decode order can be shown as late as
// ReorderDepth frames after it is decoded, so the n-th smallest PTS of the
// stream is known once frame n+ReorderDepth has arrived. Using it as the DTS
// of frame n+ReorderDepth gives timestamps that increase and never pass the
// frame's PTS, without holding any frame back.
package dts

import (
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// MaxReorderDepth bounds the depth the Generator grows to.
const MaxReorderDepth = 16

// defaultFrameTicks is the step assumed before the first frames show the real one (30 fps at 90 kHz).
const defaultFrameTicks = 3000

// Generator derives DTS values. It is not safe for concurrent use.
type Generator struct {
	depth   int
	pending []int64 // PTS values not yet used as a DTS, sorted
	frames  int
	first   int64
	last    int64
	// Adjusted counts frames whose DTS had to be clamped because the
	// stream reordered more than the depth allowed.
	Adjusted int
}

// ReorderDepth reads the reorder depth an SPS announces: the VUI's
// max_num_reorder_frames when present, 0 for the Baseline profiles (no
// B-frames), else 2, what encoders use for B-pyramids.
func ReorderDepth(sps []byte) int {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return 2
	}
	if s.VUI != nil && s.VUI.BitstreamRestriction != nil {
		return min(int(s.VUI.BitstreamRestriction.MaxNumReorderFrames), MaxReorderDepth)
	}
	if s.ProfileIdc == 66 {
		return 0
	}
	return 2
}

// New returns a Generator for a stream with the given reorder depth.
func New(depth int) *Generator {
	return &Generator{depth: min(max(depth, 0), MaxReorderDepth)}
}

// SetReorderDepth raises the depth (a new SPS may announce more reordering).
func (g *Generator) SetReorderDepth(depth int) {
	g.depth = min(max(depth, g.depth), MaxReorderDepth)
}

// FirstFrameLead is how far before the first frame's PTS its DTS will be.
func (g *Generator) FirstFrameLead() int64 {
	return int64(g.depth) * defaultFrameTicks
}

// Next returns the DTS of the next frame in decode order. The result always
// increases; it exceeds pts only while the Generator learns a reordering
// deeper than it was told, or when the stream's PTS jumps backwards. The
// caller then presents the frame at its DTS.
func (g *Generator) Next(pts int64) int64 {
	i, _ := slices.BinarySearch(g.pending, pts)
	g.pending = slices.Insert(g.pending, i, pts)
	if g.frames == 0 {
		g.first = pts
	}
	var d int64
	if len(g.pending) > g.depth {
		d = g.pending[0]
		g.pending = g.pending[1:]
	} else {
		// The first frames: count back from the first PTS by a frame each.
		d = g.first - int64(g.depth-g.frames)*defaultFrameTicks
	}
	if g.frames > 0 && d <= g.last {
		d = g.last + 1
	}
	if d > pts {
		// The stream reorders deeper than announced: wait one frame more
		// from now on, which brings the DTS back under the PTS.
		g.Adjusted++
		if g.depth < MaxReorderDepth {
			g.depth++
		}
	}
	g.frames++
	g.last = d
	return d
}
