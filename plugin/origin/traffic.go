package origin

import (
	"sync"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// traffic counts one stream's bytes — what each rendition made, what the
// server sent for it over HTTP and to the swarm, what the viewers report —
// into the Prometheus metrics and into the totals `swarmtx status` prints
// (server copies per rendition, P2P share).
type traffic struct {
	path    string
	metrics *metrics.Metrics

	mu         sync.Mutex
	order      []string // renditions in the order they first made a part
	renditions map[string]*renditionBytes
	viewerHTTP int64
	viewerP2P  int64
	viewers    int
}

type renditionBytes struct {
	made, http, peer int64
	windowAt         renditionWindow // the totals when the last window ended
}

type renditionWindow struct{ made, http, peer int64 }

func newTraffic(path string, m *metrics.Metrics) *traffic {
	return &traffic{path: path, metrics: m, renditions: make(map[string]*renditionBytes)}
}

func (t *traffic) renditionLocked(name string) *renditionBytes {
	r := t.renditions[name]
	if r == nil {
		r = new(renditionBytes)
		t.renditions[name] = r
		t.order = append(t.order, name)
	}
	return r
}

// made counts a part of n bytes cut for rendition.
func (t *traffic) made(rendition string, n int) {
	t.metrics.MediaBytes.WithLabelValues(t.path, rendition).Add(float64(n))
	t.mu.Lock()
	t.renditionLocked(rendition).made += int64(n)
	t.mu.Unlock()
}

// servedHTTP counts n bytes of rendition sent by the origin.
func (t *traffic) servedHTTP(rendition string, n int) {
	t.metrics.ServerBytes.WithLabelValues(t.path, rendition, "http").Add(float64(n))
	t.mu.Lock()
	t.renditionLocked(rendition).http += int64(n)
	t.mu.Unlock()
}

// seeded counts n bytes of rendition the plugin's seeder sent to viewers.
func (t *traffic) seeded(rendition string, n int64) {
	t.metrics.ServerBytes.WithLabelValues(t.path, rendition, "peer").Add(float64(n))
	t.mu.Lock()
	t.renditionLocked(rendition).peer += n
	t.mu.Unlock()
}

// viewerReport counts a viewer's report: media bytes it got over HTTP and
// from other viewers, and its new stalls.
func (t *traffic) viewerReport(httpBytes, p2pBytes int64, stalls int) {
	t.metrics.ViewerBytes.WithLabelValues(t.path, "http").Add(float64(httpBytes))
	t.metrics.ViewerBytes.WithLabelValues(t.path, "p2p").Add(float64(p2pBytes))
	t.metrics.Stalls.WithLabelValues(t.path).Add(float64(stalls))
	t.mu.Lock()
	t.viewerHTTP += httpBytes
	t.viewerP2P += p2pBytes
	t.mu.Unlock()
}

// window ends a seed window of rendition with viewers in its swarm: the
// server's own copies since the last one (every byte it sent, over HTTP and
// to the swarm) go to the rendition gauges.
func (t *traffic) window(rendition string, viewers int) {
	t.mu.Lock()
	r := t.renditionLocked(rendition)
	made, sent := r.made-r.windowAt.made, (r.http-r.windowAt.http)+(r.peer-r.windowAt.peer)
	r.windowAt = renditionWindow{made: r.made, http: r.http, peer: r.peer}
	t.mu.Unlock()
	if made <= 0 {
		return
	}
	t.metrics.RenditionCopies.WithLabelValues(t.path, rendition).Set(float64(sent) / float64(made))
	t.metrics.RenditionViewers.WithLabelValues(t.path, rendition).Set(float64(viewers))
}

// setViewers records the number of viewers in the swarm.
func (t *traffic) setViewers(n int) {
	t.metrics.Viewers.WithLabelValues(t.path).Set(float64(n))
	t.mu.Lock()
	t.viewers = n
	t.mu.Unlock()
}

// fill adds the stream's totals since it attached to ss: bytes served over
// HTTP, viewers, server copies per rendition, P2P share.
func (t *traffic) fill(ss *contract.StreamStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss.Viewers = t.viewers
	if total := t.viewerHTTP + t.viewerP2P; total > 0 {
		ss.P2PShare = float64(t.viewerP2P) / float64(total)
	}
	for _, name := range t.order {
		r := t.renditions[name]
		ss.BytesServed += uint64(r.http)
		if r.made == 0 {
			continue
		}
		ss.Copies = append(ss.Copies, contract.RenditionCopies{
			Rendition: name,
			HTTP:      float64(r.http) / float64(r.made),
			Peer:      float64(r.peer) / float64(r.made),
		})
	}
}
