package bridge

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
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
	o.hub.Announce(p)
	o.seeders.push(p)
	o.Output.PublishPart(p)
}
