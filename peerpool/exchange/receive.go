package exchange

import (
	"errors"
	"fmt"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Receive handles one message from neighbour from's data channel (text
// tells a text message, which the protocol does not allow). data is kept
// (unannounced DATA is held until its announcement): it must not be
// modified afterwards.
func (m *Machine) Receive(now time.Time, from wire.PeerID, data []byte, text bool) {
	n := m.neighbours[from]
	if n == nil || n.closed {
		return
	}
	m.receive(now, n, data, text)
	m.progress(now)
}

func (m *Machine) receive(now time.Time, n *neighbour, data []byte, text bool) {
	if now.Sub(n.winStart) >= time.Second {
		n.winStart, n.winFrames = now, 0
	}
	n.winFrames++
	if n.winFrames > maxFramesPerSec {
		m.bad(now, n, wire.ReasonProtocol, fmt.Errorf("more than %d frames in a second", maxFramesPerSec))
		return
	}
	if text {
		m.bad(now, n, wire.ReasonProtocol, errors.New("text message on the data channel"))
		return
	}
	f, err := wire.ParseFrame(data)
	if err != nil {
		m.bad(now, n, wire.ReasonProtocol, err)
		return
	}
	switch f := f.(type) {
	case wire.ControlFrame:
		m.onControl(now, n, f.Type, f.Part)
	case wire.DataFrame:
		m.onData(now, n, f)
	}
}

func (m *Machine) onControl(now time.Time, n *neighbour, t wire.FrameType, id wire.PartID) {
	switch t {
	case wire.FrameHave:
		if !n.noUpload && !n.has.has(id) {
			n.has.add(id)
		}
	case wire.FrameWant:
		switch {
		case !m.cfg.CanUpload || !m.holds(id):
			m.queueControl(now, n, wire.FrameNope, id)
		case n.uploading(id):
		case m.busy(now) && (n.sent > 0 || len(n.uploads) > 0):
			// A neighbour never served gets one upload queued even so: one
			// declined every time it asked would drop this peer as giving
			// nothing (MaxUnprovenNopes), and with it the link.
			m.decline(now, n, id)
		case !m.queueUpload(now, n, id, true):
			m.queueControl(now, n, wire.FrameNope, id)
		}
	case wire.FrameCancel:
		for _, u := range n.uploads {
			if u.id == id {
				n.removeUpload(u)
				if !n.has.has(id) && m.store.get(id) != nil {
					// A push it declined: it may still want it later.
					m.queueControl(now, n, wire.FrameHave, id)
				}
				break
			}
		}
	case wire.FrameNope:
		n.has.del(id)
		if n.requests[id] != nil {
			delete(n.requests, id)
			if in := n.incoming[id]; in != nil {
				n.pendingBytes -= in.pendingBytes
				delete(n.incoming, id)
				n.ignored.add(id)
			}
			if n.verified == 0 {
				n.nopes++
				m.fruitlessCheck(now, n)
			}
		}
	}
}

func (m *Machine) onData(now time.Time, n *neighbour, f wire.DataFrame) {
	size := len(f.Payload)
	n.ns.BytesReceived += int64(size)
	m.st.BytesReceived += int64(size)
	id := f.Part
	in := n.incoming[id]
	if in == nil {
		if n.ignored.has(id) {
			return
		}
		req := n.requests[id]
		if req == nil && !n.seed {
			n.unsolicited += int64(size)
			if n.unsolicited > maxUnsolicited {
				m.bad(now, n, wire.ReasonProtocol, fmt.Errorf("%d bytes of DATA nobody asked for", n.unsolicited))
			}
			return
		}
		if f.Offset != 0 {
			m.bad(now, n, wire.ReasonProtocol, fmt.Errorf("part %s: first DATA at offset %d", id, f.Offset))
			return
		}
		if m.store.get(id) != nil || len(n.incoming) >= maxIncoming {
			m.abandon(now, n, id) // a part we have already, or too many at once
			return
		}
		in = &incoming{started: now, total: f.Total, req: req}
		n.incoming[id] = in
		if a := m.expected[id]; a != nil {
			if m.announce(now, n, in, a); n.incoming[id] != in {
				return
			}
		}
	}
	in.progress = now
	if in.asm != nil {
		m.add(now, n, in, f)
		return
	}
	// Not announced yet: keep the frames (in order, bounded) until Expect.
	if f.Offset != in.next || f.Total != in.total {
		m.bad(now, n, wire.ReasonProtocol, fmt.Errorf("part %s: DATA at offset %d of %d, expected offset %d of %d", id, f.Offset, f.Total, in.next, in.total))
		return
	}
	if n.pendingBytes+size > maxPendingBytes {
		m.abandon(now, n, id)
		return
	}
	in.pending = append(in.pending, f)
	in.pendingBytes += size
	n.pendingBytes += size
	in.next += uint32(size)
}

// announce starts verifying a part now announced, with the frames
// received so far.
func (m *Machine) announce(now time.Time, n *neighbour, in *incoming, a *wire.PartAnnounce) {
	if int64(a.Size) != int64(in.total) {
		m.bad(now, n, wire.ReasonProtocol, fmt.Errorf("part %s: DATA total %d differs from the announced size %d", a.ID, in.total, a.Size))
		return
	}
	asm, err := wire.NewAssemblerFor(a)
	if err != nil {
		m.bad(now, n, wire.ReasonProtocol, err)
		return
	}
	in.asm = asm
	pending := in.pending
	n.pendingBytes -= in.pendingBytes
	in.pending, in.pendingBytes = nil, 0
	for _, f := range pending {
		if m.add(now, n, in, f); n.incoming[a.ID] != in {
			break
		}
	}
}

// add feeds one frame to an announced part's assembler.
func (m *Machine) add(now time.Time, n *neighbour, in *incoming, f wire.DataFrame) {
	before := len(in.asm.Verified())
	done, err := in.asm.Add(f)
	if err != nil {
		reason := wire.ReasonProtocol
		if errors.Is(err, wire.ErrHashMismatch) {
			reason = wire.ReasonHashMismatch
		}
		m.bad(now, n, reason, err)
		return
	}
	after := len(in.asm.Verified())
	if done {
		after = len(in.asm.Bytes())
	}
	if after > before {
		n.verified += int64(after - before)
		n.fruitless = 0
	}
	if !done {
		if len(in.asm.Verified()) > before {
			m.verifiedMore(now, n, f.Part)
		}
		return
	}
	id := f.Part
	delete(n.incoming, id)
	start := in.started
	if in.req != nil {
		start = in.req.sent
		if n.requests[id] == in.req {
			delete(n.requests, id)
		}
	}
	data := in.asm.Bytes()
	if d := now.Sub(start).Seconds(); d > 0 {
		bps := float64(len(data)) / d
		if n.throughput == 0 {
			n.throughput = bps
		} else {
			n.throughput = 0.7*n.throughput + 0.3*bps
		}
	}
	n.ns.PartsReceived++
	n.has.add(id)
	if !m.store.add(id, data) {
		m.st.Duplicates++
		return
	}
	m.st.PartsFromPeer++
	m.stored(now, id, data, n)
	m.emit(Deliver{Part: id, Data: data, From: n.id})
}
