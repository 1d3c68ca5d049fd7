package peer

import (
	"fmt"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A neighbour that says HAVE and takes WANTs but never delivers costs
// every part it is asked for a wait before someone else is asked, and
// holds a slot an uploader could use. It is dropped and reported as
// "timeout" (the server then never pairs the two again) after
// wire.MaxFruitlessWants WANTs in a row it let stall, or, as long as it
// has never delivered a verified byte, wire.MaxUnprovenNopes NOPEs.

// fruitlessLocked drops c when its WANTs have come to nothing too often.
func (p *Peer) fruitlessLocked(c *conn, post []func()) []func() {
	if c.closed || c.seed {
		return post
	}
	var why string
	switch {
	case c.fruitless >= wire.MaxFruitlessWants:
		why = fmt.Sprintf("%d WANTs in a row stalled", c.fruitless)
	case c.verified == 0 && c.nopes >= wire.MaxUnprovenNopes:
		why = fmt.Sprintf("%d NOPEs and never a byte delivered", c.nopes)
	default:
		return post
	}
	p.log.Info("dropping a neighbour that takes WANTs and never delivers", "neighbour", short(c.id), "why", why)
	p.banned[c.id] = wire.ReasonTimeout
	p.dropLocked(c, why)
	if cb := p.cfg.OnBadPeer; cb != nil {
		id := c.id
		post = append(post, func() { cb(id, wire.ReasonTimeout) })
	}
	return post
}
