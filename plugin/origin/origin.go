// Package origin puts a swarmtx origin together: the media bridge (pull,
// ABR ladder, CMAF, LL-HLS), each stream's swarm (signaling hub, tracker,
// the plugin's seeding peers) and the one HTTP handler that serves them,
// the player and /metrics, counting every byte the server sends. The
// bridge knows nothing of the swarm and the swarm nothing of media; this
// package is where they meet.
package origin

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/bridge"
	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/client"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/access"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/dashboard"
	"github.com/swarmtx/swarmtx/plugin/iceservers"
)

// Settings configure an Origin.
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
	// ICE hands out the STUN/TURN servers of viewers joining a swarm and of
	// the seeders; nil: none. RelayOnly makes every viewer use TURN relays
	// only.
	ICE       *iceservers.List
	RelayOnly bool
	// HTTP are the origin's limits against slow readers and held-request
	// floods; the HTTP server is made with httpguard.NewServer from them.
	HTTP httpguard.Settings
	// Swarm are the per-network limits of every stream's swarm.
	Swarm SwarmLimits
	// WebRTC builds the seeders' peer connections; nil: pion's defaults.
	WebRTC *webrtc.API
	// Access decides every request for a stream and for /metrics, as
	// MediaMTX would (access.New from mediamtx.yml); nil: MediaMTX's
	// defaults. TrustedProxies are mediamtx.yml's hlsTrustedProxies.
	Access         access.Checker
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
}

// SwarmLimits bound what one network (IPv4 address or IPv6 /64) may take
// of a stream's swarm; zero fields take signal.Config's defaults.
type SwarmLimits struct {
	MaxSessionsPerNetwork    int
	JoinsPerSecondPerNetwork int
}

// Origin serves attached streams over LL-HLS and their swarms. It
// implements contract.Bridge.
type Origin struct {
	settings Settings
	log      *slog.Logger
	metrics  *metrics.Metrics
	media    *bridge.Bridge
	handler  http.Handler
	// dashboard samples the streams until stopDashboard.
	dashboard     *dashboard.Dashboard
	stopDashboard context.CancelFunc

	mu      sync.Mutex
	streams map[string]*swarmStream
}

// swarmStream is one stream's swarm and byte counts, from its first part
// until the bridge forgets the stream.
type swarmStream struct {
	o       *Origin
	path    string
	hub     *signal.Hub
	seeders *seeders
	traffic *traffic
}

// New returns an Origin; serve its Handler over HTTP.
func New(s Settings) *Origin {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.WebRTC == nil {
		s.WebRTC = webrtc.NewAPI()
	}
	o := &Origin{settings: s, log: s.Logger, metrics: metrics.New(), streams: make(map[string]*swarmStream)}
	o.media = bridge.New(bridge.Settings{
		ListenAddress: s.ListenAddress,
		PublicURL:     s.PublicURL,
		TLS:           s.TLS,
		FFmpegPath:    s.FFmpegPath,
		HTTP:          s.HTTP,
		Egress:        o,
		OnServed:      o.countServed,
		Metrics:       o.metrics,
		Logger:        s.Logger,
	})
	o.dashboard = dashboard.New(dashboard.Config{Source: dashboardSource{o}, Logger: s.Logger})
	ctx, stop := context.WithCancel(context.Background())
	o.stopDashboard = stop
	go o.dashboard.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle("/metrics", o.metrics.Handler())
	// Compressed: a large swarm's picture is a few hundred kilobytes of
	// JSON every 2 s per open dashboard, mostly repeated ids and keys.
	mux.Handle(dashboard.Page+"{$}", gzipResponses(o.dashboard))
	mux.Handle(dashboard.APIPrefix, gzipResponses(o.dashboard))
	mux.Handle(client.AssetPrefix, client.Assets())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /{path}/ is the stream's built-in player page.
		if p, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/"); ok && o.stream(p) != nil {
			client.ServePage(w, r, p)
			return
		}
		// /{path}/swarm is its signaling WebSocket.
		if p, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/swarm"); ok {
			if st := o.stream(p); st != nil {
				st.hub.ServeHTTP(w, r)
				return
			}
		}
		o.media.Handler().ServeHTTP(w, r)
	}))
	checker := s.Access
	if checker == nil {
		checker, _ = access.New(access.Default())
	}
	signer, err := access.NewURLSigner(signedURLWindow * time.Second)
	if err != nil {
		// Protected media then needs credentials on every request, as
		// without swarmtx: slower through a CDN, never open.
		s.Logger.Error("protected streams' media URLs will not be signed", "error", err)
		signer = nil
	}
	// Playlists are compressed after the guard has signed them, and
	// counted as they leave.
	o.handler = o.countControl(gzipPlaylists(&guard{next: mux, access: checker, proxies: s.TrustedProxies, signer: signer, log: s.Logger}))
	return o
}

// Handler serves the LL-HLS origin, player page and swarm of every
// attached stream, the client's assets, /metrics and the dashboard, each
// door open to whom Settings.Access lets through.
func (o *Origin) Handler() http.Handler { return o.handler }

func (o *Origin) stream(path string) *swarmStream {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.streams[path]
}

// OpenStream implements bridge.Egress: the stream's swarm.
func (o *Origin) OpenStream(path string, partTarget time.Duration) bridge.StreamEgress {
	tr := newTraffic(path, o.metrics)
	m := o.metrics
	signaling := m.ControlBytes.WithLabelValues(path, controlSignaling)
	hub := signal.NewHub(path, signal.Config{
		ICEServers: o.viewerICEServers,
		RelayOnly:  o.settings.RelayOnly,
		PartTarget: partTarget,
		OnStats:    tr.viewerReport,
		OnViewers:  tr.setViewers,
		OnWindow:   tr.window,

		OnConnections: tr.connections,
		OnSent:        func(n int) { signaling.Add(float64(n)) },

		MaxSessionsPerNetwork:    o.settings.Swarm.MaxSessionsPerNetwork,
		JoinsPerSecondPerNetwork: float64(o.settings.Swarm.JoinsPerSecondPerNetwork),
		JoinBurstPerNetwork:      8 * o.settings.Swarm.JoinsPerSecondPerNetwork,
		OnBan:                    func(reason string) { m.PeersBanned.WithLabelValues(path, reason).Inc() },
		Logger:                   o.log,
	}, tracker.New(tracker.Config{}))
	st := &swarmStream{o: o, path: path, hub: hub, traffic: tr,
		seeders: newSeeders(hub, o.settings.WebRTC, o.settings.ICE, tr, o.log.With("path", path))}
	o.mu.Lock()
	o.streams[path] = st
	o.mu.Unlock()
	return st
}

func (o *Origin) viewerICEServers(reachedAs string, viewer wire.PeerID) []wire.ICEServer {
	if o.settings.ICE == nil {
		return []wire.ICEServer{}
	}
	return o.settings.ICE.ForViewer(reachedAs, string(viewer), time.Now())
}

// PublishPart announces a part's hash to the swarm and pushes it to its
// rendition's seeder.
func (st *swarmStream) PublishPart(p *cmaf.Part) {
	st.traffic.made(p.ID.Rendition, len(p.Data))
	a := announcement(p)
	st.hub.Announce(a)
	st.seeders.push(a, p.Data)
}

// Close ends the stream's swarm.
func (st *swarmStream) Close() {
	st.o.mu.Lock()
	if st.o.streams[st.path] == st {
		delete(st.o.streams, st.path)
	}
	st.o.mu.Unlock()
	st.hub.Close()
	st.seeders.close()
}

func (o *Origin) countServed(path, rendition string, n int) {
	if st := o.stream(path); st != nil {
		st.traffic.servedHTTP(rendition, n)
	}
}

// Attach implements contract.Bridge.
func (o *Origin) Attach(ctx context.Context, req contract.AttachRequest, emit func(contract.Event)) error {
	return o.media.Attach(ctx, req, emit)
}

// Status implements contract.Bridge: the bridge's streams with their
// swarms' figures.
func (o *Origin) Status(ctx context.Context) (contract.Status, error) {
	s, err := o.media.Status(ctx)
	if err != nil {
		return s, err
	}
	for i := range s.Streams {
		if st := o.stream(s.Streams[i].Path); st != nil {
			st.traffic.fill(&s.Streams[i])
		}
	}
	return s, nil
}

// CountICEServerSent counts bytes the built-in STUN/TURN server sent
// (stunturn.Settings.OnSent).
func (o *Origin) CountICEServerSent(socket string, n int) {
	o.metrics.ICEServerBytes.WithLabelValues(socket).Add(float64(n))
}

// Close ends every session and swarm and wakes every waiting HTTP request.
func (o *Origin) Close() {
	o.stopDashboard()
	o.media.Close()
}

var _ contract.Bridge = (*Origin)(nil)
