package peer

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

// partBytesLocked returns the verified bytes of id this peer can send and
// the part's size: the whole part when stored, else the longest verified
// prefix among its downloads (total 0 when it has none).
func (p *Peer) partBytesLocked(id wire.PartID) (data []byte, total int) {
	if s := p.store.get(id); s != nil {
		return s.data, len(s.data)
	}
	for _, c := range p.conns {
		if in := c.incoming[id]; in != nil && in.asm != nil {
			if v := in.asm.Verified(); len(v) > len(data) {
				data, total = v, int(in.total)
			}
		}
	}
	return data, total
}

// holdsLocked reports whether this peer has verified bytes of id to send.
func (p *Peer) holdsLocked(id wire.PartID) bool {
	data, _ := p.partBytesLocked(id)
	return len(data) > 0
}

// verifiedMoreLocked runs when a download of id verified more bytes
// (before its last): the first time, it tells the other neighbours HAVE;
// every time, it wakes the uploads waiting for those bytes.
func (p *Peer) verifiedMoreLocked(from *conn, id wire.PartID) {
	if p.cfg.CanUpload && !p.earlyHave.has(id) {
		p.earlyHave.add(id)
		for _, c := range p.conns {
			if c != from && c.open && !c.has.has(id) && !c.uploadingLocked(id) {
				c.queueControlLocked(wire.FrameHave, id)
			}
		}
	}
	for _, c := range p.conns {
		if c.uploadingLocked(id) {
			c.signal()
		}
	}
}

// readyUploadLocked returns c's upload that sends next: of those with
// verified bytes not yet sent, the one ahead in the upload order
// (uploadorder.go). It drops, with NOPE, uploads whose bytes stopped
// coming.
func (c *conn) readyUploadLocked(now time.Time) *upload {
	var best *upload
	for i := 0; i < len(c.uploads); i++ {
		u := c.uploads[i]
		if u.sent == len(u.data) { // sent all it had: look for bytes verified since
			if data, _ := c.p.partBytesLocked(u.id); len(data) > len(u.data) {
				u.data, u.progress = data, now
			}
		}
		if u.sent < len(u.data) {
			if best == nil || ahead(u, best) {
				best = u
			}
			continue
		}
		if now.Sub(u.progress) > starvedUpload {
			c.log.Debug("dropping an upload whose part stopped arriving", "part", u.id.String(), "sent", u.sent, "of", u.total)
			c.removeUploadLocked(u)
			i--
			c.queueControlLocked(wire.FrameNope, u.id)
		}
	}
	return best
}

// nextFrameLocked cuts u's next DATA frame from its verified bytes:
// at most the frame size, ending at a chunk boundary so the receiver can
// verify and pass on each chunk as soon as it arrives.
func (c *conn) nextFrameLocked(u *upload) ([]byte, error) {
	p := c.p
	end := min(len(u.data), u.sent+p.cfg.MaxFrame-wire.DataHeaderLen(u.id))
	if a := p.expected[u.id]; a != nil && len(a.Chunks) > 0 {
		end = min(end, wire.ChunkEnd(u.sent, u.total, a.ChunkSize))
	}
	return wire.AppendFrame(nil, wire.DataFrame{Part: u.id, Offset: uint32(u.sent), Total: uint32(u.total), Payload: u.data[u.sent:end]})
}
