package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// conn is the WebRTC connection to one neighbour. Fields below "guarded"
// are guarded by the Peer's mutex.
type conn struct {
	p       *Peer
	id      wire.PeerID
	offerer bool // this side offers
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	pc      *webrtc.PeerConnection
	inbox   chan *wire.Relay
	wake    chan struct{}             // sender: the Machine may have a frame for it
	low     chan struct{}             // sender: bufferedAmountLow
	cands   []webrtc.ICECandidateInit // before the remote description; run goroutine only

	// guarded
	dc     *webrtc.DataChannel
	gotDC  bool
	closed bool
}

// newConn creates the connection to a neighbour the Machine asked for and
// starts its goroutines. Called with p.mu held.
func (p *Peer) newConn(o exchange.Connect) (*conn, error) {
	policy := webrtc.ICETransportPolicyAll
	if p.cfg.RelayOnly {
		policy = webrtc.ICETransportPolicyRelay
	}
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.cfg.ICEServers, ICETransportPolicy: policy})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	c := &conn{
		p: p, id: o.Peer, offerer: o.Offerer,
		log:    p.log.With("neighbour", short(o.Peer)),
		ctx:    ctx,
		cancel: cancel,
		pc:     pc,
		inbox:  make(chan *wire.Relay, maxEarlyMsgs+96),
		wake:   make(chan struct{}, 1),
		low:    make(chan struct{}, 1),
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		c.relay(&wire.Relay{To: c.id, Candidate: CandidateToWire(cand.ToJSON())})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.log.Debug("connection state", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			p.gone(c, "connection "+s.String())
		}
	})
	if c.offerer {
		ordered := true
		dc, err := pc.CreateDataChannel(wire.DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			cancel()
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
	p.conns[c.id] = c
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
		p.step(func(now time.Time) {
			if c.closed || c.dc != nil {
				return
			}
			c.dc = dc
			p.opened = true
			c.log.Debug("data channel open")
			p.m.Opened(now, c.id)
		})
	})
	dc.OnClose(func() { p.gone(c, "data channel closed") })
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		p.step(func(now time.Time) {
			if !c.closed {
				p.m.Receive(now, c.id, msg.Data, msg.IsString)
			}
		})
		if h := p.cfg.frameHandled; h != nil {
			h(c.id, msg.Data)
		}
	})
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
			c.p.gone(c, "offer: "+err.Error())
			return
		}
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case r := <-c.inbox:
			if err := c.handleSignal(r); err != nil {
				c.p.gone(c, "signaling: "+err.Error())
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

// sender writes the frames the Machine hands out for this neighbour, as
// the data channel's buffer takes them.
func (c *conn) sender() {
	p := c.p
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if c.closed {
			p.mu.Unlock()
			return
		}
		dc := c.dc
		var frame []byte
		var buffered uint64
		if dc != nil {
			buffered = dc.BufferedAmount()
			frame = p.m.Transmit(time.Now(), c.id, int(buffered))
		}
		post := p.actLocked(nil)
		p.mu.Unlock()
		runAll(post)
		if frame == nil {
			// Nothing may go now: wait for the Machine, or for the channel
			// to drain (a low event missed is made up for by the timer).
			var t *time.Timer
			var tick <-chan time.Time
			if buffered > lowWater {
				t = time.NewTimer(100 * time.Millisecond)
				tick = t.C
			}
			select {
			case <-c.ctx.Done():
			case <-c.wake:
			case <-c.low:
			case <-tick:
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		if h := p.cfg.frameSent; h != nil {
			h(len(frame))
		}
		if rw := p.cfg.rewrite; rw != nil {
			frame = rw(frame)
		}
		if frame == nil {
			continue
		}
		if err := dc.Send(frame); err != nil {
			p.gone(c, "send: "+err.Error())
			return
		}
	}
}

// gone handles a connection that went away underneath: the Machine forgets
// the neighbour.
func (p *Peer) gone(c *conn, reason string) {
	p.step(func(now time.Time) {
		if c.closed {
			return
		}
		p.closeLocked(c, reason)
		p.m.Closed(now, c.id, reason)
	})
}

// closeLocked closes the connection (idempotent).
func (p *Peer) closeLocked(c *conn, reason string) {
	if c.closed {
		return
	}
	c.closed = true
	if p.conns[c.id] == c {
		delete(p.conns, c.id)
	}
	c.cancel()
	c.log.Info("neighbour disconnected", "reason", reason)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c.pc.GracefulClose()
	}()
}
