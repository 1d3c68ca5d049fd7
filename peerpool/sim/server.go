package sim

import (
	"net/netip"
	"slices"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/seeding"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// The server's side runs the production tracker, trust ledger and seed
// count, called in the order the signaling hub calls them (peerpool/signal:
// join, stats, report, tick); only the WebSocket around them is replaced
// by events that carry the encoded messages' sizes.

// session is the server's book on one joined viewer.
type session struct {
	joinedAt    time.Duration
	neighbours  map[int32]bool
	canUpload   bool
	announced   int64 // media bytes announced at its last stats
	lastHTTP    int64
	unreachable bool
	accusedOf   string // the last reason a neighbour reported it for that may ban
}

// measureAfter is how long a newcomer has before its confirmed upload is
// measured, as in the hub.
const measureAfter = 10 * time.Second

// recentParts is how many announcements a newcomer is sent, as in the hub.
const recentParts = 48

type server struct {
	swarm      *tracker.Swarm
	ledger     *trust.Ledger
	count      seeding.Count
	targets    map[int32]bool // the seeder's targets
	viewers    int
	uploaders  int
	recent     []*wire.PartAnnounce
	recentSize []int // their encoded sizes
	announced  int64
	credit     map[int32]int64
	lastTick   time.Duration
}

// network is the viewer's own network: every viewer is a household of its
// own.
func viewerNetwork(n *node) netip.Prefix {
	a := netip.AddrFrom4([4]byte{10, byte(n.idx >> 16), byte(n.idx >> 8), byte(n.idx)})
	return netip.PrefixFrom(a, 32)
}

// sendSignal counts a message from the server to n and delivers it after
// n's latency to the server.
func (s *Sim) sendSignal(n *node, m wire.Signal) {
	data, err := wire.EncodeSignal(m)
	if err != nil {
		s.fail(err)
		return
	}
	s.rep.signalOut += int64(len(data))
	if n.seeder {
		return
	}
	s.queue.push(event{at: s.now + s.net.toServer(n), kind: evSignal, node: n.idx, msg: m})
}

// join admits a viewer into the swarm, as the hub does on its join message.
func (s *Sim) join(n *node) {
	srv := &s.srv
	n.sess = &session{joinedAt: s.now, neighbours: make(map[int32]bool), canUpload: n.uploadX > 0, announced: srv.announced}
	srv.viewers++
	if n.sess.canUpload {
		srv.uploaders++
	}
	srv.ledger.Join(trust.ID(n.id), viewerNetwork(n))
	s.sendSignal(n, &wire.Welcome{V: wire.ProtocolVersion, ID: n.id, ICE: []wire.ICEServer{}, ICETransportPolicy: "all",
		PartTargetMs: int(s.cfg.PartDuration / time.Millisecond), MaxFrame: wire.MaxFrameSize})
	s.apply(srv.swarm.Join(string(n.id), s.params(n)))
	for i, a := range srv.recent {
		s.rep.signalOut += int64(srv.recentSize[i])
		s.queue.push(event{at: s.now + s.net.toServer(n), kind: evSignal, node: n.idx, msg: a})
	}
	if s.seedsShort() {
		s.refreshSeeds()
	}
}

func (s *Sim) params(n *node) tracker.PeerParams {
	return tracker.PeerParams{CanUpload: n.sess.canUpload, UploadCapBps: s.uploadCap(n), Rendition: s.cfg.Rendition}
}

// leave takes a viewer's session out, as the hub does when its WebSocket
// closes or it is banned.
func (s *Sim) leave(n *node, ban string) {
	srv := &s.srv
	if n.sess == nil {
		return
	}
	wasTarget := srv.targets[n.idx]
	srv.viewers--
	if n.sess.canUpload {
		srv.uploaders--
	}
	n.sess = nil
	delete(srv.credit, n.idx)
	srv.ledger.Leave(trust.ID(n.id))
	if ban != "" {
		s.apply(srv.swarm.Ban(string(n.id), ban))
	} else {
		s.apply(srv.swarm.Leave(string(n.id)))
	}
	if wasTarget || ban != "" {
		s.refreshSeeds()
	}
}

// apply sends the tracker's neighbour changes to the viewers concerned.
func (s *Sim) apply(changes []tracker.Change) {
	for _, ch := range changes {
		n := s.byID[wire.PeerID(ch.Peer)]
		if n == nil || n.sess == nil {
			continue
		}
		msg := &wire.Peers{}
		for _, id := range ch.Add {
			o := s.byID[wire.PeerID(id)]
			msg.Add = append(msg.Add, wire.PeerInfo{ID: wire.PeerID(id), NoUpload: o != nil && o.sess != nil && !o.sess.canUpload})
			if o != nil {
				n.sess.neighbours[o.idx] = true
			}
			s.srv.ledger.Neighbours(trust.ID(ch.Peer), trust.ID(id))
		}
		for _, id := range ch.Remove {
			msg.Remove = append(msg.Remove, wire.PeerID(id))
			if o := s.byID[wire.PeerID(id)]; o != nil {
				delete(n.sess.neighbours, o.idx)
			}
		}
		s.sendSignal(n, msg)
	}
}

// announce tells every viewer the part's size and hashes the moment it is
// cut, and keeps it for newcomers.
func (s *Sim) announce(a *wire.PartAnnounce) {
	srv := &s.srv
	data, err := wire.EncodeSignal(a)
	if err != nil {
		s.fail(err)
		return
	}
	srv.announced += int64(a.Size)
	srv.recent = append(srv.recent, a)
	srv.recentSize = append(srv.recentSize, len(data))
	if len(srv.recent) > recentParts {
		srv.recent = srv.recent[1:]
		srv.recentSize = srv.recentSize[1:]
	}
	srv.count.AddMedia(int64(a.Size))
	for _, i := range s.live {
		n := s.nodes[i]
		if n.sess == nil {
			continue
		}
		s.rep.signalOut += int64(len(data))
		s.queue.push(event{at: s.now + s.net.toServer(n), kind: evSignal, node: n.idx, msg: a})
	}
}

// stats takes a viewer's periodic report: the uploads its neighbours
// confirm are credited, its HTTP bytes steer the seed count.
func (s *Sim) stats(n *node, m *wire.Stats) {
	srv := &s.srv
	sess := n.sess
	if sess == nil {
		return
	}
	if data, err := wire.EncodeSignal(m); err == nil {
		s.rep.signalIn += int64(len(data))
	}
	limit := srv.announced - sess.announced
	for _, a := range srv.recent {
		limit += int64(a.Size)
	}
	sess.announced = srv.announced
	rx := make([]trust.Received, 0, len(m.From))
	for _, r := range m.From {
		if o := s.byID[r.Peer]; o != nil && sess.neighbours[o.idx] {
			rx = append(rx, trust.Received{Peer: trust.ID(r.Peer), Bytes: r.Bytes})
		}
	}
	for id, b := range srv.ledger.Confirm(trust.ID(n.id), rx, limit, s.at(s.now)) {
		if o := s.byID[wire.PeerID(id)]; o != nil {
			srv.credit[o.idx] += b
		}
	}
	srv.count.AddHTTP(m.HTTPBytes - sess.lastHTTP)
	sess.lastHTTP = m.HTTPBytes
	if m.Unreachable && !sess.unreachable {
		sess.unreachable = true
		s.apply(srv.swarm.Shun(string(n.id)))
		if srv.targets[n.idx] {
			s.refreshSeeds()
		}
	}
}

// report weighs a viewer's complaint about a neighbour: the pair is
// separated whatever the verdict, the accused banned only on the ledger's
// word.
func (s *Sim) report(n *node, m *wire.Report) {
	srv := &s.srv
	if n.sess == nil {
		return
	}
	if data, err := wire.EncodeSignal(m); err == nil {
		s.rep.signalIn += int64(len(data))
	}
	now := s.at(s.now)
	if s.seeder != nil && m.Peer == s.seeder.id {
		if m.Reason == wire.ReasonHashMismatch && !srv.ledger.Discredited(trust.ID(n.id)) {
			srv.ledger.ReportedServer(trust.ID(n.id))
			s.apply(srv.swarm.Shun(string(n.id)))
		}
		return
	}
	bad := s.byID[m.Peer]
	if bad == nil || bad.sess == nil {
		return
	}
	if !n.sess.neighbours[bad.idx] {
		s.apply(srv.swarm.Separate(string(n.id), string(bad.id)))
		return
	}
	banning := m.Reason != wire.ReasonTimeout
	if banning {
		bad.sess.accusedOf = m.Reason
	}
	v := srv.ledger.Report(trust.ID(n.id), trust.ID(bad.id), banning, now)
	s.apply(srv.swarm.Separate(string(n.id), string(bad.id)))
	if v.Discredited {
		s.apply(srv.swarm.Shun(string(n.id)))
	}
	if !banning && bad.sess.canUpload && !bad.sess.unreachable && srv.ledger.Unreachable(trust.ID(bad.id), now) {
		bad.sess.unreachable = true
		s.apply(srv.swarm.Shun(string(bad.id)))
	}
	if v.Ban {
		s.ban(bad)
		return
	}
	if s.seedsShort() {
		s.refreshSeeds()
	}
}

// ban closes a convicted viewer's session; it goes on watching over HTTP.
func (s *Sim) ban(n *node) {
	if n.banned || n.sess == nil {
		return
	}
	reason := n.sess.accusedOf
	n.banned = true
	if n.hostile {
		s.rep.HostileBanned++
	} else {
		s.rep.HonestBanned++
	}
	s.leave(n, reason)
	n.m.Close(s.at(s.now))
	s.drive(n)
}

// tick is the hub's periodic work: credit confirmed uploads, convict on
// review, rebalance the mesh, re-pick the seeds.
func (s *Sim) tick() {
	srv := &s.srv
	window := s.now - srv.lastTick
	srv.lastTick = s.now
	for _, i := range s.live {
		n := s.nodes[i]
		if n.sess == nil || s.now-n.sess.joinedAt < measureAfter || window <= 0 {
			continue
		}
		srv.swarm.ReportStats(string(n.id), tracker.Stats{BytesSent: srv.credit[n.idx], Window: window})
	}
	clear(srv.credit)
	convicted := srv.ledger.Review(s.at(s.now))
	slices.SortFunc(convicted, func(a, b trust.Convicted) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for _, c := range convicted {
		if bad := s.byID[wire.PeerID(c.ID)]; bad != nil {
			s.ban(bad)
		}
	}
	s.apply(srv.swarm.Rebalance())
	s.refreshSeeds()
}

// seedsShort: fewer seed targets than the count while a viewer could be
// one.
func (s *Sim) seedsShort() bool {
	return s.seeder != nil && len(s.srv.targets) < s.srv.count.N() && s.srv.uploaders > len(s.srv.targets)
}

// refreshSeeds steps the seed count and installs the best-ranked
// uploaders as the seeder's targets, as the hub does.
func (s *Sim) refreshSeeds() {
	srv := &s.srv
	if s.seeder == nil {
		return
	}
	srv.count.Adapt(s.at(s.now), s.cfg.SeedsMin, s.cfg.SeedsMax, srv.viewers)
	if e, ok := srv.count.LastEnded(); ok {
		s.rep.seedWindows = append(s.rep.seedWindows, e.Copies)
	}
	ranked := srv.swarm.Ranked(srv.count.N(), func(id string) bool {
		n := s.byID[wire.PeerID(id)]
		return n != nil && n.sess != nil && n.sess.canUpload
	})
	want := make(map[int32]bool, len(ranked))
	for _, id := range ranked {
		want[s.byID[wire.PeerID(id)].idx] = true
	}
	var add []wire.PeerInfo
	var remove []wire.PeerID
	old := make([]int32, 0, len(srv.targets))
	for i := range srv.targets {
		old = append(old, i)
	}
	slices.Sort(old)
	for _, i := range old {
		if !want[i] {
			n := s.nodes[i]
			remove = append(remove, n.id)
			delete(srv.targets, i)
			if n.sess != nil {
				delete(n.sess.neighbours, s.seeder.idx)
				s.sendSignal(n, &wire.Peers{Remove: []wire.PeerID{s.seeder.id}})
			}
		}
	}
	for _, id := range ranked {
		n := s.byID[wire.PeerID(id)]
		if !srv.targets[n.idx] {
			srv.targets[n.idx] = true
			add = append(add, wire.PeerInfo{ID: n.id})
			n.sess.neighbours[s.seeder.idx] = true
			s.sendSignal(n, &wire.Peers{Add: []wire.PeerInfo{{ID: s.seeder.id, Seed: true}}})
		}
	}
	if len(add) > 0 || len(remove) > 0 {
		s.seeder.m.SetNeighbours(s.at(s.now), add, remove)
		s.drive(s.seeder)
	}
	s.apply(srv.swarm.SetSeeds(ranked))
}
