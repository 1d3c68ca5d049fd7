// Package peer is one swarmtx peer in Go: the WebRTC side (pion/webrtc
// v4) of the peer protocol whose decisions peerpool/exchange makes. It
// keeps one PeerConnection and data channel per neighbour the tracker
// assigns, feeds what they bring to an exchange.Machine and carries out
// what the Machine asks (connect, send, disconnect, report, deliver).
//
// A Peer is one participant: a Go viewer, a relay, or the server's seeding
// peer. It does not speak WebSocket; signaling goes through a Signaler and
// HandleRelay, so it can be driven by the viewer's WebSocket client, by the
// server's hub (for the seed), or in-process by tests.
package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
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
	// API builds the PeerConnections; nil means pion's defaults (every
	// interface but loopback). Tests pass NewLoopbackAPI().
	API *webrtc.API
	// ICEServers and RelayOnly come from welcome (ice, iceTransportPolicy).
	ICEServers []webrtc.ICEServer
	RelayOnly  bool
	// UploadCapBps, CanUpload, MaxFrame, Seed, ConnectTimeout, StoreParts
	// and StoreBytes are the exchange's (exchange.Config).
	UploadCapBps   int64
	CanUpload      bool
	MaxFrame       int
	Seed           bool
	ConnectTimeout time.Duration
	StoreParts     int
	StoreBytes     int
	Logger         *slog.Logger
	// OnPart is called (outside any lock, on a pion goroutine) when a part
	// received from a neighbour has been verified. data is shared and
	// read-only.
	OnPart func(id wire.PartID, data []byte, from wire.PeerID)
	// OnBadPeer is called once per neighbour that misbehaved, with reason
	// wire.ReasonHashMismatch or wire.ReasonProtocol (it sent bad bytes or
	// broke the frame rules), or wire.ReasonTimeout (its data channel did
	// not open in time, or it takes WANTs and never delivers). It has been
	// disconnected; the caller reports it to the server.
	OnBadPeer func(p wire.PeerID, reason string)

	// Exchange builds the protocol machine the Peer drives; nil means
	// exchange.New. Tests of the swarm's defences put a hostile one here.
	Exchange func(cfg exchange.Config, now time.Time) (Exchange, error)

	// Test hooks, reachable only from this package's tests.
	frameSent    func(n int)                          // called with the size of every frame sent
	rewrite      func(frame []byte) []byte            // replaces every frame sent (nil: not sent)
	frameHandled func(from wire.PeerID, frame []byte) // called after each frame received was handled
}

const (
	lowWater      = wire.LowWater // the data channel's bufferedamountlow threshold
	maxEarlyPeers = 16            // unknown peers whose signaling is held
	maxEarlyMsgs  = 32            // held signaling messages per unknown peer
	earlyTTL      = 30 * time.Second
)

// ErrClosed is returned by Want after Close.
var ErrClosed = errors.New("peer: closed")

// Exchange is the protocol state machine a Peer drives: *exchange.Machine,
// or one that wraps it.
type Exchange interface {
	SetNeighbours(now time.Time, add []wire.PeerInfo, remove []wire.PeerID)
	Opened(now time.Time, id wire.PeerID)
	Closed(now time.Time, id wire.PeerID, reason string)
	Receive(now time.Time, from wire.PeerID, data []byte, text bool)
	Expect(now time.Time, a *wire.PartAnnounce) error
	Offer(now time.Time, id wire.PartID, data []byte) error
	Want(now time.Time, id wire.PartID, attempt time.Duration) []byte
	Unwant(now time.Time, id wire.PartID)
	Advance(now time.Time)
	Deadline() time.Time
	Transmit(now time.Time, to wire.PeerID, buffered int) []byte
	Poll() (exchange.Output, bool)
	Close(now time.Time)
	IsBanned(id wire.PeerID) bool
	Availability(id wire.PartID) (holders int, inFlight bool)
	Verified(id wire.PartID) []byte
	Received() []wire.Received
	Stats() exchange.Stats
}

var _ Exchange = (*exchange.Machine)(nil)

// Stats and NeighbourStats are the exchange's counters.
type (
	Stats          = exchange.Stats
	NeighbourStats = exchange.NeighbourStats
)

// Peer is one participant. All methods are safe for concurrent use.
type Peer struct {
	cfg Config
	sig Signaler
	api *webrtc.API
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	m       Exchange
	closed  bool
	conns   map[wire.PeerID]*conn
	early   map[wire.PeerID]*earlyQueue
	waits   map[wire.PartID]*wait
	timer   *time.Timer // runs Advance at the Machine's Deadline
	timerAt time.Time
	// offeredAt is when the first neighbour was offered; opened, whether
	// any data channel ever opened (Unreachable).
	offeredAt time.Time
	opened    bool
}

type earlyQueue struct {
	first time.Time
	msgs  []*wire.Relay
}

// wait is the callers of Want waiting for one part.
type wait struct {
	done    chan struct{}
	data    []byte
	waiters int
}

// New makes a Peer. It starts no connection until SetNeighbours.
func New(cfg Config, sig Signaler) (*Peer, error) {
	if sig == nil {
		return nil, errors.New("peer: nil Signaler")
	}
	newExchange := cfg.Exchange
	if newExchange == nil {
		newExchange = func(c exchange.Config, now time.Time) (Exchange, error) { return exchange.New(c, now) }
	}
	m, err := newExchange(exchange.Config{
		ID: cfg.ID, CanUpload: cfg.CanUpload, UploadCapBps: cfg.UploadCapBps, MaxFrame: cfg.MaxFrame,
		Seed: cfg.Seed, ConnectTimeout: cfg.ConnectTimeout, StoreParts: cfg.StoreParts, StoreBytes: cfg.StoreBytes,
	}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	api := cfg.API
	if api == nil {
		api = webrtc.NewAPI()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		cfg: cfg, sig: sig, api: api,
		log:    cfg.Logger.With("peer", short(cfg.ID)),
		ctx:    ctx,
		cancel: cancel,
		m:      m,
		conns:  make(map[wire.PeerID]*conn),
		early:  make(map[wire.PeerID]*earlyQueue),
		waits:  make(map[wire.PartID]*wait),
	}
	p.timer = time.AfterFunc(time.Hour, func() { p.step(p.m.Advance) })
	p.timer.Stop()
	return p, nil
}

// step runs one event on the Machine and carries out its actions.
func (p *Peer) step(event func(now time.Time)) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	event(time.Now())
	post := p.actLocked(nil)
	p.mu.Unlock()
	runAll(post)
}

// actLocked carries out the Machine's actions; the callbacks to run once
// the lock is released are appended to post.
func (p *Peer) actLocked(post []func()) []func() {
	for {
		o, ok := p.m.Poll()
		if !ok {
			break
		}
		switch o := o.(type) {
		case exchange.Connect:
			c, err := p.newConn(o)
			if err != nil {
				p.log.Error("cannot create a connection", "neighbour", short(o.Peer), "err", err)
				p.m.Closed(time.Now(), o.Peer, "cannot create a connection")
				continue
			}
			if q := p.early[o.Peer]; q != nil {
				delete(p.early, o.Peer)
				for _, r := range q.msgs {
					c.inbox <- r // inbox has room for maxEarlyMsgs
				}
			}
		case exchange.Disconnect:
			if c := p.conns[o.Peer]; c != nil {
				p.closeLocked(c, o.Reason)
			}
		case exchange.Report:
			p.log.Warn("bad neighbour", "neighbour", short(o.Peer), "reason", o.Reason)
			if cb := p.cfg.OnBadPeer; cb != nil {
				post = append(post, func() { cb(o.Peer, o.Reason) })
			}
		case exchange.Deliver:
			if cb := p.cfg.OnPart; cb != nil {
				post = append(post, func() { cb(o.Part, o.Data, o.From) })
			}
		case exchange.Fetched:
			if w := p.waits[o.Part]; w != nil {
				delete(p.waits, o.Part)
				w.data = o.Data
				close(w.done)
			}
		case exchange.Wake:
			if c := p.conns[o.Peer]; c != nil {
				c.signal()
			}
		}
	}
	if d := p.m.Deadline(); !d.Equal(p.timerAt) && !p.closed {
		p.timerAt = d
		p.timer.Stop()
		if !d.IsZero() {
			p.timer.Reset(time.Until(d))
		}
	}
	return post
}

// SetNeighbours applies a "peers" message: it connects to added
// neighbours and closes removed ones. Banned peers are not reconnected.
func (p *Peer) SetNeighbours(add []wire.PeerInfo, remove []wire.PeerID) {
	p.step(func(now time.Time) {
		for _, id := range remove {
			delete(p.early, id)
		}
		if len(add) > 0 && p.offeredAt.IsZero() {
			p.offeredAt = now
		}
		p.m.SetNeighbours(now, add, remove)
	})
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
	if p.m.IsBanned(r.From) || r.From.Validate() != nil {
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
// SHA-256, needed before any byte of it is accepted from a neighbour.
func (p *Peer) Expect(a *wire.PartAnnounce) {
	p.step(func(now time.Time) {
		if err := p.m.Expect(now, a); err != nil {
			p.log.Warn("ignoring a part announcement", "err", err)
		}
	})
}

// Offer stores a part this peer holds and trusts (fetched over HTTP and
// verified, or cut by the server), tells the neighbours HAVE, and, on a
// Seed, pushes it to every neighbour. If the part was announced, data must
// match the announcement or it is dropped. data must not be modified
// afterwards.
func (p *Peer) Offer(id wire.PartID, data []byte) {
	p.step(func(now time.Time) {
		if err := p.m.Offer(now, id, data); err != nil {
			p.log.Error("offered part dropped", "err", err)
		}
	})
}

// Want returns the part, from the store or from a neighbour, before ctx
// ends; the caller falls back to HTTP on error. On error it also returns
// the part's first bytes if a neighbour had sent them, verified (a copy),
// so the caller fetches only the rest. Concurrent calls for one part share
// one fetch. The returned part is shared and read-only.
func (p *Peer) Want(ctx context.Context, id wire.PartID) ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	// The Machine answers at once only for a part it holds, so a Fetched
	// for id cannot come before the wait below is registered.
	if data := p.m.Want(time.Now(), id, attemptTimeout(ctx)); data != nil {
		p.mu.Unlock()
		return data, nil
	}
	w := p.waits[id]
	if w == nil {
		w = &wait{done: make(chan struct{})}
		p.waits[id] = w
	}
	w.waiters++
	post := p.actLocked(nil)
	p.mu.Unlock()
	runAll(post)

	select {
	case <-w.done:
		if w.data == nil {
			return nil, ErrClosed
		}
		return w.data, nil
	case <-ctx.Done():
		var prefix []byte
		p.step(func(now time.Time) {
			prefix = p.m.Verified(id)
			w.waiters--
			if w.waiters == 0 && p.waits[id] == w {
				delete(p.waits, id)
				p.m.Unwant(now, id)
			}
		})
		return prefix, fmt.Errorf("part %s from peers: %w", id, ctx.Err())
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

// Availability tells how many connected neighbours said HAVE for id and
// whether a transfer of it is under way: why a Want ran out of time.
func (p *Peer) Availability(id wire.PartID) (holders int, inFlight bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Availability(id)
}

// Stats returns a copy of the counters.
func (p *Peer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Stats()
}

// Received lists the neighbours with an open data channel and the part
// bytes received from each and verified since it became a neighbour, at
// most wire.MaxListLen: what the server credits their uploads from
// (wire.Stats.From).
func (p *Peer) Received() []wire.Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Received()
}

// Close disconnects every neighbour, ends pending Wants with ErrClosed and
// waits for the Peer's goroutines and connections to finish.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.m.Close(time.Now())
	post := p.actLocked(nil)
	p.closed = true
	p.timer.Stop()
	for _, c := range p.conns {
		p.closeLocked(c, "closing")
	}
	p.early = nil
	p.mu.Unlock()
	runAll(post)
	p.cancel()
	p.wg.Wait()
	return nil
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
