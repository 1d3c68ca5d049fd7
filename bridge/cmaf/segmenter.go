package cmaf

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// Config sets up one rendition's segmenter.
type Config struct {
	Rendition     string
	SegmentTarget time.Duration // segments are cut at the first keyframe at or after it
	PartTarget    time.Duration // parts are cut at the frame nearest it
	// Cuts is the stream's segment clock, shared by its renditions.
	Cuts *Cuts
	// Leader makes this rendition decide where segments start (the source
	// rendition); the others cut where the leader cut.
	Leader bool
	// Discontinuity marks the first segment as following a break in the source.
	Discontinuity bool
	Output        Output
	Logger        *slog.Logger
	// Now is the wall clock; tests replace it.
	Now func() time.Time
}

// Errors a caller can act on.
var (
	ErrNoVideoConfig  = errors.New("video configuration (SPS/PPS) not set")
	ErrTimestampOrder = errors.New("video DTS did not increase")
)

// maxQueuedAudio bounds the audio waiting for video to catch up (ladder
// renditions get video seconds after the source's audio).
const maxQueuedAudio = 1024

// maxVideoGap is the largest DTS step accepted between two video frames;
// anything larger is a broken timestamp, not a frame interval.
const maxVideoGap = 10 * media.VideoClockRate

// Segmenter turns samples of one rendition into an init segment, segments and parts.
// It is not safe for concurrent use.
type Segmenter struct {
	cfg Config

	video        VideoInfo
	videoSet     bool
	videoChanged bool
	audio        *AudioInfo
	initID       uint64
	initDirty    bool

	started       bool
	pending       *media.Sample // the newest video sample: its duration needs the next DTS
	pendingAt     time.Time
	lastVideoStep int64

	segMSN      uint64
	segStartDTS int64
	segStart    *SegmentStart
	discontinue bool

	partIndex    int
	partSeq      uint32
	partStartDTS int64
	partVideo    []*fmp4.Sample
	partVideoDTS int64
	audioQueue   []media.Sample

	droppedBeforeStart int
}

// NewSegmenter returns a segmenter for one rendition.
func NewSegmenter(cfg Config) (*Segmenter, error) {
	if cfg.Rendition == "" {
		return nil, errors.New("segmenter: rendition name is empty")
	}
	if cfg.PartTarget <= 0 || cfg.SegmentTarget < cfg.PartTarget {
		return nil, fmt.Errorf("segmenter: part target %v and segment target %v are inconsistent",
			cfg.PartTarget, cfg.SegmentTarget)
	}
	if cfg.Cuts == nil || cfg.Output == nil {
		return nil, errors.New("segmenter: Cuts and Output are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Segmenter{cfg: cfg, discontinue: cfg.Discontinuity}, nil
}

// SetVideo sets or changes the H.264 configuration. A change takes effect
// at the next keyframe, which starts a new segment with a new init segment.
func (s *Segmenter) SetVideo(v VideoInfo) {
	if s.videoSet && bytes.Equal(v.SPS, s.video.SPS) && bytes.Equal(v.PPS, s.video.PPS) {
		return
	}
	s.video = v
	if s.videoSet {
		s.videoChanged = true
	}
	s.videoSet = true
	s.initDirty = true
}

// SetAudio sets the AAC configuration; call it before the first video sample.
func (s *Segmenter) SetAudio(a AudioInfo) {
	s.audio = &a
	s.initDirty = true
}

// Video returns the current video configuration.
func (s *Segmenter) Video() VideoInfo { return s.video }

// WriteVideo adds a video sample (DTS order).
func (s *Segmenter) WriteVideo(smp media.Sample) error {
	if !s.videoSet {
		return ErrNoVideoConfig
	}
	now := s.cfg.Now()

	if !s.started {
		if !smp.IsSync {
			s.droppedBeforeStart++
			return nil
		}
		cut, ok := s.cutAt(smp, true)
		if !ok {
			s.droppedBeforeStart++
			return nil
		}
		s.started = true
		if s.droppedBeforeStart > 0 {
			s.cfg.Logger.Debug("dropped frames before the first segment",
				"rendition", s.cfg.Rendition, "frames", s.droppedBeforeStart)
		}
		if err := s.openSegment(cut, smp.DTS); err != nil {
			return err
		}
		s.pending, s.pendingAt = &smp, now
		return nil
	}

	prev := s.pending
	step := smp.DTS - prev.DTS
	if step <= 0 || step > maxVideoGap {
		return fmt.Errorf("%w: %d after %d in rendition %s", ErrTimestampOrder, smp.DTS, prev.DTS, s.cfg.Rendition)
	}
	s.lastVideoStep = step
	s.appendVideo(*prev, step)

	switch cut, ok := s.cutAt(smp, false); {
	case ok:
		if err := s.finishPart(smp.DTS, s.pendingAt, now); err != nil {
			return err
		}
		s.finishSegment(smp.DTS)
		if err := s.openSegment(cut, smp.DTS); err != nil {
			return err
		}
	case smp.DTS-s.partStartDTS >= int64(media.DurationToTicks(s.cfg.PartTarget, media.VideoClockRate))-step/2:
		if err := s.finishPart(smp.DTS, s.pendingAt, now); err != nil {
			return err
		}
	}
	s.pending, s.pendingAt = &smp, now
	return nil
}

// WriteAudio adds an AAC sample whose DTS is in the audio sample rate.
// Audio before the first video keyframe is dropped.
func (s *Segmenter) WriteAudio(smp media.Sample) {
	if s.audio == nil || !s.started {
		return
	}
	if len(s.audioQueue) >= maxQueuedAudio {
		s.cfg.Logger.Warn("audio queue full, dropping oldest frame: video is lagging",
			"rendition", s.cfg.Rendition)
		s.audioQueue = s.audioQueue[1:]
	}
	s.audioQueue = append(s.audioQueue, smp)
}

// Flush completes the open part and segment; call it when the source ends.
func (s *Segmenter) Flush() error {
	if !s.started || s.pending == nil {
		return nil
	}
	step := s.lastVideoStep
	if step <= 0 {
		step = media.VideoClockRate / 30
	}
	end := s.pending.DTS + step
	s.appendVideo(*s.pending, step)
	s.pending = nil
	now := s.cfg.Now()
	if err := s.finishPart(end, s.pendingAt, now); err != nil {
		return err
	}
	s.finishSegment(end)
	s.started = false
	return nil
}

// cutAt reports whether a segment starts at smp and with which number.
func (s *Segmenter) cutAt(smp media.Sample, first bool) (Cut, bool) {
	if !smp.IsSync {
		return Cut{}, false
	}
	if !s.cfg.Leader {
		return s.cfg.Cuts.Lookup(smp.PTS())
	}
	if !first && !s.videoChanged {
		target := media.DurationToTicks(s.cfg.SegmentTarget, media.VideoClockRate)
		if smp.DTS-s.segStartDTS < target-s.lastVideoStep/2 {
			return Cut{}, false
		}
	}
	return s.cfg.Cuts.Next(smp.PTS(), s.cfg.Now()), true
}

func (s *Segmenter) openSegment(cut Cut, dts int64) error {
	s.segMSN = cut.MSN
	s.segStartDTS = dts
	s.partStartDTS = dts
	s.partIndex = 0
	if s.initDirty {
		data, err := buildInit(s.video, s.audio)
		if err != nil {
			return fmt.Errorf("rendition %s: %w", s.cfg.Rendition, err)
		}
		s.initID = cut.MSN
		s.initDirty = false
		codecs := s.video.Codec
		if s.audio != nil {
			codecs += "," + s.audio.Codec
		}
		s.cfg.Output.PublishInit(&Init{
			Rendition: s.cfg.Rendition,
			ID:        s.initID,
			Data:      data,
			Codecs:    codecs,
			Width:     s.video.Width,
			Height:    s.video.Height,
			FrameRate: s.video.FrameRate,
		})
		if s.videoChanged {
			s.discontinue = true
			s.videoChanged = false
		}
	}
	s.segStart = &SegmentStart{
		ProgramDateTime: cut.ProgramDateTime,
		Discontinuity:   s.discontinue,
		InitID:          s.initID,
	}
	s.discontinue = false
	return nil
}

func (s *Segmenter) appendVideo(smp media.Sample, duration int64) {
	if len(s.partVideo) == 0 {
		s.partVideoDTS = smp.DTS
	}
	s.partVideo = append(s.partVideo, &fmp4.Sample{
		Duration:        uint32(duration),
		PTSOffset:       smp.PTSOffset,
		IsNonSyncSample: !smp.IsSync,
		Payload:         smp.Payload,
	})
}

// finishPart closes the part at video DTS end: the part holds the queued
// video and every queued audio frame that starts before end.
func (s *Segmenter) finishPart(end int64, lastSampleAt, now time.Time) error {
	if len(s.partVideo) == 0 {
		return nil
	}
	s.partSeq++
	p := fmp4.Part{SequenceNumber: s.partSeq, Tracks: []*fmp4.PartTrack{{
		ID:       videoTrackID,
		BaseTime: uint64(s.partVideoDTS),
		Samples:  s.partVideo,
	}}}

	if s.audio != nil {
		n := 0
		for n < len(s.audioQueue) && s.audioQueue[n].DTS*media.VideoClockRate < end*int64(s.audio.SampleRate) {
			n++
		}
		if n > 0 {
			at := &fmp4.PartTrack{ID: audioTrackID, BaseTime: uint64(max(s.audioQueue[0].DTS, 0))}
			for _, a := range s.audioQueue[:n] {
				at.Samples = append(at.Samples, &fmp4.Sample{Duration: 1024, Payload: a.Payload})
			}
			p.Tracks = append(p.Tracks, at)
			s.audioQueue = append(s.audioQueue[:0], s.audioQueue[n:]...)
		}
	}

	var buf seekablebuffer.Buffer
	if err := p.Marshal(&buf); err != nil {
		return fmt.Errorf("rendition %s: marshal part: %w", s.cfg.Rendition, err)
	}
	data := buf.Bytes()
	part := &Part{
		ID:           PartID{Rendition: s.cfg.Rendition, MSN: s.segMSN, Index: s.partIndex},
		Duration:     media.TicksToDuration(end-s.partStartDTS, media.VideoClockRate),
		Independent:  !s.partVideo[0].IsNonSyncSample,
		Data:         data,
		SHA256:       sha256.Sum256(data),
		Segment:      s.segStart,
		LastSampleAt: lastSampleAt,
		CutAt:        now,
	}
	s.segStart = nil
	s.partVideo = nil
	s.partIndex++
	s.partStartDTS = end
	s.cfg.Output.PublishPart(part)
	return nil
}

func (s *Segmenter) finishSegment(end int64) {
	s.cfg.Output.FinishSegment(s.cfg.Rendition, s.segMSN,
		media.TicksToDuration(end-s.segStartDTS, media.VideoClockRate))
}
