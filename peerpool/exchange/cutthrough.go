package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A part announced with chunk hashes is passed on chunk by chunk: a peer
// receiving it says HAVE as soon as its first chunk is verified and
// answers WANTs with DATA as its verified bytes grow. Each hop then costs a
// chunk's upload time instead of a whole part's (16 KiB against a 500 ms
// part's 62 KB at 1 Mbit/s), which is what lets a part reach a deep swarm
// before its playback deadline. Only verified bytes are ever sent.

// starvedUpload is how long an upload may wait for bytes its part's
// download does not bring before it is dropped with NOPE (the download
// failed and nothing else brought the part).
const starvedUpload = wire.StarvedUploadMs * time.Millisecond

// partBytes returns the verified bytes of id this peer can send and
// the part's size: the whole part when stored, else the longest verified
// prefix among its downloads (total 0 when it has none).
func (m *Machine) partBytes(id wire.PartID) (data []byte, total int) {
	if s := m.store.get(id); s != nil {
		return s.data, len(s.data)
	}
	for _, n := range m.neighbours {
		if in := n.incoming[id]; in != nil && in.asm != nil {
			if v := in.asm.Verified(); len(v) > len(data) {
				data, total = v, int(in.total)
			}
		}
	}
	return data, total
}

// holds reports whether this peer has verified bytes of id to send.
func (m *Machine) holds(id wire.PartID) bool {
	data, _ := m.partBytes(id)
	return len(data) > 0
}

// verifiedMore runs when a download of id verified more bytes
// (before its last): the first time, it tells the other neighbours HAVE;
// every time, it wakes the uploads waiting for those bytes.
func (m *Machine) verifiedMore(now time.Time, from *neighbour, id wire.PartID) {
	if m.cfg.CanUpload && !m.earlyHave.has(id) {
		m.earlyHave.add(id)
		for _, n := range m.sorted() {
			if n != from && n.open && !n.has.has(id) && !n.uploading(id) {
				m.queueControl(now, n, wire.FrameHave, id)
			}
		}
	}
	for _, n := range m.sorted() {
		if n.uploading(id) {
			m.wake(n)
		}
	}
}

// readyUpload returns n's upload that sends next: of those with
// verified bytes not yet sent, the one ahead in the upload order
// (uploadorder.go). It drops, with NOPE, uploads whose bytes stopped
// coming and answers to WANTs that did not start within startWithin.
func (m *Machine) readyUpload(now time.Time, n *neighbour) *upload {
	var best *upload
	for i := 0; i < len(n.uploads); i++ {
		u := n.uploads[i]
		if u.sent == len(u.data) { // sent all it had: look for bytes verified since
			if data, _ := m.partBytes(u.id); len(data) > len(u.data) {
				u.data, u.progress = data, now
			}
		}
		if u.asked && u.sent == 0 && now.Sub(u.queued) >= startWithin {
			// Not started in time (newer parts went first): the asker may
			// take it for a liar (fetch.go), so it is declined and asks
			// someone else, and offered the part again later.
			n.removeUpload(u)
			i--
			m.decline(now, n, u.id)
			continue
		}
		if u.sent < len(u.data) {
			if best == nil || ahead(u, best) {
				best = u
			}
			continue
		}
		if now.Sub(u.progress) >= starvedUpload {
			n.removeUpload(u)
			i--
			m.queueControl(now, n, wire.FrameNope, u.id)
		}
	}
	return best
}

// nextFrame cuts u's next DATA frame from its verified bytes:
// at most the frame size, ending at a chunk boundary so the receiver can
// verify and pass on each chunk as soon as it arrives.
func (m *Machine) nextFrame(u *upload) ([]byte, error) {
	end := min(len(u.data), u.sent+m.cfg.MaxFrame-wire.DataHeaderLen(u.id))
	if a := m.expected[u.id]; a != nil && len(a.Chunks) > 0 {
		end = min(end, wire.ChunkEnd(u.sent, u.total, a.ChunkSize))
	}
	return wire.AppendFrame(nil, wire.DataFrame{Part: u.id, Offset: uint32(u.sent), Total: uint32(u.total), Payload: u.data[u.sent:end]})
}

// Verified returns a copy of the bytes of id this peer holds verified from
// its start: the whole part when stored, else the longest verified prefix
// among its downloads, nil when it has none. A viewer that stops waiting
// for the swarm fetches over HTTP only what follows them, so the bytes its
// neighbours already sent are not paid for twice.
func (m *Machine) Verified(id wire.PartID) []byte {
	data, _ := m.partBytes(id)
	if len(data) == 0 {
		return nil
	}
	return append([]byte(nil), data...)
}
