package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// The hostile viewers of the attack suite (attack_test.go). Each speaks
// the protocol of peerpool/wire/doc.go directly, so nothing in the
// project's own clients limits what it may say. Each comes from a network
// of its own choosing: the plugin sees loopback and takes the viewer's
// network from the last X-Forwarded-For entry, as behind a reverse proxy
// on its host.

// peerEvent is one neighbour the server handed a client, and when.
type peerEvent struct {
	at   time.Time
	info wire.PeerInfo
	// reportsBefore is how many reports the client had sent by then.
	reportsBefore int
}

// refusedError is a join the server answered with "error".
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "refused: " + e.reason }

// swarmClient is one signaling session, driven by whatever attacker owns it.
type swarmClient struct {
	network string
	conn    *websocket.Conn
	id      wire.PeerID
	out     chan []byte
	done    chan struct{}
	cancel  context.CancelFunc

	mu         sync.Mutex
	ended      error  // why the session ended, once it has
	reason     string // the server's "error" reason, if it gave one
	neighbours map[wire.PeerID]wire.PeerInfo
	events     []peerEvent
	removed    map[wire.PeerID]time.Time
	reports    int
}

// dialSwarm opens a session from network, sends join and waits for
// welcome. A raw client only watches for "error" and discards everything
// else unparsed: the flood has thousands and the machine two cores.
func dialSwarm(ctx context.Context, swarmURL, network string, join wire.Join, raw bool, onMsg func(wire.Signal)) (*swarmClient, error) {
	jctx, jcancel := context.WithTimeout(ctx, 10*time.Second)
	defer jcancel()
	c, _, err := websocket.Dial(jctx, swarmURL, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {network}}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	join.V = wire.ProtocolVersion
	msg, err := wire.EncodeSignal(&join)
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	if err := c.Write(jctx, websocket.MessageText, msg); err != nil {
		c.CloseNow()
		return nil, err
	}
	var welcome *wire.Welcome
	for welcome == nil {
		_, data, err := c.Read(jctx)
		if err != nil {
			c.CloseNow()
			if ce := (websocket.CloseError{}); errors.As(err, &ce) && ce.Reason != "" {
				return nil, &refusedError{ce.Reason}
			}
			return nil, err
		}
		m, err := wire.DecodeFromServer(data)
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("the server sent an invalid message: %w", err)
		}
		switch m := m.(type) {
		case *wire.Welcome:
			welcome = m
		case *wire.ServerError:
			c.CloseNow()
			return nil, &refusedError{m.Reason}
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	sc := &swarmClient{
		network: network, conn: c, id: welcome.ID, cancel: cancel,
		out: make(chan []byte, 512), done: make(chan struct{}),
		neighbours: make(map[wire.PeerID]wire.PeerInfo),
		removed:    make(map[wire.PeerID]time.Time),
	}
	go sc.writeLoop(sctx)
	go sc.readLoop(sctx, raw, onMsg)
	return sc, nil
}

// writeLoop stays under the hub's message rate, so that no attacker is
// cut off merely for sending too fast: the suite tests what they say.
func (sc *swarmClient) writeLoop(ctx context.Context) {
	lim := rate.NewLimiter(15, 40) // the hub allows 20 a second, burst 60
	for {
		select {
		case <-ctx.Done():
			return
		case <-sc.done:
			return
		case data := <-sc.out:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := sc.conn.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil || lim.Wait(ctx) != nil {
				return
			}
		}
	}
}

func (sc *swarmClient) readLoop(ctx context.Context, raw bool, onMsg func(wire.Signal)) {
	defer close(sc.done)
	for {
		_, data, err := sc.conn.Read(ctx)
		if err != nil {
			sc.mu.Lock()
			if sc.ended == nil {
				sc.ended = err
			}
			if ce := (websocket.CloseError{}); errors.As(err, &ce) && sc.reason == "" {
				sc.reason = ce.Reason
			}
			sc.mu.Unlock()
			return
		}
		if raw && !strings.Contains(string(data[:min(len(data), 16)]), `"error"`) {
			continue
		}
		m, err := wire.DecodeFromServer(data)
		if err != nil {
			continue
		}
		switch m := m.(type) {
		case *wire.Peers:
			now := time.Now()
			sc.mu.Lock()
			for _, id := range m.Remove {
				delete(sc.neighbours, id)
				sc.removed[id] = now
			}
			for _, a := range m.Add {
				sc.neighbours[a.ID] = a
				sc.events = append(sc.events, peerEvent{at: now, info: a, reportsBefore: sc.reports})
			}
			sc.mu.Unlock()
		case *wire.ServerError:
			sc.mu.Lock()
			sc.reason = m.Reason
			sc.mu.Unlock()
		}
		if onMsg != nil {
			onMsg(m)
		}
	}
}

// send queues a message; a client whose queue is full drops it.
func (sc *swarmClient) send(m wire.Signal) bool {
	data, err := wire.EncodeSignal(m)
	if err != nil {
		return false
	}
	select {
	case sc.out <- data:
		return true
	default:
		return false
	}
}

func (sc *swarmClient) open() bool {
	select {
	case <-sc.done:
		return false
	default:
		return true
	}
}

// endReason is the server's reason for closing the session, or the read
// error; "" while it is open.
func (sc *swarmClient) endReason() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.reason != "" {
		return sc.reason
	}
	if sc.ended != nil {
		return sc.ended.Error()
	}
	return ""
}

func (sc *swarmClient) currentNeighbours() map[wire.PeerID]wire.PeerInfo {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return maps.Clone(sc.neighbours)
}

func (sc *swarmClient) peerEvents() []peerEvent {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]peerEvent(nil), sc.events...)
}

func (sc *swarmClient) close() {
	_ = sc.conn.Close(websocket.StatusNormalClosure, "")
	sc.cancel()
	sc.conn.CloseNow()
}

// startStats sends stats every 2 s, as every client does; fill sets the
// counters.
func (sc *swarmClient) startStats(fill func(*wire.Stats)) {
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-sc.done:
				return
			case <-t.C:
				st := &wire.Stats{Rendition: "source", LagMs: -1}
				fill(st)
				sc.send(st)
			}
		}
	}()
}

// ---- forger ----

// forgeReasons are cycled through, so that every reason a report can
// give is tried.
var forgeReasons = []string{wire.ReasonHashMismatch, wire.ReasonProtocol, wire.ReasonTimeout}

// forger joins as an uploader, never exchanges a byte, and reports every
// neighbour it is given as soon as it is given it.
type forger struct {
	*swarmClient
	reported map[wire.PeerID]time.Time // read goroutine only until closed
}

func startForger(ctx context.Context, swarmURL, network string) (*forger, error) {
	f := &forger{reported: make(map[wire.PeerID]time.Time)}
	var sc *swarmClient
	ready := make(chan struct{})
	onMsg := func(m wire.Signal) {
		<-ready
		p, ok := m.(*wire.Peers)
		if !ok {
			return
		}
		for _, a := range p.Add {
			if a.ID == sc.id {
				continue
			}
			sc.mu.Lock()
			reason := forgeReasons[sc.reports%len(forgeReasons)]
			sc.reports++
			if _, ok := f.reported[a.ID]; !ok {
				f.reported[a.ID] = time.Now()
			}
			sc.mu.Unlock()
			sc.send(&wire.Report{Peer: a.ID, Reason: reason})
		}
	}
	sc, err := dialSwarm(ctx, swarmURL, network, wire.Join{Rendition: "source", Upload: wire.Upload{Enabled: true, CapBps: 280_000}}, false, onMsg)
	if err != nil {
		return nil, err
	}
	f.swarmClient = sc
	close(ready)
	sc.startStats(func(*wire.Stats) {})
	return f, nil
}

// reportedAt is when the forger reported id (zero if never).
func (f *forger) reportedAt(id wire.PeerID) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reported[id]
}

// ---- silent neighbour ----

// startSilent joins as an uploader and then never answers an offer, an
// answer or a candidate: its neighbours wait for a connection that never
// comes. It declares a huge upload cap, which is free to say and puts it
// where the most viewers depend on it.
func startSilent(ctx context.Context, swarmURL, network string) (*swarmClient, error) {
	sc, err := dialSwarm(ctx, swarmURL, network, wire.Join{Rendition: "source", Upload: wire.Upload{Enabled: true, CapBps: 1_000_000_000}}, false, nil)
	if err != nil {
		return nil, err
	}
	sc.startStats(func(*wire.Stats) {})
	return sc, nil
}

// ---- liar ----

// liar declares a huge upload cap and reports uploads it never made. It
// connects to its neighbours over WebRTC like any peer, asks for every
// new part it hears of (announced since it joined, as a player at the
// live edge needs them) and takes it, says HAVE for it at once, and then
// passes nothing on: a WANT gets silence, or NOPE when nope is set.
type liar struct {
	*swarmClient
	nope bool
	api  *webrtc.API

	lmu      sync.Mutex
	conns    map[wire.PeerID]*liarConn
	early    map[wire.PeerID][]*wire.Relay
	wanted   map[wire.PartID]bool
	got      map[wire.PartID]bool
	live     map[wire.PartID]bool // announced since it joined: what a player needs
	received int64
	claimed  int64
	wants    int                 // WANTs it ignored or refused
	wantsBy  map[wire.PeerID]int // the same, by the neighbour that sent them
}

type liarConn struct {
	id       wire.PeerID
	noUpload bool
	pc       *webrtc.PeerConnection
	cands    []webrtc.ICECandidateInit
	dc       *webrtc.DataChannel // set once open
}

// liarClaimedPerReport is the upload it claims every 2 s: a hundred times
// the stream's bitrate, well within its declared cap.
const liarClaimedPerReport = 20_000_000

func startLiar(ctx context.Context, swarmURL, network string, nope bool) (*liar, error) {
	l := &liar{
		nope: nope, api: peer.NewLoopbackAPI(),
		conns: make(map[wire.PeerID]*liarConn), early: make(map[wire.PeerID][]*wire.Relay),
		wanted: make(map[wire.PartID]bool), got: make(map[wire.PartID]bool), live: make(map[wire.PartID]bool),
		wantsBy: make(map[wire.PeerID]int),
	}
	ready := make(chan struct{})
	onMsg := func(m wire.Signal) {
		<-ready
		l.onSignal(m)
	}
	sc, err := dialSwarm(ctx, swarmURL, network, wire.Join{Rendition: "source", Upload: wire.Upload{Enabled: true, CapBps: 1_000_000_000}}, false, onMsg)
	if err != nil {
		return nil, err
	}
	l.swarmClient = sc
	close(ready)
	sc.startStats(func(st *wire.Stats) {
		l.lmu.Lock()
		defer l.lmu.Unlock()
		l.claimed += liarClaimedPerReport
		st.P2PBytes, st.UploadBytes, st.LagMs = l.received, l.claimed, 1500
		for _, c := range l.conns {
			if c.dc != nil {
				st.Peers++
			}
		}
	})
	return l, nil
}

// onSignal runs on the read goroutine: signaling is handled in order.
func (l *liar) onSignal(m wire.Signal) {
	switch m := m.(type) {
	case *wire.PartAnnounce:
		l.lmu.Lock()
		if len(l.live) > 4096 {
			clear(l.live)
		}
		l.live[m.ID] = true
		l.lmu.Unlock()
	case *wire.Peers:
		for _, id := range m.Remove {
			l.lmu.Lock()
			c := l.conns[id]
			delete(l.conns, id)
			l.lmu.Unlock()
			if c != nil {
				go c.pc.Close()
			}
		}
		for _, a := range m.Add {
			l.connect(a)
		}
	case *wire.Relay:
		l.lmu.Lock()
		c := l.conns[m.From]
		if c == nil {
			if q := l.early[m.From]; len(q) < 32 && len(l.early) < 64 {
				l.early[m.From] = append(q, m)
			}
			l.lmu.Unlock()
			return
		}
		l.lmu.Unlock()
		l.handleRelay(c, m)
	}
}

func (l *liar) connect(a wire.PeerInfo) {
	l.lmu.Lock()
	if a.ID == l.id || l.conns[a.ID] != nil {
		l.lmu.Unlock()
		return
	}
	l.lmu.Unlock()
	pc, err := l.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return
	}
	c := &liarConn{id: a.ID, noUpload: a.NoUpload, pc: pc}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		l.send(&wire.Relay{To: c.id, Candidate: peer.CandidateToWire(cand.ToJSON())})
	})
	l.lmu.Lock()
	l.conns[a.ID] = c
	early := l.early[a.ID]
	delete(l.early, a.ID)
	l.lmu.Unlock()
	// The same rule as every peer: a seed offers, otherwise the smaller id.
	if !a.Seed && l.id < a.ID {
		ordered := true
		dc, err := pc.CreateDataChannel(wire.DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			return
		}
		l.setupDC(c, dc)
		offer, err := pc.CreateOffer(nil)
		if err != nil || pc.SetLocalDescription(offer) != nil {
			return
		}
		l.send(&wire.Relay{To: c.id, SDP: &wire.SDP{Type: "offer", SDP: offer.SDP}})
	} else {
		pc.OnDataChannel(func(dc *webrtc.DataChannel) { l.setupDC(c, dc) })
	}
	for _, r := range early {
		l.handleRelay(c, r)
	}
}

func (l *liar) handleRelay(c *liarConn, r *wire.Relay) {
	switch {
	case r.SDP != nil && r.SDP.Type == "offer":
		if c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: r.SDP.SDP}) != nil {
			return
		}
		l.flush(c)
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil || c.pc.SetLocalDescription(answer) != nil {
			return
		}
		l.send(&wire.Relay{To: c.id, SDP: &wire.SDP{Type: "answer", SDP: answer.SDP}})
	case r.SDP != nil && r.SDP.Type == "answer":
		if c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: r.SDP.SDP}) == nil {
			l.flush(c)
		}
	case r.Candidate != nil && r.Candidate.Candidate != "":
		init := peer.CandidateFromWire(r.Candidate)
		if c.pc.RemoteDescription() == nil {
			c.cands = append(c.cands, init)
			return
		}
		_ = c.pc.AddICECandidate(init)
	}
}

func (l *liar) flush(c *liarConn) {
	for _, init := range c.cands {
		_ = c.pc.AddICECandidate(init)
	}
	c.cands = nil
}

func (l *liar) setupDC(c *liarConn, dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		l.lmu.Lock()
		c.dc = dc
		l.lmu.Unlock()
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) { l.onFrame(c, dc, m.Data) })
}

func (l *liar) onFrame(c *liarConn, dc *webrtc.DataChannel, data []byte) {
	f, err := wire.ParseFrame(data)
	if err != nil {
		return
	}
	var reply []byte
	var haves []*webrtc.DataChannel
	l.lmu.Lock()
	switch f := f.(type) {
	case wire.ControlFrame:
		switch f.Type {
		case wire.FrameHave:
			if !c.noUpload && l.live[f.Part] && !l.wanted[f.Part] && !l.got[f.Part] {
				l.wanted[f.Part] = true
				reply, _ = wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameWant, Part: f.Part})
			}
		case wire.FrameWant:
			l.wants++
			l.wantsBy[c.id]++
			if l.nope {
				reply, _ = wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameNope, Part: f.Part})
			}
		case wire.FrameNope:
			delete(l.wanted, f.Part) // the next neighbour to say HAVE is asked
		}
	case wire.DataFrame:
		l.received += int64(len(f.Payload))
		if f.Offset == 0 && !l.got[f.Part] {
			// HAVE after the first chunk, as a peer passing chunks on says it.
			if len(l.got) > 4096 {
				clear(l.got)
				clear(l.wanted)
			}
			l.got[f.Part] = true
			reply, _ = wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameHave, Part: f.Part})
			for _, o := range l.conns {
				if o.dc != nil && o != c {
					haves = append(haves, o.dc)
				}
			}
		}
	}
	l.lmu.Unlock()
	if reply == nil {
		return
	}
	if f.FrameType() == wire.FrameData {
		for _, o := range haves {
			_ = o.Send(reply)
		}
	}
	_ = dc.Send(reply)
}

// counters: bytes taken from neighbours and WANTs left unserved.
func (l *liar) counters() (received int64, wants int, connected int) {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	for _, c := range l.conns {
		if c.dc != nil && c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
			connected++
		}
	}
	return l.received, l.wants, connected
}

// mostWantsFromOne is the most WANTs one neighbour sent it in vain.
func (l *liar) mostWantsFromOne() int {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	most := 0
	for _, n := range l.wantsBy {
		most = max(most, n)
	}
	return most
}

func (l *liar) close() {
	l.swarmClient.close()
	l.lmu.Lock()
	conns := l.conns
	l.conns = map[wire.PeerID]*liarConn{}
	l.lmu.Unlock()
	for _, c := range conns {
		_ = c.pc.Close()
	}
}

// ---- the honest viewers' view of the server ----

// signalTap sits between one honest viewer and the plugin's swarm
// WebSocket, as a reverse proxy on the server's host would: it adds the
// viewer's network as X-Forwarded-For and relays every message unchanged.
// It records the neighbour list the server gives the viewer, which the
// viewer's own Stats do not expose.
type signalTap struct {
	upstream string
	network  string
	srv      *http.Server
	addr     string

	mu         sync.Mutex
	sessions   int
	neighbours map[wire.PeerID]wire.PeerInfo // of the current session
	everAdded  []wire.PeerInfo               // over all sessions
}

func (tp *signalTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	down, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer down.CloseNow()
	down.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	up, _, err := websocket.Dial(ctx, tp.upstream, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {tp.network}}})
	if err != nil {
		_ = down.Close(websocket.StatusInternalError, "tap: "+truncateReason(err.Error()))
		return
	}
	defer up.CloseNow()
	up.SetReadLimit(1 << 20)
	tp.mu.Lock()
	tp.sessions++
	session := tp.sessions
	tp.neighbours = make(map[wire.PeerID]wire.PeerInfo)
	tp.mu.Unlock()
	go func() {
		defer cancel()
		for {
			typ, data, err := down.Read(ctx)
			if err != nil {
				_ = up.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err := up.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}()
	for {
		typ, data, err := up.Read(ctx)
		if err != nil {
			if ce := (websocket.CloseError{}); errors.As(err, &ce) {
				_ = down.Close(ce.Code, ce.Reason)
			}
			return
		}
		if m, err := wire.DecodeFromServer(data); err == nil {
			if p, ok := m.(*wire.Peers); ok {
				tp.mu.Lock()
				if tp.sessions == session {
					for _, id := range p.Remove {
						delete(tp.neighbours, id)
					}
					for _, a := range p.Add {
						tp.neighbours[a.ID] = a
					}
				}
				tp.everAdded = append(tp.everAdded, p.Add...)
				tp.mu.Unlock()
			}
		}
		if err := down.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func truncateReason(s string) string { return s[:min(len(s), 100)] }

func (tp *signalTap) current() map[wire.PeerID]wire.PeerInfo {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return maps.Clone(tp.neighbours)
}

func (tp *signalTap) added() []wire.PeerInfo {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]wire.PeerInfo(nil), tp.everAdded...)
}

// tapTransport sends the viewer's WebSocket handshake to its tap and
// everything else (playlists, media) straight to the origin.
type tapTransport struct {
	tap  string // host:port
	next http.RoundTripper
}

func (tt tapTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		r = r.Clone(r.Context())
		u := *r.URL
		u.Host = tt.tap
		r.URL, r.Host = &u, tt.tap
	}
	return tt.next.RoundTrip(r)
}

var tapMediaTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 1024
	t.MaxIdleConns = 4096
	return t
}()

// swarmWS is the stream's swarm WebSocket URL for a stack's origin.
func swarmWS(base string) string {
	u, _ := url.Parse(base)
	u.Scheme = "ws"
	u.Path = "/live/show/swarm"
	return u.String()
}

// tampering is a viewer's exchange that changes every DATA frame it hands
// out (on a private copy): a viewer running a modified client.
type tampering struct {
	*exchange.Machine
	tamper func(frame []byte)
}

func (t tampering) Transmit(now time.Time, to wire.PeerID, buffered int) []byte {
	f := t.Machine.Transmit(now, to, buffered)
	if f != nil && wire.FrameType(f[0]) == wire.FrameData {
		f = append([]byte(nil), f...)
		t.tamper(f)
	}
	return f
}

// corrupting returns a viewer.Config.Exchange whose DATA frames tamper
// changes; nil tamper is the standard exchange.
func corrupting(tamper func(frame []byte)) func(exchange.Config, time.Time) (peer.Exchange, error) {
	if tamper == nil {
		return nil
	}
	return func(c exchange.Config, now time.Time) (peer.Exchange, error) {
		m, err := exchange.New(c, now)
		return tampering{m, tamper}, err
	}
}
