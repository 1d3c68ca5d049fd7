package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// node is one peer: a viewer, or the server's seeder. Its Machine is the
// production protocol; everything else here is the world around it.
type node struct {
	idx     int32
	id      wire.PeerID
	m       *exchange.Machine
	seeder  bool
	hostile bool
	gone    bool // left the swarm; its events are ignored
	banned  bool // banned by the server: it watches over HTTP only

	uploadX   float64 // upload cap in multiples of the bit rate (0: does not upload)
	access    time.Duration
	joinedAt  time.Duration
	deadline  time.Duration // the Machine's Deadline event in the queue, 0 when none
	offeredAt time.Duration // when it was first given a neighbour (-1: not yet)
	opened    bool          // a data channel of its ever opened
	asked     map[int32]bool
	lastFrame map[int32]time.Duration // arrival of the last frame sent to a neighbour: channels are ordered

	play   *player // nil for the seeder
	joined bool    // its session is open: after it joined, before it left or was banned
	hops   hopRing // how far from the server each recent part came
}

// peerID names node i; ids sort as nodes were made.
func peerID(i int32) wire.PeerID { return wire.PeerID(fmt.Sprintf("%032x", 0x5eed0000+int64(i))) }

// epoch is where the virtual clock starts, as the Machines see it.
var epoch = time.Unix(1_000_000, 0)

func (s *Sim) at(d time.Duration) time.Time { return epoch.Add(d) }

// drive carries out what node n's Machine asks after an event, then makes
// sure its next Deadline is in the queue.
func (s *Sim) drive(n *node) {
	if n.gone {
		return
	}
	now := s.at(s.now)
	for {
		o, ok := n.m.Poll()
		if !ok {
			break
		}
		switch o := o.(type) {
		case exchange.Connect:
			s.connect(n, o.Peer)
		case exchange.Disconnect:
			s.disconnect(n, o.Peer)
		case exchange.Report:
			s.queue.push(event{at: s.now + s.net.toServer(n), kind: evUp, node: n.idx, msg: &wire.Report{Peer: o.Peer, Reason: o.Reason}})
		case exchange.Deliver:
			from := s.byID[o.From]
			hops := uint8(1)
			if from != nil {
				hops = from.hops.get(s.partIndex(o.Part)) + 1
			}
			s.received(n, s.partIndex(o.Part), len(o.Data), hops, false)
		case exchange.Wake:
			s.transmit(n, o.Peer, now)
		}
	}
	if dl := n.m.Deadline(); !dl.IsZero() {
		at := max(dl.Sub(epoch), s.now+time.Millisecond)
		if n.deadline == 0 || at < n.deadline {
			n.deadline = at
			s.queue.push(event{at: at, kind: evDeadline, node: n.idx})
		}
	}
}

// transmit sends every frame n has for neighbour to that may go now. The
// Machine paces DATA to its upload cap; the link only delays it.
func (s *Sim) transmit(n *node, toID wire.PeerID, now time.Time) {
	to := s.byID[toID]
	if to == nil {
		return
	}
	for {
		f := n.m.Transmit(now, toID, 0)
		if f == nil {
			return
		}
		if n.hostile && wire.FrameType(f[0]) == wire.FrameData {
			f[len(f)-1] ^= 0xff // the frame is ours: the Machine cut it afresh
		}
		arrive := s.now + s.net.path(n, to) + s.net.jitter()
		arrive = max(arrive, n.lastFrame[to.idx])
		n.lastFrame[to.idx] = arrive
		s.queue.push(event{at: arrive, kind: evFrame, node: to.idx, from: n.idx, data: f})
	}
}

// connect records that n wants a channel to peer; once both ends want it,
// it opens after the handshake unless their NATs keep them apart (then
// each Machine's connect timeout drops and reports the other).
func (s *Sim) connect(n *node, peer wire.PeerID) {
	o := s.byID[peer]
	if o == nil || o.gone {
		return
	}
	n.asked[o.idx] = true
	if !o.asked[n.idx] {
		return
	}
	delete(n.asked, o.idx)
	delete(o.asked, n.idx)
	s.rep.signalOut += s.relayBytes
	if s.net.blocked(n, o) {
		return
	}
	s.queue.push(event{at: s.now + s.net.connectTime(n, o), kind: evOpen, node: n.idx, from: o.idx})
}

func (s *Sim) disconnect(n *node, peer wire.PeerID) {
	o := s.byID[peer]
	if o == nil {
		return
	}
	delete(n.asked, o.idx)
	delete(n.lastFrame, o.idx)
	if !o.gone {
		s.queue.push(event{at: s.now + s.net.path(n, o), kind: evClosed, node: o.idx, from: n.idx})
	}
}

// open opens the channel both ends asked for, if both still want it.
func (s *Sim) open(a, b *node) {
	if a.gone || b.gone {
		return
	}
	now := s.at(s.now)
	a.opened, b.opened = true, true
	a.m.Opened(now, b.id)
	b.m.Opened(now, a.id)
	s.drive(a)
	s.drive(b)
}

// hopRing remembers, for the recent parts, how many hops from the server
// each reached this node: the mesh's depth as the parts saw it.
type hopRing [64]struct {
	part int32
	hops uint8
}

func (r *hopRing) set(part int32, hops uint8) {
	r[int(part)%len(r)] = struct {
		part int32
		hops uint8
	}{part + 1, hops}
}

// get is the hops part took to reach this node; 1 when unknown.
func (r *hopRing) get(part int32) uint8 {
	if e := r[int(part)%len(r)]; e.part == part+1 {
		return e.hops
	}
	return 1
}

// removeNode is the slice without x.
func removeNode(s []int32, x int32) []int32 {
	if i := slices.Index(s, x); i >= 0 {
		s[i] = s[len(s)-1]
		return s[:len(s)-1]
	}
	return s
}
