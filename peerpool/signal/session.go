package signal

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// outQueue bounds the messages waiting for a slow viewer.
const outQueue = 256

// session is one viewer's WebSocket.
type session struct {
	hub    *Hub
	conn   *websocket.Conn
	remote string
	// reachedAs is the Host the viewer reached the hub by.
	reachedAs string
	network   netip.Prefix // what a ban of this viewer covers (addrban.go)
	limiter   *rate.Limiter
	out       chan []byte
	done      chan struct{}
	once      sync.Once

	// Guarded by hub.mu.
	id          wire.PeerID
	rendition   string
	canUpload   bool
	uploadCap   int64
	neighbours  map[wire.PeerID]bool
	lastStats   wire.Stats
	conns       connCounts // its open connections by type, from its last stats (paths.go)
	joinedAt    time.Time
	counted     bool   // in hub.networks
	announced   int64  // hub.announced at the last stats
	accusedOf   string // the last reason a neighbour reported it for that may ban
	unreachable bool   // shunned: neighbours got nothing from it, or it reached none
	// Probation (probation.go): admitted to the mesh, proven by a viewer
	// on another network, or taken off its network's probation count.
	admitted, proven, offProbation bool
	// vouching: proven from outside its network (or by one so proven), so
	// its word counts for its own network's sessions.
	vouching bool
}

func newSession(h *Hub, c *websocket.Conn, remote string, network netip.Prefix) *session {
	return &session{
		hub:        h,
		conn:       c,
		remote:     remote,
		network:    network,
		limiter:    rate.NewLimiter(rate.Limit(h.cfg.MessagesPerSecond), h.cfg.Burst),
		out:        make(chan []byte, outQueue),
		done:       make(chan struct{}),
		neighbours: make(map[wire.PeerID]bool),
	}
}

func (s *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.writeLoop(ctx)
	defer s.leave()

	joinCtx, joinCancel := context.WithTimeout(ctx, s.hub.cfg.JoinTimeout)
	msg, err := s.read(joinCtx)
	joinCancel()
	if err != nil {
		s.fail(fmt.Sprintf("no join: %v", err))
		return
	}
	join, ok := msg.(*wire.Join)
	if !ok {
		s.fail(fmt.Sprintf("the first message must be join, not %s", msg.SignalType()))
		return
	}
	if !s.join(join) {
		return
	}
	for {
		msg, err := s.read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				s.fail("") // the viewer left
			} else {
				s.fail(err.Error())
			}
			return
		}
		if reason := s.handle(msg); reason != "" {
			s.fail(reason)
			return
		}
	}
}

// read returns the next valid client message; errors describe what was wrong.
func (s *session) read(ctx context.Context) (wire.Signal, error) {
	typ, data, err := s.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("binary message on the signaling socket")
	}
	if !s.limiter.Allow() {
		return nil, fmt.Errorf("more than %.0f messages per second", s.hub.cfg.MessagesPerSecond)
	}
	return wire.DecodeFromClient(data)
}

func (s *session) join(j *wire.Join) bool {
	h := s.hub
	h.mu.Lock()
	after := func() {}
	defer func() { after() }()
	defer h.mu.Unlock()
	if h.closed {
		go s.fail("the stream ended")
		return false
	}
	if len(h.sessions) >= h.cfg.MaxViewers {
		go s.fail(fmt.Sprintf("the swarm is full (%d viewers)", h.cfg.MaxViewers))
		return false
	}
	// Loopback is a reverse proxy on this host that does not say whom it
	// forwards: its viewers are not one network.
	if limitedNetwork(s.network) {
		if n := h.networks[s.network]; n >= h.cfg.MaxSessionsPerNetwork {
			go s.fail(fmt.Sprintf("too many swarm sessions from your network %s (%d, the limit; config key swarmMaxSessionsPerNetwork)", s.network, n))
			return false
		}
		if !h.joinLimiterLocked(s.network).Allow() {
			go s.fail(fmt.Sprintf("too many joins from your network %s (more than %g per second; config key swarmJoinsPerSecondPerNetwork)", s.network, h.cfg.JoinsPerSecondPerNetwork))
			return false
		}
		h.networks[s.network]++
		s.counted = true
	}
	s.id = wire.NewPeerID()
	s.rendition = j.Rendition
	s.canUpload = j.Upload.Enabled && !j.SaveData
	s.uploadCap = j.Upload.CapBps
	if s.canUpload && h.bans.banned(s.network, time.Now()) {
		s.canUpload = false
		h.log.Info("viewer may only receive: its network was banned", "peer", s.id, "remote", s.remote, "network", s.network)
	}
	h.sessions[s.id] = s
	h.ledger.Join(trust.ID(s.id), s.network)
	s.joinedAt = time.Now()
	s.announced = h.announced
	policy := "all"
	if h.cfg.RelayOnly || j.TurnOnly {
		policy = "relay"
	}
	ice := []wire.ICEServer{}
	if h.cfg.ICEServers != nil {
		ice = h.cfg.ICEServers(s.reachedAs, s.id)
	}
	s.sendSignal(&wire.Welcome{
		V:                  wire.ProtocolVersion,
		ID:                 s.id,
		ICE:                ice,
		ICETransportPolicy: policy,
		PartTargetMs:       int(h.cfg.PartTarget / time.Millisecond),
		MaxFrame:           h.cfg.MaxFrame,
	})
	h.admitOrHoldLocked(s)
	s.sendRecentLocked()
	h.viewersChangedLocked()
	if h.seedsShortLocked() {
		after = h.refreshSeedsLocked(time.Now())
	}
	h.log.Debug("viewer joined", "peer", s.id, "remote", s.remote, "rendition", j.Rendition)
	return true
}

// handle acts on one message; a non-empty result closes the session with that reason.
func (s *session) handle(msg wire.Signal) string {
	h := s.hub
	h.mu.Lock()
	after := func() {}
	defer func() { after() }() // calls into seeders, which may call back into the hub
	defer h.mu.Unlock()
	switch m := msg.(type) {
	case *wire.Join:
		return "join sent twice"
	case *wire.Relay:
		// Offers, answers and candidates go only to current neighbours; a
		// message for a peer that just stopped being one is dropped.
		if !s.neighbours[m.To] {
			return ""
		}
		if ls := h.seedIDs[m.To]; ls != nil {
			r := &wire.Relay{From: s.id, SDP: m.SDP, Candidate: m.Candidate}
			after = func() { ls.peer.HandleRelay(r) }
			return ""
		}
		if to := h.sessions[m.To]; to != nil {
			to.sendSignal(&wire.Relay{From: s.id, SDP: m.SDP, Candidate: m.Candidate})
		}
	case *wire.Rendition:
		if m.Rendition != s.rendition {
			s.rendition = m.Rendition
			// Neighbours are kept; Rebalance gathers it with its new rendition.
			h.applyLocked(h.mesh.Update(string(s.id), s.params()))
			s.sendRecentLocked()
			after = h.refreshSeedsLocked(time.Now())
		}
	case *wire.Stats:
		if reason := s.statsLocked(m); reason != "" {
			return reason
		}
		if m.Unreachable {
			after = s.unreachableLocked()
		}
	case *wire.Report:
		after = s.reportLocked(m)
	default:
		return fmt.Sprintf("unexpected %s message", msg.SignalType())
	}
	return ""
}

func (s *session) statsLocked(m *wire.Stats) string {
	h := s.hub
	last := s.lastStats
	if m.HTTPBytes < last.HTTPBytes || m.P2PBytes < last.P2PBytes || m.UploadBytes < last.UploadBytes || m.Stalls < last.Stalls {
		return "stats counters went backwards"
	}
	s.lastStats = *m
	s.conns = countConns(m.Paths, len(s.neighbours))
	// A viewer's own uploadBytes steer nothing: uploads are credited from
	// what receivers confirm, and no receiver can confirm more than the
	// media announced since its last report plus the window it could
	// still be catching up on.
	limit := h.announced - s.announced
	for _, a := range h.recent[s.rendition] {
		limit += int64(a.Size)
	}
	s.announced = h.announced
	// Only the tracker's pairs count: a viewer cannot confirm bytes from
	// a peer it was never given.
	rx := make([]trust.Received, 0, len(m.From))
	for _, r := range m.From {
		if !s.neighbours[r.Peer] {
			continue
		}
		rx = append(rx, trust.Received{Peer: trust.ID(r.Peer), Bytes: r.Bytes})
		// Sessions of one network cannot vouch for each other until one of
		// them has been proven from outside it.
		if n := h.sessions[r.Peer]; n != nil && (s.vouching || n.network != s.network || !limitedNetwork(n.network)) {
			h.provenLocked(n)
		}
	}
	for id, n := range h.ledger.Confirm(trust.ID(s.id), rx, limit, time.Now()) {
		h.credit[wire.PeerID(id)] += n
	}
	if ls := h.seeds[s.rendition]; ls != nil {
		ls.count.AddHTTP(m.HTTPBytes - last.HTTPBytes)
	}
	if h.cfg.OnStats != nil {
		h.cfg.OnStats(m.HTTPBytes-last.HTTPBytes, m.P2PBytes-last.P2PBytes, m.Stalls-last.Stalls)
	}
	return ""
}

// reportLocked weighs a viewer's complaint about a neighbour (trust.Ledger):
// the link between the two is cut for good whatever the verdict; the
// accused is banned only when reporters in good standing on enough
// networks agree. It returns the seeder calls to make after unlocking.
func (s *session) reportLocked(m *wire.Report) func() {
	h := s.hub
	noop := func() {}
	if h.seedIDs[m.Peer] != nil {
		// The server's own peer sends only what the server cut.
		if m.Reason == wire.ReasonHashMismatch && !h.ledger.Discredited(trust.ID(s.id)) {
			h.ledger.ReportedServer(trust.ID(s.id))
			h.applyLocked(h.mesh.Shun(string(s.id)))
			h.log.Info("viewer's reports no longer count: it accused the server's peer of bad bytes", "peer", s.id, "remote", s.remote)
		}
		return noop
	}
	bad := h.sessions[m.Peer]
	if bad == nil {
		return noop
	}
	if !s.neighbours[m.Peer] {
		// Only neighbours exchange data, so only they are heard; the link
		// may have gone meanwhile, and the two are still never paired again.
		h.applyLocked(h.mesh.Separate(string(s.id), string(bad.id)))
		return noop
	}
	banning := m.Reason != wire.ReasonTimeout
	if banning {
		bad.accusedOf = m.Reason
	}
	v := h.ledger.Report(trust.ID(s.id), trust.ID(bad.id), banning, time.Now())
	h.applyLocked(h.mesh.Separate(string(s.id), string(bad.id)))
	h.log.Info("viewer reported", "peer", m.Peer, "by", s.id, "reason", m.Reason,
		"counted", v.Counted, "networks", v.Quorum, "vouching", v.Defence)
	if v.Discredited {
		h.applyLocked(h.mesh.Shun(string(s.id)))
		h.endProbationLocked(s)
		h.log.Info("viewer's reports no longer count: it reported most of its neighbours", "peer", s.id, "remote", s.remote)
	}
	// Only a viewer that offers to upload can be one that gives nothing:
	// nobody asks a viewer that opted out, so no delivery would ever vouch
	// for it against two networks' word.
	if !banning && bad.canUpload && !bad.unreachable && h.ledger.Unreachable(trust.ID(bad.id), time.Now()) {
		bad.unreachable = true
		h.applyLocked(h.mesh.Shun(string(bad.id)))
		h.endProbationLocked(bad)
		h.log.Info("viewer gets no new neighbours: neighbours on several networks got nothing from it", "peer", bad.id, "remote", bad.remote)
	}
	if !v.Ban {
		if h.seedsShortLocked() {
			return h.refreshSeedsLocked(time.Now())
		}
		return noop
	}
	h.banLocked(bad, v.Quorum)
	return h.refreshSeedsLocked(time.Now())
}

// banLocked closes a convicted session and marks its network.
func (h *Hub) banLocked(bad *session, networks int) {
	h.removeLocked(bad)
	h.applyLocked(h.mesh.Ban(string(bad.id), bad.accusedOf))
	h.bans.ban(bad.network, time.Now(), h.cfg.AddressBanFor)
	h.viewersChangedLocked()
	if h.cfg.OnBan != nil {
		h.cfg.OnBan(bad.accusedOf)
	}
	go bad.fail(fmt.Sprintf("banned: reporters on %d networks found %s", networks, bad.accusedOf))
}

func (s *session) sendRecentLocked() {
	for _, a := range s.hub.recent[s.rendition] {
		s.sendSignal(a)
	}
}

func (s *session) sendSignal(m wire.Signal) {
	data, err := wire.EncodeSignal(m)
	if err != nil {
		s.hub.log.Error("cannot encode signal", "type", m.SignalType(), "error", err)
		return
	}
	s.send(data)
}

// send queues a message without blocking; a viewer that does not keep up is dropped.
func (s *session) send(data []byte) {
	select {
	case s.out <- data:
	case <-s.done:
	default:
		go s.fail("too slow reading its messages")
	}
}

func (s *session) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case data := <-s.out:
			wctx, cancel := writeCtx()
			err := s.conn.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				s.fail("")
				return
			}
			s.hub.countSent(len(data))
		}
	}
}

// fail closes the session; a non-empty reason is logged and sent to the
// viewer first. It never takes the hub's lock.
func (s *session) fail(reason string) {
	s.once.Do(func() {
		close(s.done)
		if reason == "" {
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			return
		}
		s.hub.log.Info("closing viewer session", "peer", s.id, "remote", s.remote, "reason", reason)
		if msg, err := wire.EncodeSignal(&wire.ServerError{Reason: truncate(reason, 256)}); err == nil {
			ctx, cancel := writeCtx()
			if s.conn.Write(ctx, websocket.MessageText, msg) == nil {
				s.hub.countSent(len(msg))
			}
			cancel()
		}
		_ = s.conn.Close(websocket.StatusPolicyViolation, truncate(reason, 120))
	})
}

// leave takes the session out of the swarm.
func (s *session) leave() {
	h := s.hub
	h.mu.Lock()
	if s.id == "" || h.sessions[s.id] != s {
		h.mu.Unlock()
		return
	}
	wasTarget := h.removeLocked(s)
	h.applyLocked(h.mesh.Leave(string(s.id)))
	h.viewersChangedLocked()
	after := func() {}
	if wasTarget {
		after = h.refreshSeedsLocked(time.Now())
	}
	h.mu.Unlock()
	after()
}

// removeLocked takes a joined session out of the hub's books; it reports
// whether the session was a seed target.
func (h *Hub) removeLocked(s *session) (wasTarget bool) {
	delete(h.sessions, s.id)
	if s.admitted {
		h.endProbationLocked(s)
	} else {
		h.unholdLocked(s)
	}
	delete(h.credit, s.id)
	h.ledger.Leave(trust.ID(s.id))
	if s.counted {
		s.counted = false
		if h.networks[s.network]--; h.networks[s.network] <= 0 {
			delete(h.networks, s.network)
		}
	}
	for _, ls := range h.seeds {
		wasTarget = wasTarget || ls.targets[s.id]
	}
	return wasTarget
}

// maxJoinLimiters bounds the per-network join limiters remembered.
const maxJoinLimiters = 4096

func (h *Hub) joinLimiterLocked(network netip.Prefix) *rate.Limiter {
	l := h.joinRate[network]
	if l == nil {
		if len(h.joinRate) >= maxJoinLimiters {
			clear(h.joinRate) // forgetting only lets a network join a little faster once
		}
		l = rate.NewLimiter(rate.Limit(h.cfg.JoinsPerSecondPerNetwork), h.cfg.JoinBurstPerNetwork)
		h.joinRate[network] = l
	}
	return l
}

func truncate(s string, n int) string { return wire.Truncate(s, n) }
