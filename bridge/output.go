package bridge

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/metrics"
)

// meteredOutput is the segmenters' output for one stream: it counts what
// each rendition produces and how soon each part was ready, then hands
// everything to the stream's origin.
type meteredOutput struct {
	cmaf.Output
	path    string
	metrics *metrics.Metrics
}

func (o meteredOutput) PublishPart(p *cmaf.Part) {
	o.metrics.MediaBytes.WithLabelValues(o.path, p.ID.Rendition).Add(float64(len(p.Data)))
	if !p.LastSampleAt.IsZero() {
		o.metrics.PartDelay.WithLabelValues(o.path, p.ID.Rendition).Observe(time.Since(p.LastSampleAt).Seconds())
	}
	o.Output.PublishPart(p)
}
