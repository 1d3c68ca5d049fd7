package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// With an upload cap, a peer serving several neighbours at once would
// interleave their frames, and every copy would finish only at the end.
// A receiver passes on only verified bytes (a whole part, or a chunk of a
// part announced with chunk hashes: cutthrough.go), so that delays every
// receiver's forwarding. A capped peer therefore sends one upload at a
// time: the first receiver holds the part after one copy's upload time and
// forwards it while the next copy goes out, so the part spreads as a
// doubling tree. An upload under way is finished first: its receiver may
// already be passing its chunks on, and pausing it stalls that whole
// branch. Among the others the newest part goes first: the swarm is still
// spreading it, while an older one is nearer its deadline, where HTTP
// takes over anyway. Copies of one part go in the order they were asked
// for. An upload whose data channel is full (a slow receiver) does not
// hold up the others.

// uploadPoll bounds how long an upload waiting for its turn waits before
// it looks again (it is also woken when an upload ends).
const uploadPoll = wire.UploadPollMs * time.Millisecond

// mayUpload reports whether u, n's next upload, may send its next
// frame: without a cap always, with one when no other open neighbour's
// next upload, not blocked and with bytes to send, goes before it.
func (m *Machine) mayUpload(now time.Time, n *neighbour, u *upload) bool {
	if m.bucket == nil {
		return true
	}
	for _, o := range m.neighbours {
		if o == n || !o.open || o.closed || o.blocked || len(o.uploads) == 0 {
			continue
		}
		if ou := m.readyUpload(now, o); ou != nil && ahead(ou, u) {
			return false
		}
	}
	return true
}

// ahead reports whether upload a goes before b: one under way first, then
// the newer part, then the one queued first.
func ahead(a, b *upload) bool {
	if (a.sent > 0) != (b.sent > 0) {
		return a.sent > 0
	}
	if a.id.MSN != b.id.MSN {
		return a.id.MSN > b.id.MSN
	}
	if a.id.Index != b.id.Index {
		return a.id.Index > b.id.Index
	}
	return a.seq < b.seq
}

// wakeUploads wakes the neighbours whose uploads may now have their
// turn: an upload ended or is blocked on its data channel.
func (m *Machine) wakeUploads() {
	if m.bucket == nil {
		return
	}
	for _, n := range m.sorted() {
		if len(n.uploads) > 0 {
			m.wake(n)
		}
	}
}
