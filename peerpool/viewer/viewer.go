// Package viewer is the Go viewer of a swarmtx stream: the same client
// behaviour as the browser (peerpool/client), without a browser. It joins
// the stream's swarm over the signaling WebSocket (/{path}/swarm), runs a
// peer.Peer for the data plane, follows one rendition's LL-HLS media
// playlist with blocking reload from near the live edge, and takes every
// new part from its neighbours first and over HTTP otherwise, verifying
// every byte against the SHA-256 the server announced. Parts it holds are
// offered to its neighbours.
//
// It also simulates a player, so that "every viewer plays continuously" can
// be measured without one: playback starts once StartupParts parts are
// buffered, the playhead advances in real time by the parts' durations, and a
// part that is not there when the playhead reaches it is a stall. Stats
// reports bytes by source, uploads, stalls, startup time and live lag.
//
// Many Viewers can run in one process (tests, the benchmark); `swarmtx
// relay` runs one as a high-upload super node.
package viewer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Config configures a Viewer.
type Config struct {
	// URL is the stream's base, e.g. http://127.0.0.1:8880/live/show/
	// (the trailing slash is added when missing).
	URL string
	// Rendition is the media playlist to follow, e.g. "source".
	Rendition string
	// UploadCapBps caps what this viewer uploads to its neighbours (bytes/s,
	// 0 = no cap). CanUpload false never uploads (the browser's opt-out).
	UploadCapBps int64
	CanUpload    bool
	// Exchange builds the protocol machine of the viewer's peer
	// (peer.Config.Exchange); nil means the standard one.
	Exchange func(cfg exchange.Config, now time.Time) (peer.Exchange, error)
	// TurnOnly asks the server for relay-only ICE (no host address exposed).
	TurnOnly bool
	// API builds the PeerConnections; nil means pion's defaults (every
	// interface but loopback). Tests pass peer.NewLoopbackAPI().
	API *webrtc.API
	// PartDeadline is how long to wait for peers before fetching a part
	// over HTTP; default: the part's duration. The wait is shortened so the
	// HTTP fallback still lands before the playhead needs the part.
	PartDeadline func(part wire.PartID, dur time.Duration) time.Duration
	// HTTPClient fetches playlists and media; nil means a shared client.
	HTTPClient *http.Client
	// Header is added to every request the viewer makes, over HTTP and for
	// the signaling WebSocket: its credentials for a protected stream
	// (Authorization: Basic or Bearer, as MediaMTX's HLS server takes them).
	Header http.Header
	// SignalHeader is added to the signaling WebSocket's request, e.g. the
	// X-Forwarded-For a reverse proxy would add.
	SignalHeader http.Header
	Logger       *slog.Logger
	// StartupParts is how many parts are buffered before playback starts,
	// and how far behind the newest part playback starts; default: the
	// playlist's PART-HOLD-BACK, as hls.js follows it (3 parts when the
	// playlist does not say).
	StartupParts int
	// StoreParts bounds the verified parts kept for neighbours; default 64.
	StoreParts int
}

// Stats are a Viewer's counters since Run.
type Stats struct {
	ID wire.PeerID
	// Media bytes by source: parts from neighbours (P2P) and over HTTP
	// (parts and init segments).
	HTTPBytes, P2PBytes int64
	HTTPParts, P2PParts int64
	// RestParts are HTTP parts of which neighbours had sent the first
	// bytes: only the rest was fetched, and the bytes count on each side.
	RestParts int64
	// UploadBytes are DATA bytes sent to neighbours.
	UploadBytes int64
	// Playback: Startup is the time from Run to the first frame (0 until
	// playing); a stall is the playhead reaching a part that is not there;
	// a late part is one that arrived after the playhead needed it, or
	// never (skipped).
	Playing     bool
	Startup     time.Duration
	PartsPlayed int64
	Stalls      int
	StallTime   time.Duration
	// Fallbacks classify the parts fetched over HTTP after waiting for the
	// neighbours in vain.
	Fallbacks Fallbacks
	// LongestStall is the longest single stall that has ended.
	LongestStall time.Duration
	LateParts    int
	// Lag is now minus the wall-clock time (PROGRAM-DATE-TIME) of the
	// playhead; -1 when unknown.
	Lag time.Duration
	// Peers is the number of connected neighbours.
	Peers int
	// Integrity: parts whose HTTP bytes did not match the announcement
	// (not played); parts accepted over HTTP with no announcement to check
	// them against; parts that could not be obtained at all; neighbours
	// that sent bad bytes or broke the protocol (banned and reported).
	HTTPHashMismatches int
	Unverified         int
	FailedParts        int
	PeerHashMismatches int64
	PeerProtocolErrors int64
}

// Fallbacks count why parts waited for went to HTTP: a transfer was still
// under way at the deadline, neighbours had the part but did not deliver
// it (busy, stalled), or no neighbour had it.
type Fallbacks struct {
	InFlight, Declined, NoHolder int
}

// P2PShare is the share of media bytes that came from neighbours.
func (s Stats) P2PShare() float64 {
	if t := s.HTTPBytes + s.P2PBytes; t > 0 {
		return float64(s.P2PBytes) / float64(t)
	}
	return 0
}

const (
	joinTimeout      = 10 * time.Second
	statsEvery       = 2 * time.Second
	signalQueue      = 1024
	maxAnnounced     = 4096
	announceWait     = 250 * time.Millisecond
	minHTTPMargin    = 150 * time.Millisecond // HTTP fallback time kept before the playhead needs a part
	httpAttempts     = 3
	playlistBackoff  = 500 * time.Millisecond
	defaultStore     = 64
	defaultStartup   = 3
	maxStartupParts  = 64
	maxPendingSlots  = 4096
	signalsPerSecond = 15 // the hub allows 20 (burst 60)
	signalBurst      = 40
)

// Viewer is one running viewer. Its methods are safe for concurrent use.
type Viewer struct {
	cfg      Config
	log      *slog.Logger
	base     *url.URL
	playlist *url.URL
	client   *http.Client
	started  time.Time

	ws      *websocket.Conn
	welcome *wire.Welcome
	peer    *peer.Peer
	out     chan []byte
	slots   chan *slot

	ctx        context.Context
	cancel     context.CancelFunc
	readCancel context.CancelFunc
	wg         sync.WaitGroup // everything but the signaling reader
	readWG     sync.WaitGroup
	done       chan struct{}
	closeOnce  sync.Once

	mu        sync.Mutex
	err       error
	announced map[wire.PartID]*wire.PartAnnounce
	annOrder  []wire.PartID
	annWake   chan struct{}
	httpRTT   time.Duration // EWMA of part fetch times
	// startup is Config.StartupParts, or the playlist's hold-back once
	// follow has read it (before it queues the first part).
	startup atomic.Int32
	st      Stats
	play    playState
}

// playState is the simulated playhead.
type playState struct {
	cur        *slot
	curStart   time.Time
	stallStart time.Time // non-zero while stalled
}

// streamBase reads a stream's base URL: http(s), ending in "/", without
// query or fragment.
func streamBase(raw string) (*url.URL, error) {
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("viewer: URL %q is not an http(s) URL", raw)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawQuery, base.Fragment = "", ""
	return base, nil
}

// Run joins the stream's swarm and starts playing. It returns once joined;
// the Viewer runs until ctx ends or Close.
func Run(ctx context.Context, cfg Config) (*Viewer, error) {
	if err := (wire.PartID{Rendition: cfg.Rendition}).Validate(); err != nil {
		return nil, fmt.Errorf("viewer: rendition: %w", err)
	}
	if cfg.UploadCapBps < 0 || cfg.UploadCapBps > wire.MaxUploadCapBps {
		return nil, fmt.Errorf("viewer: UploadCapBps %d out of range", cfg.UploadCapBps)
	}
	base, err := streamBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.StoreParts <= 0 {
		cfg.StoreParts = defaultStore
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultClient
	}
	v := &Viewer{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "viewer", "rendition", cfg.Rendition),
		base:      base,
		playlist:  base.ResolveReference(&url.URL{Path: cfg.Rendition + ".m3u8"}),
		client:    client,
		started:   time.Now(),
		out:       make(chan []byte, signalQueue),
		slots:     make(chan *slot, maxPendingSlots),
		done:      make(chan struct{}),
		announced: make(map[wire.PartID]*wire.PartAnnounce),
		annWake:   make(chan struct{}),
	}
	v.st.Lag = -1
	v.startup.Store(int32(cfg.StartupParts))
	if cfg.StartupParts <= 0 {
		v.startup.Store(defaultStartup)
	}
	if err := v.join(ctx); err != nil {
		return nil, err
	}
	v.log = v.log.With("peer", string(v.welcome.ID)[:8])
	v.st.ID = v.welcome.ID

	ice := make([]webrtc.ICEServer, 0, len(v.welcome.ICE))
	for _, s := range v.welcome.ICE {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	p, err := peer.New(peer.Config{
		ID:           v.welcome.ID,
		API:          cfg.API,
		ICEServers:   ice,
		RelayOnly:    v.welcome.ICETransportPolicy == "relay",
		UploadCapBps: cfg.UploadCapBps,
		CanUpload:    cfg.CanUpload,
		Exchange:     cfg.Exchange,
		MaxFrame:     v.welcome.MaxFrame,
		StoreParts:   cfg.StoreParts,
		Logger:       cfg.Logger,
		OnBadPeer:    v.onBadPeer,
	}, peer.SignalerFunc(v.relay))
	if err != nil {
		v.ws.CloseNow()
		return nil, fmt.Errorf("viewer: %w", err)
	}
	v.peer = p

	v.ctx, v.cancel = context.WithCancel(ctx)
	readCtx, readCancel := context.WithCancel(context.Background())
	v.readCancel = readCancel
	v.readWG.Add(1)
	go v.readLoop(readCtx)
	v.wg.Add(4)
	go v.writeLoop()
	go v.reportLoop()
	go v.follow()
	go v.playLoop()
	go func() {
		<-v.ctx.Done()
		v.teardown()
	}()
	v.log.Debug("joined", "ice", v.welcome.ICETransportPolicy, "maxFrame", v.welcome.MaxFrame)
	return v, nil
}

// defaultClient is shared by the viewers of a process: many viewers of one
// origin keep their connections alive.
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 1024
	t.MaxIdleConns = 4096
	return &http.Client{Transport: t}
}()

// Close stops the viewer: it sends a last stats report, leaves the swarm and
// waits for everything to finish. It returns the error that stopped the
// viewer early, if any.
func (v *Viewer) Close() error {
	v.cancel()
	<-v.done
	return v.Err()
}

// Done is closed when the viewer has stopped (Close, ctx, or an error).
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Err returns why the viewer stopped on its own (a server error, lost
// signaling), or nil.
func (v *Viewer) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// ID is the viewer's peer id in the swarm.
func (v *Viewer) ID() wire.PeerID { return v.welcome.ID }

// fail records the first error and stops the viewer.
func (v *Viewer) fail(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
	v.cancel()
}

func (v *Viewer) teardown() {
	v.closeOnce.Do(func() {
		v.wg.Wait()
		if msg, err := wire.EncodeSignal(v.wireStats()); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = v.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
		}
		closed := make(chan struct{})
		go func() {
			_ = v.ws.Close(websocket.StatusNormalClosure, "")
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			v.ws.CloseNow()
		}
		v.readCancel()
		v.readWG.Wait()
		_ = v.peer.Close()
		close(v.done)
	})
}

// Stats returns the counters so far.
func (v *Viewer) Stats() Stats {
	ps := v.peer.Stats()
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.st
	s.UploadBytes = ps.BytesSent
	s.PeerHashMismatches = ps.HashMismatch
	s.PeerProtocolErrors = ps.ProtocolError
	s.Peers = 0
	for _, n := range ps.Neighbours {
		if n.Connected {
			s.Peers++
		}
	}
	if !v.play.stallStart.IsZero() {
		s.StallTime += now.Sub(v.play.stallStart)
	}
	s.Lag = v.lagLocked(now)
	return s
}

// lagLocked is now minus the wall-clock time of the playhead.
func (v *Viewer) lagLocked(now time.Time) time.Duration {
	c := v.play.cur
	if c == nil || c.start.IsZero() {
		return -1
	}
	at := now
	if !v.play.stallStart.IsZero() {
		at = v.play.stallStart
	}
	into := min(max(at.Sub(v.play.curStart), 0), c.dur)
	return now.Sub(c.start.Add(into))
}

func (v *Viewer) wireStats() *wire.Stats {
	s := v.Stats()
	lag := int64(-1)
	if s.Lag >= 0 {
		lag = s.Lag.Milliseconds()
	}
	return &wire.Stats{
		Rendition:   v.cfg.Rendition,
		HTTPBytes:   s.HTTPBytes,
		P2PBytes:    s.P2PBytes,
		UploadBytes: s.UploadBytes,
		Stalls:      s.Stalls,
		StallMs:     s.StallTime.Milliseconds(),
		LagMs:       lag,
		Peers:       s.Peers,
		From:        v.peer.Received(),
		Paths:       v.peer.Paths(),
		Unreachable: v.peer.Unreachable(time.Now()),
	}
}

// ---- signaling ----

// signalURL is ws(s)://host/{path}/swarm.
func (v *Viewer) signalURL() string {
	u := *v.base.ResolveReference(&url.URL{Path: "swarm"})
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	return u.String()
}

// join dials the signaling socket, sends join and waits for welcome.
func (v *Viewer) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	header := v.cfg.Header.Clone()
	if header == nil {
		header = make(http.Header)
	}
	for k, vs := range v.cfg.SignalHeader {
		header[k] = append(header[k], vs...)
	}
	c, _, err := websocket.Dial(ctx, v.signalURL(), &websocket.DialOptions{HTTPClient: v.client, HTTPHeader: header})
	if err != nil {
		return fmt.Errorf("viewer: signaling: %w", err)
	}
	c.SetReadLimit(wire.MaxSignalSize)
	msg, err := wire.EncodeSignal(&wire.Join{
		V:         wire.ProtocolVersion,
		Rendition: v.cfg.Rendition,
		Upload:    wire.Upload{Enabled: v.cfg.CanUpload, CapBps: v.cfg.UploadCapBps},
		TurnOnly:  v.cfg.TurnOnly,
	})
	if err == nil {
		err = c.Write(ctx, websocket.MessageText, msg)
	}
	if err != nil {
		c.CloseNow()
		return fmt.Errorf("viewer: join: %w", err)
	}
	for {
		m, err := readSignal(ctx, c)
		if err != nil {
			c.CloseNow()
			return fmt.Errorf("viewer: waiting for welcome: %w", err)
		}
		switch m := m.(type) {
		case *wire.Welcome:
			v.ws, v.welcome = c, m
			return nil
		case *wire.ServerError:
			c.CloseNow()
			return fmt.Errorf("viewer: the server refused the join: %s", m.Reason)
		default:
			c.CloseNow()
			return fmt.Errorf("viewer: %s before welcome", m.SignalType())
		}
	}
}

func readSignal(ctx context.Context, c *websocket.Conn) (wire.Signal, error) {
	typ, data, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("binary message on the signaling socket")
	}
	return wire.DecodeFromServer(data)
}

func (v *Viewer) readLoop(ctx context.Context) {
	defer v.readWG.Done()
	for {
		m, err := readSignal(ctx, v.ws)
		if err != nil {
			if v.ctx.Err() == nil {
				v.log.Warn("signaling ended", "err", err)
				v.fail(fmt.Errorf("viewer: signaling: %w", err))
			}
			return
		}
		switch m := m.(type) {
		case *wire.Peers:
			v.peer.SetNeighbours(m.Add, m.Remove)
		case *wire.Relay:
			v.peer.HandleRelay(m)
		case *wire.PartAnnounce:
			if m.ID.Rendition != v.cfg.Rendition {
				continue
			}
			v.mu.Lock()
			if _, ok := v.announced[m.ID]; !ok {
				v.announced[m.ID] = m
				v.annOrder = append(v.annOrder, m.ID)
				for len(v.annOrder) > maxAnnounced {
					delete(v.announced, v.annOrder[0])
					v.annOrder = v.annOrder[1:]
				}
				close(v.annWake)
				v.annWake = make(chan struct{})
			}
			v.mu.Unlock()
			v.peer.Expect(m)
		case *wire.ServerError:
			v.log.Error("the server closed the session", "reason", m.Reason)
			v.fail(fmt.Errorf("viewer: server error: %s", m.Reason))
			return
		case *wire.Welcome:
			v.log.Error("a second welcome")
			v.fail(errors.New("viewer: the server sent welcome twice"))
			return
		}
	}
}

// send queues a signaling message without blocking.
func (v *Viewer) send(m wire.Signal) error {
	data, err := wire.EncodeSignal(m)
	if err != nil {
		return err
	}
	select {
	case v.out <- data:
		return nil
	default:
		return errors.New("viewer: signaling queue full")
	}
}

func (v *Viewer) relay(to wire.PeerID, r *wire.Relay) error {
	rr := *r
	rr.To, rr.From = to, ""
	return v.send(&rr)
}

func (v *Viewer) onBadPeer(p wire.PeerID, reason string) {
	v.log.Warn("reporting a neighbour", "neighbour", string(p), "reason", reason)
	if err := v.send(&wire.Report{Peer: p, Reason: reason}); err != nil {
		v.log.Warn("cannot report", "err", err)
	}
}

func (v *Viewer) writeLoop() {
	defer v.wg.Done()
	lim := newLimiter(signalsPerSecond, signalBurst)
	for {
		select {
		case <-v.ctx.Done():
			return
		case data := <-v.out:
			if !lim.wait(v.ctx) {
				return
			}
			ctx, cancel := context.WithTimeout(v.ctx, 5*time.Second)
			err := v.ws.Write(ctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				if v.ctx.Err() == nil {
					v.fail(fmt.Errorf("viewer: signaling write: %w", err))
				}
				return
			}
		}
	}
}

// reportLoop sends stats every 2 s and the parts this viewer holds every second.
func (v *Viewer) reportLoop() {
	defer v.wg.Done()
	stats := time.NewTicker(statsEvery)
	defer stats.Stop()
	for {
		select {
		case <-v.ctx.Done():
			return
		case <-stats.C:
			if err := v.send(v.wireStats()); err != nil {
				v.log.Warn("cannot send stats", "err", err)
			}
		}
	}
}

// limiter is a token bucket for outgoing signaling (the hub closes a
// session that sends too fast).
type limiter struct {
	rate   float64
	burst  float64
	tokens float64
	at     time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst, at: time.Now()}
}

func (l *limiter) wait(ctx context.Context) bool {
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.at).Seconds()*l.rate)
	l.at = now
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	if !sleepCtx(ctx, time.Duration((1-l.tokens)/l.rate*float64(time.Second))) {
		return false
	}
	l.tokens = 0
	l.at = time.Now()
	return true
}

// ---- choosing the source of a part ----
