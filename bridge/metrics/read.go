package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// StreamFigures are one stream's series as /metrics serves them, read
// back from the collectors: what the dashboard shows is then the same
// number an operator's Prometheus scrapes.
type StreamFigures struct {
	// Viewers is swarmtx_viewers.
	Viewers int
	// Renditions are the per-rendition series, by rendition.
	Renditions map[string]*RenditionFigures
	// ViewerHTTP and ViewerP2P are swarmtx_viewer_bytes_total by source.
	ViewerHTTP, ViewerP2P float64
	// Stalls is swarmtx_stalls_total.
	Stalls float64
	// Banned is swarmtx_peers_banned_total by reason.
	Banned map[string]float64
	// Connections is swarmtx_peer_connections by type.
	Connections map[string]int
	// WithoutP2P is swarmtx_viewers_without_p2p.
	WithoutP2P int
	// Control is swarmtx_server_control_bytes_total by kind.
	Control map[string]float64
	// LadderDropped is swarmtx_ladder_dropped_frames_total.
	LadderDropped float64
}

// RenditionFigures are one rendition's series.
type RenditionFigures struct {
	// Made is swarmtx_media_bytes_total; HTTP and Peer are
	// swarmtx_server_bytes_total by via.
	Made, HTTP, Peer float64
	// WindowCopies and WindowViewers are swarmtx_rendition_copies and
	// swarmtx_rendition_viewers (the last seed window; 0 before one).
	WindowCopies, WindowViewers float64
}

// Stream reads the series of the stream at path.
func (m *Metrics) Stream(path string) StreamFigures {
	if f, ok := m.ByStream()[path]; ok {
		return f
	}
	return newStreamFigures()
}

// ByStream reads the series of every stream that has some, by path, in one
// pass over each collector.
func (m *Metrics) ByStream() map[string]StreamFigures {
	all := make(map[string]*StreamFigures)
	stream := func(l map[string]string) *StreamFigures {
		f := all[l["path"]]
		if f == nil {
			nf := newStreamFigures()
			f = &nf
			all[l["path"]] = f
		}
		return f
	}
	rendition := func(l map[string]string) *RenditionFigures {
		f := stream(l)
		r := f.Renditions[l["rendition"]]
		if r == nil {
			r = new(RenditionFigures)
			f.Renditions[l["rendition"]] = r
		}
		return r
	}
	series(m.Viewers, func(l map[string]string, v float64) { stream(l).Viewers = int(v) })
	series(m.MediaBytes, func(l map[string]string, v float64) { rendition(l).Made = v })
	series(m.ServerBytes, func(l map[string]string, v float64) {
		switch l["via"] {
		case "http":
			rendition(l).HTTP = v
		case "peer":
			rendition(l).Peer = v
		}
	})
	series(m.RenditionCopies, func(l map[string]string, v float64) { rendition(l).WindowCopies = v })
	series(m.RenditionViewers, func(l map[string]string, v float64) { rendition(l).WindowViewers = v })
	series(m.ViewerBytes, func(l map[string]string, v float64) {
		switch l["source"] {
		case "http":
			stream(l).ViewerHTTP = v
		case "p2p":
			stream(l).ViewerP2P = v
		}
	})
	series(m.Stalls, func(l map[string]string, v float64) { stream(l).Stalls = v })
	series(m.PeersBanned, func(l map[string]string, v float64) { stream(l).Banned[l["reason"]] = v })
	series(m.PeerConnections, func(l map[string]string, v float64) { stream(l).Connections[l["type"]] = int(v) })
	series(m.ViewersWithoutP2P, func(l map[string]string, v float64) { stream(l).WithoutP2P = int(v) })
	series(m.ControlBytes, func(l map[string]string, v float64) {
		// What belongs to no stream is counted under "": not a stream.
		if l["path"] != "" {
			stream(l).Control[l["kind"]] = v
		}
	})
	series(m.LadderDropped, func(l map[string]string, v float64) { stream(l).LadderDropped = v })
	out := make(map[string]StreamFigures, len(all))
	for path, f := range all {
		out[path] = *f
	}
	return out
}

func newStreamFigures() StreamFigures {
	return StreamFigures{
		Renditions:  make(map[string]*RenditionFigures),
		Banned:      make(map[string]float64),
		Connections: make(map[string]int),
		Control:     make(map[string]float64),
	}
}

// series calls each for every series of c with its labels and value (a
// counter's or a gauge's).
func series(c prometheus.Collector, each func(labels map[string]string, v float64)) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	for pm := range ch {
		var d dto.Metric
		if pm.Write(&d) != nil {
			continue
		}
		labels := make(map[string]string, len(d.GetLabel()))
		for _, lp := range d.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		switch {
		case d.Counter != nil:
			each(labels, d.GetCounter().GetValue())
		case d.Gauge != nil:
			each(labels, d.GetGauge().GetValue())
		}
	}
}
