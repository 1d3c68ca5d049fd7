package exchange

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

// startWithin is how long an accepted upload may wait for its turn before
// it is declined.
const startWithin = wire.StartWithinMs * time.Millisecond

// busyUploads is the number of queued uploads that makes a peer without
// an upload cap decline further WANTs.
const busyUploads = wire.BusyUploads

// maxDeclined bounds the remembered declines.
const maxDeclined = wire.MaxDeclined

type declined struct {
	n  *neighbour
	id wire.PartID
}

// busy reports whether the queued DATA, and what the upload cap still
// owes for frames already sent, would take longer than busyHorizon to send
// at the cap. The seed never declines: it is the server, pushing what the
// swarm cannot yet carry.
func (m *Machine) busy(now time.Time) bool {
	if m.cfg.Seed {
		return false
	}
	var bytes, uploads int
	for _, n := range m.neighbours {
		for _, u := range n.uploads {
			uploads++
			bytes += u.total - u.sent
		}
	}
	if m.bucket != nil {
		return float64(bytes)+m.bucket.owed(now) > float64(m.cfg.UploadCapBps)*busyHorizon.Seconds()
	}
	return uploads >= busyUploads
}

// decline answers a WANT with NOPE because this peer is busy, and
// remembers to offer the part again.
func (m *Machine) decline(now time.Time, n *neighbour, id wire.PartID) {
	m.st.Declined++
	m.queueControl(now, n, wire.FrameNope, id)
	if len(m.declined) >= maxDeclined {
		m.declined = m.declined[1:]
	}
	m.declined = append(m.declined, declined{n, id})
}

// reoffer says HAVE again for the parts declined while busy, once
// this peer is no longer busy, to the neighbours that asked and still do
// not have them.
func (m *Machine) reoffer(now time.Time) {
	if len(m.declined) == 0 || m.busy(now) {
		return
	}
	for _, d := range m.declined {
		if !d.n.closed && d.n.open && !d.n.has.has(d.id) && m.holds(d.id) && !d.n.uploading(d.id) {
			m.queueControl(now, d.n, wire.FrameHave, d.id)
		}
	}
	m.declined = m.declined[:0]
}
