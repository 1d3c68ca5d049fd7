// Package metrics holds swarmtx's Prometheus metrics, served at /metrics.
// One Metrics value per plugin process; its collectors are registered on
// its own registry, never on the global default one.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the plugin's counters and gauges.
type Metrics struct {
	registry *prometheus.Registry

	// ServerBytes counts media bytes the server sent, by stream path,
	// rendition and channel (http or peer): the numerator of "server copies".
	ServerBytes *prometheus.CounterVec
	// MediaBytes counts the bytes of media each rendition produced: the
	// denominator of "server copies".
	MediaBytes *prometheus.CounterVec
	// PartDelay is how long after its last frame arrived a part was
	// complete and served (the frame after it has to arrive first).
	PartDelay *prometheus.HistogramVec
	// Streams is the number of streams by state (attached, waiting-for-reconnect).
	Streams *prometheus.GaugeVec
	// LadderDropped counts source frames the ladder's encoder could not take.
	LadderDropped *prometheus.CounterVec
	// ViewerBytes counts media bytes viewers report receiving, by source (http or p2p).
	ViewerBytes *prometheus.CounterVec
	// Viewers is the number of viewers joined to each stream's swarm.
	Viewers *prometheus.GaugeVec
	// Stalls counts playback stalls viewers report.
	Stalls *prometheus.CounterVec
	// PeersBanned counts viewers banned for what they sent.
	PeersBanned *prometheus.CounterVec
	// RenditionCopies is the server copies of a rendition over the swarm's
	// last seed window (bytes sent over HTTP and to the swarm ÷ bytes
	// made), to be held at or below RenditionViewers.
	RenditionCopies *prometheus.GaugeVec
	// RenditionViewers is the swarm's viewers of a rendition at the end of
	// that window.
	RenditionViewers *prometheus.GaugeVec
	// PeerConnections are the peer connections the swarm's viewers
	// report, by type: the candidate pair's worse end and its protocol.
	PeerConnections *prometheus.GaugeVec
	// ViewersWithoutP2P are the swarm's viewers joined for 10 s or more
	// that got no media from peers.
	ViewersWithoutP2P *prometheus.GaugeVec
	// ICEServerBytes counts what the built-in STUN/TURN server sent, by
	// socket: its port (answers, and relayed data to TURN clients) or an
	// allocation's relay port (relayed data to their peers).
	ICEServerBytes *prometheus.CounterVec
	// ControlBytes counts what the server sent besides media, by stream
	// path ("" for what belongs to none) and kind: playlist, signaling
	// (the swarm WebSocket's messages), page (player page and bundle),
	// metrics, other (errors for unknown paths). At scale, with the media
	// carried by the swarm, this is much of what the origin pays.
	ControlBytes *prometheus.CounterVec
}

// New creates the metrics on a fresh registry with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		ServerBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_server_bytes_total",
			Help: "Media bytes sent by the server, by stream path, rendition and channel (http or peer).",
		}, []string{"path", "rendition", "via"}),
		MediaBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_media_bytes_total",
			Help: "Bytes of media produced per rendition; server bytes divided by these are the server copies.",
		}, []string{"path", "rendition"}),
		PartDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swarmtx_part_ready_delay_seconds",
			Help:    "Time from a part's last frame reaching swarmtx to the part being served.",
			Buckets: []float64{.005, .01, .02, .035, .05, .075, .1, .15, .25, .5, 1},
		}, []string{"path", "rendition"}),
		Streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_streams",
			Help: "Streams known to the plugin, by state.",
		}, []string{"state"}),
		LadderDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_ladder_dropped_frames_total",
			Help: "Source frames the ABR ladder's encoder could not take in time.",
		}, []string{"path"}),
		ViewerBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_viewer_bytes_total",
			Help: "Media bytes viewers report receiving, by source (http or p2p).",
		}, []string{"path", "source"}),
		Viewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_viewers",
			Help: "Viewers joined to the stream's swarm.",
		}, []string{"path"}),
		Stalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_stalls_total",
			Help: "Playback stalls viewers report.",
		}, []string{"path"}),
		PeersBanned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtx_peers_banned_total",
			Help: "Viewers banned from the swarm, by reason.",
		}, []string{"path", "reason"}),
		RenditionCopies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_rendition_copies",
			Help: "Server copies of a rendition (HTTP and seeding bytes over bytes made) in the swarm's last seed window; never above swarmtx_rendition_viewers.",
		}, []string{"path", "rendition"}),
		RenditionViewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_rendition_viewers",
			Help: "Swarm viewers of a rendition at the end of the last seed window.",
		}, []string{"path", "rendition"}),
		PeerConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_peer_connections",
			Help: "Open peer connections the swarm's viewers report, by type: the ICE candidate pair's worse end (host, srflx for reflexive, relay) and protocol; a link between two viewers counts at both ends.",
		}, []string{"path", "type"}),
		ViewersWithoutP2P: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtx_viewers_without_p2p",
			Help: "Swarm viewers joined for 10 s or more that got no media from peers.",
		}, []string{"path"}),
	}
	m.ICEServerBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swarmtx_ice_server_sent_bytes_total",
		Help: "Bytes the built-in STUN/TURN server sent, by socket (listener or relay).",
	}, []string{"socket"})
	m.ControlBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swarmtx_server_control_bytes_total",
		Help: "Bytes the server sent besides media, by stream path and kind (playlist, signaling, page, metrics, other); HTTP headers counted as HTTP/1.1 writes them, WebSocket messages with their frame headers.",
	}, []string{"path", "kind"})
	m.registry.MustRegister(m.ICEServerBytes, m.ControlBytes)
	m.registry.MustRegister(m.ServerBytes, m.MediaBytes, m.PartDelay, m.Streams, m.LadderDropped,
		m.ViewerBytes, m.Viewers, m.Stalls, m.PeersBanned, m.RenditionCopies, m.RenditionViewers,
		m.PeerConnections, m.ViewersWithoutP2P,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Timeout: 5 * time.Second})
}

// Forget drops the per-stream series of a stream that is gone, so the
// number of series does not grow with every stream ever published.
func (m *Metrics) Forget(path string) {
	labels := prometheus.Labels{"path": path}
	m.ServerBytes.DeletePartialMatch(labels)
	m.ControlBytes.DeletePartialMatch(labels)
	m.MediaBytes.DeletePartialMatch(labels)
	m.PartDelay.DeletePartialMatch(labels)
	m.LadderDropped.DeletePartialMatch(labels)
	m.ViewerBytes.DeletePartialMatch(labels)
	m.Viewers.DeletePartialMatch(labels)
	m.Stalls.DeletePartialMatch(labels)
	m.PeersBanned.DeletePartialMatch(labels)
	m.RenditionCopies.DeletePartialMatch(labels)
	m.RenditionViewers.DeletePartialMatch(labels)
	m.PeerConnections.DeletePartialMatch(labels)
	m.ViewersWithoutP2P.DeletePartialMatch(labels)
}
