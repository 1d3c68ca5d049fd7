package origin

import (
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/iceservers"
)

// seederParts is how many recent parts a seeder keeps to answer requests:
// about a playlist window's worth of parts.
const seederParts = 48

// seeders are the plugin's own peers in a stream's swarm, one per
// rendition: each pushes every new part of its rendition to a few viewers
// the tracker ranks best, who pass it on.
type seeders struct {
	hub     *signal.Hub
	api     *webrtc.API
	ice     *iceservers.List
	traffic *traffic
	log     *slog.Logger

	mu      sync.Mutex
	peers   map[string]*peer.Peer // by rendition
	counted map[string]int64      // bytes sent already counted in traffic
	closed  bool
}

func newSeeders(hub *signal.Hub, api *webrtc.API, ice *iceservers.List, tr *traffic, log *slog.Logger) *seeders {
	return &seeders{hub: hub, api: api, ice: ice, traffic: tr, log: log,
		peers: make(map[string]*peer.Peer), counted: make(map[string]int64)}
}

// push hands a freshly cut part to its rendition's seeder and counts what
// the seeders have sent since the last part.
func (s *seeders) push(a *wire.PartAnnounce, data []byte) {
	sp := s.get(a.ID.Rendition)
	if sp == nil {
		return
	}
	seed(sp, a, data)
	sent := sp.Stats().BytesSent
	s.mu.Lock()
	delta := sent - s.counted[a.ID.Rendition]
	s.counted[a.ID.Rendition] = sent
	s.mu.Unlock()
	if delta > 0 {
		s.traffic.seeded(a.ID.Rendition, delta)
	}
}

// seed hands a part to a seeder with the announcement its viewers get from
// the hub: a peer ends DATA frames at chunk boundaries only for parts it
// knows the chunks of, and without them the seeder's first hop would get
// the part as one frame and could pass nothing on before its last byte.
func seed(sp *peer.Peer, a *wire.PartAnnounce, data []byte) {
	sp.Expect(a)
	sp.Offer(a.ID, data)
}

// get returns the rendition's seeder, starting it on the rendition's first part.
func (s *seeders) get(rendition string) *peer.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if sp := s.peers[rendition]; sp != nil {
		return sp
	}
	id := wire.NewPeerID()
	hub := s.hub
	var ice []webrtc.ICEServer
	if s.ice != nil {
		ice = s.ice.ForOrigin(string(id), time.Now())
	}
	sp, err := peer.New(peer.Config{
		ID:         id,
		API:        s.api,
		ICEServers: ice,
		CanUpload:  true,
		Seed:       true,
		StoreParts: seederParts,
		Logger:     s.log.With("rendition", rendition, "component", "seeder"),
	}, peer.SignalerFunc(func(to wire.PeerID, r *wire.Relay) error { return hub.SeedRelay(id, to, r) }))
	if err != nil {
		s.log.Error("cannot start the rendition's seeder; its viewers use HTTP", "rendition", rendition, "error", err)
		return nil
	}
	s.peers[rendition] = sp
	// AddSeed may call back into the seeder: not under s.mu's callers' feet,
	// but the seeder's own lock is separate from s.mu.
	go hub.AddSeed(rendition, id, sp)
	return sp
}

func (s *seeders) close() {
	s.mu.Lock()
	s.closed = true
	peers := s.peers
	s.peers = nil
	s.mu.Unlock()
	for _, sp := range peers {
		_ = sp.Close()
	}
}
