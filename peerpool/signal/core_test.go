package signal

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// drain is everything the core asked for since the last drain.
func drain(c *Core) []Output {
	var out []Output
	for {
		o, ok := c.Poll()
		if !ok {
			return out
		}
		out = append(out, o)
	}
}

func coreViewer(i int) (wire.PeerID, From) {
	id := wire.PeerID(fmt.Sprintf("%032x", i+1))
	return id, From{Network: netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/32", i+1))}
}

// joinUploaders joins n uploading viewers of 720p, each from its own
// network, and returns their ids.
func joinUploaders(c *Core, at time.Time, n int) []wire.PeerID {
	ids := make([]wire.PeerID, n)
	for i := range ids {
		id, from := coreViewer(i)
		c.Join(at, id, uploader("720p"), from)
		ids[i] = id
	}
	return ids
}

func uploader(rendition string) *wire.Join {
	return &wire.Join{V: wire.ProtocolVersion, Rendition: rendition, Upload: wire.Upload{Enabled: true, CapBps: 250_000}}
}

// A joining viewer is welcomed, given its neighbours and the recent
// announcements of its rendition, in that order; the others are told of
// it.
func TestCoreJoinWelcomesThenNeighboursThenRecent(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	a, fromA := coreViewer(0)
	if r := c.Join(t0, a, uploader("720p"), fromA); r != "" {
		t.Fatal(r)
	}
	drain(c)
	part := &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p", MSN: 1}, Size: 1000}
	c.Announce(t0, part)
	if out := drain(c); len(out) != 1 || out[0].(Send).To != a || out[0].(Send).Msg != part {
		t.Fatalf("announcement went out as %+v, want to the one viewer", out)
	}
	b, fromB := coreViewer(1)
	c.Join(t0, b, uploader("720p"), fromB)
	out := drain(c)
	var kinds []string
	for _, o := range out {
		s := o.(Send)
		kinds = append(kinds, fmt.Sprintf("%s to %s", s.Msg.SignalType(), s.To[len(s.To)-1:]))
	}
	want := []string{"welcome to 2", "peers to 2", "peers to 1", "part to 2"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("join gave %v, want %v", kinds, want)
	}
	if c.Viewers() != 2 || c.Neighbours(b) != 1 {
		t.Errorf("%d viewers, the newcomer has %d neighbours", c.Viewers(), c.Neighbours(b))
	}
}

// The seed count steps on the time passed in: a rendition whose viewers
// fetch more than a copy over HTTP through a window gets another seed
// target, and the seeder is told.
func TestCoreSeedCountStepsOnTheTimePassedIn(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{SeedWindow: 8 * time.Second, Logger: quiet}, &fullMesh{})
	seed := wire.PeerID("seed")
	c.AddSeed(t0, "720p", seed)
	ids := joinUploaders(c, t0, 8)
	targets := func() int {
		n := 0
		for _, o := range drain(c) {
			if sn, ok := o.(SeedNeighbours); ok {
				n += len(sn.Add) - len(sn.Remove)
			}
		}
		return n
	}
	if n := targets(); n != 1 || c.Seeds("720p") != 1 {
		t.Fatalf("%d seed targets, count %d; want the floor of one", n, c.Seeds("720p"))
	}
	for s := range 8 {
		now := t0.Add(time.Duration(s) * time.Second)
		c.Announce(now, &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p", MSN: uint64(s)}, Size: 1000})
		for _, id := range ids {
			c.Stats(now, id, &wire.Stats{HTTPBytes: int64(s+1) * 250})
		}
	}
	c.Tick(t0.Add(7*time.Second), nil)
	if c.Seeds("720p") != 1 {
		t.Fatalf("the count moved before its window ended")
	}
	c.Tick(t0.Add(8*time.Second), nil)
	if c.Seeds("720p") != 2 || targets() != 1 {
		t.Errorf("count %d after a window of 2 HTTP copies among 8 viewers, want a second seed target", c.Seeds("720p"))
	}
}

// A ban comes out as the end of the convicted viewer's session, and the
// core has forgotten it.
func TestCoreBanEndsTheSession(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	ids := joinUploaders(c, t0, 6)
	bad := ids[5]
	// Two reporters earn their standing: receivers on two other networks
	// confirm their bytes.
	for _, r := range ids[:2] {
		for _, rx := range ids[2:4] {
			c.Stats(t0, rx, &wire.Stats{From: []wire.Received{{Peer: r, Bytes: 1 << 20}}})
		}
	}
	c.Announce(t0, &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p"}, Size: 4 << 20})
	for _, r := range ids[:2] {
		for _, rx := range ids[2:4] {
			c.Stats(t0, rx, &wire.Stats{From: []wire.Received{{Peer: r, Bytes: 2 << 20}}})
		}
	}
	drain(c)
	for _, r := range ids[:2] {
		c.Report(t0, r, &wire.Report{Peer: bad, Reason: wire.ReasonHashMismatch})
	}
	var ended *End
	for _, o := range drain(c) {
		if e, ok := o.(End); ok {
			ended = &e
		}
	}
	if ended == nil || ended.Peer != bad || ended.Ban != wire.ReasonHashMismatch {
		t.Fatalf("two networks' reports ended %+v, want the accused banned", ended)
	}
	if c.Viewers() != 5 {
		t.Errorf("%d viewers after the ban, want 5", c.Viewers())
	}
}

// A viewer whose declared upload is below the rendition's bit rate is
// given to its neighbours as one that does not upload, and is never a
// seed target; one without a cap, or faster, uploads.
func TestCoreSlowUplinkIsALeaf(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	c.AddSeed(t0, "720p", "seed")
	// 62,500 bytes every 500 ms: 125,000 bytes per second.
	c.Announce(t0, &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p"}, Size: 62_500, DurationMs: 500})
	fast, fromFast := coreViewer(0)
	c.Join(t0, fast, &wire.Join{V: wire.ProtocolVersion, Rendition: "720p", Upload: wire.Upload{Enabled: true, CapBps: 250_000}}, fromFast)
	slow, fromSlow := coreViewer(1)
	c.Join(t0, slow, &wire.Join{V: wire.ProtocolVersion, Rendition: "720p", Upload: wire.Upload{Enabled: true, CapBps: 62_500}}, fromSlow)
	uncapped, fromUncapped := coreViewer(2)
	c.Join(t0, uncapped, &wire.Join{V: wire.ProtocolVersion, Rendition: "720p", Upload: wire.Upload{Enabled: true}}, fromUncapped)
	// Just under the bit rate: the rate measured over parts swings more
	// than that, and a crowd of such uplinks has nothing else to carry it.
	nearRate, fromNearRate := coreViewer(3)
	c.Join(t0, nearRate, &wire.Join{V: wire.ProtocolVersion, Rendition: "720p", Upload: wire.Upload{Enabled: true, CapBps: 120_000}}, fromNearRate)
	told := map[wire.PeerID]bool{} // neighbour: given as one that does not upload
	for _, o := range drain(c) {
		if s, ok := o.(Send); ok && s.To == fast {
			if p, ok := s.Msg.(*wire.Peers); ok {
				for _, a := range p.Add {
					told[a.ID] = a.NoUpload
				}
			}
		}
	}
	if !told[slow] || told[uncapped] {
		t.Errorf("the fast viewer was told: slow does not upload %v, uncapped does not upload %v; want true, false", told[slow], told[uncapped])
	}
	if m := c.members[slow]; m.canUpload {
		t.Error("a viewer uploading half the bit rate may upload")
	}
	if m := c.members[nearRate]; !m.canUpload {
		t.Error("a viewer uploading 96% of the bit rate may not upload")
	}
}

// A forger's accusations that cannot be weighed against the accused (the
// server's own peer accused of a protocol error, a neighbour that has
// left) still use up its share: it is discredited on its third accusation
// of malice wherever they were aimed, and a timeout is not one.
func TestCoreEveryAccusationCountsAgainstTheReporter(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	c.AddSeed(t0, "720p", "seed")
	ids := joinUploaders(c, t0, 7)
	forger, gone := ids[0], ids[1]
	c.Leave(t0, gone)
	drain(c)
	for i, r := range []*wire.Report{
		{Peer: "seed", Reason: wire.ReasonProtocol},
		{Peer: gone, Reason: wire.ReasonHashMismatch},
		{Peer: ids[2], Reason: wire.ReasonTimeout},
		{Peer: ids[3], Reason: wire.ReasonProtocol},
	} {
		if c.ledger.Discredited(trust.ID(forger)) {
			t.Fatalf("discredited before report %d", i)
		}
		c.Report(t0, forger, r)
	}
	if !c.ledger.Discredited(trust.ID(forger)) {
		t.Error("three accusations of malice among six neighbours left the reporter in standing")
	}
}

// A forger that reports every neighbour as soon as it is handed one,
// cycling through the reasons, loses its standing on its third accusation
// of malice, and the report that costs it its standing hands it nothing:
// the real tracker refills a reporter's links when they run short, and a
// separation before the shunning would hand the forger new victims.
func TestCoreForgerIsHandedNothingOnceDiscredited(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, tracker.New(tracker.Config{}))
	c.AddSeed(t0, "720p", "seed")
	joinUploaders(c, t0, 12)
	drain(c)
	forger, from := coreViewer(50)
	c.Join(t0, forger, uploader("720p"), from)
	reasons := []string{wire.ReasonHashMismatch, wire.ReasonProtocol, wire.ReasonTimeout}
	var (
		queue             []wire.PeerID
		reports, handed   int
		discreditedAfter  = -1
		handedDiscredited int
	)
	for round := range 40 {
		if discreditedAfter < 0 && c.ledger.Discredited(trust.ID(forger)) {
			discreditedAfter = reports
		}
		for _, o := range drain(c) {
			if s, ok := o.(Send); ok && s.To == forger {
				if p, ok := s.Msg.(*wire.Peers); ok {
					queue = append(queue, idsOf(p.Add)...)
					handed += len(p.Add)
					if discreditedAfter >= 0 {
						handedDiscredited += len(p.Add)
					}
				}
			}
		}
		if len(queue) == 0 {
			c.Tick(t0.Add(time.Duration(round)*2*time.Second), nil)
			continue
		}
		c.Report(t0, forger, &wire.Report{Peer: queue[0], Reason: reasons[reports%len(reasons)]})
		queue = queue[1:]
		reports++
	}
	if discreditedAfter != 4 {
		t.Errorf("discredited after %d reports, want 4 (the third accusation of malice)", discreditedAfter)
	}
	if handedDiscredited != 0 {
		t.Errorf("handed %d neighbours after it lost its standing, want none", handedDiscredited)
	}
	t.Logf("%d neighbours handed in all, %d reports", handed, reports)
}

func idsOf(infos []wire.PeerInfo) []wire.PeerID {
	out := make([]wire.PeerID, 0, len(infos))
	for _, a := range infos {
		out = append(out, a.ID)
	}
	return out
}

// Two networks' timeouts shun an uploader once it has been in the swarm
// for measureAfter, when its bytes had time to be confirmed: then, unless
// another network vouches for them, and only then. A newcomer turns most
// of its first neighbours away while they all ask it for the same startup
// parts.
func TestCoreUnreachableIsJudgedOnceMeasured(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	ids := joinUploaders(c, t0, 5)
	silent, busy := ids[0], ids[1]
	at := t0.Add(time.Second)
	// A receiver on a third network confirms the busy one's bytes.
	c.Announce(at, &wire.PartAnnounce{ID: wire.PartID{Rendition: "720p"}, Size: 1 << 20})
	c.Stats(at, ids[4], &wire.Stats{From: []wire.Received{{Peer: busy, Bytes: 256 << 10}}})
	for _, accused := range []wire.PeerID{silent, busy} {
		for _, r := range ids[2:4] {
			c.Report(at, r, &wire.Report{Peer: accused, Reason: wire.ReasonTimeout})
		}
	}
	if c.members[silent].unreachable || c.members[busy].unreachable {
		t.Fatal("shunned in its first second")
	}
	c.Tick(t0.Add(measureAfter-time.Millisecond), nil)
	if c.members[silent].unreachable {
		t.Fatal("shunned before measureAfter")
	}
	c.Tick(t0.Add(measureAfter), nil)
	if !c.members[silent].unreachable {
		t.Error("two networks got nothing from it, nobody vouched, and it was not shunned")
	}
	if c.members[busy].unreachable {
		t.Error("shunned although a third network confirmed its bytes")
	}
	// Judged once: the vouching expiring later does not revive old reports.
	c.Tick(t0.Add(measureAfter+10*time.Minute), nil)
	if c.members[busy].unreachable {
		t.Error("shunned on old reports once its vouching expired")
	}
}
