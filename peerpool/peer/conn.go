package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// conn is the connection to one neighbour. Fields below "guarded" are
// guarded by the Peer's mutex.
type conn struct {
	p    *Peer
	id   wire.PeerID
	seed bool // the neighbour is a seed: its unsolicited DATA is accepted
	// noUpload: the server says the neighbour will not upload. Its HAVE
	// is ignored, so it is never asked and any DATA from it is refused.
	noUpload bool
	blocked  bool // its data channel is full (guarded by p.mu)
	offerer  bool // this side offers
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	pc       *webrtc.PeerConnection
	inbox    chan *wire.Relay
	wake     chan struct{}             // sender: work queued
	low      chan struct{}             // sender: bufferedAmountLow
	cands    []webrtc.ICECandidateInit // before the remote description; run goroutine only

	// guarded
	dc           *webrtc.DataChannel
	gotDC        bool
	open         bool
	closed       bool
	ns           *NeighbourStats
	has          *idSet // parts the neighbour said HAVE for
	ignored      *idSet // parts whose DATA from this neighbour is dropped (we cancelled them)
	requests     map[wire.PartID]*request
	incoming     map[wire.PartID]*incoming
	pendingBytes int
	control      [][]byte
	uploads      []*upload
	throughput   float64
	unsolicited  int64
	winStart     time.Time
	winFrames    int
	verified     int64 // part bytes received from it and verified, told to the server (Peer.Received)
	fruitless    int   // WANTs in a row it let stall (fruitless.go)
	nopes        int   // NOPEs to our WANTs while it has delivered nothing
}

// request is one WANT we sent; done is closed on NOPE or disconnection.
type request struct {
	sent time.Time
	done chan struct{}
}

// incoming is a part being received from one neighbour. Until the part is
// announced its frames are kept in pending (checked for order only).
type incoming struct {
	asm          *wire.Assembler
	pending      []wire.DataFrame
	pendingBytes int
	next, total  uint32
	started      time.Time
	progress     time.Time
	req          *request
}

// upload is a part being sent to one neighbour, from its verified bytes
// (all of them, or a prefix while it is still arriving: cutthrough.go).
type upload struct {
	id       wire.PartID
	total    int
	data     []byte // the verified bytes known so far
	sent     int
	progress time.Time // when data last grew
	seq      uint64    // queue order across the peer (uploadorder.go)
}

const maxControlQueue = 8192

// newConn creates the connection to neighbour id and starts its
// goroutines. Called with p.mu held.
func (p *Peer) newConn(info wire.PeerInfo, offerer bool) (*conn, error) {
	id, seed := info.ID, info.Seed
	policy := webrtc.ICETransportPolicyAll
	if p.cfg.RelayOnly {
		policy = webrtc.ICETransportPolicyRelay
	}
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.cfg.ICEServers, ICETransportPolicy: policy})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	ns := p.st.nstats(id)
	c := &conn{
		p: p, id: id, seed: seed, noUpload: info.NoUpload, offerer: offerer,
		log:      p.log.With("neighbour", short(id)),
		ctx:      ctx,
		cancel:   cancel,
		pc:       pc,
		inbox:    make(chan *wire.Relay, maxEarlyMsgs+96),
		wake:     make(chan struct{}, 1),
		low:      make(chan struct{}, 1),
		ns:       ns,
		has:      newIDSet(maxHave),
		ignored:  newIDSet(maxHave),
		requests: make(map[wire.PartID]*request),
		incoming: make(map[wire.PartID]*incoming),
	}
	p.conns[id] = c

	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		c.relay(&wire.Relay{To: c.id, Candidate: CandidateToWire(cand.ToJSON())})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.log.Debug("connection state", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			p.drop(c, "connection "+s.String())
		}
	})
	if offerer {
		ordered := true
		dc, err := pc.CreateDataChannel(wire.DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			cancel()
			delete(p.conns, id)
			pc.Close()
			return nil, err
		}
		c.gotDC = true
		c.setupDC(dc)
	} else {
		pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			p.mu.Lock()
			ok := !c.closed && !c.gotDC && dc.Label() == wire.DataChannelLabel && dc.Ordered() && dc.MaxRetransmits() == nil && dc.MaxPacketLifeTime() == nil
			if ok {
				c.gotDC = true
			}
			p.mu.Unlock()
			if !ok {
				c.log.Warn("refusing a data channel", "label", dc.Label())
				dc.Close()
				return
			}
			c.setupDC(dc)
		})
	}
	p.wg.Add(2)
	go c.run()
	go c.sender()
	return c, nil
}

func (c *conn) setupDC(dc *webrtc.DataChannel) {
	p := c.p
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case c.low <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.closed || c.open {
			return
		}
		c.dc, c.open = dc, true
		c.log.Debug("data channel open")
		if p.cfg.CanUpload {
			for _, id := range p.store.newest(haveOnOpen) {
				c.queueControlLocked(wire.FrameHave, id)
			}
		}
		c.signal()
		p.changed()
	})
	dc.OnClose(func() { p.drop(c, "data channel closed") })
	dc.OnMessage(c.onMessage)
}

func (c *conn) relay(r *wire.Relay) {
	if c.ctx.Err() != nil {
		return
	}
	if err := c.p.sig.Relay(c.id, r); err != nil {
		c.log.Warn("signaling failed", "err", err)
	}
}

// run does the signaling of this connection, in order.
func (c *conn) run() {
	defer c.p.wg.Done()
	if c.offerer {
		if err := c.offer(); err != nil {
			c.p.drop(c, "offer: "+err.Error())
			return
		}
	}
	t := time.NewTimer(c.p.cfg.ConnectTimeout)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case r := <-c.inbox:
			if err := c.handleSignal(r); err != nil {
				c.p.drop(c, "signaling: "+err.Error())
				return
			}
		case <-t.C:
			c.p.mu.Lock()
			open := c.open
			c.p.mu.Unlock()
			if !open {
				c.p.drop(c, "no data channel after "+c.p.cfg.ConnectTimeout.String())
				// Told to the server, which never pairs the two again: a
				// neighbour that never opens holds a slot someone could use.
				if cb := c.p.cfg.OnBadPeer; cb != nil && !c.seed {
					cb(c.id, wire.ReasonTimeout)
				}
				return
			}
		}
	}
}

func (c *conn) offer() error {
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	c.relay(&wire.Relay{To: c.id, SDP: &wire.SDP{Type: "offer", SDP: offer.SDP}})
	return nil
}

func (c *conn) handleSignal(r *wire.Relay) error {
	switch {
	case r.SDP != nil:
		switch r.SDP.Type {
		case "offer":
			if c.offerer || c.pc.RemoteDescription() != nil {
				return errors.New("unexpected offer")
			}
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: r.SDP.SDP}); err != nil {
				return err
			}
			c.flushCandidates()
			answer, err := c.pc.CreateAnswer(nil)
			if err != nil {
				return err
			}
			if err := c.pc.SetLocalDescription(answer); err != nil {
				return err
			}
			c.relay(&wire.Relay{To: c.id, SDP: &wire.SDP{Type: "answer", SDP: answer.SDP}})
		case "answer":
			if !c.offerer || c.pc.RemoteDescription() != nil {
				return errors.New("unexpected answer")
			}
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: r.SDP.SDP}); err != nil {
				return err
			}
			c.flushCandidates()
		default:
			return fmt.Errorf("sdp type %q", r.SDP.Type)
		}
	case r.Candidate != nil:
		if r.Candidate.Candidate == "" { // end of candidates
			return nil
		}
		init := CandidateFromWire(r.Candidate)
		if c.pc.RemoteDescription() == nil {
			if len(c.cands) < 64 {
				c.cands = append(c.cands, init)
			}
			return nil
		}
		if err := c.pc.AddICECandidate(init); err != nil {
			c.log.Debug("bad remote candidate", "err", err)
		}
	}
	return nil
}

func (c *conn) flushCandidates() {
	for _, init := range c.cands {
		if err := c.pc.AddICECandidate(init); err != nil {
			c.log.Debug("bad remote candidate", "err", err)
		}
	}
	c.cands = nil
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// queueControlLocked queues a HAVE, WANT, CANCEL or NOPE frame; control
// frames go before any further DATA.
func (c *conn) queueControlLocked(t wire.FrameType, id wire.PartID) {
	if c.closed {
		return
	}
	if len(c.control) >= maxControlQueue {
		c.p.dropLocked(c, "control queue overflow (neighbour not reading)")
		return
	}
	b, err := wire.AppendFrame(nil, wire.ControlFrame{Type: t, Part: id})
	if err != nil { // unreachable: ids are validated on the way in
		c.log.Error("cannot encode a frame", "err", err)
		return
	}
	c.control = append(c.control, b)
	c.signal()
}

// queueUploadLocked queues part id for sending from the verified bytes
// this peer holds, unless it is already queued or the queue is full (it
// reports whether it queued).
func (c *conn) queueUploadLocked(id wire.PartID) bool {
	data, total := c.p.partBytesLocked(id)
	if c.closed || len(data) == 0 || len(c.uploads) >= maxUploads {
		return false
	}
	for _, u := range c.uploads {
		if u.id == id {
			return true
		}
	}
	c.p.uploadSeq++
	c.uploads = append(c.uploads, &upload{id: id, total: total, data: data, progress: time.Now(), seq: c.p.uploadSeq})
	c.signal()
	return true
}

func (c *conn) removeUploadLocked(u *upload) {
	for i, o := range c.uploads {
		if o == u {
			c.uploads = append(c.uploads[:i], c.uploads[i+1:]...)
			return
		}
	}
}

func (c *conn) uploadingLocked(id wire.PartID) bool {
	for _, u := range c.uploads {
		if u.id == id {
			return true
		}
	}
	return false
}

// sender writes queued frames in order (control first), within the upload
// cap and the data channel's buffer limit.
func (c *conn) sender() {
	p := c.p
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if c.closed {
			p.mu.Unlock()
			return
		}
		var frame []byte
		var u *upload
		payload := 0
		last := false
		var wait time.Duration
		if c.open && len(c.control) > 0 {
			frame = c.control[0]
			c.control[0] = nil
			c.control = c.control[1:]
		} else if c.open && len(c.uploads) > 0 {
			u = c.readyUploadLocked(time.Now())
			switch {
			case u == nil:
				// Waiting for the bytes of a part still arriving (they
				// wake us); look again now and then to drop a starved one.
				wait = starvedUpload / 5
			case !p.mayUploadLocked(c, u):
				wait = uploadPoll
			case p.bucket != nil:
				wait = p.bucket.wait()
			}
			if u != nil && wait == 0 {
				f, err := c.nextFrameLocked(u)
				if err != nil { // unreachable: ids and sizes were checked on the way in
					c.log.Error("cannot encode a DATA frame", "part", u.id.String(), "err", err)
					c.removeUploadLocked(u)
					u = nil
				} else {
					frame = f
					payload = len(frame) - wire.DataHeaderLen(u.id)
					u.sent += payload
					if u.sent == u.total {
						c.removeUploadLocked(u)
						last = true
					}
					if p.bucket != nil {
						p.bucket.spend(len(frame))
					}
				}
			} else {
				u = nil
			}
		}
		dc := c.dc
		p.mu.Unlock()
		if frame == nil {
			// Nothing to send, or DATA waiting for the upload cap:
			// control frames queued meanwhile still go out at once.
			var tick <-chan time.Time
			var t *time.Timer
			if wait > 0 {
				t = time.NewTimer(wait)
				tick = t.C
			}
			select {
			case <-c.ctx.Done():
			case <-c.wake:
			case <-tick:
			}
			if t != nil {
				t.Stop()
			}
			if c.ctx.Err() != nil {
				return
			}
			continue
		}
		if dc.BufferedAmount()+uint64(len(frame)) > maxBuffered {
			p.mu.Lock()
			c.blocked = true // the next upload in line may go meanwhile (uploadorder.go)
			p.wakeUploadsLocked()
			p.mu.Unlock()
			for dc.BufferedAmount()+uint64(len(frame)) > maxBuffered {
				t := time.NewTimer(100 * time.Millisecond) // in case a low event is missed
				select {
				case <-c.ctx.Done():
					t.Stop()
					return
				case <-c.low:
				case <-t.C:
				}
				t.Stop()
			}
			p.mu.Lock()
			c.blocked = false
			p.mu.Unlock()
		}
		if u != nil && p.cfg.TamperData != nil {
			frame = append([]byte(nil), frame...)
			p.cfg.TamperData(frame)
		}
		if h := p.cfg.frameSent; h != nil {
			h(len(frame))
		}
		if w := p.cfg.withhold; w == nil || !w(frame) {
			if err := dc.Send(frame); err != nil {
				p.drop(c, "send: "+err.Error())
				return
			}
		}
		if u != nil {
			n := int64(payload)
			p.mu.Lock()
			c.ns.BytesSent += n
			p.st.BytesSent += n
			if last {
				c.ns.PartsSent++
				p.st.PartsServed++
				p.reofferLocked()
				p.wakeUploadsLocked()
			}
			p.mu.Unlock()
		}
	}
}

func (c *conn) onMessage(m webrtc.DataChannelMessage) {
	p := c.p
	p.mu.Lock()
	post := c.handleFrameLocked(m, nil)
	p.mu.Unlock()
	runAll(post)
	if h := p.cfg.frameHandled; h != nil {
		h(c.id, m.Data)
	}
}

func (c *conn) handleFrameLocked(m webrtc.DataChannelMessage, post []func()) []func() {
	p := c.p
	if c.closed {
		return post
	}
	now := time.Now()
	if now.Sub(c.winStart) >= time.Second {
		c.winStart, c.winFrames = now, 0
	}
	c.winFrames++
	if c.winFrames > maxFramesPerSec {
		return p.badLocked(c, wire.ReasonProtocol, fmt.Errorf("more than %d frames in a second", maxFramesPerSec), post)
	}
	if m.IsString {
		return p.badLocked(c, wire.ReasonProtocol, errors.New("text message on the data channel"), post)
	}
	f, err := wire.ParseFrame(m.Data)
	if err != nil {
		return p.badLocked(c, wire.ReasonProtocol, err, post)
	}
	switch f := f.(type) {
	case wire.ControlFrame:
		id := f.Part
		switch f.Type {
		case wire.FrameHave:
			if !c.noUpload && !c.has.has(id) {
				c.has.add(id)
				p.changed()
			}
		case wire.FrameWant:
			switch {
			case !p.cfg.CanUpload || !p.holdsLocked(id) || p.cfg.refuseWants:
				c.queueControlLocked(wire.FrameNope, id)
			case c.uploadingLocked(id):
			case p.busyLocked():
				p.declineLocked(c, id)
			case !c.queueUploadLocked(id):
				c.queueControlLocked(wire.FrameNope, id)
			}
		case wire.FrameCancel:
			for i, u := range c.uploads {
				if u.id == id {
					c.uploads = append(c.uploads[:i], c.uploads[i+1:]...)
					if !c.has.has(id) && p.store.get(id) != nil {
						// A push it declined: it may still want it later.
						c.queueControlLocked(wire.FrameHave, id)
					}
					break
				}
			}
		case wire.FrameNope:
			c.has.del(id)
			if req := c.requests[id]; req != nil {
				delete(c.requests, id)
				close(req.done)
				if c.verified == 0 {
					c.nopes++
					post = p.fruitlessLocked(c, post)
				}
				if in := c.incoming[id]; in != nil {
					c.pendingBytes -= in.pendingBytes
					delete(c.incoming, id)
					c.ignored.add(id)
				}
			}
			p.changed()
		}
	case wire.DataFrame:
		post = c.onDataLocked(f, now, post)
	}
	return post
}

func (c *conn) onDataLocked(f wire.DataFrame, now time.Time, post []func()) []func() {
	p := c.p
	n := len(f.Payload)
	c.ns.BytesReceived += int64(n)
	p.st.BytesReceived += int64(n)
	id := f.Part
	in := c.incoming[id]
	if in == nil {
		if c.ignored.has(id) {
			return post
		}
		req := c.requests[id]
		if req == nil && !c.seed {
			c.unsolicited += int64(n)
			if c.unsolicited > maxUnsolicited {
				return p.badLocked(c, wire.ReasonProtocol, fmt.Errorf("%d bytes of DATA nobody asked for", c.unsolicited), post)
			}
			return post
		}
		if f.Offset != 0 {
			return p.badLocked(c, wire.ReasonProtocol, fmt.Errorf("part %s: first DATA at offset %d", id, f.Offset), post)
		}
		if p.store.get(id) != nil || len(c.incoming) >= maxIncoming {
			c.abandonLocked(id) // a part we have already, or too many at once
			return post
		}
		in = &incoming{started: now, total: f.Total, req: req}
		c.incoming[id] = in
		p.changed() // a fetch waiting for id now waits for this transfer
		if a := p.expected[id]; a != nil {
			if post = c.announceLocked(in, a, post); c.incoming[id] != in {
				return post
			}
		}
	}
	in.progress = now
	if in.asm != nil {
		return c.addLocked(in, f, now, post)
	}
	// Not announced yet: keep the frames (in order, bounded) until Expect.
	if f.Offset != in.next || f.Total != in.total {
		return p.badLocked(c, wire.ReasonProtocol, fmt.Errorf("part %s: DATA at offset %d of %d, expected offset %d of %d", id, f.Offset, f.Total, in.next, in.total), post)
	}
	if c.pendingBytes+n > maxPendingBytes {
		c.log.Info("too many bytes of parts not announced yet; dropping one", "part", id.String())
		c.abandonLocked(id)
		return post
	}
	in.pending = append(in.pending, f) // pion gives each message its own buffer
	in.pendingBytes += n
	c.pendingBytes += n
	in.next += uint32(n)
	return post
}

// announceLocked starts verifying a part now announced, with the frames
// received so far.
func (c *conn) announceLocked(in *incoming, a *wire.PartAnnounce, post []func()) []func() {
	p := c.p
	if int64(a.Size) != int64(in.total) {
		return p.badLocked(c, wire.ReasonProtocol, fmt.Errorf("part %s: DATA total %d differs from the announced size %d", a.ID, in.total, a.Size), post)
	}
	asm, err := wire.NewAssemblerFor(a)
	if err != nil {
		return p.badLocked(c, wire.ReasonProtocol, err, post)
	}
	in.asm = asm
	pending := in.pending
	c.pendingBytes -= in.pendingBytes
	in.pending, in.pendingBytes = nil, 0
	for _, f := range pending {
		if post = c.addLocked(in, f, time.Now(), post); c.incoming[a.ID] != in {
			break
		}
	}
	return post
}

// addLocked feeds one frame to an announced part's assembler.
func (c *conn) addLocked(in *incoming, f wire.DataFrame, now time.Time, post []func()) []func() {
	p := c.p
	before := len(in.asm.Verified())
	done, err := in.asm.Add(f)
	if err != nil {
		reason := wire.ReasonProtocol
		if errors.Is(err, wire.ErrHashMismatch) {
			reason = wire.ReasonHashMismatch
		}
		return p.badLocked(c, reason, err, post)
	}
	after := len(in.asm.Verified())
	if done {
		after = len(in.asm.Bytes())
	}
	if after > before {
		c.verified += int64(after - before)
		c.fruitless = 0
	}
	if !done {
		if len(in.asm.Verified()) > before {
			p.verifiedMoreLocked(c, f.Part)
		}
		return post
	}
	id := f.Part
	delete(c.incoming, id)
	start := in.started
	if in.req != nil {
		start = in.req.sent
		if c.requests[id] == in.req {
			delete(c.requests, id)
		}
	}
	data := in.asm.Bytes()
	if d := now.Sub(start).Seconds(); d > 0 {
		bps := float64(len(data)) / d
		if c.throughput == 0 {
			c.throughput = bps
		} else {
			c.throughput = 0.7*c.throughput + 0.3*bps
		}
	}
	c.ns.PartsReceived++
	c.has.add(id)
	if !p.store.add(id, data) {
		p.st.Duplicates++
		return post
	}
	p.st.PartsFromPeer++
	p.storedLocked(id, data, c)
	if cb := p.cfg.OnPart; cb != nil {
		from := c.id
		post = append(post, func() { cb(id, data, from) })
	}
	return post
}

// abandonLocked forgets our WANT and any transfer of id from this
// neighbour, tells it CANCEL, and drops its further DATA for id.
func (c *conn) abandonLocked(id wire.PartID) {
	if req := c.requests[id]; req != nil {
		delete(c.requests, id)
		close(req.done)
	}
	if in := c.incoming[id]; in != nil {
		c.pendingBytes -= in.pendingBytes
		delete(c.incoming, id)
	}
	if !c.ignored.has(id) {
		c.ignored.add(id)
		c.queueControlLocked(wire.FrameCancel, id)
	}
}

// drop closes the connection (idempotent).
func (p *Peer) drop(c *conn, reason string) {
	p.mu.Lock()
	p.dropLocked(c, reason)
	p.mu.Unlock()
}

func (p *Peer) dropLocked(c *conn, reason string) {
	if c.closed {
		return
	}
	c.closed, c.open = true, false
	if p.conns[c.id] == c {
		delete(p.conns, c.id)
	}
	for _, req := range c.requests {
		close(req.done)
	}
	c.requests = make(map[wire.PartID]*request)
	c.incoming = make(map[wire.PartID]*incoming)
	c.pendingBytes = 0
	c.control, c.uploads = nil, nil
	c.cancel()
	p.changed()
	c.log.Info("neighbour disconnected", "reason", reason)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c.pc.GracefulClose()
	}()
}
