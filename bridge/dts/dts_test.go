package dts

import (
	"math/rand"
	"testing"
)

// pyramid returns the PTS values, in decode order, of GOPs coded as
// x264 does with 3 B-frames and a B-pyramid: I P B B B with a reference B.
func pyramid(gops int) []int64 {
	const step = 3000
	var out []int64
	base := int64(900000)
	for g := 0; g < gops; g++ {
		out = append(out, base) // I
		for f := int64(1); f < 60; f += 4 {
			// decode order P(f+3) B(f+1, reference) b(f) b(f+2)
			out = append(out, base+(f+3)*step, base+(f+1)*step, base+f*step, base+(f+2)*step)
		}
		base += 61 * step
	}
	return out
}

func TestGeneratorKeepsDTSBelowPTSAndIncreasing(t *testing.T) {
	pts := pyramid(3)
	g := New(2)
	last := int64(-1 << 62)
	for i, p := range pts {
		d := g.Next(p)
		if d > p {
			t.Fatalf("frame %d: DTS %d after PTS %d", i, d, p)
		}
		if d <= last {
			t.Fatalf("frame %d: DTS %d not after %d", i, d, last)
		}
		last = d
	}
	if g.Adjusted != 0 {
		t.Fatalf("%d frames needed adjusting with the right depth", g.Adjusted)
	}
}

func TestGeneratorLearnsDeeperReordering(t *testing.T) {
	pts := pyramid(3)
	g := New(0) // told there are no B-frames
	last := int64(-1 << 62)
	for i, p := range pts {
		d := g.Next(p)
		if d <= last {
			t.Fatalf("frame %d: DTS %d not after %d", i, d, last)
		}
		// Until it has seen the reordering, it cannot avoid passing a PTS;
		// after the first GOP it must not.
		if d > p && i > 61 {
			t.Fatalf("frame %d: DTS %d after PTS %d once the depth was learned", i, d, p)
		}
		last = d
	}
	if g.depth < 2 || g.depth > 3 { // a transient may cost one frame more than needed
		t.Fatalf("depth grew to %d, want 2 or 3", g.depth)
	}
}

func TestReorderDepthFromSPS(t *testing.T) {
	// x264 High profile SPS with VUI bitstream restriction (max_num_reorder_frames=2).
	sps := []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	if d := ReorderDepth(sps); d < 0 || d > MaxReorderDepth {
		t.Fatalf("depth %d", d)
	}
	if d := ReorderDepth([]byte{0x67}); d != 2 {
		t.Fatalf("unparsable SPS: depth %d, want the default 2", d)
	}
}

func FuzzGenerator(f *testing.F) {
	f.Add(int64(1), uint8(2), []byte{1, 5, 2, 3, 9, 7})
	f.Fuzz(func(t *testing.T, seed int64, depth uint8, jumps []byte) {
		g := New(int(depth))
		r := rand.New(rand.NewSource(seed))
		p := int64(r.Intn(1 << 20))
		last := int64(-1 << 62)
		for _, j := range jumps {
			p += int64(j) - 64
			d := g.Next(p)
			if d <= last {
				t.Fatalf("DTS %d not after %d", d, last)
			}
			last = d
		}
	})
}
