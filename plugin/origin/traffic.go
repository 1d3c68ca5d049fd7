package origin

import (
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// traffic counts one stream's bytes — what each rendition made, what the
// server sent for it over HTTP and to the swarm, what the viewers report —
// into the Prometheus metrics and into the figures `swarmtx status` prints
// (viewers and server copies per rendition, P2P share).
type traffic struct {
	path    string
	metrics *metrics.Metrics
	now     func() time.Time

	mu         sync.Mutex
	order      []string // renditions in the order they first made a part
	renditions map[string]*renditionBytes
	viewerHTTP int64
	viewerP2P  int64
	viewers    int
	conns      signal.Connections // the hub's last figures
}

type renditionBytes struct {
	made, http, peer int64
	windowAt         renditionWindow // the totals when the last window ended
	windowEnded      time.Time
	windowViewers    int
	recent           [recentBuckets]recentBucket
}

type renditionWindow struct{ made, http, peer int64 }

// The last minute's bytes are kept in buckets rather than taken from the
// seed windows: windows end only while the swarm's viewers report, so
// plain HLS players alone would leave the figure stale.
const (
	bucketSpan    = 5 * time.Second
	recentBuckets = int(time.Minute / bucketSpan)
)

type recentBucket struct {
	slot       int64 // which bucketSpan of Unix time it counts
	made, sent int64
}

// recentLocked is the bucket for now, emptied if it last counted an older
// slot.
func (r *renditionBytes) recentLocked(now time.Time) *recentBucket {
	slot := now.UnixNano() / int64(bucketSpan)
	b := &r.recent[slot%int64(recentBuckets)]
	if b.slot != slot {
		*b = recentBucket{slot: slot}
	}
	return b
}

// lastMinuteLocked sums the buckets of the last minute: the current
// bucket, partly filled, and the ones before it, so the span is 55–60 s.
func (r *renditionBytes) lastMinuteLocked(now time.Time) (made, sent int64) {
	slot := now.UnixNano() / int64(bucketSpan)
	for _, b := range r.recent {
		if b.slot <= slot && b.slot > slot-int64(recentBuckets) {
			made += b.made
			sent += b.sent
		}
	}
	return made, sent
}

func newTraffic(path string, m *metrics.Metrics) *traffic {
	return &traffic{path: path, metrics: m, now: time.Now, renditions: make(map[string]*renditionBytes)}
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
	r := t.renditionLocked(rendition)
	r.made += int64(n)
	r.recentLocked(t.now()).made += int64(n)
	t.mu.Unlock()
}

// servedHTTP counts n bytes of rendition sent by the origin.
func (t *traffic) servedHTTP(rendition string, n int) {
	t.metrics.ServerBytes.WithLabelValues(t.path, rendition, "http").Add(float64(n))
	t.mu.Lock()
	r := t.renditionLocked(rendition)
	r.http += int64(n)
	r.recentLocked(t.now()).sent += int64(n)
	t.mu.Unlock()
}

// seeded counts n bytes of rendition the plugin's seeder sent to viewers.
func (t *traffic) seeded(rendition string, n int64) {
	t.metrics.ServerBytes.WithLabelValues(t.path, rendition, "peer").Add(float64(n))
	t.mu.Lock()
	r := t.renditionLocked(rendition)
	r.peer += n
	r.recentLocked(t.now()).sent += n
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
	r.windowEnded, r.windowViewers = t.now(), viewers
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

// connections records the peer connections the viewers report now and
// the viewers without P2P (signal.Config.OnConnections).
func (t *traffic) connections(c signal.Connections) {
	for typ, n := range c.ByType {
		t.metrics.PeerConnections.WithLabelValues(t.path, typ).Set(float64(n))
	}
	t.metrics.ViewersWithoutP2P.WithLabelValues(t.path).Set(float64(c.WithoutP2P))
	t.mu.Lock()
	t.conns = c
	t.mu.Unlock()
}

// fill adds the stream's figures to ss: bytes served over HTTP, viewers,
// P2P share and, per rendition, viewers and server copies since the stream
// attached and over the last minute.
func (t *traffic) fill(ss *contract.StreamStatus) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	ss.Viewers = t.viewers
	for _, typ := range signal.ConnTypes {
		if n := t.conns.ByType[typ]; n > 0 {
			ss.Connections = append(ss.Connections, contract.ConnectionCount{Type: typ, Count: n})
		}
	}
	ss.ViewersWithoutP2P = t.conns.WithoutP2P
	if total := t.viewerHTTP + t.viewerP2P; total > 0 {
		ss.P2PShare = float64(t.viewerP2P) / float64(total)
	}
	for _, name := range t.order {
		r := t.renditions[name]
		ss.BytesServed += uint64(r.http)
		if r.made == 0 {
			continue
		}
		c := contract.RenditionCopies{
			Rendition: name,
			HTTP:      float64(r.http) / float64(r.made),
			Peer:      float64(r.peer) / float64(r.made),
		}
		// A window older than a minute means the rendition's swarm stopped
		// reporting: its count then would be a stale audience.
		if !r.windowEnded.IsZero() && now.Sub(r.windowEnded) <= time.Minute {
			c.Viewers = r.windowViewers
		}
		made, sent := r.lastMinuteLocked(now)
		c.LastMinuteMade, c.LastMinuteSent = uint64(made), uint64(sent)
		ss.Copies = append(ss.Copies, c)
	}
}
