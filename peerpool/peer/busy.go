package peer

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A peer that says HAVE to every neighbour gets a WANT from each of them
// at once. Queueing them all would make the last requester wait for every
// other copy to go out first: with an upload of twice the bitrate, eight
// requesters would wait four part durations and fall back to HTTP. A busy
// peer declines instead (NOPE), so the requesters ask the neighbours that
// got the part meanwhile, and the part spreads down a tree whose fan-out
// is what each peer's upload can carry. When its queue drains, the peer
// says HAVE again to the neighbours it declined, as they may still need
// the part.

// busyHorizon is how much queued upload, in time at the upload cap, makes
// a peer decline further WANTs.
const busyHorizon = wire.BusyHorizonMs * time.Millisecond

// busyUploads is the number of queued uploads that makes a peer without
// an upload cap decline further WANTs.
const busyUploads = wire.BusyUploads

// maxDeclined bounds the remembered declines.
const maxDeclined = wire.MaxDeclined

type declined struct {
	c  *conn
	id wire.PartID
}

// busyLocked reports whether the queued DATA would take longer than
// busyHorizon to send at the upload cap. The seed never declines: it is
// the server, pushing what the swarm cannot yet carry.
func (p *Peer) busyLocked() bool {
	if p.cfg.Seed {
		return false
	}
	var bytes, uploads int
	for _, c := range p.conns {
		for _, u := range c.uploads {
			uploads++
			bytes += u.total - u.sent
		}
	}
	if p.cfg.UploadCapBps > 0 {
		return float64(bytes) > float64(p.cfg.UploadCapBps)*busyHorizon.Seconds()
	}
	return uploads >= busyUploads
}

// declineLocked answers a WANT with NOPE because this peer is busy, and
// remembers to offer the part again.
func (p *Peer) declineLocked(c *conn, id wire.PartID) {
	p.st.Declined++
	c.queueControlLocked(wire.FrameNope, id)
	if len(p.declined) >= maxDeclined {
		p.declined = p.declined[1:]
	}
	p.declined = append(p.declined, declined{c, id})
}

// reofferLocked says HAVE again for the parts declined while busy, once
// this peer is no longer busy, to the neighbours that asked and still do
// not have them.
func (p *Peer) reofferLocked() {
	if len(p.declined) == 0 || p.busyLocked() {
		return
	}
	for _, d := range p.declined {
		if !d.c.closed && d.c.open && !d.c.has.has(d.id) && p.holdsLocked(d.id) && !d.c.uploadingLocked(d.id) {
			d.c.queueControlLocked(wire.FrameHave, d.id)
		}
	}
	p.declined = p.declined[:0]
}
