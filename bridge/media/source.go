package media

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// ErrUnsupportedCodec is wrapped by errors about codecs swarmtx cannot package.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// UnsupportedError describes a stream swarmtx cannot package; others are
// the codecs it carries instead (none: it has no video at all).
func UnsupportedError(others []string) error {
	if len(others) == 0 {
		return fmt.Errorf("%w: the stream has no video track; swarmtx packages H.264 video with optional AAC audio",
			ErrUnsupportedCodec)
	}
	return fmt.Errorf("%w: the stream carries %s; swarmtx packages H.264 video with optional AAC audio",
		ErrUnsupportedCodec, strings.Join(others, " and "))
}

// Tracks is the codec configuration of a pulled stream, as far as swarmtx uses it.
type Tracks struct {
	SPS, PPS []byte
	// Audio is nil for a stream without audio.
	Audio *mpeg4audio.AudioSpecificConfig
}

// Handlers receive a pulled stream's access units. A puller calls them from
// one goroutine at a time.
type Handlers struct {
	// OnVideo gets each H.264 access unit (NAL units without start codes)
	// with its presentation time. Decode times are derived by swarmtx: the
	// ones MediaMTX re-serves are not reliable with B-frames.
	OnVideo func(pts time.Duration, au [][]byte)
	// OnAudio gets each AAC access unit with its presentation time.
	OnAudio func(pts time.Duration, au []byte)
}
