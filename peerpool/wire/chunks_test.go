package wire

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestChunkHashes(t *testing.T) {
	for _, c := range []struct{ size, chunkSize, chunks int }{
		{1, DefaultChunkSize, 1},
		{DefaultChunkSize, DefaultChunkSize, 1},
		{DefaultChunkSize + 1, DefaultChunkSize, 2},
		{62_000, DefaultChunkSize, 4},
		{MaxChunks * DefaultChunkSize, DefaultChunkSize, MaxChunks},
		{MaxChunks*DefaultChunkSize + 1, DefaultChunkSize + 1, MaxChunks},
		{MaxPartSize, MaxPartSize / MaxChunks, MaxChunks},
	} {
		data := make([]byte, c.size)
		size, hashes := ChunkHashes(data)
		if size != c.chunkSize || len(hashes) != c.chunks {
			t.Errorf("ChunkHashes(%d bytes) = %d, %d hashes; want %d, %d", c.size, size, len(hashes), c.chunkSize, c.chunks)
			continue
		}
		a := PartAnnounce{ID: pid, Size: c.size, SHA256: sha256.Sum256(data), ChunkSize: size, Chunks: hashes}
		if err := a.Validate(); err != nil {
			t.Errorf("announcement of %d bytes: %v", c.size, err)
		}
	}
}

// TestAssemblerVerifiesChunksAsTheyComplete: with chunk hashes, the
// verified prefix grows chunk by chunk, whatever the frame sizes, and a
// corrupted chunk fails the part as soon as that chunk is complete.
func TestAssemblerVerifiesChunksAsTheyComplete(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	ann := PartAnnounce{ID: pid, Size: len(data), SHA256: sha256.Sum256(data), ChunkSize: 1024}
	for off := 0; off < len(data); off += 1024 {
		ann.Chunks = append(ann.Chunks, sha256.Sum256(data[off:min(off+1024, len(data))]))
	}
	frame := func(off, n int, from []byte) DataFrame {
		return DataFrame{Part: pid, Offset: uint32(off), Total: uint32(len(data)), Payload: from[off : off+n]}
	}

	a, err := NewAssemblerFor(&ann)
	if err != nil {
		t.Fatal(err)
	}
	// Frames of 700 bytes: chunk k is verified by the frame that completes it.
	for off := 0; off < len(data); off += 700 {
		n := min(700, len(data)-off)
		done, err := a.Add(frame(off, n, data))
		if err != nil {
			t.Fatal(err)
		}
		end := off + n
		want := end / 1024 * 1024
		if end == len(data) {
			want = len(data)
		}
		if got := len(a.Verified()); got != want {
			t.Fatalf("after bytes ..%d: %d verified, want %d", end, got, want)
		}
		if !bytes.Equal(a.Verified(), data[:want]) {
			t.Fatal("the verified prefix is not the part's bytes")
		}
		if done != (end == len(data)) {
			t.Fatalf("after bytes ..%d: done %v", end, done)
		}
	}

	// A flipped byte in chunk 2 fails the part when chunk 2 completes,
	// before the rest arrives.
	bad := bytes.Clone(data)
	bad[2100] ^= 1
	a, _ = NewAssemblerFor(&ann)
	for off := 0; off < 3072; off += 1024 {
		_, err = a.Add(frame(off, 1024, bad))
		if off < 2048 && err != nil {
			t.Fatalf("good chunk at %d: %v", off, err)
		}
	}
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "chunk 2") {
		t.Fatalf("corrupted chunk 2: err %v, want ErrHashMismatch naming chunk 2", err)
	}
	if len(a.Verified()) != 0 || a.Bytes() != nil {
		t.Fatal("a failed assembler still exposes bytes")
	}

	// Without chunk hashes nothing is verified until the whole part is.
	plain := ann
	plain.ChunkSize, plain.Chunks = 0, nil
	a, _ = NewAssemblerFor(&plain)
	a.Add(frame(0, 4096, data))
	if len(a.Verified()) != 0 {
		t.Fatalf("%d bytes verified of a part without chunk hashes, before it is complete", len(a.Verified()))
	}
}
