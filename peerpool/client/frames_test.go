package client

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// frameCase is one input for frames_check.js and Go's verdict on it.
type frameCase struct {
	N      int    `json:"n"`
	Hex    string `json:"hex"`
	OK     bool   `json:"ok"`
	Err    string `json:"err,omitempty"`
	Type   int    `json:"type"`
	R      string `json:"r"`
	MSN    uint64 `json:"msn"`
	I      int    `json:"i"`
	Offset uint32 `json:"offset"`
	Total  uint32 `json:"total"`
	Len    int    `json:"len"`
}

// TestJSFrameParserAgreesWithGo runs the browser client's data-channel
// frame parser (src/wire.js) in Node on valid frames made by Go and on
// thousands of mutations of them, and fails wherever it does not accept
// and read exactly what peerpool/wire.ParseFrame does: the two ends of the
// peer protocol must judge a neighbour's bytes alike.
func TestJSFrameParserAgreesWithGo(t *testing.T) {
	node := nodeBinary(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var valid [][]byte
	ids := []wire.PartID{
		{Rendition: "source", MSN: 1, Index: 0},
		{Rendition: "720p", MSN: 1764000000, Index: 7},
		{Rendition: "a", MSN: 1<<53 - 1, Index: wire.MaxPartIndex},
		{Rendition: strings.Repeat("r", 32), MSN: 0, Index: 1},
	}
	for _, id := range ids {
		for _, ft := range []wire.FrameType{wire.FrameHave, wire.FrameWant, wire.FrameCancel, wire.FrameNope} {
			b, err := wire.AppendFrame(nil, wire.ControlFrame{Type: ft, Part: id})
			if err != nil {
				t.Fatal(err)
			}
			valid = append(valid, b)
		}
		part := make([]byte, 1+rng.IntN(3000))
		frames, err := wire.ChunkPart(id, part, wire.MinFrameSize)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, frames...)
	}
	var cases []frameCase
	add := func(b []byte) {
		c := frameCase{N: len(cases), Hex: hex.EncodeToString(b)}
		f, err := wire.ParseFrame(b)
		if err != nil {
			c.Err = err.Error()
		} else {
			c.OK = true
			id := f.PartID()
			c.Type, c.R, c.MSN, c.I = int(f.FrameType()), id.Rendition, id.MSN, id.Index
			if d, ok := f.(wire.DataFrame); ok {
				c.Offset, c.Total, c.Len = d.Offset, d.Total, len(d.Payload)
			}
		}
		cases = append(cases, c)
	}
	for _, b := range valid {
		add(b)
	}
	for range 20000 {
		b := append([]byte(nil), valid[rng.IntN(len(valid))]...)
		switch rng.IntN(4) {
		case 0: // flip bytes
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
		case 1: // truncate
			b = b[:rng.IntN(len(b))]
		case 2: // extend
			for range 1 + rng.IntN(8) {
				b = append(b, byte(rng.Uint32()))
			}
		case 3: // set a byte of the header to an edge value
			b[rng.IntN(min(len(b), 24))] = []byte{0, 1, 5, 6, 32, 33, 0x7f, 0xff}[rng.IntN(8)]
		}
		add(b)
	}

	runNodeCheck(t, node, "test/frames_check.js", cases)
}
