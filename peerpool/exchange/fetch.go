package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// fetch is one attempt to get a part from the neighbours: it asks one
// neighbour at a time and moves on after a NOPE, a disconnection or a
// stall of attempt without progress.
//
// A WANT that brought not a byte counts against the neighbour (fruitless.go)
// only once FirstByteMs has passed without a byte or a NOPE: an honest
// peer starts what it accepted within StartWithinMs or says NOPE, so only
// a liar stays silent that long. A fetch whose attempt is shorter moves on
// at once and leaves that WANT open, late, until it can be judged.
type fetch struct {
	id       wire.PartID
	attempt  time.Duration
	tried    map[wire.PeerID]bool // stalled on this part: not asked again
	at       *neighbour           // the neighbour our WANT went to
	deadline time.Time            // when the transfer or WANT under way counts as stalled
}

// Want asks for a part: it returns the part at once when it is stored;
// otherwise it starts a fetch (or joins the one under way), which ends
// with Fetched. attempt is how long one neighbour may go without progress
// before the next is asked.
func (m *Machine) Want(now time.Time, id wire.PartID, attempt time.Duration) []byte {
	if s := m.store.get(id); s != nil {
		return s.data
	}
	if m.closed || id.Validate() != nil {
		return nil
	}
	if m.fetches[id] == nil {
		m.fetches[id] = &fetch{id: id, attempt: max(attempt, time.Millisecond), tried: make(map[wire.PeerID]bool)}
		m.progress(now)
	}
	return nil
}

// Unwant ends the fetch of id: nobody waits for it any more. A transfer
// that answers our WANT is cancelled; a push goes on.
func (m *Machine) Unwant(now time.Time, id wire.PartID) {
	f := m.fetches[id]
	if f == nil {
		return
	}
	delete(m.fetches, id)
	for _, n := range m.sorted() {
		if n.requests[id] != nil {
			m.abandon(now, n, id) // not judged: we stopped waiting
		}
	}
	m.progress(now)
}

// progress moves every fetch on after an event: one that no neighbour is
// working on asks the best neighbour that has the part.
func (m *Machine) progress(now time.Time) {
	if len(m.fetches) == 0 || m.closed {
		return
	}
	if len(m.fetches) == 1 { // the usual case: no order to keep
		for _, f := range m.fetches {
			m.advanceFetch(now, f)
		}
		return
	}
	for _, id := range sortedParts(m.fetches) {
		if f := m.fetches[id]; f != nil {
			m.advanceFetch(now, f)
		}
	}
}

func (m *Machine) advanceFetch(now time.Time, f *fetch) {
	id := f.id
	for m.fetches[id] == f {
		f.deadline = time.Time{}
		// A transfer already under way (a seed's push, or the answer to a
		// WANT): give it time while it makes progress.
		if n, in := m.activeIncoming(id); in != nil {
			if now.Sub(in.progress) < f.attempt {
				f.deadline = in.progress.Add(f.attempt)
				return
			}
			m.abandon(now, n, id)
			f.tried[n.id] = true
			continue
		}
		if n := f.at; n != nil && !n.closed {
			if req := n.requests[id]; req != nil {
				if now.Sub(req.sent) < f.attempt {
					f.deadline = req.sent.Add(f.attempt)
					return
				}
				f.tried[n.id] = true
				f.at = nil
				if now.Sub(req.sent) < firstByte {
					req.late = true // judged by judgeLate; the next holder is asked now
					continue
				}
				// Not a byte came: that counts against it. A congested
				// honest neighbour delivers slowly, a liar not at all.
				m.abandon(now, n, id)
				n.fruitless++
				m.fruitlessCheck(now, n)
				continue
			}
		}
		f.at = nil
		n := m.pick(id, f.tried)
		if n == nil {
			return // a HAVE or an open channel moves it on
		}
		n.requests[id] = &request{sent: now}
		m.queueControl(now, n, wire.FrameWant, id)
		f.at = n
	}
}

func (m *Machine) activeIncoming(id wire.PartID) (*neighbour, *incoming) {
	var best *neighbour
	for _, n := range m.neighbours {
		if n.incoming[id] != nil && (best == nil || n.id < best.id) {
			best = n
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, best.incoming[id]
}

// pick chooses the neighbour to ask for id: one that has it, is not
// marked tried, whose DATA for it we have not cancelled, and has room for another request, with the best measured
// throughput divided by its outstanding requests (unknown throughput
// counts as the mean of the known ones).
func (m *Machine) pick(id wire.PartID, tried map[wire.PeerID]bool) *neighbour {
	var room [16]*neighbour // a peer's neighbours fit: no allocation per event
	cands := room[:0]
	var sum float64
	var known int
	for _, n := range m.neighbours {
		if n.open && n.has.has(id) && !tried[n.id] && !n.ignored.has(id) && len(n.requests) < maxRequests {
			cands = append(cands, n)
			if n.throughput > 0 {
				sum += n.throughput
				known++
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	mean := 1.0
	if known > 0 {
		mean = sum / float64(known)
	}
	score := func(n *neighbour) float64 {
		tp := n.throughput
		if tp == 0 {
			tp = mean
		}
		return tp / float64(1+len(n.requests))
	}
	best, bestScore := cands[0], score(cands[0])
	for _, n := range cands[1:] {
		if s := score(n); s > bestScore || (s == bestScore && n.id < best.id) {
			best, bestScore = n, s
		}
	}
	return best
}

// firstByte is how long a WANT may go without a byte or a NOPE before it
// counts against the neighbour.
const firstByte = wire.FirstByteMs * time.Millisecond

// judgeLate counts against n the late WANTs that brought nothing within
// firstByte, and cancels them.
func (m *Machine) judgeLate(now time.Time, n *neighbour) {
	late := false
	for _, req := range n.requests {
		if late = req.late; late {
			break
		}
	}
	if !late { // the usual case, every Advance: nothing to judge, nothing to sort
		return
	}
	for _, id := range sortedParts(n.requests) {
		req := n.requests[id]
		if req == nil || !req.late || n.incoming[id] != nil || now.Sub(req.sent) < firstByte {
			continue
		}
		m.abandon(now, n, id)
		n.fruitless++
		if m.fruitlessCheck(now, n); n.closed {
			return
		}
	}
}
