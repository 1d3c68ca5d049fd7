package exchange

import (
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

func TestUploadOrder(t *testing.T) {
	up := func(msn uint64, index int, seq uint64) *upload {
		return &upload{id: wire.PartID{Rendition: "720p", MSN: msn, Index: index}, seq: seq}
	}
	started := func(u *upload) *upload { u.sent = 1000; return u }
	for _, c := range []struct {
		a, b *upload
		want bool
	}{
		{up(10, 0, 9), up(9, 3, 1), true},  // a newer segment's part, though queued later
		{up(9, 3, 1), up(10, 0, 9), false}, // the reverse
		{up(9, 4, 5), up(9, 3, 2), true},   // a later part of the same segment
		{up(9, 3, 2), up(9, 3, 5), true},   // the same part: the first asked
		{up(9, 3, 5), up(9, 3, 2), false},
		{started(up(9, 3, 5)), up(10, 0, 1), true}, // under way: finished first
		{up(10, 0, 1), started(up(9, 3, 5)), false},
		{started(up(10, 0, 7)), started(up(9, 3, 5)), true}, // both under way: the newer
	} {
		if got := ahead(c.a, c.b); got != c.want {
			t.Errorf("ahead(%s #%d sent %d, %s #%d sent %d) = %v, want %v", c.a.id, c.a.seq, c.a.sent, c.b.id, c.b.seq, c.b.sent, got, c.want)
		}
	}
}
