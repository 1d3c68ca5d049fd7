package exchange

import (
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// neighbour is the state of the exchange with one neighbour.
type neighbour struct {
	id    wire.PeerID
	seed  bool // a seed: its DATA nobody asked for is accepted
	added time.Time
	// noUpload: the server says it will not upload. Its HAVE is ignored,
	// so it is never asked and any DATA from it is refused.
	noUpload bool
	open     bool
	closed   bool
	blocked  bool // its data channel was full at the last Transmit
	woken    bool // a Wake was emitted and Transmit not called since
	ns       *NeighbourStats

	has          *idSet // parts it said HAVE for
	ignored      *idSet // parts whose DATA from it is dropped (we cancelled them)
	requests     map[wire.PartID]*request
	incoming     map[wire.PartID]*incoming
	pendingBytes int
	control      [][]byte
	uploads      []*upload
	throughput   float64
	unsolicited  int64
	winStart     time.Time
	winFrames    int
	verified     int64 // part bytes received from it and verified (Machine.Received)
	sent         int64 // part bytes sent to it since it became a neighbour
	fruitless    int   // WANTs in a row it let stall (fruitless.go)
	nopes        int   // NOPEs to our WANTs while it has delivered nothing
}

// request is one WANT we sent. late: the fetch moved on to another holder
// before it brought a byte; it stays open until FirstByteMs judges it
// (fetch.go).
type request struct {
	sent time.Time
	late bool
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
	asked    bool      // it answers a WANT (not a seed's push)
	queued   time.Time
}

func newNeighbour(info wire.PeerInfo, now time.Time, ns *NeighbourStats) *neighbour {
	return &neighbour{
		id: info.ID, seed: info.Seed, noUpload: info.NoUpload, added: now, ns: ns,
		has:      newIDSet(maxHave),
		ignored:  newIDSet(maxHave),
		requests: make(map[wire.PartID]*request),
		incoming: make(map[wire.PartID]*incoming),
	}
}

func (n *neighbour) uploading(id wire.PartID) bool {
	for _, u := range n.uploads {
		if u.id == id {
			return true
		}
	}
	return false
}

func (n *neighbour) removeUpload(u *upload) {
	for i, o := range n.uploads {
		if o == u {
			n.uploads = append(n.uploads[:i], n.uploads[i+1:]...)
			return
		}
	}
}

// wake asks the driver to call Transmit for n.
func (m *Machine) wake(n *neighbour) {
	if !n.woken && !n.closed {
		n.woken = true
		m.emit(Wake{Peer: n.id})
	}
}

// queueControl queues a HAVE, WANT, CANCEL or NOPE frame; control frames
// go before any further DATA.
func (m *Machine) queueControl(now time.Time, n *neighbour, t wire.FrameType, id wire.PartID) {
	if n.closed {
		return
	}
	if len(n.control) >= maxControlQueue {
		m.drop(now, n, "control queue overflow (neighbour not reading)")
		return
	}
	b, err := wire.AppendFrame(nil, wire.ControlFrame{Type: t, Part: id})
	if err != nil { // unreachable: ids are validated on the way in
		return
	}
	n.control = append(n.control, b)
	m.wake(n)
}

// queueUpload queues part id for sending from the verified bytes this peer
// holds, unless it is already queued or the queue is full (it reports
// whether it is queued).
func (m *Machine) queueUpload(now time.Time, n *neighbour, id wire.PartID, asked bool) bool {
	data, total := m.partBytes(id)
	if n.closed || len(data) == 0 || len(n.uploads) >= maxUploads {
		return false
	}
	if n.uploading(id) {
		return true
	}
	m.uploadSeq++
	n.uploads = append(n.uploads, &upload{id: id, total: total, data: data, progress: now, seq: m.uploadSeq, asked: asked, queued: now})
	m.wake(n)
	return true
}

// abandon forgets our WANT and any transfer of id from n, tells it CANCEL
// and drops its further DATA for id.
func (m *Machine) abandon(now time.Time, n *neighbour, id wire.PartID) {
	delete(n.requests, id)
	if in := n.incoming[id]; in != nil {
		n.pendingBytes -= in.pendingBytes
		delete(n.incoming, id)
	}
	if !n.ignored.has(id) {
		n.ignored.add(id)
		m.queueControl(now, n, wire.FrameCancel, id)
	}
}
