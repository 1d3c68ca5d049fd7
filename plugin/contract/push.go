package contract

import (
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Limits on what a host may push. A pushing host is a separate program
// (and may relay whatever its own publishers send), so the plugin bounds
// every size before anything is buffered or parsed.
const (
	// MaxParamSetLen bounds an SPS or PPS. Real ones are tens of bytes;
	// scaling lists and VUI stay far below this.
	MaxParamSetLen = 1024
	// MaxAudioConfigLen bounds the AAC AudioSpecificConfig (2 to 5 bytes
	// in practice).
	MaxAudioConfigLen = 64
	// MaxNALUsPerAU bounds the NAL units of one video access unit (slices,
	// SEI, parameter sets).
	MaxNALUsPerAU = 256
	// MaxVideoAUBytes bounds one video access unit, all its NAL units
	// together. It stays below gRPC's default 4 MiB message limit, so a
	// push that breaks it gets this package's error, not the transport's.
	MaxVideoAUBytes = 3 << 20
	// MaxAudioAUBytes bounds one AAC access unit (at most 768 bytes per
	// channel by the standard).
	MaxAudioAUBytes = 16 << 10
	// MaxPTS bounds a pushed presentation time either side of zero: an
	// RTMP clock wraps after 49.7 days.
	MaxPTS = 50 * 24 * time.Hour
)

// ErrBadPush is wrapped by every error about what a host pushed.
var ErrBadPush = errors.New("bad push")

// PushTracks is the codec configuration a host pushes before any media:
// H.264 video with optional AAC audio, the codecs swarmtx packages.
type PushTracks struct {
	// SPS and PPS are the H.264 parameter sets, NAL units without start
	// codes (from an FLV AVC sequence header, an avcC box, or in-band).
	SPS, PPS []byte
	// AudioConfig is the AAC AudioSpecificConfig; nil for no audio.
	AudioConfig []byte
}

// Validate checks the sizes and parses the configuration with the same
// parsers the packager uses, so a configuration that passes can be
// packaged. Errors wrap ErrBadPush and name the offending part.
func (t PushTracks) Validate() error {
	if len(t.SPS) == 0 {
		return badPush("codec configuration: no H.264 SPS (swarmtx packages H.264 video with optional AAC audio)")
	}
	if len(t.SPS) > MaxParamSetLen {
		return badPush("codec configuration: H.264 SPS of %d bytes, more than %d", len(t.SPS), MaxParamSetLen)
	}
	if typ := h264.NALUType(t.SPS[0] & 0x1f); typ != h264.NALUTypeSPS {
		return badPush("codec configuration: the SPS is a NAL unit of type %d, not an H.264 SPS (7): is the video H.264?", typ)
	}
	var sps h264.SPS
	if err := sps.Unmarshal(t.SPS); err != nil {
		return badPush("codec configuration: H.264 SPS does not parse: %v", err)
	}
	if w, h := sps.Width(), sps.Height(); w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return badPush("codec configuration: H.264 SPS gives a %dx%d picture", w, h)
	}
	if len(t.PPS) == 0 {
		return badPush("codec configuration: no H.264 PPS")
	}
	if len(t.PPS) > MaxParamSetLen {
		return badPush("codec configuration: H.264 PPS of %d bytes, more than %d", len(t.PPS), MaxParamSetLen)
	}
	if typ := h264.NALUType(t.PPS[0] & 0x1f); typ != h264.NALUTypePPS {
		return badPush("codec configuration: the PPS is a NAL unit of type %d, not an H.264 PPS (8)", typ)
	}
	if t.AudioConfig == nil {
		return nil
	}
	if len(t.AudioConfig) == 0 || len(t.AudioConfig) > MaxAudioConfigLen {
		return badPush("codec configuration: AAC AudioSpecificConfig of %d bytes, want 1 to %d", len(t.AudioConfig), MaxAudioConfigLen)
	}
	if _, err := ParseAudioConfig(t.AudioConfig); err != nil {
		return err
	}
	return nil
}

// ParseAudioConfig parses an AAC AudioSpecificConfig as the packager will,
// checking the sample rate and channels it needs.
func ParseAudioConfig(b []byte) (*mpeg4audio.AudioSpecificConfig, error) {
	var asc mpeg4audio.AudioSpecificConfig
	if err := asc.Unmarshal(b); err != nil {
		return nil, badPush("codec configuration: AAC AudioSpecificConfig does not parse: %v", err)
	}
	if asc.SampleRate <= 0 || asc.SampleRate > 96000 {
		return nil, badPush("codec configuration: AAC sample rate %d Hz", asc.SampleRate)
	}
	if asc.ChannelCount < 1 || asc.ChannelCount > 8 {
		return nil, badPush("codec configuration: AAC with %d channels", asc.ChannelCount)
	}
	return &asc, nil
}

// ValidatePush checks a push's attach request: every field as Attach
// checks it, except that there is no pull URL (the plugin pulls nothing).
func (r AttachRequest) ValidatePush() error {
	if r.PullURL != "" {
		return verr("pull_url", r.PullURL, "must be empty for a push: the host sends the media")
	}
	r.PullURL = "rtsp://push.invalid/" // checked above; the rest as Attach
	return r.Validate()
}

// AccessUnit is one pushed access unit.
type AccessUnit struct {
	// Audio tells an AAC access unit (Payload) from an H.264 one (NALUs).
	Audio bool
	// PTS is the presentation time on the host's clock. Decode times are
	// derived by the plugin from the order of the presentation times.
	PTS time.Duration
	// NALUs are the H.264 NAL units, without start codes or lengths.
	NALUs [][]byte
	// Payload is the raw AAC access unit (no ADTS header).
	Payload []byte
}

// Validate checks an access unit against the limits above. hasAudio tells
// whether the push declared audio.
func (au AccessUnit) Validate(hasAudio bool) error {
	if au.PTS < -MaxPTS || au.PTS > MaxPTS {
		return badPush("%s access unit at %v: presentation time beyond ±%v", au.kind(), au.PTS, MaxPTS)
	}
	if au.Audio {
		if !hasAudio {
			return badPush("audio access unit at %v, but the push declared no audio (no AudioSpecificConfig)", au.PTS)
		}
		if len(au.NALUs) > 0 {
			return badPush("audio access unit at %v carries H.264 NAL units", au.PTS)
		}
		if len(au.Payload) == 0 || len(au.Payload) > MaxAudioAUBytes {
			return badPush("audio access unit at %v: %d bytes, want 1 to %d", au.PTS, len(au.Payload), MaxAudioAUBytes)
		}
		return nil
	}
	if len(au.Payload) > 0 {
		return badPush("video access unit at %v carries an audio payload", au.PTS)
	}
	if len(au.NALUs) == 0 || len(au.NALUs) > MaxNALUsPerAU {
		return badPush("video access unit at %v: %d NAL units, want 1 to %d", au.PTS, len(au.NALUs), MaxNALUsPerAU)
	}
	total := 0
	for i, n := range au.NALUs {
		if len(n) == 0 {
			return badPush("video access unit at %v: NAL unit %d is empty", au.PTS, i)
		}
		if n[0]&0x80 != 0 {
			// forbidden_zero_bit: a start code or AVCC length left in, or not H.264.
			return badPush("video access unit at %v: NAL unit %d has its forbidden bit set (start code or length prefix left in? not H.264?)", au.PTS, i)
		}
		total += len(n)
		if total > MaxVideoAUBytes {
			return badPush("video access unit at %v: more than %d bytes", au.PTS, MaxVideoAUBytes)
		}
	}
	return nil
}

func (au AccessUnit) kind() string {
	if au.Audio {
		return "audio"
	}
	return "video"
}

// PushSource is a pushed stream as a Bridge reads it: the codec
// configuration, validated, then the access units, each validated.
type PushSource interface {
	Tracks() PushTracks
	// Next blocks for the next access unit. It returns io.EOF when the
	// host closed its side (the publisher left), an error wrapping
	// ErrBadPush and ErrPermanent when the host broke the rules, and
	// another error when the call broke.
	Next() (AccessUnit, error)
}

func badPush(format string, a ...any) error {
	return Permanent(fmt.Errorf("%w: "+format, append([]any{ErrBadPush}, a...)...))
}
