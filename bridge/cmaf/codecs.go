package cmaf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// Track IDs inside every swarmtx init segment.
const (
	videoTrackID = 1
	audioTrackID = 2
)

// VideoInfo is what a player needs to know about an H.264 track.
type VideoInfo struct {
	SPS, PPS  []byte
	Width     int
	Height    int
	FrameRate float64
	Codec     string // avc1.PPCCLL
}

// ParseH264Config validates SPS and PPS and describes the video they configure.
func ParseH264Config(sps, pps []byte) (VideoInfo, error) {
	if len(sps) < 4 {
		return VideoInfo{}, fmt.Errorf("H.264 SPS is %d bytes, too short", len(sps))
	}
	if len(pps) == 0 {
		return VideoInfo{}, errors.New("H.264 PPS is missing")
	}
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return VideoInfo{}, fmt.Errorf("parse H.264 SPS: %w", err)
	}
	return VideoInfo{
		SPS:       sps,
		PPS:       pps,
		Width:     s.Width(),
		Height:    s.Height(),
		FrameRate: s.FPS(),
		Codec:     "avc1." + hex.EncodeToString(sps[1:4]),
	}, nil
}

// AudioInfo describes an AAC track.
type AudioInfo struct {
	Config     mpeg4audio.AudioSpecificConfig
	SampleRate int
	Codec      string // mp4a.40.AOT
}

// NewAudioInfo describes the AAC stream an AudioSpecificConfig configures.
func NewAudioInfo(conf mpeg4audio.AudioSpecificConfig) (AudioInfo, error) {
	if conf.SampleRate <= 0 || conf.SampleRate > 192000 {
		return AudioInfo{}, fmt.Errorf("AAC sample rate %d is out of range", conf.SampleRate)
	}
	return AudioInfo{
		Config:     conf,
		SampleRate: conf.SampleRate,
		Codec:      "mp4a.40." + strconv.Itoa(int(conf.Type)),
	}, nil
}

// buildInit marshals the init segment for a video track and an optional audio track.
func buildInit(v VideoInfo, a *AudioInfo) ([]byte, error) {
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{
		ID:        videoTrackID,
		TimeScale: media.VideoClockRate,
		Codec:     &codecs.H264{SPS: v.SPS, PPS: v.PPS},
	}}}
	if a != nil {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{
			ID:        audioTrackID,
			TimeScale: uint32(a.SampleRate),
			Codec:     &codecs.MPEG4Audio{Config: a.Config},
		})
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("marshal init segment: %w", err)
	}
	return buf.Bytes(), nil
}
