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
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/swarmtx/swarmtx/peerpool/netid"
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
	// MaxSeedsPerRendition bounds the adaptive seed count: the hub adds
	// seed targets while the server sends more than a copy per window
	// over HTTP and they pay for themselves (peerpool/seeding). Default 8,
	// or one per viewersPerSeed viewers of the rendition when that is
	// more: a part reaches only so many viewers from one seed before its
	// deadline, so a large audience needs more. A viewer lying in its
	// reports can make the server seed at most that many copies, a small
	// share of what the audience would cost over HTTP.
	MaxSeedsPerRendition int
	Logger               *slog.Logger

	seedsGrow bool // MaxSeedsPerRendition is the default, which grows with the audience
}

// viewersPerSeed is how many viewers of a rendition allow one more seed
// than the default bound.
const viewersPerSeed = 16

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
		c.MaxSeedsPerRendition, c.seedsGrow = 8, true
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

// Hub is one stream's signaling and tracking endpoint: the WebSockets,
// the seeders' calls and the ticker around a Core, which makes every
// decision.
type Hub struct {
	path string
	cfg  Config
	log  *slog.Logger
	stop context.CancelFunc

	mu       sync.Mutex
	core     *Core
	sessions map[wire.PeerID]*session // joined sessions, by the id the core knows them by
	seeders  map[wire.PeerID]LocalPeer
	closed   bool
	refused  map[string]int // joins turned away, by kind (snapshot.go)
}

// NewHub returns the hub of the stream at path. Its ticker runs until Close.
func NewHub(path string, cfg Config, mesh Mesh) *Hub {
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.With("path", path, "component", "signal")
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		path:     path,
		cfg:      cfg,
		log:      cfg.Logger,
		stop:     cancel,
		core:     NewCore(time.Now(), cfg, mesh),
		sessions: make(map[wire.PeerID]*session),
		seeders:  make(map[wire.PeerID]LocalPeer),
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
			h.core.Tick(now, open)
			after := h.carryOutLocked()
			h.mu.Unlock()
			after()
		}
	}
}

// carryOutLocked does what the core asked: messages are queued to their
// sessions and sessions ended under the lock; the seeders' calls are
// returned, to be made after unlocking (a seeder may call back into the
// hub).
func (h *Hub) carryOutLocked() func() {
	var calls []func()
	var lastMsg wire.Signal // an announcement goes to many: encoded once
	var lastData []byte
	for {
		o, ok := h.core.Poll()
		if !ok {
			break
		}
		switch o := o.(type) {
		case Send:
			s := h.sessions[o.To]
			if s == nil {
				continue
			}
			if o.Msg != lastMsg {
				data, err := wire.EncodeSignal(o.Msg)
				if err != nil {
					h.log.Error("cannot encode signal", "type", o.Msg.SignalType(), "error", err)
				}
				lastMsg, lastData = o.Msg, data
			}
			if lastData != nil {
				s.send(lastData)
			}
		case End:
			if s := h.sessions[o.Peer]; s != nil {
				delete(h.sessions, o.Peer)
				go s.fail(o.Reason)
			}
		case SeedNeighbours:
			if p := h.seeders[o.Seed]; p != nil {
				calls = append(calls, func() { p.SetNeighbours(o.Add, o.Remove) })
			}
		case SeedRelay:
			if p := h.seeders[o.Seed]; p != nil {
				calls = append(calls, func() { p.HandleRelay(o.Relay) })
			}
		}
	}
	return func() {
		for _, c := range calls {
			c()
		}
	}
}

// AddSeed registers the plugin's seeding peer for a rendition. Its
// signaling to viewers goes through SeedRelay.
func (h *Hub) AddSeed(rendition string, id wire.PeerID, p LocalPeer) {
	h.mu.Lock()
	h.seeders[id] = p
	h.core.AddSeed(time.Now(), rendition, id)
	after := h.carryOutLocked()
	h.mu.Unlock()
	after()
}

// SeedRelay delivers a seeder's offer, answer or candidate to a viewer it
// pushes to; it is the seeder's peer.Signaler.
func (h *Hub) SeedRelay(from, to wire.PeerID, r *wire.Relay) error {
	h.mu.Lock()
	err := h.core.SeedRelay(from, to, r)
	after := h.carryOutLocked()
	h.mu.Unlock()
	after()
	return err
}

// seederChannels asks the seeders, outside the hub's lock (a seeder may
// call into the hub holding its own), which viewers they have an open
// channel with.
func (h *Hub) seederChannels() []wire.PeerID {
	h.mu.Lock()
	peers := make([]LocalPeer, 0, len(h.seeders))
	for _, p := range h.seeders {
		peers = append(peers, p)
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

// Viewers returns the number of joined sessions.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Viewers()
}

// Announce tells the viewers of the part's rendition its size, hash and
// chunk hashes (so peers pass it on chunk by chunk); it runs the moment the
// part is cut, before any playlist lists it.
func (h *Hub) Announce(a *wire.PartAnnounce) {
	h.mu.Lock()
	h.core.Announce(time.Now(), a)
	after := h.carryOutLocked()
	h.mu.Unlock()
	after()
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
