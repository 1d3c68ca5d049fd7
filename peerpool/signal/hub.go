// Package signal is the tracker's front door: the WebSocket at
// /{path}/swarm through which a stream's viewers join its swarm, get their
// neighbours, relay WebRTC offers, answers and candidates to them, learn
// every part's hash the moment it is cut, and report statistics and bad
// peers. One Hub serves one stream. Every message is untrusted: a malformed,
// oversized or too frequent one closes that viewer's session, with the
// reason logged and sent to it, and nothing else.
package signal

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/swarmtx/swarmtx/peerpool/netid"
	"github.com/swarmtx/swarmtx/peerpool/seeding"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Mesh decides who connects to whom: *tracker.Swarm. Calls are serialised
// by the Hub.
type Mesh interface {
	Join(id string, p tracker.PeerParams) []tracker.Change
	Leave(id string) []tracker.Change
	Ban(id, reason string) []tracker.Change
	// Update changes a peer's parameters (its rendition, on a switch).
	Update(id string, p tracker.PeerParams) []tracker.Change
	// Separate cuts a link for good: one end reported the other.
	Separate(a, b string) []tracker.Change
	// Shun gives a peer no new links: its word is no longer believed.
	Shun(id string) []tracker.Change
	// Ranked lists up to n uploaders ok accepts, best seed candidates first.
	Ranked(n int, ok func(id string) bool) []string
	// SetSeeds installs the seed targets (depth 1 of the mesh).
	SetSeeds(ids []string) []tracker.Change
	// ReportStats feeds a peer's confirmed upload.
	ReportStats(id string, st tracker.Stats)
	// Rebalance moves high-upload peers upstream, replaces slow links and
	// gathers viewers of a rendition.
	Rebalance() []tracker.Change
}

// LocalPeer is a peer inside the plugin: the seeder of one rendition. The
// hub relays its signaling directly, without a WebSocket.
type LocalPeer interface {
	SetNeighbours(add []wire.PeerInfo, remove []wire.PeerID)
	HandleRelay(r *wire.Relay)
	// Received lists the viewers it has an open data channel with: the
	// server's own proof that a session is reachable (probation.go).
	Received() []wire.Received
}

// localSeed is the plugin's seeding peer for one rendition and the viewers
// it pushes to.
type localSeed struct {
	id      wire.PeerID
	peer    LocalPeer
	targets map[wire.PeerID]bool
	count   seeding.Count
}

var _ Mesh = (*tracker.Swarm)(nil)

// Config sets up a Hub.
type Config struct {
	// ICEServers returns the STUN/TURN servers a viewer is given at join,
	// with credentials of its own; reachedAs is the host it reached the
	// hub by (the request's Host, its own to choose). Nil: none, so no
	// third-party host is contacted unless the operator configures one.
	ICEServers func(reachedAs string, viewer wire.PeerID) []wire.ICEServer
	// RelayOnly forces relay (TURN) candidates for every viewer; viewers
	// can also ask for it themselves (join.turnOnly).
	RelayOnly  bool
	PartTarget time.Duration
	MaxFrame   int // data-channel frame limit given to viewers (default wire.MaxFrameSize)
	// MaxViewers bounds the sessions of the stream (default 10000).
	MaxViewers int
	// MessagesPerSecond and Burst bound what one viewer may send (default 20, 60).
	MessagesPerSecond float64
	Burst             int
	// JoinTimeout is how long a new connection may take to send join (default 10 s).
	JoinTimeout time.Duration
	// MaxSessionsPerNetwork bounds the swarm sessions of one network (an
	// IPv4 address or an IPv6 /64, netid): enough for a household or an
	// office behind one NAT, not for one host to crowd out everyone else
	// (default 64).
	MaxSessionsPerNetwork int
	// JoinsPerSecondPerNetwork and JoinBurstPerNetwork bound how fast one
	// network may join (default 2 and 16).
	JoinsPerSecondPerNetwork float64
	JoinBurstPerNetwork      int
	// MaxUnprovenPerNetwork is how many sessions of one network may be in
	// the mesh before a viewer on another network has confirmed an open
	// data channel with them (probation.go; default 2).
	MaxUnprovenPerNetwork int
	// Trust weighs reports and confirmations (peerpool/trust).
	Trust trust.Config
	// TickEvery is how often the hub credits confirmed uploads, rebalances
	// the mesh and re-picks seed targets (default 2 s). None of it runs on
	// the media path.
	TickEvery time.Duration
	// SeedWindow is how long the seed count is measured before each step
	// (default 8 s: time for a new seed target's connection to come up and
	// carry a few segments).
	SeedWindow time.Duration
	// OnWindow is told, per rendition at the end of each seed window, the
	// rendition's swarm viewers, for measuring the window's server copies
	// against them; optional.
	OnWindow func(rendition string, viewers int)
	// OnStats receives each viewer's report deltas (bytes over HTTP and from
	// peers, new stalls); optional.
	OnStats func(httpBytes, p2pBytes int64, stalls int)
	// OnViewers is told the number of joined viewers after each change; optional.
	OnViewers func(n int)
	// OnConnections is told, at every tick, the peer connections the
	// viewers' last stats report and the viewers without P2P; optional.
	OnConnections func(Connections)
	// OnSent is told the bytes of each message written to a viewer,
	// WebSocket frame header included; optional.
	OnSent func(n int)
	// OnBan is told each ban and its reason; optional.
	OnBan func(reason string)
	// AddressBanFor is how long viewers joining from a banned viewer's
	// network may only receive (addrban.go); default 10 minutes, negative
	// turns address bans off.
	AddressBanFor time.Duration
	// SeedsPerRendition is the fewest viewers of a rendition the plugin's
	// seeder pushes each new part to (default 1, one copy); they pass it
	// on, and the count adds seeds while they pay for themselves.
	SeedsPerRendition int
	// MaxSeedsPerRendition bounds the adaptive seed count (default 8):
	// the hub adds seed targets while the server sends more than a copy
	// per window over HTTP (peerpool/seeding).
	MaxSeedsPerRendition int
	Logger               *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxFrame <= 0 {
		c.MaxFrame = wire.MaxFrameSize
	}
	if c.MaxViewers <= 0 {
		c.MaxViewers = 10000
	}
	if c.MessagesPerSecond <= 0 {
		c.MessagesPerSecond = 20
	}
	if c.Burst <= 0 {
		c.Burst = 60
	}
	if c.AddressBanFor == 0 {
		c.AddressBanFor = 10 * time.Minute
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.MaxSessionsPerNetwork <= 0 {
		c.MaxSessionsPerNetwork = 64
	}
	if c.JoinsPerSecondPerNetwork <= 0 {
		c.JoinsPerSecondPerNetwork = 2
	}
	if c.JoinBurstPerNetwork <= 0 {
		c.JoinBurstPerNetwork = 16
	}
	if c.MaxUnprovenPerNetwork <= 0 {
		c.MaxUnprovenPerNetwork = 2
	}
	if c.TickEvery <= 0 {
		c.TickEvery = 2 * time.Second
	}
	if c.SeedsPerRendition <= 0 {
		c.SeedsPerRendition = 1
	}
	if c.MaxSeedsPerRendition <= 0 {
		c.MaxSeedsPerRendition = 8
	}
	c.MaxSeedsPerRendition = max(c.MaxSeedsPerRendition, c.SeedsPerRendition)
	if c.PartTarget <= 0 {
		c.PartTarget = 500 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// recentParts is how many announcements per rendition a newcomer is sent:
// the parts of a typical playlist window.
const recentParts = 48

// Hub is one stream's signaling and tracking endpoint.
type Hub struct {
	path string
	cfg  Config
	log  *slog.Logger
	stop context.CancelFunc

	mu        sync.Mutex
	mesh      Mesh
	ledger    *trust.Ledger
	sessions  map[wire.PeerID]*session
	recent    map[string][]*wire.PartAnnounce // by rendition, oldest first
	seeds     map[string]*localSeed           // by rendition
	seedIDs   map[wire.PeerID]*localSeed
	bans      addressBans
	networks  map[netip.Prefix]int           // joined sessions per network
	joinRate  map[netip.Prefix]*rate.Limiter // joins per network
	credit    map[wire.PeerID]int64          // confirmed upload since the last tick
	unproven  map[netip.Prefix]int           // sessions on probation in the mesh, per network
	held      map[netip.Prefix][]*session    // sessions waiting outside the mesh, per network
	lastTick  time.Time
	announced int64 // media bytes announced, all renditions
	closed    bool
}

// NewHub returns the hub of the stream at path. Its ticker runs until Close.
func NewHub(path string, cfg Config, mesh Mesh) *Hub {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		path:     path,
		cfg:      cfg,
		log:      cfg.Logger.With("path", path, "component", "signal"),
		stop:     cancel,
		mesh:     mesh,
		ledger:   trust.New(cfg.Trust),
		sessions: make(map[wire.PeerID]*session),
		recent:   make(map[string][]*wire.PartAnnounce),
		seeds:    make(map[string]*localSeed),
		seedIDs:  make(map[wire.PeerID]*localSeed),
		bans:     make(addressBans),
		networks: make(map[netip.Prefix]int),
		joinRate: make(map[netip.Prefix]*rate.Limiter),
		credit:   make(map[wire.PeerID]int64),
		unproven: make(map[netip.Prefix]int),
		held:     make(map[netip.Prefix][]*session),
		lastTick: time.Now(),
	}
	go h.run(ctx)
	return h
}

// run is the hub's ticker: placement and seed choice follow what viewers
// confirmed, at a steady pace and never from the media path.
func (h *Hub) run(ctx context.Context) {
	t := time.NewTicker(h.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			open := h.seederChannels()
			h.mu.Lock()
			for _, id := range open {
				if s := h.sessions[id]; s != nil {
					h.provenLocked(s)
				}
			}
			after := h.tickLocked(now)
			h.mu.Unlock()
			after()
		}
	}
}

// measureAfter is how long a newcomer has before its confirmed upload is
// measured: time to be given neighbours and asked for parts.
const measureAfter = 10 * time.Second

// tickLocked credits each viewer with the upload its receivers confirmed
// since the last tick, rebalances the mesh and re-picks seed targets. It
// returns the seeder calls to make after unlocking.
func (h *Hub) tickLocked(now time.Time) func() {
	window := now.Sub(h.lastTick)
	h.lastTick = now
	for id, s := range h.sessions {
		if now.Sub(s.joinedAt) < measureAfter || window <= 0 {
			continue
		}
		h.mesh.ReportStats(string(id), tracker.Stats{BytesSent: h.credit[id], Window: window})
	}
	clear(h.credit)
	for _, c := range h.ledger.Review(now) {
		if bad := h.sessions[wire.PeerID(c.ID)]; bad != nil {
			h.log.Info("viewer convicted on review", "peer", bad.id, "remote", bad.remote, "reason", bad.accusedOf,
				"networks", c.Quorum, "vouching", c.Defence)
			h.banLocked(bad, c.Quorum)
		}
	}
	h.applyLocked(h.mesh.Rebalance())
	if h.cfg.OnConnections != nil {
		h.cfg.OnConnections(h.connectionsLocked(now))
	}
	return h.refreshSeedsLocked(now)
}

// AddSeed registers the plugin's seeding peer for a rendition. Its
// signaling to viewers goes through SeedRelay.
func (h *Hub) AddSeed(rendition string, id wire.PeerID, p LocalPeer) {
	h.mu.Lock()
	ls := &localSeed{id: id, peer: p, targets: make(map[wire.PeerID]bool), count: seeding.Count{Window: h.cfg.SeedWindow}}
	h.seeds[rendition] = ls
	h.seedIDs[id] = ls
	after := h.refreshSeedsLocked(time.Now())
	h.mu.Unlock()
	after()
}

// SeedRelay delivers a seeder's offer, answer or candidate to a viewer it
// pushes to; it is the seeder's peer.Signaler.
func (h *Hub) SeedRelay(from, to wire.PeerID, r *wire.Relay) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := h.seedIDs[from]
	s := h.sessions[to]
	if ls == nil || s == nil || !ls.targets[to] {
		return fmt.Errorf("viewer %s is not a seed target of %s", to, from)
	}
	s.sendSignal(&wire.Relay{From: from, SDP: r.SDP, Candidate: r.Candidate})
	return nil
}

// refreshSeedsLocked picks each seeder's targets: the best-ranked uploading
// viewers of its rendition, as many as its seed count, and installs them as
// the mesh's seeds. It tells viewers under the lock and returns the seeder
// calls to make after unlocking (a seeder may call back into the hub).
func (h *Hub) refreshSeedsLocked(now time.Time) func() {
	if len(h.seeds) == 0 {
		return func() {}
	}
	var calls []func()
	var all []string
	for rendition, ls := range h.seeds {
		viewers := 0
		for _, s := range h.sessions {
			if s.rendition == rendition {
				viewers++
			}
		}
		changed := ls.count.Adapt(now, h.cfg.SeedsPerRendition, h.cfg.MaxSeedsPerRendition, viewers)
		if ended, ok := ls.count.LastEnded(); ok {
			if changed {
				h.log.Info("seed targets changed", "rendition", rendition, "seeds", ls.count.N(),
					"copies", fmt.Sprintf("%.2f", ended.Copies), "viewers", viewers)
			}
			if h.cfg.OnWindow != nil {
				h.cfg.OnWindow(rendition, ended.Viewers)
			}
		}
		ranked := h.mesh.Ranked(ls.count.N(), func(id string) bool {
			s := h.sessions[wire.PeerID(id)]
			return s != nil && s.rendition == rendition && s.canUpload
		})
		all = append(all, ranked...)
		want := make(map[wire.PeerID]bool, len(ranked))
		for _, id := range ranked {
			want[wire.PeerID(id)] = true
		}
		var add []wire.PeerInfo
		var remove []wire.PeerID
		for id := range ls.targets {
			if !want[id] {
				remove = append(remove, id)
				delete(ls.targets, id)
				if s := h.sessions[id]; s != nil {
					delete(s.neighbours, ls.id)
					s.sendSignal(&wire.Peers{Remove: []wire.PeerID{ls.id}})
				}
			}
		}
		for id := range want {
			if !ls.targets[id] {
				ls.targets[id] = true
				add = append(add, wire.PeerInfo{ID: id})
				s := h.sessions[id]
				s.neighbours[ls.id] = true
				s.sendSignal(&wire.Peers{Add: []wire.PeerInfo{{ID: ls.id, Seed: true}}})
			}
		}
		if len(add) > 0 || len(remove) > 0 {
			p := ls.peer
			calls = append(calls, func() { p.SetNeighbours(add, remove) })
		}
	}
	h.applyLocked(h.mesh.SetSeeds(all))
	return func() {
		for _, c := range calls {
			c()
		}
	}
}

// seedsShortLocked reports whether a rendition has fewer seed targets than
// its count while it has viewers who could be one: worth re-picking at once
// rather than at the next tick.
func (h *Hub) seedsShortLocked() bool {
	for rendition, ls := range h.seeds {
		if len(ls.targets) >= ls.count.N() {
			continue
		}
		for id, s := range h.sessions {
			if s.rendition == rendition && s.canUpload && !ls.targets[id] {
				return true
			}
		}
	}
	return false
}

// Viewers returns the number of joined sessions.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Announce tells the viewers of the part's rendition its size, hash and
// chunk hashes (so peers pass it on chunk by chunk); it runs the moment the
// part is cut, before any playlist lists it.
func (h *Hub) Announce(a *wire.PartAnnounce) {
	msg, err := wire.EncodeSignal(a)
	if err != nil {
		h.log.Error("cannot announce part", "part", a.ID.String(), "error", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.announced += int64(a.Size)
	r := append(h.recent[a.ID.Rendition], a)
	if len(r) > recentParts {
		r = r[len(r)-recentParts:]
	}
	h.recent[a.ID.Rendition] = r
	if ls := h.seeds[a.ID.Rendition]; ls != nil {
		ls.count.AddMedia(int64(a.Size))
	}
	for _, s := range h.sessions {
		if s.rendition == a.ID.Rendition {
			s.send(msg)
		}
	}
}

// Close ends every session.
func (h *Hub) Close() {
	h.stop()
	h.mu.Lock()
	h.closed = true
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	for _, s := range sessions {
		s.fail("the stream ended")
	}
}

// ServeHTTP upgrades the request to the stream's signaling WebSocket.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Players are embedded on operators' own sites: any origin may join.
		// Nothing here rides on cookies, so this exposes nothing.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept has answered the request
	}
	c.SetReadLimit(wire.MaxSignalSize)
	s := newSession(h, c, r.RemoteAddr, netid.Of(r))
	s.reachedAs = r.Host
	if end, ok := r.Context().Value(sessionEndKey{}).(time.Time); ok {
		t := time.AfterFunc(time.Until(end), func() { s.fail("credentials expired") })
		defer t.Stop()
	}
	s.run(r.Context())
}

type sessionEndKey struct{}

// WithSessionEnd marks a request for the swarm WebSocket with the time its
// credentials expire: the session opened by it is ended then ("credentials
// expired"), and the viewer must join again with new ones.
func WithSessionEnd(ctx context.Context, end time.Time) context.Context {
	return context.WithValue(ctx, sessionEndKey{}, end)
}

func (h *Hub) viewersChangedLocked() {
	if h.cfg.OnViewers != nil {
		h.cfg.OnViewers(len(h.sessions))
	}
}

// applyLocked sends neighbour changes to the sessions they concern.
func (h *Hub) applyLocked(changes []tracker.Change) {
	for _, ch := range changes {
		s := h.sessions[wire.PeerID(ch.Peer)]
		if s == nil {
			continue
		}
		msg := &wire.Peers{}
		for _, id := range ch.Add {
			n := h.sessions[wire.PeerID(id)]
			msg.Add = append(msg.Add, wire.PeerInfo{ID: wire.PeerID(id), NoUpload: n != nil && !n.canUpload})
			s.neighbours[wire.PeerID(id)] = true
			h.ledger.Neighbours(trust.ID(ch.Peer), trust.ID(id))
		}
		for _, id := range ch.Remove {
			msg.Remove = append(msg.Remove, wire.PeerID(id))
			delete(s.neighbours, wire.PeerID(id))
		}
		s.sendSignal(msg)
	}
}

// context for a session's writes: bounded so one stuck viewer never holds a
// goroutine forever.
const writeTimeout = 5 * time.Second

func writeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), writeTimeout)
}

// countSent tells OnSent a message of n bytes went out, with the frame
// header a server writes for it (servers do not mask).
func (h *Hub) countSent(n int) {
	if h.cfg.OnSent == nil {
		return
	}
	header := 2
	switch {
	case n > 0xffff:
		header = 10
	case n > 125:
		header = 4
	}
	h.cfg.OnSent(header + n)
}
