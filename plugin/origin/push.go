package origin

import (
	"context"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// Push implements contract.Bridge: a pushed stream gets its swarm the way
// an attached one does (the media bridge opens it through Egress).
func (o *Origin) Push(ctx context.Context, req contract.AttachRequest, src contract.PushSource, emit func(contract.Event)) error {
	return o.media.Push(ctx, req, src, emit)
}
