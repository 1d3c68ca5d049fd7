package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// swarm is an in-process signaling server: Relay hands the message to the
// recipient's HandleRelay, in the server → client form.
type swarm struct {
	t     *testing.T
	mu    sync.Mutex
	peers map[wire.PeerID]*Peer
	seed  map[wire.PeerID]bool
	all   []*Peer
}

func newSwarm(t *testing.T) *swarm {
	s := &swarm{t: t, peers: make(map[wire.PeerID]*Peer), seed: make(map[wire.PeerID]bool)}
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		for _, p := range s.all {
			p.Close()
		}
		checkGoroutines(t, base)
	})
	return s
}

func testLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("PEER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// add makes a peer; id "" picks a random one. Frames it sends are checked
// against the 64 KiB and MaxFrame limits.
func (s *swarm) add(id wire.PeerID, cfg Config) *Peer {
	s.t.Helper()
	if id == "" {
		id = wire.NewPeerID()
	}
	cfg.ID = id
	if cfg.API == nil {
		cfg.API = NewLoopbackAPI()
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger().With("test", s.t.Name())
	}
	maxFrame := cfg.MaxFrame
	if maxFrame == 0 {
		maxFrame = wire.MaxFrameSize
	}
	prev := cfg.frameSent
	cfg.frameSent = func(n int) {
		if n > wire.MaxFrameSize || n > maxFrame {
			s.t.Errorf("peer %s sent a %d-byte frame (max %d)", short(id), n, maxFrame)
		}
		if prev != nil {
			prev(n)
		}
	}
	p, err := New(cfg, SignalerFunc(func(to wire.PeerID, r *wire.Relay) error {
		if r.To != to {
			return fmt.Errorf("relay to %s names %s", to, r.To)
		}
		if err := r.Validate(); err != nil {
			s.t.Errorf("invalid relay: %v", err)
			return err
		}
		s.mu.Lock()
		dst := s.peers[to]
		s.mu.Unlock()
		if dst == nil {
			return errors.New("no such peer")
		}
		fwd := *r
		fwd.To, fwd.From = "", id
		dst.HandleRelay(&fwd)
		return nil
	}))
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.peers[id] = p
	s.seed[id] = cfg.Seed
	s.all = append(s.all, p)
	s.mu.Unlock()
	return p
}

// link makes a and b neighbours, as the server's "peers" messages would.
func (s *swarm) link(a, b *Peer) {
	s.mu.Lock()
	sa, sb := s.seed[a.cfg.ID], s.seed[b.cfg.ID]
	s.mu.Unlock()
	a.SetNeighbours([]wire.PeerInfo{{ID: b.cfg.ID, Seed: sb}}, nil)
	b.SetNeighbours([]wire.PeerInfo{{ID: a.cfg.ID, Seed: sa}}, nil)
}

func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines after Close, %d before:\n%s", n, base, buf)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type part struct {
	id   wire.PartID
	data []byte
	ann  *wire.PartAnnounce
}

func makePart(msn uint64, size int) part {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(msn, uint64(size)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	id := wire.PartID{Rendition: "720p", MSN: msn, Index: 0}
	return part{id: id, data: data, ann: &wire.PartAnnounce{ID: id, Size: size, SHA256: sha256.Sum256(data), DurationMs: 200}}
}

// wantAsync runs v.Want for p in the background; the channel gets its
// error, or one saying the bytes differ from p's.
func wantAsync(ctx context.Context, v *Peer, p part) <-chan error {
	done := make(chan error, 1)
	go func() {
		data, err := v.Want(ctx, p.id)
		if err == nil && !bytes.Equal(data, p.data) {
			err = errors.New("bytes differ")
		}
		done <- err
	}()
	return done
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestTwoPeers(t *testing.T) {
	s := newSwarm(t)
	a := s.add("", Config{CanUpload: true})
	var got atomic.Int64
	b := s.add("", Config{CanUpload: true, OnPart: func(id wire.PartID, data []byte, from wire.PeerID) {
		if from != a.cfg.ID {
			t.Errorf("OnPart from %s", from)
		}
		got.Add(1)
	}})
	s.link(a, b)
	p := makePart(1, 300_000)
	b.Expect(p.ann)
	a.Offer(p.id, p.data)
	data, err := b.Want(ctxFor(t, 10*time.Second), p.id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, p.data) {
		t.Fatal("bytes differ")
	}
	// A second Want is served from the store.
	if again, err := b.Want(ctxFor(t, time.Second), p.id); err != nil || !bytes.Equal(again, p.data) {
		t.Fatalf("second Want: %v", err)
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.BytesSent != int64(len(p.data)) || sa.PartsServed != 1 || sa.PartsOffered != 1 {
		t.Errorf("A stats: sent %d, served %d, offered %d", sa.BytesSent, sa.PartsServed, sa.PartsOffered)
	}
	if sb.BytesReceived != int64(len(p.data)) || sb.PartsFromPeer != 1 || got.Load() != 1 {
		t.Errorf("B stats: received %d, from peers %d, OnPart %d", sb.BytesReceived, sb.PartsFromPeer, got.Load())
	}
	if n := sb.Neighbours[a.cfg.ID]; n.BytesReceived != int64(len(p.data)) || n.PartsReceived != 1 || !n.Connected || n.ThroughputBps <= 0 {
		t.Errorf("B's view of A: %+v", n)
	}
	t.Logf("throughput A→B measured %.1f MB/s", sb.Neighbours[a.cfg.ID].ThroughputBps/1e6)
}

func TestSeedMesh(t *testing.T) {
	s := newSwarm(t)
	seed := s.add("", Config{Seed: true, CanUpload: true})
	var peers []*Peer
	for range 4 {
		peers = append(peers, s.add("", Config{CanUpload: true}))
	}
	// The seed serves two of the four; the four form a ring plus a chord.
	s.link(seed, peers[0])
	s.link(seed, peers[1])
	s.link(peers[0], peers[1])
	s.link(peers[0], peers[2])
	s.link(peers[1], peers[3])
	s.link(peers[2], peers[3])
	s.link(peers[0], peers[3])

	const nParts, size = 20, 200_000
	start := time.Now()
	for i := range nParts {
		p := makePart(uint64(100+i), size)
		for _, q := range peers {
			q.Expect(p.ann)
		}
		seed.Offer(p.id, p.data)
		var wg sync.WaitGroup
		for k, q := range peers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data, err := q.Want(ctxFor(t, 15*time.Second), p.id)
				if err != nil {
					t.Errorf("peer %d part %d: %v", k, i, err)
				} else if !bytes.Equal(data, p.data) {
					t.Errorf("peer %d part %d: bytes differ", k, i)
				}
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	total := int64(nParts * size)
	ss := seed.Stats()
	var fromPeers, received int64
	for k, q := range peers {
		st := q.Stats()
		fromPeers += st.PartsFromPeer
		received += st.BytesReceived
		t.Logf("peer %d: received %d B, sent %d B, parts from peers %d, duplicates %d", k, st.BytesReceived, st.BytesSent, st.PartsFromPeer, st.Duplicates)
	}
	t.Logf("seed sent %d B = %.2f× the stream (%d B) to 4 peers; peers received %d B (%.2f× the ideal %d); %v for %d parts",
		ss.BytesSent, float64(ss.BytesSent)/float64(total), total, received, float64(received)/float64(4*total), 4*total, elapsed.Round(time.Millisecond), nParts)
	if fromPeers != 4*nParts {
		t.Errorf("peers verified %d parts, want %d", fromPeers, 4*nParts)
	}
	if ss.BytesSent > 5*total/2 {
		t.Errorf("seed sent %d bytes, more than 2.5× the stream %d: peers did not pull from each other", ss.BytesSent, total)
	}
}

// flipLastByte corrupts a DATA frame's payload.
func flipLastByte(b []byte) { b[len(b)-1] ^= 0xff }

func TestCorruptNeighbour(t *testing.T) {
	s := newSwarm(t)
	// Ties in neighbour choice go to the smaller id: the bad peer is asked first.
	bad := s.add("00000000000000000000000000000001", Config{CanUpload: true, Exchange: tamperWith(flipLastByte)})
	good := s.add("ffffffffffffffffffffffffffffffff", Config{CanUpload: true})
	var reports []string
	var mu sync.Mutex
	v := s.add("80000000000000000000000000000000", Config{
		OnBadPeer: func(p wire.PeerID, reason string) {
			mu.Lock()
			reports = append(reports, string(p)+" "+reason)
			mu.Unlock()
		},
		OnPart: func(id wire.PartID, data []byte, from wire.PeerID) {
			if from == bad.cfg.ID {
				t.Errorf("OnPart with bytes from the corrupting peer")
			}
		},
	})
	s.link(v, bad)
	s.link(v, good)
	p := makePart(7, 150_000)
	v.Expect(p.ann)
	bad.Offer(p.id, p.data)
	good.Offer(p.id, p.data)
	// Wait until v knows both have it, so that the bad one is picked first.
	waitFor(t, func() bool { h, _ := v.Availability(p.id); return h == 2 })
	data, err := v.Want(ctxFor(t, 10*time.Second), p.id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, p.data) {
		t.Fatal("accepted corrupted bytes")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || reports[0] != string(bad.cfg.ID)+" "+wire.ReasonHashMismatch {
		t.Fatalf("reports %q", reports)
	}
	st := v.Stats()
	if st.HashMismatch != 1 || len(st.Banned) != 1 || st.Banned[0] != bad.cfg.ID || st.Neighbours[bad.cfg.ID].Connected {
		t.Errorf("stats: mismatches %d, banned %v, bad connected %v", st.HashMismatch, st.Banned, st.Neighbours[bad.cfg.ID].Connected)
	}
	// The server re-adding a banned peer does not reconnect it.
	v.SetNeighbours([]wire.PeerInfo{{ID: bad.cfg.ID}}, nil)
	v.mu.Lock()
	_, back := v.conns[bad.cfg.ID]
	v.mu.Unlock()
	if back {
		t.Error("banned peer reconnected")
	}
}

func TestCorruptOnlySource(t *testing.T) {
	s := newSwarm(t)
	bad := s.add("", Config{CanUpload: true, Exchange: tamperWith(flipLastByte)})
	reported := make(chan string, 1)
	v := s.add("", Config{
		OnBadPeer: func(p wire.PeerID, reason string) { reported <- reason },
		OnPart:    func(wire.PartID, []byte, wire.PeerID) { t.Error("OnPart called") },
	})
	s.link(v, bad)
	p := makePart(8, 100_000)
	v.Expect(p.ann)
	bad.Offer(p.id, p.data)
	if data, err := v.Want(ctxFor(t, 2*time.Second), p.id); err == nil || data != nil {
		t.Fatalf("Want succeeded with bytes from a corrupting peer only")
	}
	if r := <-reported; r != wire.ReasonHashMismatch {
		t.Fatalf("reason %q", r)
	}
}

// A peer that breaks the frame order (second DATA frame with a wrong
// offset) is a protocol error.
func TestOutOfOrderFrame(t *testing.T) {
	s := newSwarm(t)
	var n atomic.Int64
	bad := s.add("", Config{CanUpload: true, Exchange: tamperWith(func(b []byte) {
		if n.Add(1) == 2 {
			// offset is the 4 bytes after type and PartID ("720p").
			off := 1 + 1 + 4 + 8 + 2
			b[off+3] ^= 1
		}
	})})
	reported := make(chan string, 1)
	v := s.add("", Config{OnBadPeer: func(p wire.PeerID, reason string) { reported <- reason }})
	s.link(v, bad)
	p := makePart(9, 200_000)
	v.Expect(p.ann)
	bad.Offer(p.id, p.data)
	if _, err := v.Want(ctxFor(t, 2*time.Second), p.id); err == nil {
		t.Fatal("Want succeeded")
	}
	if r := <-reported; r != wire.ReasonProtocol {
		t.Fatalf("reason %q", r)
	}
}

func TestUploadCap(t *testing.T) {
	s := newSwarm(t)
	a := s.add("", Config{CanUpload: true, UploadCapBps: 200_000})
	b := s.add("", Config{})
	s.link(a, b)
	p := makePart(3, 200_000)
	b.Expect(p.ann)
	a.Offer(p.id, p.data)
	waitFor(t, func() bool { return b.Stats().Neighbours[a.cfg.ID].Connected })
	start := time.Now()
	data, err := b.Want(ctxFor(t, 20*time.Second), p.id)
	elapsed := time.Since(start)
	if err != nil || !bytes.Equal(data, p.data) {
		t.Fatalf("Want: %v", err)
	}
	t.Logf("200 KB at a 200 KB/s cap took %v", elapsed.Round(time.Millisecond))
	if elapsed < 800*time.Millisecond {
		t.Errorf("200 KB at a 200 KB/s cap took only %v", elapsed)
	}
}

func TestSmallMaxFrame(t *testing.T) {
	s := newSwarm(t)
	var frames, maxSeen atomic.Int64
	a := s.add("", Config{CanUpload: true, MaxFrame: 4096, frameSent: func(n int) {
		frames.Add(1)
		for {
			m := maxSeen.Load()
			if int64(n) <= m || maxSeen.CompareAndSwap(m, int64(n)) {
				break
			}
		}
	}})
	b := s.add("", Config{})
	s.link(a, b)
	p := makePart(4, 100_000)
	b.Expect(p.ann)
	a.Offer(p.id, p.data)
	if data, err := b.Want(ctxFor(t, 10*time.Second), p.id); err != nil || !bytes.Equal(data, p.data) {
		t.Fatalf("Want: %v", err)
	}
	if maxSeen.Load() != 4096 || frames.Load() < 25 {
		t.Errorf("largest frame %d, %d frames", maxSeen.Load(), frames.Load())
	}
}

// A seed may push a part before the peer has the server's announcement:
// the bytes wait (bounded) and are verified when Expect comes.
func TestPushBeforeAnnouncement(t *testing.T) {
	s := newSwarm(t)
	seed := s.add("", Config{Seed: true, CanUpload: true})
	got := make(chan wire.PartID, 1)
	v := s.add("", Config{OnPart: func(id wire.PartID, _ []byte, _ wire.PeerID) { got <- id }})
	s.link(seed, v)
	waitFor(t, func() bool { return v.Stats().Neighbours[seed.cfg.ID].Connected })
	p := makePart(5, 120_000)
	seed.Offer(p.id, p.data)
	waitFor(t, func() bool { return v.Stats().BytesReceived == int64(len(p.data)) })
	select {
	case <-got:
		t.Fatal("part accepted before its announcement")
	default:
	}
	v.Expect(p.ann)
	if id := <-got; id != p.id {
		t.Fatalf("got %v", id)
	}
	if data, err := v.Want(ctxFor(t, time.Second), p.id); err != nil || !bytes.Equal(data, p.data) {
		t.Fatalf("Want: %v", err)
	}
	if st := seed.Stats(); st.PartsServed != 1 {
		t.Errorf("seed served %d parts", st.PartsServed)
	}
}

// Concurrent Wants share one fetch; a neighbour removed or closed is
// disconnected on both sides.
func TestSharedFetchAndRemoval(t *testing.T) {
	s := newSwarm(t)
	a := s.add("", Config{CanUpload: true})
	b := s.add("", Config{})
	c := s.add("", Config{})
	s.link(a, b)
	s.link(b, c)
	p := makePart(10, 80_000)
	b.Expect(p.ann)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if data, err := b.Want(ctxFor(t, 10*time.Second), p.id); err != nil || !bytes.Equal(data, p.data) {
				t.Errorf("Want: %v", err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	a.Offer(p.id, p.data)
	wg.Wait()
	if st := a.Stats(); st.PartsServed != 1 {
		t.Errorf("A served the part %d times for 5 concurrent Wants", st.PartsServed)
	}
	// Removal by the server.
	b.SetNeighbours(nil, []wire.PeerID{a.cfg.ID})
	waitFor(t, func() bool { return !a.Stats().Neighbours[b.cfg.ID].Connected })
	// Remote close.
	waitFor(t, func() bool { return b.Stats().Neighbours[c.cfg.ID].Connected })
	c.Close()
	waitFor(t, func() bool { return !b.Stats().Neighbours[c.cfg.ID].Connected })
	b.mu.Lock()
	n := len(b.conns)
	b.mu.Unlock()
	if n != 0 {
		t.Errorf("b still has %d connections", n)
	}
}

func TestWantAfterClose(t *testing.T) {
	s := newSwarm(t)
	a := s.add("", Config{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Want(context.Background(), makePart(1, 10).id)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Want after Close: %v", err)
	}
	if _, err := a.Want(context.Background(), makePart(1, 10).id); !errors.Is(err, ErrClosed) {
		t.Fatalf("Want after Close: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A neighbour that is slow to deliver (here: a 5 KB/s cap, so its second
// 64 KiB frame would wait 13 s) is abandoned after the attempt timeout and
// the part comes from another.
func TestStalledNeighbour(t *testing.T) {
	s := newSwarm(t)
	slow := s.add("00000000000000000000000000000004", Config{CanUpload: true, UploadCapBps: 5_000})
	good := s.add("fffffffffffffffffffffffffffffffd", Config{CanUpload: true})
	v := s.add("80000000000000000000000000000001", Config{})
	s.link(v, slow)
	s.link(v, good)
	p := makePart(11, 200_000)
	v.Expect(p.ann)
	slow.Offer(p.id, p.data)
	good.Offer(p.id, p.data)
	waitFor(t, func() bool { h, _ := v.Availability(p.id); return h == 2 })
	start := time.Now()
	data, err := v.Want(ctxFor(t, 4*time.Second), p.id) // attempt timeout 1 s
	if err != nil || !bytes.Equal(data, p.data) {
		t.Fatalf("Want: %v", err)
	}
	st := v.Stats()
	t.Logf("got the part after %v; from slow %d B, from good %d B", time.Since(start).Round(time.Millisecond),
		st.Neighbours[slow.cfg.ID].BytesReceived, st.Neighbours[good.cfg.ID].BytesReceived)
	if st.Neighbours[slow.cfg.ID].PartsReceived != 0 || st.Neighbours[good.cfg.ID].PartsReceived != 1 {
		t.Errorf("expected the part from the good peer only")
	}
	// The slow peer's first frame went at once; the rest was cancelled.
	waitFor(t, func() bool { return slow.Stats().BytesSent > 0 })
	if n := slow.Stats().BytesSent; n > wire.MaxFrameSize {
		t.Errorf("slow peer sent %d bytes", n)
	}
	if len(st.Banned) != 0 {
		t.Errorf("a slow peer was banned: %v", st.Banned)
	}
}

// DATA nobody asked for from a neighbour that is not a seed is ignored,
// and past a bound the neighbour is reported. (The pusher believes it is a
// seed; the victim was told it is not.)
func TestUnsolicitedData(t *testing.T) {
	s := newSwarm(t)
	pusher := s.add("00000000000000000000000000000005", Config{Seed: true, CanUpload: true})
	reported := make(chan string, 1)
	v := s.add("fffffffffffffffffffffffffffffffc", Config{
		OnBadPeer: func(p wire.PeerID, reason string) { reported <- reason },
		OnPart:    func(wire.PartID, []byte, wire.PeerID) { t.Error("OnPart called for unsolicited DATA") },
	})
	pusher.SetNeighbours([]wire.PeerInfo{{ID: v.cfg.ID}}, nil)
	v.SetNeighbours([]wire.PeerInfo{{ID: pusher.cfg.ID}}, nil) // not flagged seed
	waitFor(t, func() bool { return v.Stats().Neighbours[pusher.cfg.ID].Connected })
	for i := range 30 {
		p := makePart(uint64(200+i), 200_000)
		v.Expect(p.ann)
		pusher.Offer(p.id, p.data)
	}
	select {
	case r := <-reported:
		if r != wire.ReasonProtocol {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report after 6 MB of unsolicited DATA")
	}
	if st := v.Stats(); st.PartsFromPeer != 0 {
		t.Errorf("%d parts accepted", st.PartsFromPeer)
	}
}

// Signaling from a peer the server has not yet introduced is held until
// SetNeighbours adds it.
func TestEarlySignaling(t *testing.T) {
	s := newSwarm(t)
	a := s.add("00000000000000000000000000000006", Config{CanUpload: true}) // smaller: offers
	b := s.add("fffffffffffffffffffffffffffffffb", Config{})
	a.SetNeighbours([]wire.PeerInfo{{ID: b.cfg.ID}}, nil)
	time.Sleep(200 * time.Millisecond) // offer and candidates reach b first
	b.mu.Lock()
	held := b.early[a.cfg.ID] != nil
	b.mu.Unlock()
	if !held {
		t.Fatal("b did not hold a's early signaling")
	}
	b.SetNeighbours([]wire.PeerInfo{{ID: a.cfg.ID}}, nil)
	p := makePart(12, 10_000)
	b.Expect(p.ann)
	a.Offer(p.id, p.data)
	if data, err := b.Want(ctxFor(t, 10*time.Second), p.id); err != nil || !bytes.Equal(data, p.data) {
		t.Fatalf("Want: %v", err)
	}
}

// A neighbour that floods control frames past maxFramesPerSec is dropped
// and reported for "protocol".
func TestFloodingNeighbour(t *testing.T) {
	s := newSwarm(t)
	flooder := s.add("00000000000000000000000000000007", Config{CanUpload: true})
	reported := make(chan string, 1)
	v := s.add("fffffffffffffffffffffffffffffffa", Config{
		OnBadPeer: func(p wire.PeerID, reason string) {
			if p == flooder.cfg.ID {
				reported <- reason
			}
		},
	})
	flooder.SetNeighbours([]wire.PeerInfo{{ID: v.cfg.ID}}, nil)
	v.SetNeighbours([]wire.PeerInfo{{ID: flooder.cfg.ID}}, nil)
	waitFor(t, func() bool { return v.Stats().Neighbours[flooder.cfg.ID].Connected })
	id := makePart(1, 100).id
	deadline := time.After(10 * time.Second)
	have, err := wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameHave, Part: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		flooder.mu.Lock()
		var dc interface{ Send([]byte) error }
		if c := flooder.conns[v.cfg.ID]; c != nil && c.dc != nil {
			dc = c.dc
		}
		flooder.mu.Unlock()
		for range 2000 {
			if dc != nil && dc.Send(have) != nil {
				break
			}
		}
		select {
		case r := <-reported:
			if r != wire.ReasonProtocol {
				t.Fatalf("reason %q, want %q", r, wire.ReasonProtocol)
			}
			if n := v.Stats().Neighbours[flooder.cfg.ID]; n.Connected {
				t.Error("the flooding neighbour is still connected")
			}
			return
		case <-deadline:
			t.Fatal("no report after 10 s of flooding")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A peer with a small upload cap asked for one part by three neighbours at
// once serves one, declines the others while its queue is full, and says
// HAVE to them again when it drains: every neighbour still gets the part.
func TestBusyPeerDeclinesAndReoffers(t *testing.T) {
	s := newSwarm(t)
	holder := s.add("00000000000000000000000000000008", Config{CanUpload: true, UploadCapBps: 200_000})
	var askers []*Peer
	for _, id := range []wire.PeerID{"fffffffffffffffffffffffffffffff1", "fffffffffffffffffffffffffffffff2", "fffffffffffffffffffffffffffffff3"} {
		a := s.add(id, Config{})
		s.link(holder, a)
		askers = append(askers, a)
	}
	// 80 KB takes 0.4 s at the cap: more than busyHorizon once queued.
	p := makePart(9, 80_000)
	for _, a := range askers {
		a.Expect(p.ann)
	}
	holder.Offer(p.id, p.data)
	errs := make(chan error, len(askers))
	for _, a := range askers {
		go func() {
			data, err := a.Want(ctxFor(t, 10*time.Second), p.id)
			if err == nil && !bytes.Equal(data, p.data) {
				err = errors.New("bytes differ")
			}
			errs <- err
		}()
	}
	for range askers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := holder.Stats()
	t.Logf("holder served %d, declined %d", st.PartsServed, st.Declined)
	if st.Declined == 0 {
		t.Error("three WANTs at once at 200 kB/s and none declined")
	}
	if st.PartsServed != 3 {
		t.Errorf("holder served %d parts, want 3 (declined neighbours are offered the part again)", st.PartsServed)
	}
}

// A neighbour the server marks noUpload is never asked for a part, even
// when it says HAVE: a banned viewer's network may only receive.
func TestNoUploadNeighbourIsNeverAsked(t *testing.T) {
	s := newSwarm(t)
	marked := s.add("00000000000000000000000000000002", Config{CanUpload: true})
	good := s.add("fffffffffffffffffffffffffffffffe", Config{CanUpload: true})
	p := makePart(7, 50_000)
	markedHave := make(chan struct{}, 1)
	v := s.add("", Config{frameHandled: func(from wire.PeerID, frame []byte) {
		if f, err := wire.ParseFrame(frame); err == nil && from == marked.cfg.ID && f.FrameType() == wire.FrameHave && f.PartID() == p.id {
			select {
			case markedHave <- struct{}{}:
			default:
			}
		}
	}})
	marked.SetNeighbours([]wire.PeerInfo{{ID: v.cfg.ID}}, nil)
	v.SetNeighbours([]wire.PeerInfo{{ID: marked.cfg.ID, NoUpload: true}}, nil)
	s.link(v, good)
	v.Expect(p.ann)
	marked.Offer(p.id, p.data)
	select {
	case <-markedHave: // v has handled it: whatever it does with it is done
	case <-time.After(10 * time.Second):
		t.Fatal("the noUpload neighbour's HAVE never arrived")
	}
	if holders, _ := v.Availability(p.id); holders != 0 {
		t.Errorf("%d holders counted: the noUpload neighbour's HAVE was taken", holders)
	}
	done := wantAsync(ctxFor(t, 10*time.Second), v, p)
	time.Sleep(100 * time.Millisecond)
	good.Offer(p.id, p.data)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := marked.Stats(); st.BytesSent != 0 {
		t.Errorf("the noUpload neighbour was asked and sent %d bytes", st.BytesSent)
	}
	if n := v.Stats().Neighbours[good.cfg.ID]; n.PartsReceived != 1 {
		t.Errorf("the part came %d times from the honest neighbour, want 1", n.PartsReceived)
	}
}

// A capped peer asked for a part by two neighbours at once sends the
// copies one after the other: the first receiver has it after one copy's
// time and can pass it on, instead of both waiting for two.
func TestCappedUploadsGoOneAfterAnother(t *testing.T) {
	s := newSwarm(t)
	// Two 40 KB copies are 400 ms at the cap; both go in the queue
	// together, as neither receiver was served before (busy.go).
	a := s.add("", Config{CanUpload: true, UploadCapBps: 200_000, MaxFrame: 4096})
	b := s.add("", Config{})
	c := s.add("", Config{})
	s.link(a, b)
	s.link(a, c)
	p := makePart(8, 40_000)
	b.Expect(p.ann)
	c.Expect(p.ann)
	a.Offer(p.id, p.data)
	waitFor(t, func() bool {
		return b.Stats().Neighbours[a.cfg.ID].Connected && c.Stats().Neighbours[a.cfg.ID].Connected
	})
	time.Sleep(300 * time.Millisecond) // the bucket is full again after the HAVEs
	start := time.Now()
	took := make(chan time.Duration, 2)
	for _, v := range []*Peer{b, c} {
		go func() {
			data, err := v.Want(ctxFor(t, 20*time.Second), p.id)
			if err != nil || !bytes.Equal(data, p.data) {
				t.Errorf("Want: %v", err)
			}
			took <- time.Since(start)
		}()
	}
	first, second := <-took, <-took
	t.Logf("two 40 KB copies at a 200 KB/s cap: first done after %v, second after %v", first.Round(time.Millisecond), second.Round(time.Millisecond))
	if first > second*7/10 {
		t.Errorf("the first copy took %v of the second's %v: the uploads were interleaved", first, second)
	}
	if st := a.Stats(); st.Declined != 0 {
		t.Errorf("the uploader declined %d WANTs: the test meant both copies to be queued at once", st.Declined)
	}
}

// tampering is an exchange that changes every DATA frame it hands out
// (on a private copy): a hostile peer.
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

// tamperWith makes a Config's exchange a tampering one.
func tamperWith(tamper func(frame []byte)) func(exchange.Config, time.Time) (Exchange, error) {
	return func(c exchange.Config, now time.Time) (Exchange, error) {
		m, err := exchange.New(c, now)
		return tampering{m, tamper}, err
	}
}
