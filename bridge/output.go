package bridge

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/metrics"
)

// Egress takes each stream's parts the moment they are cut, besides its
// LL-HLS origin: the peer pool, wired in by the plugin.
type Egress interface {
	// OpenStream starts the egress of the stream at path; the stream's
	// StreamEgress is closed when the stream is forgotten.
	OpenStream(path string, partTarget time.Duration) StreamEgress
}

// StreamEgress is one stream's egress.
type StreamEgress interface {
	// PublishPart gets every part before any playlist lists it. It must
	// not block: the segmenters wait for it.
	PublishPart(p *cmaf.Part)
	Close()
}

// streamOutput is the segmenters' output for one stream: it measures how
// soon each part was ready and hands it to the stream's egress, then to
// its origin, so peers get a part before any playlist lists it.
type streamOutput struct {
	cmaf.Output
	path    string
	egress  StreamEgress
	metrics *metrics.Metrics
}

func (o streamOutput) PublishPart(p *cmaf.Part) {
	if !p.LastSampleAt.IsZero() {
		o.metrics.PartDelay.WithLabelValues(o.path, p.ID.Rendition).Observe(time.Since(p.LastSampleAt).Seconds())
	}
	o.egress.PublishPart(p)
	o.Output.PublishPart(p)
}
