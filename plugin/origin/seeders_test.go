package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// TestSeederFramesEndAtChunkBoundaries: the seeder sends a part of four
// 16 KiB chunks as DATA frames that each end at a chunk boundary, so the
// viewer it pushes to can verify and pass on each chunk as it arrives
// instead of waiting for the whole part (one 62 KB frame).
func TestSeederFramesEndAtChunkBoundaries(t *testing.T) {
	seedID, viewerID := wire.NewPeerID(), wire.NewPeerID()
	var mu sync.Mutex
	peers := map[wire.PeerID]*peer.Peer{}
	relay := func(from wire.PeerID) peer.Signaler {
		return peer.SignalerFunc(func(to wire.PeerID, r *wire.Relay) error {
			mu.Lock()
			dst := peers[to]
			mu.Unlock()
			fwd := *r
			fwd.To, fwd.From = "", from
			dst.HandleRelay(&fwd)
			return nil
		})
	}
	var frames []wire.DataFrame
	sp, err := peer.New(peer.Config{ID: seedID, API: peer.NewLoopbackAPI(), CanUpload: true, Seed: true, StoreParts: seederParts,
		Exchange: func(c exchange.Config, now time.Time) (peer.Exchange, error) {
			m, err := exchange.New(c, now)
			return watched{m, func(b []byte) {
				f, err := wire.ParseFrame(b)
				if err != nil {
					t.Errorf("the seeder sent a bad frame: %v", err)
					return
				}
				if df, ok := f.(wire.DataFrame); ok {
					mu.Lock()
					frames = append(frames, df)
					mu.Unlock()
				}
			}}, err
		}}, relay(seedID))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	v, err := peer.New(peer.Config{ID: viewerID, API: peer.NewLoopbackAPI(), CanUpload: true}, relay(viewerID))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	mu.Lock()
	peers[seedID], peers[viewerID] = sp, v
	mu.Unlock()
	sp.SetNeighbours([]wire.PeerInfo{{ID: viewerID}}, nil)
	v.SetNeighbours([]wire.PeerInfo{{ID: seedID, Seed: true}}, nil)

	data := make([]byte, 62_026)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	p := &cmaf.Part{ID: cmaf.PartID{Rendition: "source", MSN: 1764000000, Index: 2}, Duration: 500 * time.Millisecond,
		Independent: true, Data: data, SHA256: sha256.Sum256(data)}
	a := announcement(p) // as the hub announces it to viewers
	id := a.ID
	v.Expect(a)

	deadline := time.Now().Add(10 * time.Second)
	for !sp.Stats().Neighbours[viewerID].Connected {
		if time.Now().After(deadline) {
			t.Fatal("the viewer did not connect to the seeder")
		}
		time.Sleep(10 * time.Millisecond)
	}
	seed(sp, a, p.Data)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := v.Want(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the viewer did not get the part from the seeder: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frames) != len(a.Chunks) {
		t.Errorf("the seeder sent the %d-chunk part in %d frames", len(a.Chunks), len(frames))
	}
	for _, f := range frames {
		end := int(f.Offset) + len(f.Payload)
		if end != len(data) && end%a.ChunkSize != 0 {
			t.Errorf("a DATA frame of %d bytes at %d ends inside a chunk", len(f.Payload), f.Offset)
		}
	}
}

// watched is an exchange whose every frame handed out is shown to see.
type watched struct {
	*exchange.Machine
	see func(frame []byte)
}

func (w watched) Transmit(now time.Time, to wire.PeerID, buffered int) []byte {
	f := w.Machine.Transmit(now, to, buffered)
	if f != nil {
		w.see(f)
	}
	return f
}
