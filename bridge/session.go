package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/dts"
	"github.com/swarmtx/swarmtx/bridge/ladder"
	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/bridge/media"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/bridge/rtmppull"
	"github.com/swarmtx/swarmtx/bridge/rtsppull"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// session is one publisher session of a stream: from the RTMP pull through
// the segmenters into the stream's origin. A publisher reconnect is a new
// session of the same stream.
type session struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	st      *stream
	tl      *timeline
	source  *cmaf.Segmenter // touched only by the pull goroutine
	rungs   map[string]*lockedSegmenter
	enc     *ladder.Encoder
	// droppedCounted is how many of enc's drops the metric already has:
	// the metric follows drops as they happen, so an operator sees the
	// ladder falling behind while the stream runs.
	droppedCounted int64

	sps, pps   []byte
	badFrames  int
	lastWarned time.Time
}

// lockedSegmenter guards a ladder rendition's segmenter: its video comes from
// the ladder's reader goroutine, its audio from the pull goroutine.
type lockedSegmenter struct {
	mu  sync.Mutex
	seg *cmaf.Segmenter
}

// pullRetry is how long a new session keeps trying to read a stream MediaMTX
// just declared ready.
const pullRetry = 5 * time.Second

// puller reads a stream back from MediaMTX, or from a host's push.
type puller interface {
	Tracks() media.Tracks
	UnsupportedTracks() []string
	Run(ctx context.Context, h media.Handlers) error
	Close()
}

// dial opens a puller for the URL's scheme: RTSP by default, RTMP when the
// operator's pull URL names it.
func dial(ctx context.Context, pullURL string) (puller, error) {
	if strings.HasPrefix(pullURL, "rtmp://") || strings.HasPrefix(pullURL, "rtmps://") {
		return rtmppull.Dial(ctx, pullURL)
	}
	return rtsppull.Dial(ctx, pullURL)
}

func dialWithRetry(ctx context.Context, pullURL string) (puller, error) {
	deadline := time.Now().Add(pullRetry)
	for {
		conn, err := dial(ctx, pullURL)
		if err == nil || errors.Is(err, media.ErrUnsupportedCodec) || ctx.Err() != nil || time.Now().After(deadline) {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// runSession serves one session until ctx ends or the source fails.
func (b *Bridge) runSession(ctx context.Context, st *stream, req contract.AttachRequest, resumed bool, emit func(contract.Event), open func(context.Context) (puller, error)) error {
	log := b.log.With("path", st.path)
	conn, err := open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, media.ErrUnsupportedCodec) {
			return contract.Permanent(fmt.Errorf("stream %s: %w", st.path, err))
		}
		return fmt.Errorf("stream %s: %w", st.path, err)
	}
	defer conn.Close()
	if extra := conn.UnsupportedTracks(); len(extra) > 0 {
		msg := fmt.Sprintf("stream %s: ignoring %v, which swarmtx does not package", st.path, extra)
		log.Warn(msg)
		emit(contract.Event{Kind: contract.EventWarning, Message: msg})
	}
	tracks := conn.Tracks()
	video, err := cmaf.ParseH264Config(tracks.SPS, tracks.PPS)
	if err != nil {
		return contract.Permanent(fmt.Errorf("stream %s: publisher's H.264 configuration: %w", st.path, err))
	}
	var audio *cmaf.AudioInfo
	if tracks.Audio != nil {
		a, err := cmaf.NewAudioInfo(*tracks.Audio)
		if err != nil {
			return contract.Permanent(fmt.Errorf("stream %s: publisher's AAC configuration: %w", st.path, err))
		}
		audio = &a
	}

	rungs, err := ladder.ParseLadder(req.Options.Ladder)
	if err != nil {
		return contract.Permanent(fmt.Errorf("stream %s: %w", st.path, err))
	}
	rungs = ladder.ForSource(rungs, video.Height)
	if b.settings.FFmpegPath == "" {
		rungs = rungs[:1] // source alone; said once when the plugin started
	}

	s := &session{log: log, metrics: b.metrics, st: st, rungs: make(map[string]*lockedSegmenter)}
	audioRate := 48000
	if audio != nil {
		audioRate = audio.SampleRate
	}
	s.tl = newTimeline(st.resumeAt, audioRate, dts.ReorderDepth(video.SPS))
	if resumed {
		st.cuts.Rebase()
	}

	infos := make([]llhls.RenditionInfo, 0, len(rungs))
	names := make([]string, 0, len(rungs))
	var encoded []ladder.Rung
	for _, r := range rungs {
		infos = append(infos, llhls.RenditionInfo{Name: r.Name, Bandwidth: r.VideoBitrate})
		names = append(names, r.Name)
		seg, err := cmaf.NewSegmenter(cmaf.Config{
			Rendition:     r.Name,
			SegmentTarget: req.Options.SegmentDuration,
			PartTarget:    req.Options.PartDuration,
			Cuts:          st.cuts,
			Leader:        r.Source,
			Discontinuity: resumed,
			Output:        streamOutput{Output: st.origin, path: st.path, egress: st.egress, metrics: b.metrics},
			Logger:        log,
		})
		if err != nil {
			return contract.Permanent(err)
		}
		if audio != nil {
			seg.SetAudio(*audio)
		}
		if r.Source {
			seg.SetVideo(video)
			s.source = seg
			s.sps, s.pps = video.SPS, video.PPS
			continue
		}
		s.rungs[r.Name] = &lockedSegmenter{seg: seg}
		encoded = append(encoded, r)
	}
	st.origin.SetRenditions(infos)

	if len(encoded) > 0 {
		s.enc, err = ladder.Start(ctx, ladder.Config{
			FFmpegPath: b.settings.FFmpegPath,
			Rungs:      encoded,
			Logger:     log,
			OnInit:     s.onRungInit,
			OnSample:   s.onRungSample,
		}, &codecs.H264{SPS: video.SPS, PPS: video.PPS})
		if err != nil {
			log.Warn("ladder did not start; serving the source alone", "error", err)
			emit(contract.Event{Kind: contract.EventWarning, Message: fmt.Sprintf("stream %s: ladder did not start, serving the source alone: %v", st.path, err)})
			names = names[:1]
			st.origin.SetRenditions(infos[:1])
			s.enc = nil
		}
	}

	emit(contract.Event{Kind: contract.EventAttached, URL: b.streamURL(st.path),
		Message: fmt.Sprintf("stream %s: %dx%d %s", st.path, video.Width, video.Height, video.Codec)})
	emit(contract.Event{Kind: contract.EventRenditions, Renditions: names})
	log.Info("session started", "renditions", names, "resumed", resumed)

	var encErr <-chan error
	if s.enc != nil {
		encErr = s.enc.Err()
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case err := <-encErr:
			if err != nil {
				log.Error("ladder failed; its renditions stop until the publisher reconnects", "error", err)
			}
		case <-runCtx.Done():
		}
	}()

	runErr := conn.Run(runCtx, media.Handlers{OnVideo: s.onVideo, OnAudio: s.onAudio})
	s.finish()
	st.resumeAt = s.tl.lastVideoEnd
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(runErr, io.EOF) {
		// MediaMTX closed the stream: the publisher left. Its hook is being
		// stopped at the same moment; this is not a failure.
		log.Info("source stream ended")
		return nil
	}
	return fmt.Errorf("stream %s: %w", st.path, runErr)
}

// finish completes every open segment, so the window ends cleanly.
func (s *session) finish() {
	if err := s.source.Flush(); err != nil {
		s.log.Warn("flush source rendition", "error", err)
	}
	if s.enc != nil {
		_ = s.enc.Close() // waits for ffmpeg's last frames
		s.countLadderDrops()
	}
	for name, r := range s.rungs {
		r.mu.Lock()
		if err := r.seg.Flush(); err != nil {
			s.log.Warn("flush rendition", "rendition", name, "error", err)
		}
		r.mu.Unlock()
	}
}

func (s *session) onVideo(pts time.Duration, au [][]byte) {
	var sps, pps []byte
	nalus := make([][]byte, 0, len(au))
	idr, vcl := false, false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
			continue
		case h264.NALUTypePPS:
			pps = n
			continue
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeIDR:
			idr, vcl = true, true
		case h264.NALUTypeNonIDR, h264.NALUTypeDataPartitionA:
			vcl = true
		}
		nalus = append(nalus, n)
	}
	if sps != nil || pps != nil {
		s.updateConfig(sps, pps)
	}
	if !vcl {
		return // a configuration-only message
	}
	p, d := s.tl.video(pts)
	payload, err := h264.AVCC(nalus).Marshal()
	if err != nil {
		s.warnBadFrame(err)
		return
	}
	err = s.source.WriteVideo(media.Sample{DTS: d, PTSOffset: int32(p - d), IsSync: idr, Payload: payload})
	if err != nil {
		s.warnBadFrame(err)
		return
	}
	s.tl.noteVideoEnd(d, media.VideoClockRate/30)
	if s.enc != nil {
		if idr && sps == nil {
			// The ladder's encoder needs parameter sets in band at keyframes.
			au = append([][]byte{s.sps, s.pps}, au...)
		}
		_ = s.enc.WriteH264(p, d, au) // drops are counted and warned by the encoder
		s.countLadderDrops()
	}
}

// countLadderDrops brings the ladder's dropped-frames metric up to the
// encoder's count.
func (s *session) countLadderDrops() {
	if n := s.enc.Dropped(); n > s.droppedCounted {
		s.metrics.LadderDropped.WithLabelValues(s.st.path).Add(float64(n - s.droppedCounted))
		s.droppedCounted = n
	}
}

// updateConfig applies in-band parameter sets; a change starts a new init
// segment at the next keyframe.
func (s *session) updateConfig(sps, pps []byte) {
	if sps == nil {
		sps = s.sps
	}
	if pps == nil {
		pps = s.pps
	}
	if bytes.Equal(sps, s.sps) && bytes.Equal(pps, s.pps) {
		return
	}
	v, err := cmaf.ParseH264Config(sps, pps)
	if err != nil {
		s.warnBadFrame(err)
		return
	}
	s.sps, s.pps = bytes.Clone(sps), bytes.Clone(pps)
	s.source.SetVideo(v)
	s.tl.dts.SetReorderDepth(dts.ReorderDepth(sps))
	s.log.Info("publisher changed its H.264 configuration", "width", v.Width, "height", v.Height, "codec", v.Codec)
}

func (s *session) onAudio(pts time.Duration, au []byte) {
	dts, ok := s.tl.audio(pts)
	if !ok {
		return
	}
	smp := media.Sample{DTS: dts, IsSync: true, Payload: au}
	s.source.WriteAudio(smp)
	for _, r := range s.rungs {
		r.mu.Lock()
		r.seg.WriteAudio(smp)
		r.mu.Unlock()
	}
}

func (s *session) onRungInit(r ladder.Rung, c *codecs.H264, _, _ int) {
	v, err := cmaf.ParseH264Config(c.SPS, c.PPS)
	if err != nil {
		s.log.Error("ladder rendition has a bad H.264 configuration", "rendition", r.Name, "error", err)
		return
	}
	ls := s.rungs[r.Name]
	ls.mu.Lock()
	ls.seg.SetVideo(v)
	ls.mu.Unlock()
}

func (s *session) onRungSample(r ladder.Rung, smp media.Sample) {
	ls := s.rungs[r.Name]
	ls.mu.Lock()
	err := ls.seg.WriteVideo(smp)
	ls.mu.Unlock()
	if err != nil && !errors.Is(err, cmaf.ErrNoVideoConfig) {
		s.log.Warn("ladder frame rejected", "rendition", r.Name, "error", err)
	}
}

// warnBadFrame reports malformed publisher media at most once a second:
// a broken publisher must not flood the log.
func (s *session) warnBadFrame(err error) {
	s.badFrames++
	if time.Since(s.lastWarned) < time.Second {
		return
	}
	s.lastWarned = time.Now()
	s.log.Warn("dropped malformed publisher frame", "error", err, "dropped", s.badFrames)
}
