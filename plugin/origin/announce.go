package origin

import (
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

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
