package bridge

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// streamOutput is the segmenters' output for one stream: it counts what
// each rendition produces and how soon each part was ready, announces each
// part's hash to the swarm and pushes the part to its seeders, then hands
// everything to the stream's origin: peers get a part before any playlist
// lists it.
type streamOutput struct {
	cmaf.Output
	path    string
	hub     *signal.Hub
	seeders *seeders
	traffic *traffic
	metrics *metrics.Metrics
}

func (o streamOutput) PublishPart(p *cmaf.Part) {
	o.traffic.made(p.ID.Rendition, len(p.Data))
	if !p.LastSampleAt.IsZero() {
		o.metrics.PartDelay.WithLabelValues(o.path, p.ID.Rendition).Observe(time.Since(p.LastSampleAt).Seconds())
	}
	a := announcement(p)
	o.hub.Announce(a)
	o.seeders.push(a, p.Data)
	o.Output.PublishPart(p)
}

// announcement is what the swarm learns of a part the moment it is cut:
// its id, size, hash and the hash of each chunk, so that peers verify and
// pass it on chunk by chunk.
func announcement(p *cmaf.Part) *wire.PartAnnounce {
	a := &wire.PartAnnounce{
		ID:          wire.PartID{Rendition: p.ID.Rendition, MSN: p.ID.MSN, Index: p.ID.Index},
		Size:        len(p.Data),
		SHA256:      p.SHA256,
		DurationMs:  int(p.Duration / time.Millisecond),
		Independent: p.Independent,
	}
	a.ChunkSize, a.Chunks = wire.ChunkHashes(p.Data)
	return a
}
