package signal

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

func TestConnType(t *testing.T) {
	for _, c := range []struct {
		local, remote, proto, want string
	}{
		{"host", "host", "udp", ConnHostUDP},
		{"host", "srflx", "udp", ConnSrflxUDP},
		{"prflx", "host", "udp", ConnSrflxUDP},
		{"srflx", "prflx", "tcp", ConnSrflxTCP},
		{"relay", "host", "udp", ConnRelayUDP},
		{"srflx", "relay", "udp", ConnRelayUDP},
		{"relay", "relay", "tcp", ConnRelayTCP},
		{"host", "host", "tcp", ConnHostTCP},
	} {
		if got := ConnTypes[connType(wire.Path{Local: c.local, Remote: c.remote, Protocol: c.proto, Count: 1})]; got != c.want {
			t.Errorf("%s/%s over %s is %s, want %s", c.local, c.remote, c.proto, got, c.want)
		}
	}
}

// connectionsWhen waits until the hub's figures satisfy ok.
func connectionsWhen(t *testing.T, h *Hub, now func() time.Time, ok func(Connections) bool) Connections {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		h.mu.Lock()
		c := h.core.connections(now())
		h.mu.Unlock()
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections stay %+v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Each viewer's last report counts, capped at the neighbours the hub gave
// it: a viewer claiming 64 relayed connections with two neighbours counts
// two, and its next report replaces them. Viewers joined long enough with
// no media from peers are counted, the others not.
func TestConnectionsAreEachViewersLastReportCapped(t *testing.T) {
	var mu sync.Mutex
	var told []Connections
	h, url := newHubServer(t, Config{OnConnections: func(c Connections) {
		mu.Lock()
		told = append(told, c)
		mu.Unlock()
	}})
	a := join(t, url, "720p")
	liar := join(t, url, "720p")
	c := join(t, url, "720p") // every viewer now has two neighbours (fullMesh)
	path := func(l, r, p string, n int) wire.Path { return wire.Path{Local: l, Remote: r, Protocol: p, Count: n} }

	a.send(&wire.Stats{Rendition: "720p", LagMs: -1, P2PBytes: 1000,
		Paths: []wire.Path{path("host", "host", "udp", 1), path("srflx", "prflx", "udp", 1)}})
	liar.send(&wire.Stats{Rendition: "720p", LagMs: -1,
		Paths: []wire.Path{path("relay", "relay", "udp", 40), path("host", "host", "tcp", 24)}})
	c.send(&wire.Stats{Rendition: "720p", LagMs: -1, P2PBytes: 5})
	now := time.Now
	got := connectionsWhen(t, h, now, func(c Connections) bool { return c.ByType[ConnRelayUDP] > 0 && c.ByType[ConnHostUDP] > 0 })
	want := map[string]int{ConnHostUDP: 1, ConnSrflxUDP: 1, ConnRelayUDP: 2, ConnHostTCP: 0, ConnSrflxTCP: 0, ConnRelayTCP: 0}
	if !mapsEqual(got.ByType, want) {
		t.Errorf("by type %v, want %v", got.ByType, want)
	}
	if got.WithoutP2P != 0 {
		t.Errorf("%d viewers without P2P right after joining", got.WithoutP2P)
	}

	// A later report replaces the earlier one.
	liar.send(&wire.Stats{Rendition: "720p", LagMs: -1, Paths: []wire.Path{path("host", "host", "udp", 1)}})
	got = connectionsWhen(t, h, now, func(c Connections) bool { return c.ByType[ConnRelayUDP] == 0 })
	if got.ByType[ConnHostUDP] != 2 || got.ByType[ConnSrflxUDP] != 1 {
		t.Errorf("after the second report: %v", got.ByType)
	}
	later := func() time.Time { return time.Now().Add(noP2PAfter) }
	if got := connectionsWhen(t, h, later, func(Connections) bool { return true }); got.WithoutP2P != 1 {
		t.Errorf("%d viewers without P2P, want 1 (the one that got no bytes from peers)", got.WithoutP2P)
	}

	// A viewer that leaves takes its connections with it; the ticker tells.
	a.conn.CloseNow()
	connectionsWhen(t, h, now, func(c Connections) bool { return c.ByType[ConnSrflxUDP] == 0 && c.ByType[ConnHostUDP] == 1 })
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		last := Connections{}
		if len(told) > 0 {
			last = told[len(told)-1]
		}
		mu.Unlock()
		if len(last.ByType) == numConnTypes && last.ByType[ConnHostUDP] == 1 && last.ByType[ConnSrflxUDP] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnConnections last told %+v", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// neighbourSets follows each client's "peers" messages.
type neighbourSets map[*client]map[wire.PeerID]bool

// drain reads what the clients were sent for d.
func (ns neighbourSets) drain(d time.Duration) {
	end := time.After(d)
	for {
		progress := false
		for c, set := range ns {
			select {
			case m := <-c.msgs:
				progress = true
				if p, ok := m.(*wire.Peers); ok {
					for _, a := range p.Add {
						set[a.ID] = true
					}
					for _, r := range p.Remove {
						delete(set, r)
					}
				}
			default:
			}
		}
		select {
		case <-end:
			return
		default:
		}
		if !progress {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// A viewer saying it reached none of its neighbours is taken off every
// neighbour list and offered to no newcomer; it keeps its session, and the
// others keep their links with each other.
func TestUnreachableViewerIsOfferedToNobody(t *testing.T) {
	h := NewHub("live/show", Config{TickEvery: 50 * time.Millisecond}, tracker.New(tracker.Config{}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ns := neighbourSets{}
	var clients []*client
	for range 6 {
		c := join(t, url, "720p")
		clients = append(clients, c)
		ns[c] = map[wire.PeerID]bool{}
	}
	ns.drain(300 * time.Millisecond)
	lonely := clients[len(clients)-1]
	if len(ns[lonely]) == 0 {
		t.Fatal("the last viewer was given no neighbours")
	}
	lonely.send(&wire.Stats{Rendition: "720p", LagMs: -1, Unreachable: true})
	ns.drain(300 * time.Millisecond)
	for _, c := range clients {
		if ns[c][lonely.id] {
			t.Errorf("viewer %s still has the unreachable viewer as a neighbour", c.id)
		}
		if c != lonely && len(ns[c]) == 0 {
			t.Errorf("viewer %s lost every neighbour", c.id)
		}
	}
	if len(ns[lonely]) != 0 {
		t.Errorf("the unreachable viewer keeps neighbours %v", ns[lonely])
	}
	for range 4 {
		c := join(t, url, "720p")
		ns[c] = map[wire.PeerID]bool{}
	}
	ns.drain(300 * time.Millisecond)
	for c, set := range ns {
		if set[lonely.id] {
			t.Errorf("viewer %s was given the unreachable viewer", c.id)
		}
	}
	// Still a session: it gets the announcements of its rendition.
	announce(h, "720p", 1, 1000)
	if a := next[*wire.PartAnnounce](lonely); a.ID.Rendition != "720p" {
		t.Fatalf("announcement %+v", a)
	}
}
