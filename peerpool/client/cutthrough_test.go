package client

import (
	"os/exec"
	"testing"
)

// chunkCase is one scenario for test/cutthrough_check.js.
type chunkCase struct {
	Name      string `json:"name"`
	Size      int    `json:"size"`
	ChunkSize int    `json:"chunkSize"`
	Corrupt   int    `json:"corrupt"` // the chunk the upstream neighbour corrupts; -1 none
}

// TestJSPassesChunksOn checks that the browser client passes on a part
// announced with chunk hashes as its chunks are verified (HAVE after the
// first, DATA for each as it arrives, frames within chunks), as the Go peer
// does, and that a chunk failing its hash closes the sender before any of
// its bytes go further.
func TestJSPassesChunksOn(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/cutthrough_check.js", []chunkCase{
		{Name: "four chunks", Size: 62_000, ChunkSize: 16384, Corrupt: -1},
		{Name: "one chunk", Size: 5000, ChunkSize: 16384, Corrupt: -1},
		{Name: "chunks of 1 KiB", Size: 10_000, ChunkSize: 1024, Corrupt: -1},
		{Name: "third chunk corrupted", Size: 62_000, ChunkSize: 16384, Corrupt: 2},
		{Name: "first chunk corrupted", Size: 62_000, ChunkSize: 16384, Corrupt: 0},
	})
}
