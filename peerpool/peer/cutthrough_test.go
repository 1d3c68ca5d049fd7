package peer

import (
	"bytes"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// withChunks announces p with 16 KiB chunk hashes, as the server does.
func withChunks(p part) part {
	a := *p.ann
	a.ChunkSize, a.Chunks = wire.ChunkHashes(p.data)
	p.ann = &a
	return p
}

// TestChunkedPartsPassOnAsTheyArrive: in a chain a → b → c of peers
// capped at 200 KB/s, a 64 KB part announced with chunk hashes reaches c
// about one chunk after b (16 KiB: 80 ms), not a whole part later
// (320 ms less the buckets' burst): b says HAVE once its first chunk is
// verified and forwards each verified chunk while the rest arrives. The
// same part without chunk hashes is the comparison.
func TestChunkedPartsPassOnAsTheyArrive(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		s := newSwarm(t)
		cfg := Config{CanUpload: true, UploadCapBps: 200_000, MaxFrame: 16 << 10}
		a, b, c := s.add("", cfg), s.add("", cfg), s.add("", cfg)
		s.link(a, b)
		s.link(b, c)
		p := makePart(5, 64_000)
		if chunked {
			p = withChunks(p)
		}
		for _, v := range []*Peer{a, b, c} {
			v.Expect(p.ann)
		}
		waitFor(t, func() bool {
			return b.Stats().Neighbours[a.cfg.ID].Connected && c.Stats().Neighbours[b.cfg.ID].Connected
		})
		time.Sleep(300 * time.Millisecond) // the buckets are full again
		start := time.Now()
		type got struct {
			who  string
			at   time.Duration
			data []byte
			err  error
		}
		done := make(chan got, 2)
		for name, v := range map[string]*Peer{"b": b, "c": c} {
			go func() {
				data, err := v.Want(ctxFor(t, 10*time.Second), p.id)
				done <- got{name, time.Since(start), data, err}
			}()
		}
		a.Offer(p.id, p.data)
		at := map[string]time.Duration{}
		for range 2 {
			g := <-done
			if g.err != nil || !bytes.Equal(g.data, p.data) {
				t.Fatalf("chunked=%v: %s: Want: %v", chunked, g.who, g.err)
			}
			at[g.who] = g.at
		}
		t.Logf("chunked=%v: 64 KB at 200 KB/s a hop: b has it after %v, c after %v",
			chunked, at["b"].Round(time.Millisecond), at["c"].Round(time.Millisecond))
		if behind := at["c"] - at["b"]; chunked && behind > 200*time.Millisecond {
			t.Errorf("c got the chunked part %v after b: it was not passed on chunk by chunk", behind)
		}
	}
}

// TestWantGivesUpWithTheVerifiedStart: a viewer that stops waiting while a
// chunked part is still arriving gets the chunks verified so far, so it
// fetches only the rest over HTTP.
func TestWantGivesUpWithTheVerifiedStart(t *testing.T) {
	s := newSwarm(t)
	// Frames of 4 KiB: the slow upload shows progress within each attempt.
	a := s.add("", Config{CanUpload: true, UploadCapBps: 20_000, MaxFrame: 4 << 10})
	b := s.add("", Config{CanUpload: true, MaxFrame: 16 << 10})
	s.link(a, b)
	p := withChunks(makePart(5, 64_000)) // about 3 s at a's cap
	a.Expect(p.ann)
	b.Expect(p.ann)
	waitFor(t, func() bool { return b.Stats().Neighbours[a.cfg.ID].Connected })
	a.Offer(p.id, p.data)
	data, err := b.Want(ctxFor(t, 1500*time.Millisecond), p.id)
	if err == nil {
		t.Fatal("Want got the whole part in half the time its upload takes")
	}
	if len(data) == 0 || len(data) >= len(p.data) || len(data)%(16<<10) != 0 {
		t.Fatalf("gave up with %d bytes, want some whole 16 KiB chunks of the %d", len(data), len(p.data))
	}
	if !bytes.Equal(data, p.data[:len(data)]) {
		t.Fatal("the bytes given up with are not the part's start")
	}
}
