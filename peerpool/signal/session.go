package signal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// outQueue bounds the messages waiting for a slow viewer.
const outQueue = 256

// session is one viewer's WebSocket; what the swarm knows of the viewer
// is the Core's.
type session struct {
	hub    *Hub
	conn   *websocket.Conn
	remote string
	// reachedAs is the Host the viewer reached the hub by.
	reachedAs string
	network   netip.Prefix // what a ban of this viewer covers (addrban.go)
	limiter   *rate.Limiter
	out       chan []byte
	done      chan struct{}
	once      sync.Once

	id wire.PeerID // set at join; guarded by hub.mu
}

func newSession(h *Hub, c *websocket.Conn, remote string, network netip.Prefix) *session {
	return &session{
		hub:     h,
		conn:    c,
		remote:  remote,
		network: network,
		limiter: rate.NewLimiter(rate.Limit(h.cfg.MessagesPerSecond), h.cfg.Burst),
		out:     make(chan []byte, outQueue),
		done:    make(chan struct{}),
	}
}

func (s *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.writeLoop(ctx)
	defer s.leave()

	joinCtx, joinCancel := context.WithTimeout(ctx, s.hub.cfg.JoinTimeout)
	msg, err := s.read(joinCtx)
	joinCancel()
	if err != nil {
		s.fail(fmt.Sprintf("no join: %v", err))
		return
	}
	join, ok := msg.(*wire.Join)
	if !ok {
		s.fail(fmt.Sprintf("the first message must be join, not %s", msg.SignalType()))
		return
	}
	if !s.join(join) {
		return
	}
	for {
		msg, err := s.read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				s.fail("") // the viewer left
			} else {
				s.fail(err.Error())
			}
			return
		}
		if reason := s.handle(msg); reason != "" {
			s.fail(reason)
			return
		}
	}
}

// read returns the next valid client message; errors describe what was wrong.
func (s *session) read(ctx context.Context) (wire.Signal, error) {
	typ, data, err := s.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("binary message on the signaling socket")
	}
	if !s.limiter.Allow() {
		return nil, fmt.Errorf("more than %.0f messages per second", s.hub.cfg.MessagesPerSecond)
	}
	return wire.DecodeFromClient(data)
}

func (s *session) join(j *wire.Join) bool {
	h := s.hub
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		go s.fail("the stream ended")
		return false
	}
	id := wire.NewPeerID()
	h.sessions[id] = s // before the core's welcome comes out for it
	refused := h.core.Join(time.Now(), id, j, From{Network: s.network, Remote: s.remote, ReachedAs: s.reachedAs})
	if refused != "" {
		delete(h.sessions, id)
		h.countRefusedLocked(refused)
		h.mu.Unlock()
		go s.fail(refused)
		return false
	}
	s.id = id
	after := h.carryOutLocked()
	h.mu.Unlock()
	after()
	return true
}

// handle acts on one message; a non-empty result closes the session with that reason.
func (s *session) handle(msg wire.Signal) (reason string) {
	h := s.hub
	h.mu.Lock()
	now := time.Now()
	switch m := msg.(type) {
	case *wire.Join:
		reason = "join sent twice"
	case *wire.Relay:
		h.core.Relay(now, s.id, m)
	case *wire.Rendition:
		h.core.Rendition(now, s.id, m)
	case *wire.Stats:
		reason = h.core.Stats(now, s.id, m)
	case *wire.Report:
		h.core.Report(now, s.id, m)
	default:
		reason = fmt.Sprintf("unexpected %s message", msg.SignalType())
	}
	after := h.carryOutLocked()
	h.mu.Unlock()
	after() // calls into seeders, which may call back into the hub
	return reason
}

// send queues a message without blocking; a viewer that does not keep up is dropped.
func (s *session) send(data []byte) {
	select {
	case s.out <- data:
	case <-s.done:
	default:
		go s.fail("too slow reading its messages")
	}
}

func (s *session) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case data := <-s.out:
			wctx, cancel := writeCtx()
			err := s.conn.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				// The read loop gives the reason. A write fails with
				// ErrClosed once a close frame is out, often for what the
				// read loop has just found (the WebSocket library answers
				// an oversized message with its own close frame); any other
				// failure leaves a dead connection the read loop must see.
				if !errors.Is(err, net.ErrClosed) {
					_ = s.conn.CloseNow()
				}
				return
			}
			s.hub.countSent(len(data))
		}
	}
}

// fail closes the session; a non-empty reason is logged and sent to the
// viewer first. It never takes the hub's lock.
func (s *session) fail(reason string) {
	s.once.Do(func() {
		close(s.done)
		if reason == "" {
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			return
		}
		s.hub.log.Info("closing viewer session", "peer", s.id, "remote", s.remote, "reason", reason)
		if msg, err := wire.EncodeSignal(&wire.ServerError{Reason: truncate(reason, 256)}); err == nil {
			ctx, cancel := writeCtx()
			if s.conn.Write(ctx, websocket.MessageText, msg) == nil {
				s.hub.countSent(len(msg))
			}
			cancel()
		}
		_ = s.conn.Close(websocket.StatusPolicyViolation, truncate(reason, 120))
	})
}

// leave takes the session out of the swarm.
func (s *session) leave() {
	h := s.hub
	h.mu.Lock()
	if s.id == "" || h.sessions[s.id] != s {
		h.mu.Unlock()
		return
	}
	delete(h.sessions, s.id)
	h.core.Leave(time.Now(), s.id)
	after := h.carryOutLocked()
	h.mu.Unlock()
	after()
}

func truncate(s string, n int) string { return wire.Truncate(s, n) }
