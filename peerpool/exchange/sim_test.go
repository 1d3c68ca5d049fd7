package exchange

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// sim runs Machines as a swarm on a virtual clock, with no network: each
// frame a machine hands out arrives at its neighbour a link delay later,
// and the upload caps are the machines' own. It is how the protocol is
// tested as a whole, and the start of a simulator of large swarms.
type sim struct {
	t       *testing.T
	now     time.Time
	delay   time.Duration
	nodes   map[wire.PeerID]*simNode
	order   []wire.PeerID // deterministic iteration
	links   map[[2]wire.PeerID][]simFrame
	tamper  map[wire.PeerID]func(frame []byte) // hostile peers change their DATA frames
	reports []simReport
}

type simReport struct {
	By wire.PeerID
	Report
}

type simNode struct {
	m         *Machine
	wants     map[wire.PartID]time.Time // part → playback deadline
	connectTo map[wire.PeerID]bool      // Connect asked, channel not open yet
	fromPeers int64                     // part bytes from neighbours
	fromHTTP  int64                     // part bytes fetched over HTTP (fallback)
}

type simFrame struct {
	at   time.Time
	data []byte
}

func newSim(t *testing.T, delay time.Duration) *sim {
	return &sim{t: t, now: time.Unix(1000, 0), delay: delay, nodes: map[wire.PeerID]*simNode{}, links: map[[2]wire.PeerID][]simFrame{},
		tamper: map[wire.PeerID]func([]byte){}}
}

func (s *sim) add(id wire.PeerID, cfg Config) *simNode {
	cfg.ID = id
	m, err := New(cfg, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	n := &simNode{m: m, wants: map[wire.PartID]time.Time{}, connectTo: map[wire.PeerID]bool{}}
	s.nodes[id] = n
	s.order = append(s.order, id)
	return n
}

// pair makes a and b neighbours, as the tracker's "peers" messages do.
func (s *sim) pair(a, b wire.PeerID, seed bool) {
	s.nodes[a].m.SetNeighbours(s.now, []wire.PeerInfo{{ID: b}}, nil)
	s.nodes[b].m.SetNeighbours(s.now, []wire.PeerInfo{{ID: a, Seed: seed}}, nil)
}

// step advances the clock by d and runs every machine: frames due are
// received, timers fire, actions are carried out and channels take what
// may go.
func (s *sim) step(d time.Duration) {
	s.now = s.now.Add(d)
	for _, id := range s.order {
		n := s.nodes[id]
		for _, from := range s.order {
			q := s.links[[2]wire.PeerID{from, id}]
			k := 0
			for k < len(q) && !q[k].at.After(s.now) {
				n.m.Receive(s.now, from, q[k].data, false)
				k++
			}
			s.links[[2]wire.PeerID{from, id}] = q[k:]
		}
		if dl := n.m.Deadline(); !dl.IsZero() && !dl.After(s.now) {
			n.m.Advance(s.now)
			// A deadline Advance does not move would make a driver spin.
			if dl := n.m.Deadline(); !dl.IsZero() && !dl.After(s.now) {
				s.t.Fatalf("%s: Deadline %v is not after the Advance at %v", id[24:], dl.Sub(s.now), s.now)
			}
		}
		for part, deadline := range n.wants {
			if !deadline.After(s.now) { // the player fetches it over HTTP and shares it
				delete(n.wants, part)
				n.m.Unwant(s.now, part)
				data := simPartBytes(part)
				n.fromHTTP += int64(len(data))
				if err := n.m.Offer(s.now, part, data); err != nil {
					s.t.Fatal(err)
				}
			}
		}
		s.act(id, n)
	}
}

func (s *sim) act(id wire.PeerID, n *simNode) {
	for {
		o, ok := n.m.Poll()
		if !ok {
			break
		}
		switch o := o.(type) {
		case Connect:
			n.connectTo[o.Peer] = true
			if s.nodes[o.Peer].connectTo[id] { // both sides asked: the channel opens
				delete(n.connectTo, o.Peer)
				delete(s.nodes[o.Peer].connectTo, id)
				n.m.Opened(s.now, o.Peer)
				s.nodes[o.Peer].m.Opened(s.now, id)
			}
		case Disconnect:
			if testing.Verbose() {
				s.t.Logf("%v %s drops %s: %s", s.now.Sub(time.Unix(1000, 0)), id[24:], o.Peer[24:], o.Reason)
			}
			delete(s.links, [2]wire.PeerID{id, o.Peer})
			if other := s.nodes[o.Peer]; other != nil {
				other.m.Closed(s.now, id, "closed by the other side")
			}
		case Report:
			s.reports = append(s.reports, simReport{id, o})
		case Fetched:
			if o.Data != nil {
				delete(n.wants, o.Part)
				n.fromPeers += int64(len(o.Data))
			}
		}
	}
	for _, to := range s.order {
		key := [2]wire.PeerID{id, to}
		buffered := 0
		for _, f := range s.links[key] {
			buffered += len(f.data)
		}
		for {
			f := n.m.Transmit(s.now, to, buffered)
			if f == nil {
				break
			}
			buffered += len(f)
			if tamper := s.tamper[id]; tamper != nil && wire.FrameType(f[0]) == wire.FrameData {
				f = slices.Clone(f)
				tamper(f)
			}
			s.links[key] = append(s.links[key], simFrame{at: s.now.Add(s.delay), data: f})
		}
	}
}

// simPartBytes is the content of a part in the simulation.
func simPartBytes(id wire.PartID) []byte {
	b := make([]byte, 62_500) // 500 ms at 1 Mbit/s
	r := rand.New(rand.NewPCG(id.MSN, uint64(id.Index)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func simAnnouncement(id wire.PartID) *wire.PartAnnounce {
	data := simPartBytes(id)
	a := &wire.PartAnnounce{ID: id, Size: len(data), SHA256: sha256.Sum256(data), DurationMs: 500}
	a.ChunkSize, a.Chunks = wire.ChunkHashes(data)
	return a
}

// simSwarm is a seed and viewers uploading twice the bitrate, the seed
// paired with the first seeds viewers, each viewer with about degree
// others.
func simSwarm(t *testing.T, viewers, seeds, degree int, viewerCfg func(i int) Config) (*sim, wire.PeerID, []wire.PeerID) {
	s := newSim(t, 20*time.Millisecond)
	seed := wire.PeerID(fmt.Sprintf("%032x", 1))
	s.add(seed, Config{CanUpload: true, Seed: true})
	var ids []wire.PeerID
	for i := range viewers {
		id := wire.PeerID(fmt.Sprintf("%032x", 0x100+i))
		ids = append(ids, id)
		s.add(id, viewerCfg(i))
	}
	for _, id := range ids[:seeds] {
		s.pair(seed, id, true)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i, a := range ids {
		for range degree / 2 {
			b := ids[r.IntN(len(ids))]
			if b != a && !slices.Contains(ids[:i], b) {
				s.pair(a, b, false)
			}
		}
		if i > 0 {
			s.pair(a, ids[i-1], false) // a ring keeps the mesh connected
		}
	}
	s.step(time.Millisecond)
	return s, seed, ids
}

// run cuts parts every 500 ms for d: each is announced to all, offered to
// the seed and wanted by every viewer with a deadline of 1.5 s, after which
// the viewer fetches it over HTTP.
func (s *sim) run(seed wire.PeerID, viewers []wire.PeerID, parts int) {
	for k := range parts {
		id := wire.PartID{Rendition: "source", MSN: uint64(k / 4), Index: k % 4}
		a := simAnnouncement(id)
		for _, n := range s.nodes {
			if err := n.m.Expect(s.now, a); err != nil {
				s.t.Fatal(err)
			}
		}
		if err := s.nodes[seed].m.Offer(s.now, id, simPartBytes(id)); err != nil {
			s.t.Fatal(err)
		}
		for _, v := range viewers {
			n := s.nodes[v]
			if data := n.m.Want(s.now, id, 250*time.Millisecond); data != nil {
				n.fromPeers += int64(len(data))
				continue
			}
			n.wants[id] = s.now.Add(1500 * time.Millisecond)
		}
		for range 500 {
			s.step(time.Millisecond)
		}
	}
	for range 2000 {
		s.step(time.Millisecond)
	}
}

// TestSimulatedSwarm: 16 viewers uploading twice the 1 Mbit/s bitrate, the
// seed pushing to 3 of them, get 40 parts through the swarm: every part to
// every viewer, nearly all from peers, for a few seed copies; nobody is
// reported.
func TestSimulatedSwarm(t *testing.T) {
	const viewers, parts = 16, 40
	s, seed, ids := simSwarm(t, viewers, 3, 4, func(int) Config {
		return Config{CanUpload: true, UploadCapBps: 250_000}
	})
	s.run(seed, ids, parts)
	var peerBytes, httpBytes int64
	for _, v := range ids {
		n := s.nodes[v]
		peerBytes += n.fromPeers
		httpBytes += n.fromHTTP
		if len(n.wants) != 0 {
			t.Errorf("viewer %s still waits for %d parts", v[:8], len(n.wants))
		}
	}
	partBytes := int64(parts * 62_500)
	if got := peerBytes + httpBytes; got != int64(viewers)*partBytes {
		t.Fatalf("viewers got %d bytes, want %d", got, int64(viewers)*partBytes)
	}
	seedCopies := float64(s.nodes[seed].m.Stats().BytesSent) / float64(partBytes)
	share := float64(peerBytes) / float64(peerBytes+httpBytes)
	copies := seedCopies + float64(httpBytes)/float64(partBytes)
	t.Logf("%d viewers, %d parts: P2P %.1f%%, server copies %.2f (seed %.2f, HTTP %.2f)", viewers, parts, 100*share, copies, seedCopies, float64(httpBytes)/float64(partBytes))
	if share < 0.95 || copies > 4 {
		t.Errorf("P2P %.1f%%, %.2f server copies: want ≥ 95%% and ≤ 4", 100*share, copies)
	}
	if len(s.reports) != 0 {
		t.Errorf("honest peers reported: %v", s.reports)
	}
}

// TestSimulatedSwarmWithCorrupter: a viewer that corrupts every byte it
// uploads is reported for "hash-mismatch" by the neighbours it sends to and
// cut off by them; no honest viewer takes a part from it or is reported for
// bad bytes, and every honest viewer gets every part, nearly all from
// peers. (An honest viewer that declined a neighbour's WANTs while busy and
// never served it may be reported as "timeout": that cuts the link, which
// serves neither, and the server bans no one for it while others confirm
// its uploads.)
func TestSimulatedSwarmWithCorrupter(t *testing.T) {
	const viewers, parts = 16, 24
	s, seed, ids := simSwarm(t, viewers, 3, 4, func(int) Config {
		return Config{CanUpload: true, UploadCapBps: 250_000}
	})
	bad := ids[0] // pushed to by the seed: it holds parts early and is asked often
	s.tamper[bad] = func(f []byte) { f[len(f)-1] ^= 0xff }
	s.run(seed, ids, parts)
	cutBy := 0
	var peerBytes, httpBytes int64
	for _, id := range ids {
		if id == bad {
			continue
		}
		n := s.nodes[id]
		if n.m.IsBanned(bad) {
			cutBy++
		}
		if got := n.m.Stats().Neighbours[bad].PartsReceived; got != 0 {
			t.Errorf("%s took %d parts from the corrupter", id[:8], got)
		}
		if len(n.wants) != 0 {
			t.Errorf("viewer %s still waits for %d parts", id[:8], len(n.wants))
		}
		peerBytes += n.fromPeers
		httpBytes += n.fromHTTP
	}
	for _, r := range s.reports {
		switch {
		case r.Peer == bad && r.Reason == wire.ReasonHashMismatch:
		case r.Peer != bad && r.Reason == wire.ReasonTimeout && s.nodes[r.By].m.Stats().Neighbours[r.Peer].PartsReceived == 0:
			t.Logf("%s cut off %s, which never served it", r.By[24:], r.Peer[24:])
		default:
			t.Errorf("%s reported %s for %s", r.By[24:], r.Peer[24:], r.Reason)
		}
	}
	share := float64(peerBytes) / float64(peerBytes+httpBytes)
	t.Logf("the corrupter was cut off by %d viewers (%d reports); the others' P2P share %.1f%%", cutBy, len(s.reports), 100*share)
	if cutBy == 0 {
		t.Error("nobody cut the corrupter off")
	}
	if share < 0.9 {
		t.Errorf("honest P2P share %.1f%%, want ≥ 90%%", 100*share)
	}
}
