package peer

import "time"

// With an upload cap, a peer serving several neighbours at once would
// interleave their frames, and every copy would finish only at the end.
// Parts travel store-and-forward (a part is verified whole before it is
// passed on), so that delays every receiver's forwarding. A capped peer
// therefore sends its uploads one after another, oldest first: the first
// receiver holds the part after one copy's upload time and forwards it
// while the next copy goes out, so the part spreads as a doubling tree.
// An upload whose data channel is full (a slow receiver) does not hold up
// the ones behind it.

// fifoPoll bounds how long an upload waiting for its turn sleeps between
// checks (it is also woken when an upload ends).
const fifoPoll = 20 * time.Millisecond

// mayUploadLocked reports whether u, the head of c's queue, may send its
// next frame: without a cap always, with one when no older upload of an
// open neighbour is waiting to send.
func (p *Peer) mayUploadLocked(c *conn, u *upload) bool {
	if p.bucket == nil {
		return true
	}
	for _, o := range p.conns {
		if o != c && o.open && !o.closed && !o.blocked && len(o.uploads) > 0 && o.uploads[0].seq < u.seq {
			return false
		}
	}
	return true
}

// wakeUploadsLocked wakes the neighbours whose uploads may now have their
// turn: an upload ended or is blocked on its data channel.
func (p *Peer) wakeUploadsLocked() {
	if p.bucket == nil {
		return
	}
	for _, o := range p.conns {
		if len(o.uploads) > 0 {
			o.signal()
		}
	}
}
