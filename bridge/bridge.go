// Package bridge is the media half of the swarmtx plugin: for every stream a
// MediaMTX hook attaches, it pulls the stream over RTMP, packages the source
// and its ABR ladder as CMAF and serves them as LL-HLS.
package bridge

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/client"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// Settings configure a Bridge.
type Settings struct {
	// ListenAddress is the HTTP address of the origin (reported in status).
	ListenAddress string
	// PublicURL is the base URL viewers reach the origin at; when empty it
	// is derived from ListenAddress.
	PublicURL string
	// FFmpegPath runs the ABR ladder; empty means no ladder (source only).
	FFmpegPath string
	// ICEServers are given to viewers joining a swarm; RelayOnly makes every
	// viewer use TURN relays only.
	ICEServers []wire.ICEServer
	RelayOnly  bool
	// HTTP are the origin's limits against slow readers and held-request
	// floods; the HTTP server is made with httpguard.NewServer from them.
	HTTP httpguard.Settings
	// Swarm are the per-network limits of every stream's swarm.
	Swarm SwarmLimits
	// WebRTC builds the seeders' peer connections; nil: pion's defaults.
	WebRTC *webrtc.API
	Logger *slog.Logger
}

// SwarmLimits bound what one network (IPv4 address or IPv6 /64) may take
// of a stream's swarm; zero fields take signal.Config's defaults.
type SwarmLimits struct {
	MaxSessionsPerNetwork    int
	JoinsPerSecondPerNetwork int
}

// Bridge serves attached streams. It implements contract.Bridge.
type Bridge struct {
	settings Settings
	log      *slog.Logger
	started  time.Time

	mu      sync.Mutex
	streams map[string]*stream
	handler http.Handler
	metrics *metrics.Metrics
}

// stream outlives its publisher sessions: a publisher that reconnects within
// the reconnect window continues the same playlists.
type stream struct {
	path     string
	origin   *llhls.Stream
	hub      *signal.Hub // the stream's swarm
	seeders  *seeders
	traffic  *traffic
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
	if s.WebRTC == nil {
		s.WebRTC = webrtc.NewAPI()
	}
	b := &Bridge{settings: s, log: s.Logger, started: time.Now(), streams: make(map[string]*stream), metrics: metrics.New()}
	hls := &llhls.Handler{
		Lookup:   b.lookup,
		OnServed: b.countServed,
		Holds:    httpguard.NewHolds(s.HTTP),
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", b.metrics.Handler())
	mux.Handle(client.AssetPrefix, client.Assets())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /{path}/ is the stream's built-in player page.
		if p, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/"); ok && b.lookup(p) != nil {
			client.ServePage(w, r, p)
			return
		}
		// /{path}/swarm is its signaling WebSocket.
		if p, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/swarm"); ok {
			if hub := b.hubOf(p); hub != nil {
				hub.ServeHTTP(w, r)
				return
			}
		}
		hls.ServeHTTP(w, r)
	}))
	b.handler = mux
	if s.FFmpegPath == "" {
		b.log.Warn("ffmpeg not found or disabled: every stream is served as its source rendition alone, without an ABR ladder")
	}
	return b
}

// Handler serves the LL-HLS origin and player page of every attached stream,
// the client's assets and /metrics.
func (b *Bridge) Handler() http.Handler { return b.handler }

func (b *Bridge) lookup(path string) *llhls.Stream {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.streams[path]; st != nil {
		return st.origin
	}
	return nil
}

func (b *Bridge) hubOf(path string) *signal.Hub {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.streams[path]; st != nil {
		return st.hub
	}
	return nil
}

// newHub creates the swarm of the stream at path.
func (b *Bridge) newHub(path string, partTarget time.Duration, tr *traffic) *signal.Hub {
	m := b.metrics
	return signal.NewHub(path, signal.Config{
		ICEServers: b.settings.ICEServers,
		RelayOnly:  b.settings.RelayOnly,
		PartTarget: partTarget,
		OnStats:    tr.viewerReport,
		OnViewers:  tr.setViewers,
		OnWindow:   tr.window,

		MaxSessionsPerNetwork:    b.settings.Swarm.MaxSessionsPerNetwork,
		JoinsPerSecondPerNetwork: float64(b.settings.Swarm.JoinsPerSecondPerNetwork),
		JoinBurstPerNetwork:      8 * b.settings.Swarm.JoinsPerSecondPerNetwork,
		OnBan:                    func(reason string) { m.PeersBanned.WithLabelValues(path, reason).Inc() },
		Logger:                   b.log,
	}, tracker.New(tracker.Config{}))
}

func (b *Bridge) countServed(path, rendition string, n int) {
	b.mu.Lock()
	st := b.streams[path]
	b.mu.Unlock()
	if st != nil {
		st.traffic.servedHTTP(rendition, n)
	}
}

// countStreamsLocked refreshes the streams gauge; b.mu is held.
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
		base = "http://" + net.JoinHostPort(host, port)
	}
	return base + "/" + path + "/index.m3u8"
}

// Attach implements contract.Bridge: it serves req.Path until ctx ends.
func (b *Bridge) Attach(ctx context.Context, req contract.AttachRequest, emit func(contract.Event)) error {
	if err := req.Validate(); err != nil {
		return contract.Permanent(err)
	}
	st, resumed, done, err := b.begin(ctx, req)
	if err != nil {
		return err
	}
	sessionCtx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	st.cancel = cancel
	b.mu.Unlock()
	defer cancel()

	err = b.runSession(sessionCtx, st, req, resumed, emit)
	// A stream that never started (unsupported codec, say) has nothing to
	// keep for a reconnect.
	neverStarted := contract.IsPermanent(err) && !resumed
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
		tr := newTraffic(req.Path, b.metrics)
		hub := b.newHub(req.Path, req.Options.PartDuration, tr)
		st = &stream{
			path: req.Path,
			origin: llhls.NewStream(req.Path, llhls.Settings{
				SegmentTarget:  req.Options.SegmentDuration,
				PartTarget:     req.Options.PartDuration,
				WindowSegments: req.Options.WindowSegments,
			}, nil),
			// Sequence numbers start at the Unix time, so a restarted plugin
			// never reuses a URL a CDN may have cached.
			hub:      hub,
			seeders:  newSeeders(hub, b.settings.WebRTC, b.settings.ICEServers, tr, b.log.With("path", req.Path)),
			traffic:  tr,
			cuts:     cmaf.NewCuts(uint64(time.Now().Unix())),
			resumeAt: timelineStart,
		}
		b.streams[req.Path] = st
	} else if o := st.origin.Settings(); o.SegmentTarget != req.Options.SegmentDuration || o.PartTarget != req.Options.PartDuration {
		b.log.Warn("segment or part duration changed on reattach; the stream keeps its earlier ones until it expires",
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
	st.hub.Close()
	go st.seeders.close()
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
		st.traffic.fill(&ss)
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
		st.hub.Close()
		st.seeders.close()
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
