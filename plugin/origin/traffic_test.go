package origin

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
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

// The hub's connection figures reach the gauges and the status, the usual
// types first and those with none left out; the next figures replace them.
func TestTrafficConnections(t *testing.T) {
	m := metrics.New()
	tr := newTraffic("live/show", m)
	tr.connections(signal.Connections{WithoutP2P: 2, ByType: map[string]int{
		signal.ConnRelayUDP: 1, signal.ConnHostUDP: 12, signal.ConnSrflxUDP: 3, signal.ConnHostTCP: 0}})
	var ss contract.StreamStatus
	tr.fill(&ss)
	want := []contract.ConnectionCount{{Type: "host/udp", Count: 12}, {Type: "srflx/udp", Count: 3}, {Type: "relay/udp", Count: 1}}
	if !slices.Equal(ss.Connections, want) || ss.ViewersWithoutP2P != 2 {
		t.Fatalf("status %+v, %d without P2P; want %+v", ss.Connections, ss.ViewersWithoutP2P, want)
	}
	for _, want := range []string{`swarmtx_peer_connections{path="live/show",type="host/udp"} 12`,
		`swarmtx_peer_connections{path="live/show",type="relay/udp"} 1`, `swarmtx_viewers_without_p2p{path="live/show"} 2`} {
		if got := scrape(m); !strings.Contains(got, want+"\n") {
			t.Errorf("/metrics has no %s:\n%s", want, got)
		}
	}
	tr.connections(signal.Connections{ByType: map[string]int{signal.ConnHostUDP: 0, signal.ConnRelayUDP: 0}})
	ss = contract.StreamStatus{}
	tr.fill(&ss)
	if len(ss.Connections) != 0 || ss.ViewersWithoutP2P != 0 {
		t.Fatalf("after the viewers left: %+v", ss)
	}
	if want := `swarmtx_peer_connections{path="live/show",type="host/udp"} 0`; !strings.Contains(scrape(m), want+"\n") {
		t.Errorf("/metrics has no %s after the viewers left", want)
	}
}

func scrape(m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
