package exchange

import (
	"fmt"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A neighbour that says HAVE and takes WANTs but never delivers costs
// every part it is asked for a wait before someone else is asked, and
// holds a slot an uploader could use. It is dropped and reported as
// "timeout" (the server then never pairs the two again) after
// wire.MaxFruitlessWants WANTs in a row it let stall, or, as long as it
// has never delivered a verified byte, wire.MaxUnprovenNopes NOPEs.

// fruitlessCheck drops n when its WANTs have come to nothing too often.
func (m *Machine) fruitlessCheck(now time.Time, n *neighbour) {
	if n.closed || n.seed {
		return
	}
	var why string
	switch {
	case n.fruitless >= wire.MaxFruitlessWants:
		why = fmt.Sprintf("%d WANTs in a row stalled", n.fruitless)
	case n.verified == 0 && n.nopes >= wire.MaxUnprovenNopes:
		why = fmt.Sprintf("%d NOPEs and never a byte delivered", n.nopes)
	default:
		return
	}
	m.banned[n.id] = wire.ReasonTimeout
	m.drop(now, n, "takes WANTs and never delivers: "+why)
	m.emit(Report{Peer: n.id, Reason: wire.ReasonTimeout})
}
