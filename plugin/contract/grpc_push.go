package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/swarmtx/swarmtx/plugin/contract/contractpb"
)

// ---- plugin side ----

func (s *grpcServer) Push(stream pb.Bridge_PushServer) error {
	s.p.active.Add(1)
	defer s.p.active.Done()
	first, err := stream.Recv()
	if err != nil {
		if err == io.EOF {
			return status.Error(codes.InvalidArgument, "bad push: the host closed the push before its codec configuration")
		}
		return err // the host went away
	}
	req, tracks, err := decodePushStart(first)
	// Logged before they are known to be valid: clipped, a host may send
	// megabytes.
	log := s.p.log().With("path", clip(req.Path), "source_type", clip(req.SourceType),
		"hook_version", clip(first.GetStart().GetRequest().GetHostVersion()), "push", true)
	if err != nil {
		log.Warn("push rejected", "error", err)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx := stream.Context()
	src := &pushSource{stream: stream, tracks: tracks}
	log.Info("push", "audio", tracks.AudioConfig != nil)
	return s.p.served(ctx, log, "push", func(emit func(Event)) error { return s.p.Impl.Push(ctx, req, src, emit) }, stream.Send)
}

// pushSource reads a push's access units off the call, checking each.
type pushSource struct {
	stream pb.Bridge_PushServer
	tracks PushTracks
	count  int
}

func (p *pushSource) Tracks() PushTracks { return p.tracks }

func (p *pushSource) Next() (AccessUnit, error) {
	m, err := p.stream.Recv()
	if err == io.EOF {
		return AccessUnit{}, io.EOF
	}
	if err != nil {
		return AccessUnit{}, fmt.Errorf("receiving pushed media: %w", err)
	}
	p.count++
	au, err := decodeAccessUnit(m, p.tracks.AudioConfig != nil)
	if err != nil {
		// Say which message, after the "bad push" the host side reads.
		return AccessUnit{}, badPush("message %d: %s", p.count+1, strings.TrimPrefix(err.Error(), ErrBadPush.Error()+": "))
	}
	return au, nil
}

// decodePushStart reads a push's first message: the attach request and
// the codec configuration, both checked.
func decodePushStart(m *pb.PushMessage) (AttachRequest, PushTracks, error) {
	start := m.GetStart()
	if start == nil {
		return AttachRequest{}, PushTracks{}, badPush("the first message must be the codec configuration (PushStart), not %s", messageKind(m))
	}
	if start.GetRequest() == nil {
		return AttachRequest{}, PushTracks{}, badPush("the codec configuration carries no attach request")
	}
	req := attachRequestFromPB(start.GetRequest())
	if err := req.ValidatePush(); err != nil {
		return req, PushTracks{}, badPush("attach request: %v", err)
	}
	t := PushTracks{SPS: start.GetSps(), PPS: start.GetPps()}
	if len(start.GetAudioSpecificConfig()) > 0 {
		t.AudioConfig = start.GetAudioSpecificConfig()
	}
	if err := t.Validate(); err != nil {
		return req, PushTracks{}, err
	}
	return req, t, nil
}

// decodeAccessUnit reads one message after the first: an access unit,
// checked against the limits.
func decodeAccessUnit(m *pb.PushMessage, hasAudio bool) (AccessUnit, error) {
	var au AccessUnit
	switch msg := m.GetMsg().(type) {
	case *pb.PushMessage_Video:
		au = AccessUnit{PTS: time.Duration(msg.Video.GetPtsNs()), NALUs: msg.Video.GetNalus()}
	case *pb.PushMessage_Audio:
		au = AccessUnit{Audio: true, PTS: time.Duration(msg.Audio.GetPtsNs()), Payload: msg.Audio.GetAu()}
	case *pb.PushMessage_Start:
		return AccessUnit{}, badPush("a second codec configuration; a new SPS and PPS go in band, in a video access unit")
	default:
		return AccessUnit{}, badPush("an empty message")
	}
	if err := au.Validate(hasAudio); err != nil {
		return AccessUnit{}, err
	}
	return au, nil
}

func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func messageKind(m *pb.PushMessage) string {
	switch m.GetMsg().(type) {
	case *pb.PushMessage_Video:
		return "a video access unit"
	case *pb.PushMessage_Audio:
		return "an audio access unit"
	case *pb.PushMessage_Start:
		return "a codec configuration"
	}
	return "an empty message"
}

// ---- host side ----

// PushStream is one push from the host: write each track's access units
// in decode order (as an encoder delivers them), then Close. The stream is served for as
// long as it is open. Its methods are safe for concurrent use.
type PushStream struct {
	stream   pb.Bridge_PushClient
	ctx      context.Context
	cancel   context.CancelFunc
	hasAudio bool
	events   chan Event

	sendMu sync.Mutex
	done   chan struct{}
	err    error // the call's end; read after done is closed
}

// Push opens a push of req.Path (req.PullURL empty) with the codec
// configuration tracks. Both are checked here as the plugin will check
// them, so a bad one fails at once. The push lasts until Close, ctx's
// end, or the plugin ending it (see Err).
func (c *Client) Push(ctx context.Context, req AttachRequest, tracks PushTracks) (*PushStream, error) {
	if err := req.ValidatePush(); err != nil {
		return nil, Permanent(err)
	}
	if err := tracks.Validate(); err != nil {
		return nil, err
	}
	in := attachRequestToPB(req)
	in.HostVersion = c.HostVersion
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.c.Push(ctx)
	if err != nil {
		cancel()
		return nil, classify(ctx, err)
	}
	start := &pb.PushMessage{Msg: &pb.PushMessage_Start{Start: &pb.PushStart{
		Request: in, Sps: tracks.SPS, Pps: tracks.PPS, AudioSpecificConfig: tracks.AudioConfig,
	}}}
	p := &PushStream{stream: stream, ctx: ctx, cancel: cancel, hasAudio: tracks.AudioConfig != nil,
		events: make(chan Event, 64), done: make(chan struct{})}
	if err := stream.Send(start); err != nil && err != io.EOF {
		cancel()
		return nil, classify(ctx, err)
	}
	go p.receive()
	return p, nil
}

func (p *PushStream) receive() {
	defer close(p.done)
	defer close(p.events)
	for {
		ev, err := p.stream.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			p.err = classify(p.ctx, err)
			return
		}
		select {
		case p.events <- eventFromPB(ev):
		default: // nobody reads the progress notes; the end is in Err
		}
	}
}

// Events delivers the plugin's progress notes (ATTACHED with the
// viewers' URL, RENDITIONS, WARNING). Notes nobody reads are dropped
// past a small buffer. It is closed when the push ended.
func (p *PushStream) Events() <-chan Event { return p.events }

// Done is closed when the push ended.
func (p *PushStream) Done() <-chan struct{} { return p.done }

// Err is why the push ended: nil while it runs and after a clean end,
// an error wrapping ErrPermanent when the plugin rejected what was pushed
// (the message names it), an error wrapping ErrPluginGone when the plugin
// went away, ctx's error when the push's context ended.
func (p *PushStream) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// WriteVideo pushes one H.264 access unit: NAL units without start codes
// or lengths, at presentation time pts. An access unit breaking the
// contract's limits is refused here (the push goes on); an error after
// the push ended is Err's.
func (p *PushStream) WriteVideo(pts time.Duration, nalus [][]byte) error {
	au := AccessUnit{PTS: pts, NALUs: nalus}
	if err := au.Validate(p.hasAudio); err != nil {
		return err
	}
	return p.send(&pb.PushMessage{Msg: &pb.PushMessage_Video{Video: &pb.VideoAccessUnit{PtsNs: int64(pts), Nalus: nalus}}})
}

// WriteAudio pushes one raw AAC access unit at presentation time pts.
func (p *PushStream) WriteAudio(pts time.Duration, au []byte) error {
	a := AccessUnit{Audio: true, PTS: pts, Payload: au}
	if err := a.Validate(p.hasAudio); err != nil {
		return err
	}
	return p.send(&pb.PushMessage{Msg: &pb.PushMessage_Audio{Audio: &pb.AudioAccessUnit{PtsNs: int64(pts), Au: au}}})
}

// ErrPushEnded is returned by writes after the push ended without an
// error of its own (Close, or the plugin ending the stream).
var ErrPushEnded = errors.New("push ended")

func (p *PushStream) send(m *pb.PushMessage) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	select {
	case <-p.done:
		return p.endErr()
	default:
	}
	if err := p.stream.Send(m); err != nil {
		// io.EOF: the plugin ended the call; its status says why.
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cancel()
			<-p.done
		}
		return p.endErr()
	}
	return nil
}

func (p *PushStream) endErr() error {
	if p.err != nil {
		return p.err
	}
	return ErrPushEnded
}

// closeWait bounds how long Close waits for the plugin to finish the
// stream (flush its last segments) before cancelling the call.
const closeWait = 10 * time.Second

// Close ends the push: the publisher left. The plugin finishes the
// stream's open segments and keeps it for its reconnect window, as when
// a MediaMTX publisher leaves. It returns Err.
func (p *PushStream) Close() error {
	p.sendMu.Lock()
	_ = p.stream.CloseSend()
	p.sendMu.Unlock()
	select {
	case <-p.done:
	case <-time.After(closeWait):
		p.cancel()
		<-p.done
	}
	p.cancel()
	return p.err
}
