// Package cmaf cuts a stream of H.264 and AAC samples into CMAF (fMP4)
// segments and LL-HLS parts. The part is swarmtx's unit of delivery: each one
// carries an id, a size and a SHA-256 so the peer pool can verify it.
package cmaf

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// PartID names one part of one rendition.
type PartID struct {
	Rendition string
	MSN       uint64 // media sequence number of the segment the part belongs to
	Index     int    // position of the part in its segment, from 0
}

func (id PartID) String() string {
	return fmt.Sprintf("%s/%d.%d", id.Rendition, id.MSN, id.Index)
}

// SegmentStart describes the segment a part opens (set on index 0 only).
type SegmentStart struct {
	// ProgramDateTime is the wall-clock time the segment's first frame reached swarmtx.
	ProgramDateTime time.Time
	// Discontinuity is true when the segment follows a break in the source
	// (a publisher reconnect).
	Discontinuity bool
	// InitID names the init segment this segment decodes with.
	InitID uint64
}

// Part is one LL-HLS partial segment: a complete moof+mdat.
type Part struct {
	ID          PartID
	Duration    time.Duration
	Independent bool // starts with a video sync sample
	Data        []byte
	SHA256      [sha256.Size]byte
	// Segment is non-nil on the first part of a segment.
	Segment *SegmentStart
	// LastSampleAt is when the part's last sample reached the segmenter;
	// CutAt is when the part was complete. Their difference is what the
	// part waited for the next frame.
	LastSampleAt time.Time
	CutAt        time.Time
}

// Size returns the part's length in bytes.
func (p *Part) Size() int { return len(p.Data) }

// Init is an fMP4 initialization segment of a rendition.
type Init struct {
	Rendition string
	ID        uint64 // MSN of the first segment that uses it
	Data      []byte
	Codecs    string // RFC 6381 codecs, e.g. `avc1.64001f,mp4a.40.2`
	Width     int
	Height    int
	FrameRate float64
}

// Output receives what a Segmenter makes, in order.
// Calls for one rendition are sequential.
type Output interface {
	// PublishInit is called before the first part that uses the init segment.
	PublishInit(init *Init)
	// PublishPart is called when a part is complete.
	PublishPart(part *Part)
	// FinishSegment is called when the segment msn has all its parts.
	FinishSegment(rendition string, msn uint64, duration time.Duration)
}
