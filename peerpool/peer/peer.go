// Package peer is the data plane of one swarmtx peer in Go: WebRTC
// connections (pion/webrtc v4) to the neighbours the tracker assigns and the
// exchange of LL-HLS parts with them over the peerpool/wire protocol.
//
// A Peer is one participant: a Go viewer, a relay, or the server's seeding
// peer. It does not speak WebSocket; signaling goes through a Signaler and
// HandleRelay, so it can be driven by the viewer's WebSocket client, by the
// server's hub (for the seed), or in-process by tests.
//
// Exchange is receiver-driven with seed pushes: a peer that holds a
// verified part tells its neighbours HAVE; Want asks one neighbour that has
// it (best measured throughput first) with WANT and moves on after NOPE or
// a stall; a Seed pushes every part it is offered to all its neighbours.
// Bytes are accepted only for parts announced with Expect, reassembled and
// verified by wire.Assembler; a neighbour that sends bytes that do not hash
// to the announcement, or breaks the frame rules, is disconnected, banned
// locally and reported through Config.OnBadPeer.
package peer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Signaler carries offers, answers and ICE candidates to a neighbour (in
// the client → server form: r.To is set to `to`). It must not block for
// long; it may call the receiving peer's HandleRelay directly.
type Signaler interface {
	Relay(to wire.PeerID, r *wire.Relay) error
}

// SignalerFunc adapts a function to Signaler.
type SignalerFunc func(to wire.PeerID, r *wire.Relay) error

// Relay calls f.
func (f SignalerFunc) Relay(to wire.PeerID, r *wire.Relay) error { return f(to, r) }

// Config configures a Peer.
type Config struct {
	// ID is this peer's id (from welcome).
	ID wire.PeerID
	// API builds the PeerConnections; nil means NewLoopbackAPI(), which
	// only ever uses loopback (tests).
	API *webrtc.API
	// ICEServers and RelayOnly come from welcome (ice, iceTransportPolicy).
	ICEServers []webrtc.ICEServer
	RelayOnly  bool
	// UploadCapBps caps the DATA bytes this peer sends per second, over all
	// neighbours; 0 is no cap.
	UploadCapBps int64
	// CanUpload: false answers every WANT with NOPE and never sends DATA.
	CanUpload bool
	// MaxFrame is the largest frame this peer sends (welcome.maxFrame);
	// 0 means wire.MaxFrameSize.
	MaxFrame int
	// Seed marks the server's seeding peer (or a relay the server flags as
	// seed): it always offers the connection and pushes every part given
	// to Offer to all its neighbours. It must match the "seed" flag the
	// server gives this peer's neighbours, or neither side offers.
	Seed bool
	// ConnectTimeout is how long a neighbour's data channel may take to
	// open before it is dropped and reported (default 15 s).
	ConnectTimeout time.Duration
	// StoreParts and StoreBytes bound the store of verified parts (oldest
	// evicted first); 0 means 256 parts and 256 MiB.
	StoreParts int
	StoreBytes int
	Logger     *slog.Logger
	// OnPart is called (outside any lock, on a pion goroutine) when a part
	// received from a neighbour has been verified. data is shared and
	// read-only.
	OnPart func(id wire.PartID, data []byte, from wire.PeerID)
	// OnBadPeer is called once per neighbour that misbehaved, with reason
	// wire.ReasonHashMismatch or wire.ReasonProtocol (it is disconnected
	// and banned), or wire.ReasonTimeout (its data channel did not open in
	// time; it is disconnected). The caller reports it to the server.
	OnBadPeer func(p wire.PeerID, reason string)

	// TamperData, when set, is called on a private copy of every DATA
	// frame before it is sent: it turns this peer into a hostile one, for
	// tests of the swarm's defences. Never set it in a real viewer.
	TamperData func(frame []byte)

	// Test hooks, reachable only from this package's tests.
	frameSent    func(n int)                          // called with the size of every frame sent
	withhold     func(frame []byte) bool              // frames it is true for are never sent: a peer that takes WANTs and never delivers
	refuseWants  bool                                 // every WANT is answered NOPE: a peer that says HAVE and never delivers
	frameHandled func(from wire.PeerID, frame []byte) // called after each frame received was handled
}

// Limits (per neighbour unless stated). Those from wire are shared with
// the browser client, which must keep the same (wire/limits.go).
const (
	defaultStoreParts = 256
	defaultStoreBytes = 256 << 20
	maxBuffered       = wire.MaxBuffered // never more than this queued on a data channel
	lowWater          = wire.LowWater    // resume sending below this
	maxRequests       = 16               // our WANTs outstanding at one neighbour
	maxUploads        = wire.MaxUploads  // parts queued for upload to one neighbour
	maxIncoming       = wire.MaxIncoming // assemblers in flight from one neighbour
	maxPendingBytes   = wire.MaxPendingBytes
	maxUnsolicited    = 4 << 20 // DATA nobody asked for before "protocol"
	maxFramesPerSec   = 20000   // incoming frames per second before "protocol"
	maxHave           = wire.MaxHave
	maxExpected       = wire.MaxAnnounced
	maxEarlyPeers     = 16 // unknown peers whose signaling is held
	maxEarlyMsgs      = 32 // held signaling messages per unknown peer
	earlyTTL          = 30 * time.Second
	connectTimeout    = wire.ConnectTimeoutMs * time.Millisecond
	haveOnOpen        = wire.HaveOnOpen // HAVEs sent to a neighbour whose channel just opened
)

// ErrClosed is returned by Want after Close.
var ErrClosed = errors.New("peer: closed")

// Peer is one participant's data plane. All methods are safe for
// concurrent use.
type Peer struct {
	cfg    Config
	sig    Signaler
	api    *webrtc.API
	log    *slog.Logger
	bucket *bucket

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	conns     map[wire.PeerID]*conn
	banned    map[wire.PeerID]string
	early     map[wire.PeerID]*earlyQueue
	expected  map[wire.PartID]*wire.PartAnnounce
	expOrder  []wire.PartID
	store     *store
	fetches   map[wire.PartID]*fetch
	declined  []declined    // WANTs answered NOPE while busy, see busy.go
	earlyHave *idSet        // parts we said HAVE for before holding them whole (cutthrough.go)
	uploadSeq uint64        // uploads queued so far, for their order (uploadorder.go)
	avail     chan struct{} // closed and replaced whenever availability changes
	st        Stats
}

type earlyQueue struct {
	first time.Time
	msgs  []*wire.Relay
}

// Stats are a Peer's counters since New. Bytes are DATA payload bytes.
type Stats struct {
	BytesReceived int64 // from neighbours, including duplicates and discarded bytes
	BytesSent     int64
	PartsOffered  int64 // given to Offer (HTTP or seed)
	PartsFromPeer int64 // verified parts received from neighbours
	PartsServed   int64 // parts sent in full (answers to WANT and pushes)
	Duplicates    int64 // verified parts received that were already stored
	Declined      int64 // WANTs answered NOPE because the upload queue was full (busy.go)
	HashMismatch  int64
	ProtocolError int64
	Banned        []wire.PeerID
	Neighbours    map[wire.PeerID]NeighbourStats // every neighbour since New

	all map[wire.PeerID]*NeighbourStats
}

func (s *Stats) nstats(id wire.PeerID) *NeighbourStats {
	if s.all == nil {
		s.all = make(map[wire.PeerID]*NeighbourStats)
	}
	n := s.all[id]
	if n == nil {
		n = new(NeighbourStats)
		s.all[id] = n
	}
	return n
}

// NeighbourStats are the counters of one neighbour.
type NeighbourStats struct {
	BytesReceived int64
	BytesSent     int64
	PartsReceived int64
	PartsSent     int64
	ThroughputBps float64 // measured receive rate (EWMA), 0 if unknown
	Connected     bool
}

// New makes a Peer. It starts no connection until SetNeighbours.
func New(cfg Config, sig Signaler) (*Peer, error) {
	if err := cfg.ID.Validate(); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if sig == nil {
		return nil, errors.New("peer: nil Signaler")
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = wire.MaxFrameSize
	}
	if cfg.MaxFrame < wire.MinFrameSize || cfg.MaxFrame > wire.MaxFrameSize {
		return nil, fmt.Errorf("peer: MaxFrame %d is outside %d..%d", cfg.MaxFrame, wire.MinFrameSize, wire.MaxFrameSize)
	}
	if cfg.UploadCapBps < 0 {
		return nil, fmt.Errorf("peer: negative UploadCapBps %d", cfg.UploadCapBps)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	if cfg.StoreParts <= 0 {
		cfg.StoreParts = defaultStoreParts
	}
	if cfg.StoreBytes <= 0 {
		cfg.StoreBytes = defaultStoreBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	api := cfg.API
	if api == nil {
		api = NewLoopbackAPI()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		cfg: cfg, sig: sig, api: api,
		log:       cfg.Logger.With("peer", short(cfg.ID)),
		ctx:       ctx,
		cancel:    cancel,
		conns:     make(map[wire.PeerID]*conn),
		banned:    make(map[wire.PeerID]string),
		early:     make(map[wire.PeerID]*earlyQueue),
		expected:  make(map[wire.PartID]*wire.PartAnnounce),
		store:     newStore(cfg.StoreParts, cfg.StoreBytes),
		earlyHave: newIDSet(maxExpected),
		fetches:   make(map[wire.PartID]*fetch),
		avail:     make(chan struct{}),
	}
	if cfg.UploadCapBps > 0 {
		p.bucket = newBucket(cfg.UploadCapBps)
	}
	return p, nil
}

// NewLoopbackAPI returns a pion API that gathers host candidates only on
// "lo" and the test veth "v0"/"v1" (FACTS.md: tests use loopback or their
// own network namespace), with loopback candidates on, mDNS off and UDP4
// only. No STUN is configured here; a caller passing ICEServers adds it.
func NewLoopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" || name == "v0" || name == "v1" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// changed wakes everything waiting for availability. Call with p.mu held.
func (p *Peer) changed() {
	close(p.avail)
	p.avail = make(chan struct{})
}

// SetNeighbours applies a "peers" message: it connects to added
// neighbours (offering when this peer is the seed, or the remote is not a
// seed and this id is the smaller) and closes removed ones. Banned peers
// are not reconnected.
func (p *Peer) SetNeighbours(add []wire.PeerInfo, remove []wire.PeerID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, id := range remove {
		if c := p.conns[id]; c != nil {
			p.dropLocked(c, "removed by the server")
		}
		delete(p.early, id)
	}
	for _, info := range add {
		if info.ID == p.cfg.ID || info.ID.Validate() != nil {
			p.log.Warn("ignoring invalid neighbour", "id", string(info.ID))
			continue
		}
		if _, ok := p.banned[info.ID]; ok {
			p.log.Info("not reconnecting a banned neighbour", "neighbour", short(info.ID))
			continue
		}
		if _, ok := p.conns[info.ID]; ok {
			continue
		}
		offerer := p.cfg.ID < info.ID
		if p.cfg.Seed != info.Seed {
			offerer = p.cfg.Seed
		}
		c, err := p.newConn(info, offerer)
		if err != nil {
			p.log.Error("cannot create a connection", "neighbour", short(info.ID), "err", err)
			continue
		}
		if q := p.early[info.ID]; q != nil {
			delete(p.early, info.ID)
			for _, r := range q.msgs {
				c.inbox <- r // inbox has room for maxEarlyMsgs
			}
		}
	}
}

// HandleRelay takes an offer, answer or candidate from a neighbour (r.From
// names it). It never blocks: messages are handled in order by the
// neighbour's own goroutine. Messages from a peer not (yet) a neighbour are
// held briefly, as the server's "peers" message may arrive after them.
func (p *Peer) HandleRelay(r *wire.Relay) {
	if r == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if c := p.conns[r.From]; c != nil {
		select {
		case c.inbox <- r:
		default:
			p.log.Warn("signaling inbox full; dropping a message", "neighbour", short(r.From))
		}
		return
	}
	if _, ok := p.banned[r.From]; ok || r.From.Validate() != nil {
		return
	}
	now := time.Now()
	for id, q := range p.early {
		if now.Sub(q.first) > earlyTTL {
			delete(p.early, id)
		}
	}
	q := p.early[r.From]
	if q == nil {
		if len(p.early) >= maxEarlyPeers {
			p.log.Warn("too many unknown peers signaling; dropping", "from", short(r.From))
			return
		}
		q = &earlyQueue{first: now}
		p.early[r.From] = q
	}
	if len(q.msgs) < maxEarlyMsgs {
		q.msgs = append(q.msgs, r)
	}
}

// Expect records the server's announcement of a part: its size and
// SHA-256, needed before any byte of it is accepted from a neighbour. Bytes
// already buffered for it are verified now.
func (p *Peer) Expect(a *wire.PartAnnounce) {
	if a == nil || a.Validate() != nil {
		p.log.Warn("ignoring an invalid part announcement")
		return
	}
	var post []func()
	p.mu.Lock()
	if _, ok := p.expected[a.ID]; !ok && !p.closed {
		ac := *a
		p.expected[a.ID] = &ac
		p.expOrder = append(p.expOrder, a.ID)
		for len(p.expOrder) > maxExpected {
			delete(p.expected, p.expOrder[0])
			p.expOrder = p.expOrder[1:]
		}
		for _, c := range p.conns {
			if in := c.incoming[a.ID]; in != nil && in.asm == nil {
				post = c.announceLocked(in, &ac, post)
			}
		}
	}
	p.mu.Unlock()
	runAll(post)
}

// Offer stores a part this peer holds and trusts (fetched over HTTP and
// verified, or cut by the server), tells the neighbours HAVE, and, on a
// Seed, pushes it to every neighbour. If the part was announced, data must
// match the announcement or it is dropped. data must not be modified
// afterwards.
func (p *Peer) Offer(id wire.PartID, data []byte) {
	if id.Validate() != nil || len(data) == 0 || len(data) > wire.MaxPartSize {
		p.log.Warn("ignoring an invalid part", "part", id.String(), "size", len(data))
		return
	}
	p.mu.Lock()
	a := p.expected[id]
	p.mu.Unlock()
	if a != nil && (a.Size != len(data) || wire.Hash(sha256.Sum256(data)) != a.SHA256) {
		p.log.Error("offered part does not match its announcement; dropped", "part", id.String())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.store.add(id, data) {
		return
	}
	p.st.PartsOffered++
	if p.cfg.Seed && p.cfg.CanUpload {
		for _, c := range p.conns {
			if c.open && !c.has.has(id) {
				c.queueUploadLocked(id)
			}
		}
	}
	p.storedLocked(id, data, nil)
}

// storedLocked runs after a part entered the store: it cancels other
// transfers of it, tells the neighbours HAVE and completes a fetch.
func (p *Peer) storedLocked(id wire.PartID, data []byte, from *conn) {
	for _, c := range p.conns {
		if c != from {
			if c.incoming[id] != nil || c.requests[id] != nil {
				c.abandonLocked(id)
			}
		}
		// No HAVE to a neighbour we are pushing the part to: it would
		// only make it WANT what is on its way; none at all when this
		// peer does not upload.
		switch {
		case c.uploadingLocked(id):
			c.signal() // an upload of its first chunks waits for the rest (cutthrough.go)
		case p.cfg.CanUpload && c.open && !c.has.has(id):
			c.queueControlLocked(wire.FrameHave, id)
		}
	}
	if f := p.fetches[id]; f != nil {
		f.data = data
		delete(p.fetches, id)
		close(f.done)
		f.cancel()
	}
	p.changed()
}

// fetch is one shared attempt to get a part from the neighbours.
type fetch struct {
	id      wire.PartID
	done    chan struct{}
	data    []byte
	waiters int
	cancel  context.CancelFunc
}

// Want returns the part, from the store or from a neighbour, before ctx
// ends; the caller falls back to HTTP on error. Concurrent calls for one
// part share one fetch. The returned bytes are shared and read-only.
func (p *Peer) Want(ctx context.Context, id wire.PartID) ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if s := p.store.get(id); s != nil {
		p.mu.Unlock()
		return s.data, nil
	}
	f := p.fetches[id]
	if f == nil {
		fctx, cancel := context.WithCancel(p.ctx)
		f = &fetch{id: id, done: make(chan struct{}), cancel: cancel}
		p.fetches[id] = f
		p.wg.Add(1)
		go p.runFetch(fctx, f, attemptTimeout(ctx))
	}
	f.waiters++
	p.mu.Unlock()

	select {
	case <-f.done:
		if f.data == nil {
			return nil, ErrClosed
		}
		return f.data, nil
	case <-ctx.Done():
		p.mu.Lock()
		f.waiters--
		if f.waiters == 0 && p.fetches[id] == f {
			delete(p.fetches, id)
			f.cancel()
		}
		p.mu.Unlock()
		return nil, fmt.Errorf("part %s from peers: %w", id, ctx.Err())
	}
}

// attemptTimeout is how long one neighbour may go without progress on a
// WANT: a quarter of what is left before the deadline, within 250 ms..3 s.
func attemptTimeout(ctx context.Context) time.Duration {
	d := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl) / 4
	}
	return min(max(d, 250*time.Millisecond), 3*time.Second)
}

// runFetch asks neighbours for f.id one at a time until the part is stored
// (storedLocked cancels ctx) or every waiter gave up (ctx cancelled).
func (p *Peer) runFetch(ctx context.Context, f *fetch, timeout time.Duration) {
	defer p.wg.Done()
	id := f.id
	tried := make(map[wire.PeerID]bool)
	for {
		p.mu.Lock()
		if ctx.Err() != nil {
			p.mu.Unlock()
			return
		}
		// A transfer already under way (a seed's push, or a WANT of an
		// earlier fetch): give it time while it makes progress.
		if c, in := p.activeIncomingLocked(id); in != nil {
			avail := p.avail
			idle := time.Since(in.progress)
			p.mu.Unlock()
			if idle >= timeout {
				p.mu.Lock()
				if c.incoming[id] == in {
					p.log.Debug("abandoning a stalled transfer", "part", id.String(), "neighbour", short(c.id))
					c.abandonLocked(id)
					tried[c.id] = true
				}
				p.mu.Unlock()
				continue
			}
			if !sleepOrWake(ctx, avail, timeout-idle) {
				return
			}
			continue
		}
		c := p.pickLocked(id, tried)
		if c == nil {
			avail := p.avail
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-avail:
			}
			continue
		}
		req := &request{sent: time.Now(), done: make(chan struct{})}
		c.requests[id] = req
		c.queueControlLocked(wire.FrameWant, id)
		p.mu.Unlock()

		if !p.awaitRequest(ctx, c, id, req, timeout) {
			tried[c.id] = true
		}
	}
}

// awaitRequest waits for the answer to one WANT. It returns false when the
// neighbour stalled (it is then not asked again for this part).
func (p *Peer) awaitRequest(ctx context.Context, c *conn, id wire.PartID, req *request, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			if c.requests[id] == req {
				c.abandonLocked(id)
			}
			p.mu.Unlock()
			return true
		case <-req.done: // NOPE, or the connection went away
			return true
		case <-t.C:
			p.mu.Lock()
			if c.requests[id] != req {
				p.mu.Unlock()
				return true
			}
			last := req.sent
			if in := c.incoming[id]; in != nil {
				last = in.progress
			}
			if idle := time.Since(last); idle < timeout {
				p.mu.Unlock()
				t.Reset(timeout - idle)
				continue
			}
			p.log.Debug("neighbour stalled on a WANT", "part", id.String(), "neighbour", short(c.id))
			// Only a WANT that got not a byte counts against c: a congested
			// honest neighbour delivers slowly, a liar not at all.
			var post []func()
			if c.incoming[id] == nil {
				c.fruitless++
				post = p.fruitlessLocked(c, nil)
			}
			c.abandonLocked(id)
			p.mu.Unlock()
			runAll(post)
			return false
		}
	}
}

func sleepOrWake(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

func (p *Peer) activeIncomingLocked(id wire.PartID) (*conn, *incoming) {
	for _, c := range p.conns {
		if in := c.incoming[id]; in != nil {
			return c, in
		}
	}
	return nil, nil
}

// pickLocked chooses the neighbour to ask for id: one that has it, is not
// marked tried and has room for another request, with the best measured
// throughput divided by its outstanding requests (unknown throughput
// counts as the mean of the known ones).
func (p *Peer) pickLocked(id wire.PartID, tried map[wire.PeerID]bool) *conn {
	var cands []*conn
	var sum float64
	var known int
	for _, c := range p.conns {
		if c.open && c.has.has(id) && !tried[c.id] && !c.ignored.has(id) && len(c.requests) < maxRequests {
			cands = append(cands, c)
			if c.throughput > 0 {
				sum += c.throughput
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
	score := func(c *conn) float64 {
		tp := c.throughput
		if tp == 0 {
			tp = mean
		}
		return tp / float64(1+len(c.requests))
	}
	sort.Slice(cands, func(i, j int) bool {
		si, sj := score(cands[i]), score(cands[j])
		if si != sj {
			return si > sj
		}
		return cands[i].id < cands[j].id
	})
	return cands[0]
}

// Availability tells how many connected neighbours said HAVE for id and
// whether a transfer of it is under way: why a Want ran out of time.
func (p *Peer) Availability(id wire.PartID) (holders int, inFlight bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if c.open && c.has.has(id) {
			holders++
		}
	}
	_, in := p.activeIncomingLocked(id)
	return holders, in != nil
}

// Stats returns a copy of the counters.
func (p *Peer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.st
	s.Banned = nil
	for id := range p.banned {
		s.Banned = append(s.Banned, id)
	}
	sort.Slice(s.Banned, func(i, j int) bool { return s.Banned[i] < s.Banned[j] })
	s.all = nil
	s.Neighbours = make(map[wire.PeerID]NeighbourStats, len(p.st.all))
	for id, n := range p.st.all {
		v := *n
		if c := p.conns[id]; c != nil {
			v.Connected = c.open
			v.ThroughputBps = c.throughput
		}
		s.Neighbours[id] = v
	}
	return s
}

// Received lists the neighbours with an open data channel and the part
// bytes received from each and verified since it became a neighbour, at
// most wire.MaxListLen: what the server credits their uploads from
// (wire.Stats.From).
func (p *Peer) Received() []wire.Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]wire.Received, 0, len(p.conns))
	for id, c := range p.conns {
		if c.open {
			out = append(out, wire.Received{Peer: id, Bytes: c.verified})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out[:min(len(out), wire.MaxListLen)]
}

// Close disconnects every neighbour, ends pending Wants with ErrClosed and
// waits for the Peer's goroutines and connections to finish.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, c := range p.conns {
		p.dropLocked(c, "closing")
	}
	for id, f := range p.fetches {
		delete(p.fetches, id)
		close(f.done)
		f.cancel()
	}
	p.early = nil
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

// badLocked bans a neighbour that broke the protocol or sent bad bytes,
// drops its connection and schedules the report.
func (p *Peer) badLocked(c *conn, reason string, err error, post []func()) []func() {
	if c.closed {
		return post
	}
	p.log.Warn("bad neighbour", "neighbour", short(c.id), "reason", reason, "err", err)
	if reason == wire.ReasonHashMismatch {
		p.st.HashMismatch++
	} else {
		p.st.ProtocolError++
	}
	p.banned[c.id] = reason
	p.dropLocked(c, reason)
	if cb := p.cfg.OnBadPeer; cb != nil {
		id := c.id
		post = append(post, func() { cb(id, reason) })
	}
	return post
}

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}

func short(id wire.PeerID) string {
	if len(id) > 8 {
		return string(id[:8])
	}
	return string(id)
}
