package peer

import (
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Received confirms to the server only verified bytes: a neighbour that
// sent a whole part is credited its size, one whose bytes failed the hash
// nothing (and it is gone from the list).
func TestReceivedListsVerifiedBytesPerNeighbour(t *testing.T) {
	s := newSwarm(t)
	good := s.add("", Config{CanUpload: true})
	bad := s.add("", Config{CanUpload: true, Exchange: tamperWith(flipLastByte)})
	var mu sync.Mutex
	var reported []string
	b := s.add("", Config{CanUpload: true, OnBadPeer: func(p wire.PeerID, reason string) {
		mu.Lock()
		defer mu.Unlock()
		if p == bad.cfg.ID {
			reported = append(reported, reason)
		}
	}})
	s.link(good, b)
	s.link(bad, b)
	waitFor(t, func() bool { return len(b.Received()) == 2 })
	for _, r := range b.Received() {
		if r.Bytes != 0 {
			t.Fatalf("before any transfer: %+v", b.Received())
		}
	}
	p1, p2 := makePart(1, 100_000), makePart(2, 50_000)
	for _, p := range []part{p1, p2} {
		b.Expect(p.ann)
		good.Offer(p.id, p.data)
	}
	for _, p := range []part{p1, p2} {
		if _, err := b.Want(ctxFor(t, 10*time.Second), p.id); err != nil {
			t.Fatal(err)
		}
	}
	// The corrupter holds a part b wants; it is asked for it alone.
	p3 := makePart(3, 40_000)
	b.Expect(p3.ann)
	bad.Offer(p3.id, p3.data)
	_, _ = b.Want(ctxFor(t, 2*time.Second), p3.id)
	waitFor(t, func() bool { return len(b.Received()) == 1 })
	got := b.Received()
	if got[0].Peer != good.cfg.ID || got[0].Bytes != int64(len(p1.data)+len(p2.data)) {
		t.Errorf("Received %+v, want only the honest neighbour with %d bytes", got, len(p1.data)+len(p2.data))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || reported[0] != wire.ReasonHashMismatch {
		t.Errorf("reports of the corrupter: %v", reported)
	}
}

// A neighbour whose data channel never opens is dropped and reported for
// "timeout", so the server stops pairing the two.
func TestSilentNeighbourIsReported(t *testing.T) {
	s := newSwarm(t)
	reports := make(chan string, 4)
	a := s.add("", Config{CanUpload: true, ConnectTimeout: 300 * time.Millisecond,
		OnBadPeer: func(_ wire.PeerID, reason string) { reports <- reason }})
	silent := s.add("", Config{CanUpload: true})
	// Only a is told: silent never answers.
	a.SetNeighbours([]wire.PeerInfo{{ID: silent.cfg.ID}}, nil)
	silent.Close()
	select {
	case r := <-reports:
		if r != wire.ReasonTimeout {
			t.Errorf("reported %q, want %q", r, wire.ReasonTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a silent neighbour was never reported")
	}
	if n := len(a.Received()); n != 0 {
		t.Errorf("%d neighbours listed as open", n)
	}
}

// A neighbour that says HAVE, takes WANTs and never sends a byte is
// dropped and reported for "timeout" after wire.MaxFruitlessWants stalls;
// an honest neighbour beside it keeps delivering and is kept.
func TestNeighbourThatNeverDeliversIsDropped(t *testing.T) {
	t.Run("stalls", func(t *testing.T) {
		testNeverDelivers(t, Config{CanUpload: true, rewrite: func(f []byte) []byte {
			if wire.FrameType(f[0]) == wire.FrameData {
				return nil
			}
			return f
		}}, wire.MaxFruitlessWants)
	})
	t.Run("NOPEs", func(t *testing.T) {
		testNeverDelivers(t, Config{CanUpload: true, rewrite: nopeForData}, wire.MaxUnprovenNopes)
	})
}

func testNeverDelivers(t *testing.T, liarCfg Config, wants int) {
	s := newSwarm(t)
	liar := s.add("", liarCfg)
	reports := make(chan string, 4)
	b := s.add("", Config{CanUpload: true, OnBadPeer: func(p wire.PeerID, reason string) {
		if p == liar.cfg.ID {
			reports <- reason
		}
	}})
	s.link(liar, b)
	waitFor(t, func() bool { return len(b.Received()) == 1 })
	for i := range wants {
		select {
		case r := <-reports:
			t.Fatalf("reported (%s) after only %d WANTs", r, i)
		default:
		}
		p := makePart(uint64(10+i), 20_000)
		b.Expect(p.ann)
		liar.Offer(p.id, p.data)
		waitFor(t, func() bool { h, _ := b.Availability(p.id); return h == 1 })
		if _, err := b.Want(ctxFor(t, 1200*time.Millisecond), p.id); err == nil {
			t.Fatalf("part %d arrived from a neighbour that sends nothing", i)
		}
	}
	select {
	case r := <-reports:
		if r != wire.ReasonTimeout {
			t.Errorf("reported %q, want %q", r, wire.ReasonTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("a neighbour that let %d WANTs come to nothing was not reported", wants)
	}
	if n := len(b.Received()); n != 0 {
		t.Errorf("the liar is still a neighbour (%d open)", n)
	}
}

// nopeForData answers every WANT with NOPE instead of DATA: a neighbour
// that says HAVE and never delivers.
func nopeForData(f []byte) []byte {
	if wire.FrameType(f[0]) != wire.FrameData {
		return f
	}
	df, err := wire.ParseFrame(f)
	if err != nil || df.(wire.DataFrame).Offset != 0 {
		return nil
	}
	nope, err := wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameNope, Part: df.(wire.DataFrame).Part})
	if err != nil {
		panic(err)
	}
	return nope
}
