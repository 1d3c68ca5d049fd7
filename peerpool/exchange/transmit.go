package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Transmit returns the next frame for neighbour to, or nil when it has
// none that may go now: its queue is empty, its channel is too full
// (buffered is what the channel holds unsent), the upload cap has no room
// or another neighbour's upload goes first. A Wake, or Deadline, tells
// when to call again. Control frames go before DATA. The frame is counted
// as sent.
func (m *Machine) Transmit(now time.Time, to wire.PeerID, buffered int) []byte {
	n := m.neighbours[to]
	if n == nil || !n.open {
		return nil
	}
	n.woken = false
	if len(n.control) > 0 {
		frame := n.control[0]
		if buffered+len(frame) > maxBuffered {
			m.block(n)
			return nil
		}
		n.control[0] = nil
		n.control = n.control[1:]
		n.blocked = false
		return frame
	}
	if len(n.uploads) == 0 {
		return nil
	}
	u := m.readyUpload(now, n)
	switch {
	case len(n.control) > 0: // a starved upload was dropped with NOPE
		return m.Transmit(now, to, buffered)
	case u == nil:
		return nil // waiting for the bytes of a part still arriving: they wake it
	case !m.mayUpload(now, n, u):
		if m.turnAt.IsZero() {
			m.turnAt = now.Add(uploadPoll)
		}
		return nil
	}
	if m.bucket != nil {
		if at := m.bucket.readyAt(now); at.After(now) {
			m.bucketAt = at
			return nil
		}
	}
	frame, err := m.nextFrame(u)
	if err != nil { // unreachable: ids and sizes were checked on the way in
		n.removeUpload(u)
		return nil
	}
	if buffered+len(frame) > maxBuffered {
		m.block(n)
		return nil
	}
	n.blocked = false
	payload := len(frame) - wire.DataHeaderLen(u.id)
	u.sent += payload
	if m.bucket != nil {
		m.bucket.spend(len(frame))
	}
	n.ns.BytesSent += int64(payload)
	n.sent += int64(payload)
	m.st.BytesSent += int64(payload)
	if u.sent == u.total {
		n.removeUpload(u)
		n.ns.PartsSent++
		m.st.PartsServed++
		m.reoffer(now)
		m.wakeUploads()
	}
	return frame
}

// block marks n's channel full: the next upload in line may go meanwhile
// (uploadorder.go). The driver calls Transmit again when it drains.
func (m *Machine) block(n *neighbour) {
	if !n.blocked {
		n.blocked = true
		m.wakeUploads()
	}
}

// Flush returns every frame queued for neighbour to that may go now, with
// no channel limit: for drivers whose transport takes frames as fast as
// they come (simulators, tests).
func (m *Machine) Flush(now time.Time, to wire.PeerID) [][]byte {
	var out [][]byte
	for {
		f := m.Transmit(now, to, 0)
		if f == nil {
			return out
		}
		out = append(out, f)
	}
}
