package wire

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
)

// ErrHashMismatch is returned (wrapped) by Assembler.Add when a complete
// part's SHA-256 differs from the announced one: the sending peer is lying
// or broken and should be disconnected and reported ("hash-mismatch").
var ErrHashMismatch = errors.New("SHA-256 does not match the announced hash")

// Assembler rebuilds one part from DATA frames received in order on one
// data channel and verifies it against the server-announced SHA-256 and,
// when the part was announced with them, each chunk's SHA-256 as soon as
// the chunk is complete. It holds at most the announced size (allocated at
// the first frame). After any error it stays failed. It is not safe for
// concurrent use.
type Assembler struct {
	id        PartID
	size      int
	want      Hash
	chunkSize int
	chunks    []Hash
	verified  int // bytes of buf verified chunk by chunk (all of it once done)
	buf       []byte
	h         hash.Hash
	done      bool
	err       error
}

// NewAssembler starts reassembling part id of the announced size
// (1..MaxPartSize) and SHA-256.
func NewAssembler(id PartID, size int, sum [32]byte) (*Assembler, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if size < 1 || size > MaxPartSize {
		return nil, fmt.Errorf("part %s: size %d is outside 1..%d", id, size, MaxPartSize)
	}
	return &Assembler{id: id, size: size, want: sum}, nil
}

// NewAssemblerFor starts reassembling the announced part, verifying its
// chunks as they complete when it was announced with chunk hashes.
func NewAssemblerFor(a *PartAnnounce) (*Assembler, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	asm, err := NewAssembler(a.ID, a.Size, a.SHA256)
	if err != nil {
		return nil, err
	}
	if len(a.Chunks) > 0 {
		asm.chunkSize, asm.chunks = a.ChunkSize, a.Chunks
	}
	return asm, nil
}

// Add appends one chunk. Chunks must be for this part, carry the announced
// size as total and start where the previous one ended. It returns done
// once the part is complete and its hash verified; a complete part that
// does not hash to the announced SHA-256 yields an error wrapping
// ErrHashMismatch and its bytes are dropped. Every error leaves the
// assembler failed (later calls return the same error) except a DATA frame
// after completion, which returns done with an error (the sender broke the
// protocol) and keeps the verified bytes.
func (a *Assembler) Add(f DataFrame) (done bool, err error) {
	if a.err != nil {
		return false, a.err
	}
	if a.done {
		return true, fmt.Errorf("part %s: DATA at offset %d after the part was complete", a.id, f.Offset)
	}
	if err := a.check(f); err != nil {
		a.fail(err)
		return false, err
	}
	if a.buf == nil {
		a.buf = make([]byte, 0, a.size)
		a.h = sha256.New()
	}
	a.buf = append(a.buf, f.Payload...)
	a.h.Write(f.Payload)
	for a.chunkSize > 0 {
		end := ChunkEnd(a.verified, a.size, a.chunkSize)
		if end > len(a.buf) {
			break
		}
		k := a.verified / a.chunkSize
		if got := Hash(sha256.Sum256(a.buf[a.verified:end])); got != a.chunks[k] {
			err := fmt.Errorf("part %s: chunk %d (bytes %d..%d): %w (got %s, announced %s)", a.id, k, a.verified, end, ErrHashMismatch, got, a.chunks[k])
			a.fail(err)
			return false, err
		}
		a.verified = end
		if end == a.size {
			break
		}
	}
	if len(a.buf) < a.size {
		return false, nil
	}
	var got Hash
	a.h.Sum(got[:0])
	if got != a.want {
		err := fmt.Errorf("part %s: %w (got %s, announced %s)", a.id, ErrHashMismatch, got, a.want)
		a.fail(err)
		return false, err
	}
	a.done, a.h, a.verified = true, nil, a.size
	return true, nil
}

func (a *Assembler) check(f DataFrame) error {
	if f.Part != a.id {
		return fmt.Errorf("part %s: DATA frame is for part %s", a.id, f.Part)
	}
	if int64(f.Total) != int64(a.size) {
		return fmt.Errorf("part %s: DATA total %d differs from the announced size %d", a.id, f.Total, a.size)
	}
	if int64(f.Offset) != int64(len(a.buf)) {
		return fmt.Errorf("part %s: DATA offset %d, expected %d (chunks must arrive in order)", a.id, f.Offset, len(a.buf))
	}
	if len(f.Payload) == 0 {
		return fmt.Errorf("part %s: DATA at offset %d has an empty payload", a.id, f.Offset)
	}
	if len(f.Payload) > a.size-len(a.buf) {
		return fmt.Errorf("part %s: DATA at offset %d carries %d bytes, past the announced size %d", a.id, f.Offset, len(f.Payload), a.size)
	}
	return nil
}

func (a *Assembler) fail(err error) {
	a.err, a.buf, a.h, a.verified = err, nil, nil, 0
}

// Part is the part being assembled.
func (a *Assembler) Part() PartID { return a.id }

// Received is the number of bytes accepted so far (0 after a failure).
func (a *Assembler) Received() int { return len(a.buf) }

// Done reports whether the part is complete and verified.
func (a *Assembler) Done() bool { return a.done }

// Err is the error that failed the assembler, if any.
func (a *Assembler) Err() error { return a.err }

// Verified returns the bytes verified so far, a prefix of the part: chunk
// by chunk when the part was announced with chunk hashes, else nothing
// until the whole part is. The slice is the assembler's own and its bytes
// never change; callers must not modify it.
func (a *Assembler) Verified() []byte { return a.buf[:a.verified] }

// Bytes returns the verified part once Add has returned done, else nil.
// The slice is the assembler's own; callers must not modify it.
func (a *Assembler) Bytes() []byte {
	if !a.done {
		return nil
	}
	return a.buf
}
