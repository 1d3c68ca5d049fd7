package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// The server's side is the signaling hub's own Core (peerpool/signal),
// which calls the production tracker, trust ledger and seed count: the
// simulator only stands in for the hub's WebSockets, delivering each
// message the Core sends after the viewer's latency and counting its
// encoded size.

type server struct {
	core *signal.Core
	// The last message encoded: an announcement goes to every viewer and
	// is encoded once, as the hub does.
	lastMsg  wire.Signal
	lastSize int64
}

func newServer(s *Sim, trackerRand *rand.Rand) server {
	cfg := signal.Config{
		PartTarget:           s.cfg.PartDuration,
		TickEvery:            s.cfg.TickEvery,
		SeedsPerRendition:    s.cfg.SeedsMin,
		MaxSeedsPerRendition: s.cfg.SeedsMax,
		MaxViewers:           s.cfg.Peers,
		Logger:               slog.New(slog.DiscardHandler),
	}
	swarm := tracker.New(tracker.Config{Now: func() time.Time { return s.at(s.now) }, Rand: trackerRand})
	return server{core: signal.NewCore(s.at(0), cfg, swarm)}
}

// viewerNetwork is the viewer's own network: every viewer is a household
// of its own.
func viewerNetwork(n *node) netip.Prefix {
	a := netip.AddrFrom4([4]byte{10, byte(n.idx >> 16), byte(n.idx >> 8), byte(n.idx)})
	return netip.PrefixFrom(a, 32)
}

// carryOut does what the Core asked after an event: its messages reach
// the viewers after their latency, the seeder takes its new targets, and
// a banned viewer's session ends.
func (s *Sim) carryOut() {
	core := s.srv.core
	for {
		o, ok := core.Poll()
		if !ok {
			return
		}
		switch o := o.(type) {
		case signal.Send:
			n := s.byID[o.To]
			if n == nil {
				continue
			}
			s.rep.signalOut += s.encodedSize(o.Msg)
			s.queue.push(event{at: s.now + s.net.toServer(n), kind: evSignal, node: n.idx, msg: o.Msg})
		case signal.End:
			s.rep.signalOut += s.encodedSize(&wire.ServerError{Reason: wire.Truncate(o.Reason, 256)})
			if n := s.byID[o.Peer]; n != nil && o.Ban != "" {
				s.banned(n)
			}
		case signal.SeedNeighbours:
			s.seeder.m.SetNeighbours(s.at(s.now), o.Add, o.Remove)
			s.drive(s.seeder)
		case signal.SeedRelay:
			// Channels open without their SDP relayed (connect counts its
			// bytes).
		}
	}
}

// encodedSize is the bytes of m on the wire.
func (s *Sim) encodedSize(m wire.Signal) int64 {
	srv := &s.srv
	if m != srv.lastMsg {
		data, err := wire.EncodeSignal(m)
		if err != nil {
			s.fail(fmt.Errorf("encoding a %s: %w", m.SignalType(), err))
			return 0
		}
		srv.lastMsg, srv.lastSize = m, int64(len(data))
	}
	return srv.lastSize
}

// join has viewer n join the swarm, as its join message does.
func (s *Sim) join(n *node) {
	j := &wire.Join{V: wire.ProtocolVersion, Rendition: s.cfg.Rendition,
		Upload: wire.Upload{Enabled: n.uploadX > 0, CapBps: s.uploadCap(n)}}
	if refused := s.srv.core.Join(s.at(s.now), n.id, j, signal.From{Network: viewerNetwork(n)}); refused != "" {
		s.fail(fmt.Errorf("viewer %d could not join: %s", n.idx, refused))
		return
	}
	n.joined = true
	s.carryOut()
}

// leave ends viewer n's session, as its WebSocket closing does.
func (s *Sim) leave(n *node) {
	if !n.joined {
		return
	}
	n.joined = false
	s.srv.core.Leave(s.at(s.now), n.id)
	s.carryOut()
}

// stats takes a viewer's periodic report.
func (s *Sim) stats(n *node, m *wire.Stats) {
	if !n.joined {
		return
	}
	s.rep.signalIn += s.encodedSize(m)
	if reason := s.srv.core.Stats(s.at(s.now), n.id, m); reason != "" {
		s.fail(fmt.Errorf("viewer %d's stats: %s", n.idx, reason))
		return
	}
	s.carryOut()
}

// report takes a viewer's complaint about a neighbour.
func (s *Sim) report(n *node, m *wire.Report) {
	if !n.joined {
		return
	}
	s.rep.signalIn += s.encodedSize(m)
	s.srv.core.Report(s.at(s.now), n.id, m)
	s.carryOut()
}

// banned: the server ended a convicted viewer's session; it goes on
// watching over HTTP.
func (s *Sim) banned(n *node) {
	if n.banned {
		return
	}
	n.banned, n.joined = true, false
	if n.hostile {
		s.rep.HostileBanned++
	} else {
		s.rep.HonestBanned++
	}
	n.m.Close(s.at(s.now))
	s.drive(n)
}

// tick is the hub's periodic work, with the viewers the seeder has an
// open channel with.
func (s *Sim) tick() {
	var open []wire.PeerID
	for _, r := range s.seeder.m.Received() {
		open = append(open, r.Peer)
	}
	s.srv.core.Tick(s.at(s.now), open)
	s.carryOut()
}

// announce tells every viewer the part's size and hashes the moment it is
// cut.
func (s *Sim) announce(a *wire.PartAnnounce) {
	s.srv.core.Announce(s.at(s.now), a)
	s.carryOut()
}
