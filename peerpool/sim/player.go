package sim

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// player is a viewer's playback, modelled on the Go viewer's
// (peerpool/viewer). It starts HoldBack parts behind the newest part,
// rewound to the segment's independent part as a player must, fetches
// those over HTTP at once and starts playing when the first HoldBack of
// them are in: so a viewer's lag, and with it how long it can wait for the
// swarm, depends on where in a segment it joined. Once playing, it asks
// the swarm for each part as soon as the part is announced, waits for it
// until PeerWait has passed or HTTPMargin before the playhead needs it,
// then fetches it over HTTP; the playhead stalls on a part it does not
// hold.
type player struct {
	joinedAt time.Duration
	first    int32         // the first part it plays
	have     partSet       // parts it holds
	wanted   partSet       // parts it asked the swarm for and still waits on
	fetching partSet       // parts it is fetching over HTTP
	next     int32         // the part the playhead is at, or will start with
	started  bool          // its startup parts are in and it plays
	stallAt  time.Duration // when the current stall began, 0 when playing
	shift    time.Duration // stalls so far push every later part back
	playFrom time.Duration // when playback began
	watched  time.Duration // playing or stalled, up to leave or the end
	stalled  time.Duration

	httpBytes, p2pBytes int64
	stalls              int
}

// playAt is when the playhead of a player that has started reaches part
// k: one part duration per part from where it started, later by the
// stalls so far.
func (s *Sim) playAt(p *player, k int32) time.Duration {
	return p.playFrom + time.Duration(k-p.first)*s.cfg.PartDuration + p.shift
}

// startAt is the first part a viewer arriving now plays: HoldBack parts
// back from the newest one cut, at the independent part that begins its
// segment.
func (s *Sim) startAt() int32 {
	newest := int32(s.now/s.cfg.PartDuration) + s.preroll() - 1
	first := max(newest-int32(s.cfg.HoldBack-1), 0)
	return first - first%partsPerSegment
}

// lag is how far behind the live edge a started player plays: from the
// start of a part's media to its play time.
func (s *Sim) lag(p *player) time.Duration {
	return p.playFrom + p.shift - (s.cutAt(p.first) - s.cfg.PartDuration)
}

// announced runs when a part's announcement reaches viewer n: the Machine
// learns its hashes and the player asks for it.
func (s *Sim) announced(n *node, a *wire.PartAnnounce) {
	now := s.at(s.now)
	if err := n.m.Expect(now, a); err != nil {
		s.fail(err)
		return
	}
	p := n.play
	k := s.partIndex(a.ID)
	if k < p.first || p.have.has(k) || n.gone {
		return
	}
	var wait time.Duration
	switch {
	case p.started:
		wait = min(s.cfg.PeerWait, s.playAt(p, k)-s.now-s.cfg.HTTPMargin)
		if len(n.m.Received()) == 0 {
			wait = 0 // no open neighbour: nothing can come from the swarm
		}
	default:
		// Before playback every part is needed at once, unless the viewer
		// gives its first links time to open.
		wait = p.joinedAt + s.cfg.StartupWait - s.now
	}
	if n.banned {
		wait = 0
	}
	if wait > 0 {
		attempt := min(max(wait/4, 250*time.Millisecond), 3*time.Second)
		if data := n.m.Want(now, a.ID, attempt); data != nil {
			return // already held: Deliver counted it
		}
		p.wanted.add(k)
	}
	s.queue.push(event{at: s.now + max(wait, 0), kind: evPeerWait, node: n.idx, part: k})
}

// peerWaitOver: the swarm did not bring part k in time; fetch it over HTTP.
func (s *Sim) peerWaitOver(n *node, k int32) {
	p := n.play
	var prefix int
	if p.wanted.has(k) {
		p.wanted.del(k)
		prefix = len(n.m.Verified(s.partID(k)))
		if p.started && !p.have.has(k) {
			switch holders, inFlight := n.m.Availability(s.partID(k)); {
			case inFlight:
				s.rep.fallbacks.InFlight++
			case holders > 0:
				s.rep.fallbacks.Declined++
			default:
				s.rep.fallbacks.NoHolder++
			}
		}
		n.m.Unwant(s.at(s.now), s.partID(k))
	}
	if p.have.has(k) || p.fetching.has(k) {
		return
	}
	p.fetching.add(k)
	rest := s.cfg.partBytes() - prefix
	rtt := 2 * s.net.toServer(n)
	transfer := time.Duration(int64(rest) * 8 * int64(time.Second) / s.cfg.DownloadBps)
	s.queue.push(event{at: s.now + rtt + transfer, kind: evHTTP, node: n.idx, part: k, size: int32(rest)})
}

// httpDone: the HTTP fetch of part k completed, fetched bytes of it (the
// rest came from neighbours before the viewer gave up on them); the viewer
// shares it.
func (s *Sim) httpDone(n *node, k int32, fetched int) {
	p := n.play
	p.fetching.del(k)
	p.httpBytes += int64(fetched)
	s.rep.httpBytes += int64(fetched)
	if !p.started {
		s.rep.startupHTTPBytes += int64(fetched)
	}
	if p.have.has(k) {
		return
	}
	size := s.cfg.partBytes()
	p.p2pBytes += int64(size - fetched)
	if data := s.origin.bytes(k); data != nil {
		if err := n.m.Offer(s.at(s.now), s.partID(k), data); err != nil {
			s.fail(err)
			return
		}
	}
	s.received(n, k, size, 1, true)
}

// received records that n holds part k, hops from the server, starts
// playback once the startup parts are in and lets a stalled playhead go on.
func (s *Sim) received(n *node, k int32, size int, hops uint8, http bool) {
	n.hops.set(k, hops)
	p := n.play
	if p == nil || p.have.has(k) {
		return
	}
	p.have.add(k)
	p.wanted.del(k)
	if !http {
		p.p2pBytes += int64(size)
	}
	if k < p.first {
		return
	}
	if !n.hostile {
		s.rep.delivery.add(int((s.now - s.cutAt(k)) / time.Millisecond))
		s.rep.depth.add(int(hops))
		s.rep.deliveries++
		if !p.started || s.now <= s.playAt(p, k) {
			s.rep.onTime++
		}
	}
	switch {
	case !p.started:
		s.startPlaying(n)
	case p.stallAt != 0 && k == p.next:
		stall := s.now - p.stallAt
		p.stalled += stall
		p.shift += stall
		p.stallAt = 0
		s.advancePlayhead(n)
	}
}

// startPlaying starts playback once the player holds its first HoldBack
// parts, as the Go viewer buffers its startup parts.
func (s *Sim) startPlaying(n *node) {
	p := n.play
	for k := p.first; k < p.first+int32(s.cfg.HoldBack); k++ {
		if !p.have.has(k) {
			return
		}
	}
	p.started, p.playFrom = true, s.now
	s.queue.push(event{at: s.now, kind: evPlay, node: n.idx, part: p.first})
}

// playReached: the playhead comes to part k.
func (s *Sim) playReached(n *node, k int32) {
	p := n.play
	if !p.started || k != p.next || p.stallAt != 0 {
		return
	}
	if !p.have.has(k) {
		p.stallAt = s.now
		p.stalls++
		return
	}
	s.advancePlayhead(n)
}

// advancePlayhead plays part next and schedules the one after.
func (s *Sim) advancePlayhead(n *node) {
	p := n.play
	p.next++
	s.queue.push(event{at: s.playAt(p, p.next), kind: evPlay, node: n.idx, part: p.next})
}

// finish closes n's books at leave or at the end of the run.
func (s *Sim) finish(n *node) {
	p := n.play
	if p == nil || !p.started || n.hostile {
		return
	}
	if p.stallAt != 0 {
		p.stalled += s.now - p.stallAt
		p.stallAt = 0
	}
	p.watched = s.now - p.playFrom
	s.rep.watched += p.watched
	s.rep.stalled += p.stalled
	s.rep.stalls += p.stalls
	s.rep.honestHTTP += p.httpBytes
	s.rep.honestP2P += p.p2pBytes
	s.rep.viewersWatched++
	s.rep.lag.add(int(s.lag(p) / time.Millisecond))
	s.rep.startup.add(int((p.playFrom - p.joinedAt) / time.Millisecond))
	if p.stalled > 0 {
		s.rep.viewersStalled++
	}
}

// sendStats is the viewer's periodic report to the server.
func (s *Sim) sendStats(n *node) {
	if n.gone || !n.joined {
		return
	}
	p := n.play
	m := &wire.Stats{Rendition: s.cfg.Rendition, HTTPBytes: p.httpBytes, P2PBytes: p.p2pBytes,
		UploadBytes: n.m.Stats().BytesSent, Stalls: p.stalls, StallMs: p.stalled.Milliseconds(), LagMs: -1,
		Peers: s.srv.core.Neighbours(n.id), From: n.m.Received(), Paths: []wire.Path{},
		// As the Go viewer says it: offered neighbours, and none of their
		// channels opened in time.
		Unreachable: !n.opened && n.offeredAt >= 0 && s.now-n.offeredAt >= wire.UnreachableAfterMs*time.Millisecond}
	s.queue.push(event{at: s.now + s.net.toServer(n), kind: evUp, node: n.idx, msg: m})
	s.queue.push(event{at: s.now + s.cfg.StatsEvery, kind: evStats, node: n.idx})
}

// partSet is a set of recent part indexes: a ring wider than any part a
// viewer still cares about, each slot remembering which part it holds.
type partSet struct{ slots [64]int32 }

func (s *partSet) has(k int32) bool { return k >= 0 && s.slots[int(k)%len(s.slots)] == k+1 }
func (s *partSet) add(k int32)      { s.slots[int(k)%len(s.slots)] = k + 1 }
func (s *partSet) del(k int32) {
	if s.has(k) {
		s.slots[int(k)%len(s.slots)] = 0
	}
}
