package signal

import (
	"net/netip"

	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A network's second and later sessions are nobody's neighbour on their
// word alone. Until the server's own seeder, a viewer on another network or
// a proven viewer lists one among its open data channels (stats.from), it
// is on probation: it takes only free slots and nobody is given it; and a
// network may have only Config.MaxUnprovenPerNetwork sessions on probation
// in the mesh at once;
// the rest of its newcomers wait outside the mesh (they watch, and get
// announcements, but hold nobody's slot) until one of those proves itself,
// is taken out of the mesh or leaves. A flood of idle sessions from one
// network then holds a few slots for the length of a connection timeout,
// not every slot of the swarm. A network's first session is not on
// probation: the usual viewer, alone on its network, joins the mesh as
// before and the swarm forms at full speed (an idle one is dropped by its
// neighbours' connection timeout). Loopback without X-Forwarded-For names
// nobody and is not limited.

// limitedNetwork reports whether per-network limits apply to network.
func limitedNetwork(network netip.Prefix) bool {
	return network.IsValid() && !network.Addr().IsLoopback()
}

// onProbation: s is not its network's only session.
func (h *Hub) onProbation(s *session) bool {
	return limitedNetwork(s.network) && h.networks[s.network] > 1
}

// admitOrHoldLocked puts a joined session into the mesh, or holds it back
// while its network has enough sessions on probation.
func (h *Hub) admitOrHoldLocked(s *session) {
	if h.onProbation(s) && h.unproven[s.network] >= h.cfg.MaxUnprovenPerNetwork {
		h.held[s.network] = append(h.held[s.network], s)
		h.log.Debug("viewer waits outside the mesh: its network has sessions on probation", "peer", s.id, "network", s.network)
		return
	}
	h.admitLocked(s)
}

func (h *Hub) admitLocked(s *session) {
	s.admitted = true
	if h.onProbation(s) {
		h.unproven[s.network]++
	} else {
		s.proven = true
	}
	h.applyLocked(h.mesh.Join(string(s.id), s.params()))
}

// params are what the tracker is told of s.
func (s *session) params() tracker.PeerParams {
	return tracker.PeerParams{
		CanUpload:    s.canUpload,
		UploadCapBps: s.uploadCap,
		Rendition:    s.rendition,
		Unproven:     s.admitted && !s.proven,
	}
}

// endProbationLocked takes s off its network's probation count (it proved
// itself, was taken out of the mesh or left) and admits the next session
// its network holds back.
func (h *Hub) endProbationLocked(s *session) {
	if !s.admitted || s.proven || s.offProbation {
		return
	}
	s.offProbation = true
	if h.unproven[s.network]--; h.unproven[s.network] <= 0 {
		delete(h.unproven, s.network)
	}
	for q := h.held[s.network]; len(q) > 0; q = h.held[s.network] {
		next := q[0]
		if len(q) == 1 {
			delete(h.held, s.network)
		} else {
			h.held[s.network] = q[1:]
		}
		if h.sessions[next.id] == next {
			h.admitLocked(next)
			return
		}
	}
}

// provenLocked records that the server's seeder, a viewer on another
// network or a vouching session of its own has an open data channel with
// s: it is off probation, and may vouch for its own network in turn.
func (h *Hub) provenLocked(s *session) {
	s.vouching = true
	if s.proven {
		return
	}
	h.endProbationLocked(s)
	s.proven = true
	if s.admitted {
		h.applyLocked(h.mesh.Update(string(s.id), s.params()))
	}
}

// seederChannels asks the seeders, outside the hub's lock (a seeder may
// call into the hub holding its own), which viewers they have an open
// channel with.
func (h *Hub) seederChannels() []wire.PeerID {
	h.mu.Lock()
	peers := make([]LocalPeer, 0, len(h.seeds))
	for _, ls := range h.seeds {
		peers = append(peers, ls.peer)
	}
	h.mu.Unlock()
	var open []wire.PeerID
	for _, p := range peers {
		for _, r := range p.Received() {
			open = append(open, r.Peer)
		}
	}
	return open
}

// unholdLocked forgets a held session that left.
func (h *Hub) unholdLocked(s *session) {
	q := h.held[s.network]
	for i, x := range q {
		if x == s {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(h.held, s.network)
	} else {
		h.held[s.network] = q
	}
}
