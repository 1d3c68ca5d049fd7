// Package bridge is the media half of the swarmtx plugin: for every stream a
// MediaMTX hook attaches, it pulls the stream over RTMP or RTSP (or reads
// the access units a Go server pushes through the contract), packages
// the source and its ABR ladder as CMAF, serves them as LL-HLS and hands
// every part to an Egress (the peer pool, wired in by plugin/origin).
package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/bridge/push"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// Settings configure a Bridge.
type Settings struct {
	// ListenAddress is the HTTP address of the origin (reported in status).
	ListenAddress string
	// PublicURL is the base URL viewers reach the origin at; when empty it
	// is derived from ListenAddress.
	PublicURL string
	// TLS tells that the origin serves HTTPS, for the URLs derived from
	// ListenAddress.
	TLS bool
	// FFmpegPath runs the ABR ladder; empty means no ladder (source only).
	FFmpegPath string
	// HTTP are the origin's limits against slow readers and held-request
	// floods (its held blocking reloads).
	HTTP httpguard.Settings
	// Egress gets every stream's parts as they are cut; nil: none.
	Egress Egress
	// OnServed counts the bytes the LL-HLS origin sent for a rendition of
	// a stream, as they leave; nil: not counted.
	OnServed func(path, rendition string, n int)
	// Metrics receives the media metrics; nil: a registry of its own.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Bridge serves attached streams. It implements contract.Bridge.
type Bridge struct {
	settings Settings
	log      *slog.Logger
	started  time.Time

	mu      sync.Mutex
	streams map[string]*stream
	handler *llhls.Handler
	metrics *metrics.Metrics
}

// stream outlives its publisher sessions: a publisher that reconnects within
// the reconnect window continues the same playlists.
type stream struct {
	path     string
	origin   *llhls.Stream
	egress   StreamEgress
	cuts     *cmaf.Cuts
	resumeAt int64 // stream timeline position for the next session

	// guarded by Bridge.mu
	state         contract.StreamState
	attachedSince time.Time
	sessions      int
	cancel        context.CancelFunc
	done          chan struct{}
	expire        *time.Timer
}

// New returns a Bridge; serve its Handler over HTTP.
func New(s Settings) *Bridge {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Egress == nil {
		s.Egress = noEgress{}
	}
	if s.Metrics == nil {
		s.Metrics = metrics.New()
	}
	b := &Bridge{settings: s, log: s.Logger, started: time.Now(), streams: make(map[string]*stream), metrics: s.Metrics}
	b.handler = &llhls.Handler{
		Lookup:   b.lookup,
		OnServed: s.OnServed,
		Holds:    httpguard.NewHolds(s.HTTP),
	}
	if s.FFmpegPath == "" {
		b.log.Warn("ffmpeg not found or disabled: every stream is served as its source rendition alone, without an ABR ladder")
	}
	return b
}

// Handler serves the LL-HLS origin of every attached stream.
func (b *Bridge) Handler() http.Handler { return b.handler }

func (b *Bridge) lookup(path string) *llhls.Stream {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.streams[path]; st != nil {
		return st.origin
	}
	return nil
}

type noEgress struct{}

func (noEgress) OpenStream(string, time.Duration) StreamEgress { return noEgress{} }
func (noEgress) PublishPart(*cmaf.Part)                        {}
func (noEgress) Close()                                        {}

func (b *Bridge) countStreamsLocked() {
	counts := map[contract.StreamState]int{contract.StateAttached: 0, contract.StateWaitingForReconnect: 0}
	for _, st := range b.streams {
		counts[st.state]++
	}
	for state, n := range counts {
		b.metrics.Streams.WithLabelValues(string(state)).Set(float64(n))
	}
}

func (b *Bridge) streamURL(path string) string {
	base := strings.TrimSuffix(b.settings.PublicURL, "/")
	if base == "" {
		host, port, err := net.SplitHostPort(b.settings.ListenAddress)
		if err != nil {
			host, port = "", "8880"
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		scheme := "http://"
		if b.settings.TLS {
			scheme = "https://"
		}
		base = scheme + net.JoinHostPort(host, port)
	}
	return base + "/" + path + "/index.m3u8"
}

// Attach implements contract.Bridge: it serves req.Path until ctx ends.
func (b *Bridge) Attach(ctx context.Context, req contract.AttachRequest, emit func(contract.Event)) error {
	if err := req.Validate(); err != nil {
		return contract.Permanent(err)
	}
	return b.serve(ctx, req, emit, func(ctx context.Context) (puller, error) { return dialWithRetry(ctx, req.PullURL) })
}

// Push implements contract.Bridge: it serves req.Path from the access
// units a host pushes until ctx ends or the host closes its side. From
// the source on, a pushed stream is served as a pulled one.
func (b *Bridge) Push(ctx context.Context, req contract.AttachRequest, src contract.PushSource, emit func(contract.Event)) error {
	if err := req.ValidatePush(); err != nil {
		return contract.Permanent(err)
	}
	if err := src.Tracks().Validate(); err != nil {
		return err
	}
	return b.serve(ctx, req, emit, func(context.Context) (puller, error) { return push.New(src) })
}

// serve runs one session of req.Path on the source open gives.
func (b *Bridge) serve(ctx context.Context, req contract.AttachRequest, emit func(contract.Event), open func(context.Context) (puller, error)) error {
	st, resumed, done, err := b.begin(ctx, req)
	if err != nil {
		return err
	}
	sessionCtx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	st.cancel = cancel
	b.mu.Unlock()
	defer cancel()

	err = b.runSession(sessionCtx, st, req, resumed, emit, open)
	// A stream that never started (unsupported codec, say) has nothing to
	// keep for a reconnect. A push broken mid-stream did start: its
	// viewers keep the window while the host may come back.
	neverStarted := contract.IsPermanent(err) && !resumed && !errors.Is(err, contract.ErrBadPush)
	b.end(st, done, req.Options.ReconnectWindow, neverStarted)
	if err != nil {
		b.log.Error("stream session ended", "path", st.path, "error", err)
	}
	return err
}

// begin registers a session of req.Path, taking over from a session still
// running for the same path (MediaMTX restarted its hook).
func (b *Bridge) begin(ctx context.Context, req contract.AttachRequest) (*stream, bool, chan struct{}, error) {
	b.mu.Lock()
	st := b.streams[req.Path]
	if st == nil {
		st = &stream{
			path: req.Path,
			origin: llhls.NewStream(req.Path, llhls.Settings{
				SegmentTarget:  req.Options.SegmentDuration,
				PartTarget:     req.Options.PartDuration,
				WindowSegments: req.Options.WindowSegments,
				HoldBackParts:  req.Options.HoldBackParts,
			}, nil),
			// Sequence numbers start at the Unix time, so a restarted plugin
			// never reuses a URL a CDN may have cached.
			egress:   b.settings.Egress.OpenStream(req.Path, req.Options.PartDuration),
			cuts:     cmaf.NewCuts(uint64(time.Now().Unix())),
			resumeAt: timelineStart,
		}
		b.streams[req.Path] = st
	} else if o := st.origin.Settings(); o.SegmentTarget != req.Options.SegmentDuration || o.PartTarget != req.Options.PartDuration || o.HoldBackParts != req.Options.HoldBackParts {
		b.log.Warn("segment or part duration or hold-back changed on reattach; the stream keeps its earlier ones until it expires",
			"path", req.Path)
	}
	if st.expire != nil {
		st.expire.Stop()
		st.expire = nil
	}
	prevCancel, prevDone := st.cancel, st.done
	done := make(chan struct{})
	st.done = done
	st.cancel = nil
	b.mu.Unlock()

	if prevDone != nil {
		if prevCancel != nil {
			prevCancel()
		}
		select {
		case <-prevDone:
		case <-ctx.Done():
			close(done)
			return nil, false, nil, ctx.Err()
		}
	}

	b.mu.Lock()
	resumed := st.sessions > 0
	st.sessions++
	st.state = contract.StateAttached
	st.attachedSince = time.Now()
	b.countStreamsLocked()
	b.mu.Unlock()
	return st, resumed, done, nil
}

// end marks the stream as waiting for its publisher and forgets it once the
// reconnect window has passed without a new session.
func (b *Bridge) end(st *stream, done chan struct{}, window time.Duration, forget bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer close(done)
	if st.done != done {
		return // a newer session took over
	}
	if forget {
		b.removeLocked(st)
		return
	}
	st.state = contract.StateWaitingForReconnect
	st.cancel = nil
	st.expire = time.AfterFunc(window, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if st.done == done && b.streams[st.path] == st {
			b.removeLocked(st)
			b.log.Info("stream removed: its publisher did not come back", "path", st.path, "window", window)
		}
	})
	b.countStreamsLocked()
	b.log.Info("stream detached; waiting for the publisher to reconnect", "path", st.path, "window", window)
}

// removeLocked forgets a stream; b.mu is held.
func (b *Bridge) removeLocked(st *stream) {
	delete(b.streams, st.path)
	st.origin.Close()
	go st.egress.Close()
	b.metrics.Forget(st.path)
	b.countStreamsLocked()
}

// Status implements contract.Bridge.
func (b *Bridge) Status(context.Context) (contract.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := contract.Status{ListenAddress: b.settings.ListenAddress, Started: b.started}
	for _, st := range b.streams {
		ss := contract.StreamStatus{
			Path:          st.path,
			State:         st.state,
			AttachedSince: st.attachedSince,
			URL:           b.streamURL(st.path),
		}
		for _, r := range st.origin.Stats() {
			if r.Segments > 0 {
				ss.Renditions = append(ss.Renditions, r.Name)
			}
		}
		s.Streams = append(s.Streams, ss)
	}
	sort.Slice(s.Streams, func(i, j int) bool { return s.Streams[i].Path < s.Streams[j].Path })
	return s, nil
}

// Close ends every session and wakes every waiting HTTP request.
func (b *Bridge) Close() {
	b.mu.Lock()
	var dones []chan struct{}
	for _, st := range b.streams {
		if st.cancel != nil {
			st.cancel()
		}
		if st.done != nil {
			dones = append(dones, st.done)
		}
		st.origin.Close()
		st.egress.Close()
	}
	b.mu.Unlock()
	for _, d := range dones {
		select {
		case <-d:
		case <-time.After(5 * time.Second):
		}
	}
}

var _ contract.Bridge = (*Bridge)(nil)
