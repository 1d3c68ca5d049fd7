package signal

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// fullMesh connects every peer to every other: enough to exercise the hub.
type fullMesh struct{ peers []string }

func (m *fullMesh) Join(id string, _ tracker.PeerParams) []tracker.Change {
	var out []tracker.Change
	if len(m.peers) > 0 {
		out = append(out, tracker.Change{Peer: id, Add: append([]string(nil), m.peers...)})
	}
	for _, p := range m.peers {
		out = append(out, tracker.Change{Peer: p, Add: []string{id}})
	}
	m.peers = append(m.peers, id)
	return out
}

func (m *fullMesh) Leave(id string) []tracker.Change {
	var out []tracker.Change
	kept := m.peers[:0]
	for _, p := range m.peers {
		if p != id {
			kept = append(kept, p)
			out = append(out, tracker.Change{Peer: p, Remove: []string{id}})
		}
	}
	m.peers = kept
	return out
}

func (m *fullMesh) Ban(id, _ string) []tracker.Change { return m.Leave(id) }

func (m *fullMesh) Update(string, tracker.PeerParams) []tracker.Change { return nil }

func (m *fullMesh) Separate(a, b string) []tracker.Change {
	return []tracker.Change{{Peer: a, Remove: []string{b}}, {Peer: b, Remove: []string{a}}}
}

func (m *fullMesh) Shun(string) []tracker.Change { return nil }

func (m *fullMesh) Ranked(n int, ok func(string) bool) []string {
	var out []string
	for _, p := range m.peers {
		if len(out) < n && ok(p) {
			out = append(out, p)
		}
	}
	return out
}

func (m *fullMesh) SetSeeds([]string) []tracker.Change { return nil }
func (m *fullMesh) ReportStats(string, tracker.Stats)  {}
func (m *fullMesh) Rebalance() []tracker.Change        { return nil }

type client struct {
	t    *testing.T
	conn *websocket.Conn
	id   wire.PeerID
	msgs chan wire.Signal
	errs chan error
}

func newHubServer(t *testing.T, cfg Config) (*Hub, string) {
	t.Helper()
	if cfg.TickEvery == 0 {
		cfg.TickEvery = 50 * time.Millisecond
	}
	h := NewHub("live/show", cfg, &fullMesh{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string) *client { t.Helper(); return dialWith(t, url, nil) }

// dialWith dials with extra request headers (e.g. a proxy's X-Forwarded-For).
func dialWith(t *testing.T, url string, h http.Header) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, conn: c, msgs: make(chan wire.Signal, 256), errs: make(chan error, 1)}
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				cl.errs <- err
				close(cl.msgs)
				return
			}
			m, err := wire.DecodeFromServer(data)
			if err != nil {
				cl.errs <- err
				return
			}
			cl.msgs <- m
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return cl
}

func (c *client) sendRaw(s string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, []byte(s))
}

func (c *client) send(m wire.Signal) {
	c.t.Helper()
	data, err := wire.EncodeSignal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.sendRaw(string(data)); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message of type T, skipping others.
func next[T wire.Signal](c *client) T {
	c.t.Helper()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %T", *new(T))
			}
			if v, ok := m.(T); ok {
				return v
			}
		case <-timeout:
			c.t.Fatalf("no %T within 3s", *new(T))
		}
	}
}

// closedWith waits for the server's error message and the close.
func (c *client) closedWith(want string) {
	c.t.Helper()
	e := next[*wire.ServerError](c)
	if !strings.Contains(e.Reason, want) {
		c.t.Errorf("closed with %q, want it to mention %q", e.Reason, want)
	}
	select {
	case <-c.errs:
	case <-time.After(3 * time.Second):
		c.t.Error("connection not closed after the error")
	}
}

func join(t *testing.T, url, rendition string) *client {
	t.Helper()
	return joinWith(t, url, rendition, nil)
}

func joinWith(t *testing.T, url, rendition string, h http.Header) *client {
	t.Helper()
	c := dialWith(t, url, h)
	c.send(&wire.Join{V: 1, Rendition: rendition, Upload: wire.Upload{Enabled: true}})
	w := next[*wire.Welcome](c)
	c.id = w.ID
	if w.ICETransportPolicy != "all" || w.MaxFrame != wire.MaxFrameSize {
		t.Errorf("welcome %+v", w)
	}
	return c
}

func TestJoinNeighboursAndRelay(t *testing.T) {
	_, url := newHubServer(t, Config{})
	a := join(t, url, "720p")
	b := join(t, url, "360p")
	if p := next[*wire.Peers](a); len(p.Add) != 1 || p.Add[0].ID != b.id {
		t.Fatalf("a's neighbours: %+v", p)
	}
	if p := next[*wire.Peers](b); len(p.Add) != 1 || p.Add[0].ID != a.id {
		t.Fatalf("b's neighbours: %+v", p)
	}
	a.send(&wire.Relay{To: b.id, SDP: &wire.SDP{Type: "offer", SDP: "v=0"}})
	r := next[*wire.Relay](b)
	if r.From != a.id || r.SDP == nil || r.SDP.SDP != "v=0" {
		t.Fatalf("relayed %+v", r)
	}
	// A message to a peer that is not a neighbour goes nowhere.
	stranger := wire.NewPeerID()
	a.send(&wire.Relay{To: stranger, Candidate: &wire.Candidate{Candidate: ""}})
	b.send(&wire.Relay{To: a.id, SDP: &wire.SDP{Type: "answer", SDP: "v=0"}})
	if r := next[*wire.Relay](a); r.From != b.id || r.SDP.Type != "answer" {
		t.Fatalf("answer %+v", r)
	}
}

func TestAnnouncementsReachTheirRendition(t *testing.T) {
	h, url := newHubServer(t, Config{})
	a := join(t, url, "720p")
	b := join(t, url, "360p")
	part := &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p", MSN: 9, Index: 1}, Size: 3, DurationMs: 500}
	part.SHA256[0] = 7
	h.Announce(part)
	got := next[*wire.PartAnnounce](a)
	if got.ID.MSN != 9 || got.ID.Index != 1 || got.Size != 3 || got.SHA256[0] != 7 || got.DurationMs != 500 {
		t.Fatalf("announcement %+v", got)
	}
	// b watches 360p; when it switches it gets the recent 720p hashes.
	b.send(&wire.Rendition{Rendition: "720p"})
	if got := next[*wire.PartAnnounce](b); got.ID.MSN != 9 {
		t.Fatalf("recent announcement after switch %+v", got)
	}
	// A newcomer gets them too.
	c := join(t, url, "720p")
	if got := next[*wire.PartAnnounce](c); got.ID.MSN != 9 {
		t.Fatalf("recent announcement for a newcomer %+v", got)
	}
}

func TestBadInputClosesOnlyThatSession(t *testing.T) {
	_, url := newHubServer(t, Config{MessagesPerSecond: 5, Burst: 10})
	good1 := join(t, url, "720p")
	good2 := join(t, url, "720p")
	next[*wire.Peers](good1)
	next[*wire.Peers](good2)

	for name, tc := range map[string]struct {
		first string
		then  func(c *client)
		want  string
	}{
		"garbage":        {first: `{"t":"join"`, want: "join"},
		"not join first": {first: `{"t":"rendition","rendition":"720p"}`, want: "first message must be join"},
		"wrong version":  {first: `{"t":"join","v":2,"rendition":"720p"}`, want: "v"},
		"unknown field": {first: `{"t":"join","v":1,"rendition":"720p"}`, then: func(c *client) {
			_ = c.sendRaw(`{"t":"rendition","rendition":"720p","evil":1}`)
		}, want: "evil"},
		"flood": {first: `{"t":"join","v":1,"rendition":"720p"}`, then: func(c *client) {
			for i := 0; i < 50; i++ {
				_ = c.sendRaw(`{"t":"rendition","rendition":"720p"}`)
			}
		}, want: "messages per second"},
		"join twice": {first: `{"t":"join","v":1,"rendition":"720p"}`, then: func(c *client) {
			_ = c.sendRaw(`{"t":"join","v":1,"rendition":"720p"}`)
		}, want: "join sent twice"},
		"oversized": {first: `{"t":"join","v":1,"rendition":"720p"}`, then: func(c *client) {
			_ = c.sendRaw(`{"t":"rendition","rendition":"720p","x":"` + strings.Repeat("a", 20000) + `"}`)
		}, want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, url)
			if err := c.sendRaw(tc.first); err != nil {
				t.Fatal(err)
			}
			if tc.then != nil {
				next[*wire.Welcome](c)
				tc.then(c)
			}
			if tc.want == "" {
				select {
				case <-c.errs:
				case <-time.After(3 * time.Second):
					t.Error("connection not closed")
				}
				return
			}
			c.closedWith(tc.want)
		})
	}
	// The good sessions still work.
	good1.send(&wire.Relay{To: good2.id, SDP: &wire.SDP{Type: "offer", SDP: "v=0"}})
	if r := next[*wire.Relay](good2); r.From != good1.id {
		t.Fatalf("relay after the bad sessions: %+v", r)
	}
}

// from gives a client its own network, as a reverse proxy on the server's
// host would name it.
func from(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }

// announce cuts n parts of size bytes on rendition.
func announce(h *Hub, rendition string, n, size int) {
	for i := range n {
		h.Announce(&wire.PartAnnounce{ID: wire.PartID{Rendition: rendition, MSN: uint64(100 + i)}, Size: size, DurationMs: 500})
	}
}

// removed waits until c is told to drop peer.
func removed(c *client, peer wire.PeerID) {
	c.t.Helper()
	for {
		p := next[*wire.Peers](c)
		if slices.Contains(p.Remove, peer) {
			return
		}
	}
}

// convict has two viewers on their own networks report bad, and two more
// confirm the reporters' delivery so that their word counts; it returns the
// reporters.
func convict(t *testing.T, h *Hub, url string, bad *client) (r1, r2 *client) {
	t.Helper()
	r1 = joinWith(t, url, "720p", from("198.51.100.1"))
	r2 = joinWith(t, url, "720p", from("198.51.100.2"))
	j1 := joinWith(t, url, "720p", from("198.51.100.3"))
	j2 := joinWith(t, url, "720p", from("198.51.100.4"))
	// The reports come first, from viewers nobody has vouched for yet: the
	// link is cut at once, the ban waits for standing.
	r1.send(&wire.Report{Peer: bad.id, Reason: "hash-mismatch"})
	removed(r1, bad.id)
	r2.send(&wire.Report{Peer: bad.id, Reason: "hash-mismatch"})
	removed(r2, bad.id)
	// Viewers on two more networks confirm they received parts from r1 and
	// r2; the next review bans bad.
	announce(h, "720p", 4, 70_000)
	for _, j := range []*client{j1, j2} {
		j.send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: r1.id, Bytes: 70_000}, {Peer: r2.id, Bytes: 70_000}}})
	}
	bad.closedWith("banned: reporters on 2 networks found hash-mismatch")
	removed(j1, bad.id)
	return r1, r2
}

func TestReportersInStandingOnTwoNetworksBan(t *testing.T) {
	h, url := newHubServer(t, Config{})
	convict(t, h, url, joinWith(t, url, "720p", from("198.51.100.66")))
}

func TestReportsWithoutStandingOnlyCutLinks(t *testing.T) {
	var bans int
	var mu sync.Mutex
	h, url := newHubServer(t, Config{OnBan: func(string) { mu.Lock(); bans++; mu.Unlock() }})
	honest := joinWith(t, url, "720p", from("198.51.100.1"))
	f1 := joinWith(t, url, "720p", from("203.0.113.7"))
	f2 := joinWith(t, url, "720p", from("203.0.113.8"))
	announce(h, "720p", 4, 70_000)
	// The forgers even confirm each other's delivery: each still has only
	// the other's word, and that is one report each.
	f1.send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: f2.id, Bytes: 200_000}}})
	f2.send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: f1.id, Bytes: 200_000}}})
	time.Sleep(50 * time.Millisecond)
	for _, f := range []*client{f1, f2} {
		f.send(&wire.Report{Peer: honest.id, Reason: "hash-mismatch"})
		removed(f, honest.id)
	}
	// The honest viewer is still in: it can relay to a new neighbour.
	late := joinWith(t, url, "720p", from("198.51.100.9"))
	honest.send(&wire.Relay{To: late.id, SDP: &wire.SDP{Type: "offer", SDP: "v=0"}})
	if r := next[*wire.Relay](late); r.From != honest.id {
		t.Fatalf("relay from the accused viewer: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if bans != 0 {
		t.Errorf("%d bans from two reports, each by a session with one forger's word for its standing", bans)
	}
}

func TestSessionsPerNetworkAreBounded(t *testing.T) {
	_, url := newHubServer(t, Config{MaxSessionsPerNetwork: 2})
	a := joinWith(t, url, "720p", from("203.0.113.5"))
	joinWith(t, url, "720p", from("203.0.113.5"))
	c := dialWith(t, url, from("203.0.113.5"))
	c.send(&wire.Join{V: 1, Rendition: "720p", Upload: wire.Upload{Enabled: true}})
	c.closedWith("too many swarm sessions from your network 203.0.113.5/32 (2, the limit")
	// Another network is not affected, and a place freed is a place again.
	joinWith(t, url, "720p", from("198.51.100.1"))
	a.conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(3 * time.Second)
	for {
		d := dialWith(t, url, from("203.0.113.5"))
		d.send(&wire.Join{V: 1, Rendition: "720p", Upload: wire.Upload{Enabled: true}})
		m := <-d.msgs
		if _, ok := m.(*wire.Welcome); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place for the network after one of its sessions left: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestJoinsPerNetworkAreRateLimited(t *testing.T) {
	_, url := newHubServer(t, Config{JoinsPerSecondPerNetwork: 0.01, JoinBurstPerNetwork: 3})
	for range 3 {
		joinWith(t, url, "720p", from("203.0.113.5"))
	}
	c := dialWith(t, url, from("203.0.113.5"))
	c.send(&wire.Join{V: 1, Rendition: "720p", Upload: wire.Upload{Enabled: true}})
	c.closedWith("too many joins from your network 203.0.113.5/32")
	joinWith(t, url, "720p", from("198.51.100.1"))
}

func TestAccusingTheSeederCostsStanding(t *testing.T) {
	h, url := newHubServer(t, Config{SeedsPerRendition: 1})
	seed := &fakeSeed{nbrs: map[wire.PeerID]bool{}}
	seedID := wire.NewPeerID()
	h.AddSeed("720p", seedID, seed)
	v := joinWith(t, url, "720p", from("198.51.100.1"))
	for {
		p := next[*wire.Peers](v)
		if len(p.Add) == 1 && p.Add[0].ID == seedID {
			break
		}
	}
	v.send(&wire.Report{Peer: seedID, Reason: "hash-mismatch"})
	deadline := time.Now().Add(3 * time.Second)
	for {
		h.mu.Lock()
		d := h.core.ledger.Discredited(trust.ID(v.id))
		h.mu.Unlock()
		if d {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a viewer that accused the server's peer of bad bytes kept its standing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatsDeltas(t *testing.T) {
	var mu sync.Mutex
	var http, p2p int64
	_, url := newHubServer(t, Config{OnStats: func(h, p int64, _ int) {
		mu.Lock()
		http += h
		p2p += p
		mu.Unlock()
	}})
	c := join(t, url, "720p")
	c.send(&wire.Stats{Rendition: "720p", HTTPBytes: 100, P2PBytes: 900, LagMs: -1})
	c.send(&wire.Stats{Rendition: "720p", HTTPBytes: 150, P2PBytes: 1900, LagMs: 800})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if http != 150 || p2p != 1900 {
		t.Errorf("totals %d http %d p2p, want 150 and 1900", http, p2p)
	}
	mu.Unlock()
	c.send(&wire.Stats{Rendition: "720p", HTTPBytes: 10, LagMs: -1})
	c.closedWith("backwards")
}

func TestWithTheRealTracker(t *testing.T) {
	h := NewHub("live/show", Config{}, tracker.New(tracker.Config{}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var clients []*client
	for i := 0; i < 8; i++ {
		clients = append(clients, join(t, url, "720p"))
	}
	// Every viewer ends up with neighbours, and the relations are mutual.
	deadline := time.Now().Add(3 * time.Second)
	for _, c := range clients {
		got := map[wire.PeerID]bool{}
		for len(got) < 3 && time.Now().Before(deadline) {
			select {
			case m := <-c.msgs:
				if p, ok := m.(*wire.Peers); ok {
					for _, a := range p.Add {
						got[a.ID] = true
					}
					for _, r := range p.Remove {
						delete(got, r)
					}
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		if len(got) < 3 {
			t.Errorf("viewer %s has %d neighbours, want at least 3", c.id, len(got))
		}
	}
}

type fakeSeed struct {
	mu     sync.Mutex
	nbrs   map[wire.PeerID]bool
	open   map[wire.PeerID]bool // channels it reports open
	relays []*wire.Relay
}

func (f *fakeSeed) SetNeighbours(add []wire.PeerInfo, remove []wire.PeerID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range add {
		f.nbrs[a.ID] = true
	}
	for _, r := range remove {
		delete(f.nbrs, r)
	}
}

func (f *fakeSeed) HandleRelay(r *wire.Relay) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.relays = append(f.relays, r)
}

func (f *fakeSeed) Received() []wire.Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wire.Received
	for id := range f.open {
		out = append(out, wire.Received{Peer: id})
	}
	return out
}

func (f *fakeSeed) neighbours() map[wire.PeerID]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[wire.PeerID]bool{}
	for k := range f.nbrs {
		out[k] = true
	}
	return out
}

func TestSeederPushesToTwoViewersOfItsRendition(t *testing.T) {
	h, url := newHubServer(t, Config{SeedsPerRendition: 2})
	seed := &fakeSeed{nbrs: map[wire.PeerID]bool{}}
	seedID := wire.NewPeerID()
	h.AddSeed("720p", seedID, seed)
	other := join(t, url, "360p")
	var viewers []*client
	for i := 0; i < 3; i++ {
		viewers = append(viewers, join(t, url, "720p"))
	}
	time.Sleep(200 * time.Millisecond)
	targets := seed.neighbours()
	if len(targets) != 2 || targets[other.id] {
		t.Fatalf("seed targets %v: want two 720p viewers", targets)
	}
	var target *client
	for _, v := range viewers {
		if targets[v.id] {
			target = v
		}
	}
	// The target was told about the seed, and signaling flows both ways.
	for {
		p := next[*wire.Peers](target)
		if len(p.Add) == 1 && p.Add[0].ID == seedID && p.Add[0].Seed {
			break
		}
	}
	if err := h.SeedRelay(seedID, target.id, &wire.Relay{SDP: &wire.SDP{Type: "offer", SDP: "v=0"}}); err != nil {
		t.Fatal(err)
	}
	if r := next[*wire.Relay](target); r.From != seedID {
		t.Fatalf("relay from the seed: %+v", r)
	}
	target.send(&wire.Relay{To: seedID, SDP: &wire.SDP{Type: "answer", SDP: "v=0"}})
	time.Sleep(100 * time.Millisecond)
	seed.mu.Lock()
	if len(seed.relays) != 1 || seed.relays[0].From != target.id {
		t.Errorf("seed got relays %+v", seed.relays)
	}
	seed.mu.Unlock()
	if err := h.SeedRelay(seedID, other.id, &wire.Relay{SDP: &wire.SDP{Type: "offer", SDP: "v=0"}}); err == nil {
		t.Error("the seed could signal a viewer that is not its target")
	}
	// When a target leaves, the seed moves on to the remaining viewer.
	target.conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n := seed.neighbours()
		if len(n) == 2 && !n[target.id] {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("seed targets after a target left: %v", seed.neighbours())
}

type shunMesh struct {
	fullMesh
	mu      sync.Mutex
	shunned []string
}

func (m *shunMesh) Shun(id string) []tracker.Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shunned = append(m.shunned, id)
	return nil
}

// A newcomer neighbours on two networks could get nothing from is not
// shunned at once, nor banned; a viewer that does not upload never is.
func TestUnreachableNewcomerIsNotShunnedAtOnce(t *testing.T) {
	mesh := &shunMesh{}
	h := NewHub("live/show", Config{TickEvery: 50 * time.Millisecond}, mesh)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	silent := joinWith(t, url, "720p", from("203.0.113.9"))
	a := joinWith(t, url, "720p", from("198.51.100.1"))
	b := joinWith(t, url, "720p", from("198.51.100.2"))
	shunned := func() bool {
		mesh.mu.Lock()
		defer mesh.mu.Unlock()
		return slices.Contains(mesh.shunned, string(silent.id))
	}
	a.send(&wire.Report{Peer: silent.id, Reason: "timeout"})
	removed(a, silent.id)
	if shunned() {
		t.Fatal("one network's timeout shunned the viewer")
	}
	b.send(&wire.Report{Peer: silent.id, Reason: "timeout"})
	removed(b, silent.id)
	if shunned() {
		// TestCoreUnreachableIsJudgedOnceMeasured shuns it later.
		t.Fatal("a newcomer was shunned in its first seconds, before anyone could vouch for it")
	}
	// A viewer that opted out of uploading is never asked for anything:
	// two networks' timeouts do not take it out of the mesh.
	leaf := dialWith(t, url, from("203.0.113.10"))
	leaf.send(&wire.Join{V: 1, Rendition: "720p"})
	leaf.id = next[*wire.Welcome](leaf).ID
	a.send(&wire.Report{Peer: leaf.id, Reason: "timeout"})
	removed(a, leaf.id)
	b.send(&wire.Report{Peer: leaf.id, Reason: "timeout"})
	removed(b, leaf.id)
	mesh.mu.Lock()
	if slices.Contains(mesh.shunned, string(leaf.id)) {
		t.Error("a viewer that does not upload was taken out of the mesh on two timeouts")
	}
	mesh.mu.Unlock()
	// Still in the swarm: it relays to a newcomer.
	c := joinWith(t, url, "720p", from("198.51.100.3"))
	silent.send(&wire.Relay{To: c.id, SDP: &wire.SDP{Type: "offer", SDP: "v=0"}})
	if r := next[*wire.Relay](c); r.From != silent.id {
		t.Fatalf("relay from the shunned viewer: %+v", r)
	}
}

// When the swarm's viewers fetch everything over HTTP anyway (a swarm that
// cannot deliver, or a starved machine), seeding only adds copies: the hub
// stops seeding, so the rendition costs no more than plain HTTP would, and
// says so at each window's end.
func TestSeedingStopsWhenItOnlyAddsCopies(t *testing.T) {
	type window struct{ viewers int }
	windows := make(chan window, 64)
	h, url := newHubServer(t, Config{SeedsPerRendition: 2, SeedWindow: 150 * time.Millisecond,
		OnWindow: func(r string, v int) { windows <- window{v} }})
	seed := &fakeSeed{nbrs: map[wire.PeerID]bool{}}
	h.AddSeed("720p", wire.NewPeerID(), seed)
	var vs []*client
	for i := range 3 {
		vs = append(vs, joinWith(t, url, "720p", from(fmt.Sprint("198.51.100.", i+1))))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("no seed targets at the start", func() bool { return len(seed.neighbours()) == 2 })
	// Each window: a part is cut and every viewer fetched all of it over HTTP.
	var total int64
	stop := time.Now().Add(3 * time.Second)
	for time.Now().Before(stop) && len(seed.neighbours()) > 0 {
		announce(h, "720p", 1, 10_000)
		total += 10_000
		for _, v := range vs {
			v.send(&wire.Stats{Rendition: "720p", HTTPBytes: total, LagMs: -1})
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(seed.neighbours()); n != 0 {
		t.Fatalf("%d seed targets left while every viewer fetches everything over HTTP: 3 copies plus seeding", n)
	}
	select {
	case w := <-windows:
		if w.viewers != 3 {
			t.Errorf("window reported %d viewers, want 3", w.viewers)
		}
	default:
		t.Error("no window was reported")
	}
}

// A network's sessions after its first are on probation, at most
// MaxUnprovenPerNetwork of them in the mesh; the rest wait outside it until
// a viewer on another network, or one already proven from outside, confirms
// an open channel with one of those in it.
func TestNewcomersOfOneNetworkWaitForProof(t *testing.T) {
	_, url := newHubServer(t, Config{MaxUnprovenPerNetwork: 2})
	honest := joinWith(t, url, "720p", from("198.51.100.1"))
	var flood []*client
	for range 5 {
		flood = append(flood, joinWith(t, url, "720p", from("203.0.113.5")))
	}
	// honest is told of the first three only: the network's first and two
	// on probation.
	got := map[wire.PeerID]bool{}
	for len(got) < 3 {
		for _, a := range next[*wire.Peers](honest).Add {
			got[a.ID] = true
		}
	}
	for i := range 3 {
		if !got[flood[i].id] {
			t.Fatalf("honest viewer's neighbours %v: want the network's first three sessions", got)
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case m := <-honest.msgs:
			if p, ok := m.(*wire.Peers); ok && len(p.Add) > 0 {
				t.Fatalf("%s: %+v joined the mesh", what, p.Add)
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The network's own sessions, the first included, cannot vouch for
	// each other.
	flood[0].send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: flood[1].id}, {Peer: flood[2].id}}})
	flood[1].send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: flood[2].id}}})
	quiet("after sessions of one network vouched for each other")
	// honest confirms an open channel with one on probation: the fourth comes in.
	honest.send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: flood[1].id}}})
	for _, a := range next[*wire.Peers](honest).Add {
		if a.ID != flood[3].id {
			t.Fatalf("after proof, %s joined the mesh; want the network's fourth session", a.ID)
		}
	}
	quiet("the fifth session came in unproven")
	// A session proven from outside vouches for its own network's.
	flood[1].send(&wire.Stats{Rendition: "720p", LagMs: -1, From: []wire.Received{{Peer: flood[2].id}}})
	for _, a := range next[*wire.Peers](honest).Add {
		if a.ID != flood[4].id {
			t.Fatalf("after the proven session vouched, %s joined the mesh; want the fifth", a.ID)
		}
	}
}

// The server's own seeder is proof enough: a swarm whose viewers all share
// one network (one NAT) still fills its mesh, two sessions at a time.
func TestSeederProvesViewersOfOneNetwork(t *testing.T) {
	h, url := newHubServer(t, Config{MaxUnprovenPerNetwork: 1, SeedsPerRendition: 1})
	seed := &fakeSeed{nbrs: map[wire.PeerID]bool{}, open: map[wire.PeerID]bool{}}
	h.AddSeed("720p", wire.NewPeerID(), seed)
	joinWith(t, url, "720p", from("203.0.113.5")) // the network's first: not on probation
	first := joinWith(t, url, "720p", from("203.0.113.5"))
	second := joinWith(t, url, "720p", from("203.0.113.5"))
	select {
	case m := <-first.msgs:
		if p, ok := m.(*wire.Peers); ok && len(p.Add) > 0 && p.Add[0].ID == second.id {
			t.Fatal("the second session of the network came in before the first was proven")
		}
	case <-time.After(200 * time.Millisecond):
	}
	seed.mu.Lock()
	seed.open[first.id] = true
	seed.mu.Unlock()
	for {
		p := next[*wire.Peers](first)
		if len(p.Add) == 1 && p.Add[0].ID == second.id {
			break
		}
	}
}

// A session opened with credentials that expire (WithSessionEnd) is ended
// then with "credentials expired"; the viewer has to join again.
func TestSessionEndsWhenCredentialsExpire(t *testing.T) {
	h := NewHub("live/show", Config{TickEvery: 50 * time.Millisecond}, &fullMesh{})
	t.Cleanup(h.Close)
	end := time.Now().Add(700 * time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithSessionEnd(r.Context(), end)))
	}))
	t.Cleanup(srv.Close)
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	c.send(&wire.Join{V: wire.ProtocolVersion, Rendition: "720p", Upload: wire.Upload{Enabled: true}})
	next[*wire.Welcome](c)
	e := next[*wire.ServerError](c)
	if e.Reason != "credentials expired" {
		t.Errorf("reason %q", e.Reason)
	}
	if late := time.Since(end); late < 0 || late > 2*time.Second {
		t.Errorf("ended %v after the credentials expired", late)
	}
}

// reasons is a slog handler that keeps the reason of every closed session.
type reasons struct {
	mu  sync.Mutex
	got []string
}

func (r *reasons) Enabled(context.Context, slog.Level) bool { return true }
func (r *reasons) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *reasons) WithGroup(string) slog.Handler            { return r }
func (r *reasons) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			r.mu.Lock()
			r.got = append(r.got, a.Value.String())
			r.mu.Unlock()
		}
		return true
	})
	return nil
}

func (r *reasons) has(want string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.got, func(s string) bool { return strings.Contains(s, want) })
}

func (r *reasons) reset() {
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
}

// The WebSocket library answers an oversized message with its own close
// frame, after which the server's writes fail; the reason must still reach
// the log while the session is being sent announcements.
func TestOversizedMessageIsLoggedWhileWriting(t *testing.T) {
	logged := &reasons{}
	h, url := newHubServer(t, Config{Logger: slog.New(logged)})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			h.Announce(&wire.PartAnnounce{ID: wire.PartID{Rendition: "720p", MSN: uint64(i)}, Size: 1000, DurationMs: 500})
			time.Sleep(100 * time.Microsecond)
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for i := range 20 {
		c := join(t, url, "720p")
		go func() {
			for range c.msgs { // the announcements, until the close
			}
		}()
		_ = c.sendRaw(`{"t":"rendition","rendition":"720p","x":"` + strings.Repeat("a", 20000) + `"}`)
		select {
		case <-c.errs:
		case <-time.After(3 * time.Second):
			t.Fatalf("session %d: not closed after an oversized message", i)
		}
		deadline := time.Now().Add(2 * time.Second)
		for !logged.has("read limited") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !logged.has("read limited") {
			t.Fatalf("session %d: closed, but no logged reason says \"read limited\"", i)
		}
		logged.reset()
	}
}
