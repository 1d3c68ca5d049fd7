package metrics

import "testing"

// Reading a stream back gives what /metrics serves for it, and nothing of
// another stream.
func TestStreamReadsItsOwnSeries(t *testing.T) {
	m := New()
	for _, path := range []string{"live/show", "live/other"} {
		m.Viewers.WithLabelValues(path).Set(3)
		m.MediaBytes.WithLabelValues(path, "source").Add(1000)
		m.ServerBytes.WithLabelValues(path, "source", "http").Add(200)
		m.ServerBytes.WithLabelValues(path, "source", "peer").Add(1000)
		m.ViewerBytes.WithLabelValues(path, "p2p").Add(2800)
		m.ViewerBytes.WithLabelValues(path, "http").Add(200)
	}
	m.MediaBytes.WithLabelValues("live/show", "360p").Add(400)
	m.Stalls.WithLabelValues("live/show").Add(2)
	m.PeersBanned.WithLabelValues("live/show", "hash-mismatch").Inc()
	m.PeerConnections.WithLabelValues("live/show", "host/udp").Set(6)
	m.ViewersWithoutP2P.WithLabelValues("live/show").Set(1)
	m.ControlBytes.WithLabelValues("live/show", "playlist").Add(77)
	m.RenditionCopies.WithLabelValues("live/show", "source").Set(1.2)
	m.RenditionViewers.WithLabelValues("live/show", "source").Set(3)

	f := m.Stream("live/show")
	src := f.Renditions["source"]
	if f.Viewers != 3 || src == nil || src.Made != 1000 || src.HTTP != 200 || src.Peer != 1000 ||
		src.WindowCopies != 1.2 || src.WindowViewers != 3 || f.Renditions["360p"].Made != 400 {
		t.Errorf("renditions %+v, viewers %d", f.Renditions, f.Viewers)
	}
	if f.ViewerHTTP != 200 || f.ViewerP2P != 2800 || f.Stalls != 2 || f.Banned["hash-mismatch"] != 1 ||
		f.Connections["host/udp"] != 6 || f.WithoutP2P != 1 || f.Control["playlist"] != 77 {
		t.Errorf("%+v", f)
	}
	if o := m.Stream("live/other"); len(o.Renditions) != 1 || o.Stalls != 0 || len(o.Banned) != 0 {
		t.Errorf("another stream's series leaked in: %+v", o)
	}
	if n := m.Stream("nope"); n.Viewers != 0 || len(n.Renditions) != 0 || n.Banned == nil {
		t.Errorf("a stream with no series: %+v", n)
	}
	m.ControlBytes.WithLabelValues("", "metrics").Add(5)
	if all := m.ByStream(); len(all) != 2 || all["live/show"].Stalls != 2 {
		t.Errorf("streams %v, want live/show and live/other (control bytes of no stream are not one)", all)
	}
}
