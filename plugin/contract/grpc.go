package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/swarmtx/swarmtx/plugin/contract/contractpb"
)

// GRPCPlugin is the go-plugin plugin.GRPCPlugin for the bridge. On the
// plugin side set Impl (and optionally the other fields); on the host side
// the zero value is enough and Dispense returns a *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin

	Impl Bridge
	// ShutdownFunc is run (in its own goroutine, after the reply is sent)
	// by the Shutdown RPC. Nil makes Shutdown answer Unimplemented.
	ShutdownFunc func(reason string)
	// Version is reported in Status when the Bridge leaves it empty.
	Version string
	// Logger logs attach/detach; nil discards.
	Logger *slog.Logger

	active sync.WaitGroup
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the Bridge service (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("contract: GRPCPlugin.Impl is nil")
	}
	pb.RegisterBridgeServer(s, &grpcServer{p: p})
	return nil
}

// GRPCClient returns a *Client (host side).
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewClient(c), nil
}

// WaitAttaches waits until every Attach call in flight has returned, or
// timeout. It reports whether all returned.
func (p *GRPCPlugin) WaitAttaches(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { p.active.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (p *GRPCPlugin) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

type grpcServer struct {
	pb.UnimplementedBridgeServer
	p *GRPCPlugin
}

func (s *grpcServer) Attach(in *pb.AttachRequest, stream pb.Bridge_AttachServer) error {
	s.p.active.Add(1)
	defer s.p.active.Done()
	req := attachRequestFromPB(in)
	log := s.p.log().With("path", req.Path, "source_type", req.SourceType, "hook_version", in.GetHostVersion())
	if err := req.Validate(); err != nil {
		log.Warn("attach rejected", "error", err)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx := stream.Context()
	log.Info("attach")
	return s.p.served(ctx, log, "attach", func(emit func(Event)) error { return s.p.Impl.Attach(ctx, req, emit) }, stream.Send)
}

// served runs one attachment (Attach or Push) with an emit that stops
// sending once it returned, and maps its end to the call's status.
func (p *GRPCPlugin) served(ctx context.Context, log *slog.Logger, what string, run func(emit func(Event)) error, send func(*pb.AttachEvent) error) error {
	var mu sync.Mutex
	closed := false
	emit := func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		// A failed Send means the hook went away; ctx ends and the bridge sees it.
		_ = send(eventToPB(ev))
	}
	start := time.Now()
	err := run(emit)
	mu.Lock()
	closed = true
	mu.Unlock()
	after := time.Since(start).Round(time.Millisecond).String()
	switch {
	case err == nil && ctx.Err() != nil:
		log.Info("detached", "after", after)
		return nil
	case err == nil:
		log.Info("stream ended", "after", after)
		return nil
	case ctx.Err() != nil:
		log.Info("detached", "after", after, "error", err)
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, ErrBadPush):
		log.Warn(what+" rejected", "error", err)
		return status.Error(codes.InvalidArgument, err.Error())
	case IsPermanent(err):
		log.Warn(what+" failed permanently", "error", err)
		return status.Error(codes.FailedPrecondition, err.Error())
	default:
		log.Warn(what+" failed", "error", err)
		return status.Error(codes.Aborted, err.Error())
	}
}

func (s *grpcServer) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusReply, error) {
	st, err := s.p.Impl.Status(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if st.Pid == 0 {
		st.Pid = os.Getpid()
	}
	if st.Version == "" {
		st.Version = s.p.Version
	}
	return statusToPB(st), nil
}

func (s *grpcServer) Shutdown(_ context.Context, in *pb.ShutdownRequest) (*pb.ShutdownReply, error) {
	if s.p.ShutdownFunc == nil {
		return nil, status.Error(codes.Unimplemented, "shutdown not supported")
	}
	s.p.log().Info("shutdown requested", "reason", in.GetReason())
	go func() {
		time.Sleep(50 * time.Millisecond) // let the reply go out
		s.p.ShutdownFunc(in.GetReason())
	}()
	return &pb.ShutdownReply{}, nil
}

// Client is the host side of the contract, returned by Dispense.
type Client struct {
	c pb.BridgeClient
	// HostVersion is sent with Attach for the plugin's log.
	HostVersion string
}

// NewClient wraps a gRPC connection to the plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{c: pb.NewBridgeClient(conn)}
}

// Attach attaches req and calls onEvent for every event until the stream
// ends. It returns nil when the plugin ended the stream normally, ctx.Err()
// when ctx ended, an error wrapping ErrPermanent when retrying cannot help,
// an error wrapping ErrPluginGone when the plugin connection broke, and
// another error for transient failures.
func (c *Client) Attach(ctx context.Context, req AttachRequest, onEvent func(Event)) error {
	in := attachRequestToPB(req)
	in.HostVersion = c.HostVersion
	stream, err := c.c.Attach(ctx, in)
	if err != nil {
		return classify(ctx, err)
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return classify(ctx, err)
		}
		if onEvent != nil {
			onEvent(eventFromPB(ev))
		}
	}
}

// Status asks the plugin for its status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	r, err := c.c.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return Status{}, classify(ctx, err)
	}
	return statusFromPB(r), nil
}

// Shutdown asks the plugin to exit gracefully. Only for replacing a plugin
// of another version: hooks never call it in normal operation.
func (c *Client) Shutdown(ctx context.Context, reason string) error {
	_, err := c.c.Shutdown(ctx, &pb.ShutdownRequest{Reason: reason})
	if err != nil {
		return classify(ctx, err)
	}
	return nil
}

func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.FailedPrecondition, codes.InvalidArgument:
		if msg, ok := strings.CutPrefix(st.Message(), ErrBadPush.Error()+": "); ok {
			return Permanent(fmt.Errorf("%w: %s", ErrBadPush, msg))
		}
		return Permanent(errors.New(st.Message()))
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%w: %s", ErrPluginGone, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("plugin does not implement this call: %s", st.Message())
	}
	return errors.New(st.Message())
}

// ---- conversions ----

func ms(d time.Duration) int64 { return d.Milliseconds() }
func dur(ms int64) time.Duration {
	const max = int64(1<<63-1) / int64(time.Millisecond)
	if ms > max || ms < -max {
		return time.Duration(1<<63 - 1) // out of range: Validate rejects it
	}
	return time.Duration(ms) * time.Millisecond
}

func attachRequestToPB(r AttachRequest) *pb.AttachRequest {
	return &pb.AttachRequest{
		Path: r.Path, Query: r.Query, SourceType: r.SourceType, SourceId: r.SourceID, PullUrl: r.PullURL,
		Options: &pb.StreamOptions{
			SegmentDurationMs: ms(r.Options.SegmentDuration),
			PartDurationMs:    ms(r.Options.PartDuration),
			Ladder:            r.Options.Ladder,
			ReconnectWindowMs: ms(r.Options.ReconnectWindow),
			WindowSegments:    int32(r.Options.WindowSegments),
			HoldBackParts:     int32(r.Options.HoldBackParts),
		},
	}
}

func attachRequestFromPB(in *pb.AttachRequest) AttachRequest {
	o := in.GetOptions()
	return AttachRequest{
		Path: in.GetPath(), Query: in.GetQuery(), SourceType: in.GetSourceType(), SourceID: in.GetSourceId(), PullURL: in.GetPullUrl(),
		Options: StreamOptions{
			SegmentDuration: dur(o.GetSegmentDurationMs()),
			PartDuration:    dur(o.GetPartDurationMs()),
			ReconnectWindow: dur(o.GetReconnectWindowMs()),
			Ladder:          o.GetLadder(),
			WindowSegments:  int(o.GetWindowSegments()),
			HoldBackParts:   holdBackParts(o.GetHoldBackParts()),
		},
	}
}

func eventToPB(ev Event) *pb.AttachEvent {
	return &pb.AttachEvent{
		Kind: pb.AttachEvent_Kind(ev.Kind), Message: ev.Message,
		Renditions: ev.Renditions, Url: ev.URL, Permanent: ev.Permanent,
	}
}

func eventFromPB(ev *pb.AttachEvent) Event {
	return Event{
		Kind: EventKind(ev.GetKind()), Message: ev.GetMessage(),
		Renditions: ev.GetRenditions(), URL: ev.GetUrl(), Permanent: ev.GetPermanent(),
	}
}

func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func statusToPB(st Status) *pb.StatusReply {
	r := &pb.StatusReply{
		Pid: int32(st.Pid), Version: st.Version, ListenAddress: st.ListenAddress,
		StartedUnixMs: unixMs(st.Started),
	}
	for _, s := range st.Streams {
		ps := &pb.StreamStatus{
			Path: s.Path, State: string(s.State), Renditions: s.Renditions,
			AttachedSinceUnixMs: unixMs(s.AttachedSince), BytesServed: s.BytesServed, Url: s.URL,
			Viewers: int32(s.Viewers), P2PShare: s.P2PShare, ViewersWithoutP2P: int32(s.ViewersWithoutP2P),
		}
		for _, c := range s.Connections {
			ps.Connections = append(ps.Connections, &pb.ConnectionCount{Type: c.Type, Count: int32(c.Count)})
		}
		for _, c := range s.Copies {
			ps.Copies = append(ps.Copies, &pb.RenditionCopies{Rendition: c.Rendition, Http: c.HTTP, Peer: c.Peer,
				Viewers: int32(c.Viewers), LastMinuteMade: c.LastMinuteMade, LastMinuteSent: c.LastMinuteSent})
		}
		r.Streams = append(r.Streams, ps)
	}
	return r
}

func statusFromPB(r *pb.StatusReply) Status {
	st := Status{
		Pid: int(r.GetPid()), Version: r.GetVersion(), ListenAddress: r.GetListenAddress(),
		Started: fromUnixMs(r.GetStartedUnixMs()),
	}
	for _, s := range r.GetStreams() {
		ss := StreamStatus{
			Path: s.GetPath(), State: StreamState(s.GetState()), Renditions: s.GetRenditions(),
			AttachedSince: fromUnixMs(s.GetAttachedSinceUnixMs()), BytesServed: s.GetBytesServed(), URL: s.GetUrl(),
			Viewers: int(s.GetViewers()), P2PShare: s.GetP2PShare(), ViewersWithoutP2P: int(s.GetViewersWithoutP2P()),
		}
		for _, c := range s.GetConnections() {
			ss.Connections = append(ss.Connections, ConnectionCount{Type: c.GetType(), Count: int(c.GetCount())})
		}
		for _, c := range s.GetCopies() {
			ss.Copies = append(ss.Copies, RenditionCopies{Rendition: c.GetRendition(), HTTP: c.GetHttp(), Peer: c.GetPeer(),
				Viewers: int(c.GetViewers()), LastMinuteMade: c.GetLastMinuteMade(), LastMinuteSent: c.GetLastMinuteSent()})
		}
		st.Streams = append(st.Streams, ss)
	}
	return st
}

// holdBackParts reads the field a hook from before it existed leaves at
// zero as the default.
func holdBackParts(n int32) int {
	if n == 0 {
		return DefaultStreamOptions().HoldBackParts
	}
	return int(n)
}
