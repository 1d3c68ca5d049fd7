package wire

import "crypto/sha256"

// DefaultChunkSize is the chunk size ChunkHashes uses for parts of up to
// MaxChunks of them: at a viewer's upload of twice a 1 Mbit/s bitrate a
// 16 KiB chunk is 65 ms, against 250 ms for a whole 500 ms part, and that
// is what each hop of the swarm costs when peers pass on verified chunks
// instead of whole parts.
const DefaultChunkSize = 16 << 10

// ChunkHashes returns the chunk size for data (DefaultChunkSize, or larger
// so there are at most MaxChunks) and the SHA-256 of each chunk, for a
// PartAnnounce.
func ChunkHashes(data []byte) (chunkSize int, hashes []Hash) {
	chunkSize = DefaultChunkSize
	if n := (len(data) + MaxChunks - 1) / MaxChunks; n > chunkSize {
		chunkSize = n
	}
	for off := 0; off < len(data); off += chunkSize {
		hashes = append(hashes, sha256.Sum256(data[off:min(off+chunkSize, len(data))]))
	}
	return chunkSize, hashes
}

// ChunkEnd is where the chunk holding byte offset ends, for a part of size
// bytes in chunks of chunkSize (0: the part is one chunk).
func ChunkEnd(offset, size, chunkSize int) int {
	if chunkSize <= 0 {
		return size
	}
	return min((offset/chunkSize+1)*chunkSize, size)
}
