package client

import (
	"os/exec"
	"testing"
)

// loaderCase is one wait of test/loader_check.js.
type loaderCase struct {
	PartS         float64 `json:"partS"`
	StartupWaitMs float64 `json:"startupWaitMs"`
	BufferMs      float64 `json:"bufferMs"`
	WantMs        float64 `json:"wantMs"`
}

// TestJSLoaderWaits: how long the player's loader waits for the swarm.
// Before playback, half the playlist's PART-HOLD-BACK once the player has
// read it (a new viewer's first parts are in the swarm already), else one
// and a half parts; while playing, what the buffer allows less the HTTP
// margin.
func TestJSLoaderWaits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/loader_check.js", []loaderCase{
		{PartS: 0.5, BufferMs: -1, WantMs: 750},
		{PartS: 2, BufferMs: -1, WantMs: 1000},
		{PartS: 0.5, StartupWaitMs: 750, BufferMs: -1, WantMs: 750},
		{PartS: 0.5, StartupWaitMs: 2000, BufferMs: -1, WantMs: 2000},
		{PartS: 0.5, StartupWaitMs: 2000, BufferMs: 3000, WantMs: 2600},
		{PartS: 0.5, BufferMs: 300, WantMs: -100},
	})
}
