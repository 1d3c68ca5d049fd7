package client

import "testing"

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
	node := nodeBinary(t)
	runNodeCheck(t, node, "test/loader_check.js", []loaderCase{
		{PartS: 0.5, BufferMs: -1, WantMs: 750},
		{PartS: 2, BufferMs: -1, WantMs: 1000},
		{PartS: 0.5, StartupWaitMs: 750, BufferMs: -1, WantMs: 750},
		{PartS: 0.5, StartupWaitMs: 2000, BufferMs: -1, WantMs: 2000},
		{PartS: 0.5, StartupWaitMs: 2000, BufferMs: 3000, WantMs: 2600},
		{PartS: 0.5, BufferMs: 300, WantMs: -100},
	})
}

// restCase is one fallback of test/loader_rest_check.js.
type restCase struct {
	Prefix        int  `json:"prefix"` // bytes the swarm gave up with
	Size          int  `json:"size"`
	Code          int  `json:"code"` // the origin's answer
	BodyLen       int  `json:"bodyLen"`
	WantFromPeers int  `json:"wantFromPeers"`
	WantError     bool `json:"wantError"`
}

// TestJSLoaderFetchesOnlyTheRest: when the swarm gives up on a part with
// its first bytes verified, the loader asks the origin for the rest only,
// gives hls.js the whole part and counts the first bytes as from peers; an
// origin that ignores the range costs the whole part; a wrong answer is an
// error, not a part.
func TestJSLoaderFetchesOnlyTheRest(t *testing.T) {
	node := nodeBinary(t)
	runNodeCheck(t, node, "test/loader_rest_check.js", []restCase{
		{Prefix: 16, Size: 40, Code: 206, BodyLen: 24, WantFromPeers: 16},
		{Prefix: 16, Size: 40, Code: 200, BodyLen: 40, WantFromPeers: 0},
		{Prefix: 0, Size: 40, Code: 200, BodyLen: 40, WantFromPeers: 0},
		{Prefix: 16, Size: 40, Code: 206, BodyLen: 10, WantError: true},
	})
}
