package origin

import (
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

func TestTrafficFill(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tr := newTraffic("live/show", metrics.New())
	tr.now = func() time.Time { return now }

	// A first minute at 3 copies, then one at 1 copy: the last minute
	// shows 1 while the total since attach is 2.
	for range 12 {
		tr.made("source", 1000)
		tr.servedHTTP("source", 1000)
		tr.seeded("source", 2000)
		now = now.Add(5 * time.Second)
	}
	for range 12 {
		tr.made("source", 1000)
		tr.seeded("source", 1000)
		now = now.Add(5 * time.Second)
	}
	now = now.Add(-time.Second) // still in the last bucket
	tr.window("source", 7)
	tr.setViewers(9)

	var ss contract.StreamStatus
	tr.fill(&ss)
	if ss.Viewers != 9 || ss.BytesServed != 12000 || len(ss.Copies) != 1 {
		t.Fatalf("%+v", ss)
	}
	c := ss.Copies[0]
	if c.Viewers != 7 || c.HTTP != 0.5 || c.Peer != 1.5 {
		t.Fatalf("%+v", c)
	}
	if got, ok := c.CopiesLastMinute(); !ok || got != 1 || c.LastMinuteMade != 12000 {
		t.Fatalf("last minute: %v %v (%+v)", got, ok, c)
	}

	// Nothing made for a minute and no window: no last-minute figure and
	// no stale audience.
	now = now.Add(time.Minute + time.Second)
	ss = contract.StreamStatus{}
	tr.fill(&ss)
	c = ss.Copies[0]
	if _, ok := c.CopiesLastMinute(); ok || c.Viewers != 0 || c.HTTP != 0.5 {
		t.Fatalf("after a quiet minute: %+v", c)
	}
}
