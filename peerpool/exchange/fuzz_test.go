package exchange

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// FuzzReceive feeds a Machine frames from two neighbours (a seed and a
// viewer), as a hostile or broken peer could send them: whatever they are,
// it must not panic, must keep its bounds, and Advance must move its
// Deadline past now (or a driver would spin). Input: frames of
// [2-byte length with the sender in the top bit][frame].
func FuzzReceive(f *testing.F) {
	p, data := fuzzPart, fuzzData()
	frame := func(fr wire.Frame) []byte {
		b, err := wire.AppendFrame(nil, fr)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	input := func(fromSeed bool, frames ...[]byte) []byte {
		var out []byte
		for _, fr := range frames {
			n := uint16(len(fr))
			if fromSeed {
				n |= 0x8000
			}
			out = binary.BigEndian.AppendUint16(out, n)
			out = append(out, fr...)
		}
		return out
	}
	have := frame(wire.ControlFrame{Type: wire.FrameHave, Part: p})
	want := frame(wire.ControlFrame{Type: wire.FrameWant, Part: p})
	nope := frame(wire.ControlFrame{Type: wire.FrameNope, Part: p})
	chunk := frame(wire.DataFrame{Part: p, Offset: 0, Total: uint32(len(data)), Payload: data[:1024]})
	rest := frame(wire.DataFrame{Part: p, Offset: 1024, Total: uint32(len(data)), Payload: data[1024:]})
	f.Add(input(false, have, want, nope))
	f.Add(input(true, chunk, rest))
	f.Add(input(false, have, chunk, want, rest))
	f.Add(input(false, []byte{1}, []byte{3, 4, '7', '2', '0', 'p'}))
	f.Fuzz(runFuzzReceive)
}

var fuzzPart = wire.PartID{Rendition: "720p", MSN: 5, Index: 1}

func fuzzData() []byte {
	data := make([]byte, 4000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return data
}

func runFuzzReceive(t *testing.T, in []byte) {
	p, data := fuzzPart, fuzzData()
	{
		now := time.Unix(1000, 0)
		me, seed, peer := wire.PeerID("80000000000000000000000000000000"), wire.PeerID("00000000000000000000000000000001"), wire.PeerID("ffffffffffffffffffffffffffffffff")
		m, err := New(Config{ID: me, CanUpload: true, UploadCapBps: 100_000, MaxFrame: 2048}, now)
		if err != nil {
			t.Fatal(err)
		}
		m.SetNeighbours(now, []wire.PeerInfo{{ID: seed, Seed: true}, {ID: peer}}, nil)
		m.Opened(now, seed)
		m.Opened(now, peer)
		a := &wire.PartAnnounce{ID: p, Size: len(data), SHA256: sha256.Sum256(data), DurationMs: 500}
		a.ChunkSize = 1024
		for off := 0; off < len(data); off += a.ChunkSize {
			a.Chunks = append(a.Chunks, sha256.Sum256(data[off:min(off+a.ChunkSize, len(data))]))
		}
		if err := m.Expect(now, a); err != nil {
			t.Fatal(err)
		}
		m.Want(now, p, 300*time.Millisecond)
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in) & 0x7fff)
			from := peer
			if in[0]&0x80 != 0 {
				from = seed
			}
			in = in[2:]
			n = min(n, len(in))
			m.Receive(now, from, in[:n:n], false)
			in = in[n:]
			now = now.Add(37 * time.Millisecond)
			if dl := m.Deadline(); !dl.IsZero() && !dl.After(now) {
				m.Advance(now)
				if dl := m.Deadline(); !dl.IsZero() && !dl.After(now) {
					t.Fatalf("Deadline %v is not after the Advance at %v", dl, now)
				}
			}
			for _, id := range []wire.PeerID{seed, peer} {
				m.Flush(now, id)
			}
			for _, ok := m.Poll(); ok; _, ok = m.Poll() {
			}
			for _, nb := range m.neighbours {
				if nb.pendingBytes < 0 || nb.pendingBytes > maxPendingBytes || len(nb.incoming) > maxIncoming || len(nb.control) > maxControlQueue {
					t.Fatalf("neighbour %s out of bounds: pending %d, incoming %d, control %d", nb.id, nb.pendingBytes, len(nb.incoming), len(nb.control))
				}
			}
		}
	}
}
