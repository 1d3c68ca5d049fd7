package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	flvtag "github.com/yutopp/go-flv/tag"
	"github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// pusher opens a push to swarmtx; the launched plugin's client is one.
type pusher interface {
	Push(ctx context.Context, req contract.AttachRequest, tracks contract.PushTracks) (*contract.PushStream, error)
}

// connHandler is one RTMP connection. go-rtmp calls its methods from the
// connection's goroutine, one at a time. A publish that cannot be served
// returns an error, which makes go-rtmp close this connection only.
type connHandler struct {
	rtmp.DefaultHandler
	log     *slog.Logger
	pushers func() (pusher, error)
	options contract.StreamOptions
	remote  string

	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	closed func() // called when OnClose is done; may be nil

	app    string
	pub    *publish
	failed atomic.Bool // fail logged why the connection ends
}

// publish is one published stream on a connection, from OnPublish on.
type publish struct {
	path, query string
	log         *slog.Logger
	sps, pps    []byte
	asc         []byte
	push        *contract.PushStream // opened at the first coded video frame
	failed      bool

	warnedAudio string // the sound format already warned about
	dropped     int    // frames refused by the contract's limits
	lastWarned  time.Time
}

func newConnHandler(log *slog.Logger, remote string, options contract.StreamOptions, pushers func() (pusher, error)) *connHandler {
	ctx, cancel := context.WithCancel(context.Background())
	return &connHandler{log: log.With("remote", remote), remote: remote, options: options, pushers: pushers, ctx: ctx, cancel: cancel}
}

func (h *connHandler) OnConnect(_ uint32, cmd *rtmpmsg.NetConnectionConnect) error {
	h.app = strings.Trim(cmd.Command.App, "/")
	return nil
}

// OnPublish names the stream: rtmp://host/APP/KEY publishes APP/KEY, the
// path MediaMTX would give it; a query after the key is passed on.
func (h *connHandler) OnPublish(_ *rtmp.StreamContext, _ uint32, cmd *rtmpmsg.NetStreamPublish) error {
	if h.pub != nil {
		return h.fail(errors.New("a second publish on one connection"))
	}
	name, query, _ := strings.Cut(cmd.PublishingName, "?")
	path := name
	if h.app != "" {
		path = h.app + "/" + name
	}
	if err := contract.ValidatePath(path); err != nil {
		h.failed.Store(true)
		h.log.Error("publish refused", "error", err)
		return err
	}
	h.pub = &publish{path: path, query: query, log: h.log.With("path", path)}
	h.pub.log.Info("publish")
	return nil
}

// OnSetDataFrame checks the publisher's metadata: it must be AMF0, and a
// video codec it names must be H.264, so a wrong publisher is told at once.
func (h *connHandler) OnSetDataFrame(_ uint32, data *rtmpmsg.NetStreamSetDataFrame) error {
	if h.pub == nil {
		return nil
	}
	var script flvtag.ScriptData
	if err := flvtag.DecodeScriptData(bytes.NewReader(data.Payload), &script); err != nil {
		return h.fail(fmt.Errorf("its metadata (@setDataFrame) is not valid AMF0: %v", err))
	}
	if meta, ok := script.Objects["onMetaData"]; ok {
		if id, ok := meta["videocodecid"].(float64); ok && flvtag.CodecID(id) != flvtag.CodecIDAVC {
			return h.fail(fmt.Errorf("its metadata announces %s video; swarmtx takes H.264 (AVC) with optional AAC audio", videoCodecName(flvtag.CodecID(id))))
		}
	}
	return nil
}

func (h *connHandler) OnVideo(timestamp uint32, payload io.Reader) error {
	p := h.pub
	if p == nil || p.failed {
		return nil
	}
	var video flvtag.VideoData
	if err := flvtag.DecodeVideoData(payload, &video); err != nil {
		return h.fail(fmt.Errorf("a video message is not an FLV video tag: %v", err))
	}
	if video.FrameType&0x8 != 0 {
		// Enhanced RTMP's extended header: a FourCC codec follows.
		return h.fail(errors.New("it sends enhanced-RTMP video (H.265, AV1 or VP9); swarmtx takes H.264 (AVC) with optional AAC audio"))
	}
	if video.CodecID != flvtag.CodecIDAVC {
		return h.fail(fmt.Errorf("it sends %s video; swarmtx takes H.264 (AVC) with optional AAC audio", videoCodecName(video.CodecID)))
	}
	// go-rtmp reuses the payload's buffer: copy it, at most one frame's worth.
	body, err := io.ReadAll(io.LimitReader(video.Data, contract.MaxVideoAUBytes+1))
	if err != nil {
		return h.fail(fmt.Errorf("reading a video message: %v", err))
	}
	pts := time.Duration(timestamp)*time.Millisecond + time.Duration(video.CompositionTime)*time.Millisecond
	switch video.AVCPacketType {
	case flvtag.AVCPacketTypeSequenceHeader:
		sps, pps, err := parseAVCConfig(body)
		if err != nil {
			return h.fail(err)
		}
		p.sps, p.pps = sps, pps
		if p.push != nil {
			// A new configuration mid-stream goes in band; the plugin
			// switches at the next keyframe.
			return h.write(p.push.WriteVideo(pts, [][]byte{sps, pps}))
		}
		return nil
	case flvtag.AVCPacketTypeNALU:
		nalus, err := splitNALUs(body)
		if err != nil {
			return h.dropFrame(err)
		}
		if p.push == nil {
			if err := h.open(); err != nil {
				return h.fail(err)
			}
		}
		return h.write(p.push.WriteVideo(pts, nalus))
	}
	return nil // end of sequence
}

func (h *connHandler) OnAudio(timestamp uint32, payload io.Reader) error {
	p := h.pub
	if p == nil || p.failed {
		return nil
	}
	var audio flvtag.AudioData
	if err := flvtag.DecodeAudioData(payload, &audio); err != nil {
		return h.fail(fmt.Errorf("an audio message is not an FLV audio tag: %v", err))
	}
	if audio.SoundFormat != flvtag.SoundFormatAAC {
		if name := soundFormatName(audio.SoundFormat); p.warnedAudio != name {
			p.warnedAudio = name
			p.log.Warn("ignoring the publisher's audio: swarmtx takes AAC", "audio", name)
		}
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(audio.Data, contract.MaxAudioAUBytes+1))
	if err != nil {
		return h.fail(fmt.Errorf("reading an audio message: %v", err))
	}
	if audio.AACPacketType == flvtag.AACPacketTypeSequenceHeader {
		if p.push != nil {
			p.log.Warn("ignoring an AAC configuration sent after the first video frame")
			return nil
		}
		if _, err := contract.ParseAudioConfig(body); err != nil {
			return h.fail(err)
		}
		p.asc = body
		return nil
	}
	if p.push == nil || p.asc == nil {
		return nil // before the first video frame, or no configuration: the plugin would drop it
	}
	return h.write(p.push.WriteAudio(time.Duration(timestamp)*time.Millisecond, body))
}

// open starts the push at the first coded video frame, when the
// sequence headers that precede media have all arrived.
func (h *connHandler) open() error {
	p := h.pub
	if p.sps == nil {
		return errors.New("it sent an H.264 frame before its AVC sequence header")
	}
	client, err := h.pushers()
	if err != nil {
		return fmt.Errorf("swarmtx plugin: %w", err)
	}
	req := contract.AttachRequest{Path: p.path, Query: p.query, SourceType: "gortmp", SourceID: h.remote, Options: h.options}
	ps, err := client.Push(h.ctx, req, contract.PushTracks{SPS: p.sps, PPS: p.pps, AudioConfig: p.asc})
	if err != nil {
		return fmt.Errorf("swarmtx refused the stream: %w", err)
	}
	p.push = ps
	go logEvents(p.log, ps)
	return nil
}

// logEvents logs what swarmtx says about a push.
func logEvents(log *slog.Logger, ps *contract.PushStream) {
	for ev := range ps.Events() {
		switch ev.Kind {
		case contract.EventAttached:
			log.Info("swarmtx serves the stream", "url", ev.URL, "detail", ev.Message)
		case contract.EventRenditions:
			log.Info("renditions", "renditions", ev.Renditions)
		case contract.EventWarning:
			log.Warn("swarmtx", "warning", ev.Message)
		case contract.EventError:
			log.Error("swarmtx", "error", ev.Message)
		}
	}
}

// write handles a push write's error: a frame the contract refuses is
// dropped; a push that ended ends the publish.
func (h *connHandler) write(err error) error {
	switch {
	case err == nil:
		return nil
	case h.pub.push.Err() == nil && errors.Is(err, contract.ErrBadPush):
		return h.dropFrame(err)
	default:
		return h.fail(fmt.Errorf("swarmtx ended the push: %w", err))
	}
}

// dropFrame skips one malformed frame, warning at most once a second.
func (h *connHandler) dropFrame(err error) error {
	p := h.pub
	p.dropped++
	if time.Since(p.lastWarned) >= time.Second {
		p.lastWarned = time.Now()
		p.log.Warn("dropped a malformed frame", "error", err, "dropped", p.dropped)
	}
	return nil
}

// fail ends the publish with one clear error line; the returned error
// makes go-rtmp close the connection.
func (h *connHandler) fail(err error) error {
	h.failed.Store(true)
	if p := h.pub; p != nil {
		if !p.failed {
			p.failed = true
			p.log.Error("publish ended: the publisher's stream cannot be served", "error", err)
		}
		h.endPush()
	} else {
		h.log.Error("connection ended", "error", err)
	}
	return err
}

// reported tells that fail logged why the connection ends.
func (h *connHandler) reported() bool { return h.failed.Load() }

func (h *connHandler) endPush() {
	if p := h.pub; p != nil && p.push != nil {
		if err := p.push.Close(); err != nil && !p.failed {
			p.log.Warn("push ended with an error", "error", err)
		}
		p.push = nil
	}
}

// OnClose ends the push: the publisher left, as when a MediaMTX publisher
// leaves, and swarmtx keeps the stream for its reconnect window.
func (h *connHandler) OnClose() {
	if p := h.pub; p != nil && !p.failed {
		p.log.Info("publish ended")
	}
	h.endPush()
	h.cancel()
	if h.closed != nil {
		h.closed()
	}
}
