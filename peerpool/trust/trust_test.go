package trust

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func network(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 32)
}

// swarm builds a ledger with sessions "h0".."h{n-1}" on networks 1..n,
// each the neighbour of every other.
func swarm(t *testing.T, n int) *Ledger {
	t.Helper()
	l := New(Config{})
	for i := range n {
		l.Join(ID(fmt.Sprint("h", i)), network(i+1))
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			l.Neighbours(ID(fmt.Sprint("h", i)), ID(fmt.Sprint("h", j)))
		}
	}
	return l
}

// earn gives id standing: each receiver (on its own network) confirms
// 64 KiB from it.
func earn(l *Ledger, id ID, receivers ...ID) {
	for _, r := range receivers {
		l.Confirm(r, []Received{{Peer: id, Bytes: 64 << 10}}, 1<<40, t0)
	}
}

// deliver has receiver confirm a running total of bytes from sender.
func deliver(l *Ledger, receiver, sender ID, total int64, now time.Time) map[ID]int64 {
	return l.Confirm(receiver, []Received{{Peer: sender, Bytes: total}}, 1<<40, now)
}

func TestReportsWithoutStandingNeverBan(t *testing.T) {
	l := swarm(t, 4)
	for i := range 4 {
		l.Join(ID(fmt.Sprint("liar", i)), network(100+i))
		for j := range 4 {
			l.Neighbours(ID(fmt.Sprint("liar", i)), ID(fmt.Sprint("h", j)))
		}
	}
	for i := range 4 {
		for j := range 4 {
			v := l.Report(ID(fmt.Sprint("liar", i)), ID(fmt.Sprint("h", j)), true, t0)
			if v.Ban || v.Counted {
				t.Fatalf("liar%d's report of h%d: %+v; a session nobody confirmed must not count", i, j, v)
			}
		}
	}
}

func TestStandingReportersOnTwoNetworksBan(t *testing.T) {
	l := swarm(t, 4)
	l.Join("bad", network(50))
	for i := range 4 {
		l.Neighbours("bad", ID(fmt.Sprint("h", i)))
	}
	// h0 and h1 earn standing: h2 and h3 confirm their bytes.
	earn(l, "h0", "h2", "h3")
	earn(l, "h1", "h2", "h3")
	if !l.InStanding("h0") || !l.InStanding("h1") || l.InStanding("h2") {
		t.Fatalf("standing h0 %v h1 %v h2 %v, want true true false", l.InStanding("h0"), l.InStanding("h1"), l.InStanding("h2"))
	}
	v := l.Report("h0", "bad", true, t0)
	if !v.Counted || v.Ban || v.Quorum != 1 {
		t.Fatalf("first standing report: %+v, want counted, quorum 1, no ban", v)
	}
	v = l.Report("h1", "bad", true, t0)
	if !v.Ban || v.Quorum != 2 {
		t.Fatalf("second standing report from another network: %+v, want a ban", v)
	}
}

func TestOneNetworksWordIsNotStanding(t *testing.T) {
	l := swarm(t, 3)
	earn(l, "h0", "h1")
	if l.InStanding("h0") {
		t.Error("one confirming network gave standing")
	}
	// Two sessions vouching for each other and accusing together.
	l.Join("f1", network(80))
	l.Join("f2", network(81))
	l.Neighbours("f1", "h2")
	l.Neighbours("f2", "h2")
	earn(l, "f1", "f2")
	earn(l, "f2", "f1")
	l.Report("f1", "h2", true, t0)
	if v := l.Report("f2", "h2", true, t0); v.Ban || v.Quorum != 0 {
		t.Errorf("two sessions vouching for each other: %+v, want no standing and no ban", v)
	}
}

func TestLateStandingIsHeardOnReview(t *testing.T) {
	l := swarm(t, 4)
	l.Join("bad", network(50))
	l.Report("h0", "bad", true, t0)
	l.Report("h1", "bad", true, t0)
	if c := l.Review(t0); len(c) != 0 {
		t.Fatalf("convicted %v before any reporter had standing", c)
	}
	earn(l, "h0", "h2", "h3")
	earn(l, "h1", "h2", "h3")
	c := l.Review(t0)
	if len(c) != 1 || c[0].ID != "bad" || c[0].Quorum != 2 {
		t.Fatalf("review after the reporters earned standing: %+v, want bad convicted by 2 networks", c)
	}
}

func TestOneNetworkCountsOnce(t *testing.T) {
	l := New(Config{})
	l.Join("a", network(1))
	l.Join("b", network(1))
	l.Join("c", network(2))
	l.Join("d", network(4))
	l.Join("bad", network(3))
	earn(l, "a", "c", "d")
	earn(l, "b", "c", "d")
	for _, id := range []ID{"a", "b", "c"} {
		l.Neighbours(id, "bad")
	}
	l.Report("a", "bad", true, t0)
	if v := l.Report("b", "bad", true, t0); v.Ban || v.Quorum != 1 {
		t.Fatalf("two reporters on one network: %+v, want quorum 1 and no ban", v)
	}
}

func TestDeliveryInsideOneNetworkEarnsNoStanding(t *testing.T) {
	l := New(Config{})
	l.Join("a", network(1))
	l.Join("b", network(1))
	credits := deliver(l, "b", "a", 10<<20, t0)
	if credits["a"] != 10<<20 {
		t.Errorf("credit %d, want the bytes for placement", credits["a"])
	}
	if l.InStanding("a") {
		t.Error("a session confirmed only by its own network has standing")
	}
}

func TestConfirmCountsNewBytesUpToTheLimit(t *testing.T) {
	l := swarm(t, 3)
	if c := l.Confirm("h0", []Received{{"h1", 1000}, {"h2", 500}}, 1200, t0); c["h1"] != 1000 || c["h2"] != 200 {
		t.Errorf("first confirmation %v, want h1 1000 and h2 capped at 200", c)
	}
	if c := l.Confirm("h0", []Received{{"h1", 1500}}, 1<<40, t0); c["h1"] != 500 || len(c) != 1 {
		t.Errorf("second confirmation %v, want 500 new bytes from h1", c)
	}
	// h2 left the list: its total starts again.
	if c := l.Confirm("h0", []Received{{"h1", 1500}, {"h2", 300}}, 1<<40, t0); c["h2"] != 300 || c["h1"] != 0 {
		t.Errorf("third confirmation %v, want h2's 300 from zero and nothing new from h1", c)
	}
	if c := l.Confirm("h0", []Received{{"h0", 1 << 30}, {"nobody", 1 << 30}}, 1<<40, t0); len(c) != 0 {
		t.Errorf("confirming itself or a stranger credited %v", c)
	}
}

func TestSerialReporterLosesStanding(t *testing.T) {
	l := swarm(t, 6)
	earn(l, "h0", "h4", "h5")
	earn(l, "h1", "h4", "h5")
	l.Join("bad", network(60))
	l.Neighbours("h0", "bad")
	l.Neighbours("h1", "bad")
	if v := l.Report("h0", "bad", true, t0); !v.Counted {
		t.Fatalf("h0's first report did not count: %+v", v)
	}
	// h0 (6 neighbours) now reports honest ones: three reports of six
	// neighbours is more than a third.
	var lost bool
	for _, id := range []ID{"h2", "h3"} {
		lost = lost || l.Report("h0", id, true, t0).Discredited
	}
	if !lost || l.InStanding("h0") {
		t.Fatal("h0 reported 3 of its 6 neighbours and kept its standing")
	}
	// Its earlier report no longer counts towards a ban.
	if v := l.Report("h1", "bad", true, t0); v.Ban || v.Quorum != 1 {
		t.Errorf("h1's report after h0 lost its standing: %+v, want quorum 1", v)
	}
}

// A viewer whose neighbours give it nothing reports them all as timeouts:
// that is no malice, and it keeps its standing (a discredited viewer is
// shunned, and would watch over HTTP for good).
func TestTimeoutsDoNotDiscredit(t *testing.T) {
	l := swarm(t, 6)
	earn(l, "h0", "h4", "h5")
	for _, id := range []ID{"h1", "h2", "h3", "h4"} {
		if l.Report("h0", id, false, t0).Discredited {
			t.Fatalf("h0 discredited for reporting %s as a timeout", id)
		}
	}
	if !l.InStanding("h0") {
		t.Error("h0 lost its standing for timeouts")
	}
}

func TestRecentConfirmationsDefend(t *testing.T) {
	l := swarm(t, 6)
	earn(l, "h0", "h3", "h4")
	earn(l, "h1", "h3", "h4")
	// Networks h2, h3 and h4 confirm h5's bytes just now.
	for _, r := range []ID{"h2", "h3", "h4"} {
		deliver(l, r, "h5", 2<<20, t0)
	}
	l.Report("h0", "h5", true, t0)
	if v := l.Report("h1", "h5", true, t0); v.Ban || v.Defence < 3 {
		t.Errorf("two reports against a peer three networks vouch for: %+v, want no ban", v)
	}
	// After the defence window the vouching has expired.
	later := t0.Add(time.Minute)
	if v := l.Report("h1", "h5", true, later); !v.Ban {
		t.Errorf("after the defence window: %+v, want a ban", v)
	}
}

func TestTimeoutsNeverBan(t *testing.T) {
	l := swarm(t, 5)
	for i := range 3 {
		earn(l, ID(fmt.Sprint("h", i)), "h3", "h4")
	}
	l.Join("quiet", network(70))
	for i := range 3 {
		if v := l.Report(ID(fmt.Sprint("h", i)), "quiet", false, t0); v.Ban || v.Counted {
			t.Fatalf("timeout report %d: %+v", i, v)
		}
	}
}

func TestAccusingTheServerDiscredits(t *testing.T) {
	l := swarm(t, 3)
	earn(l, "h0", "h1", "h2")
	l.ReportedServer("h0")
	if l.InStanding("h0") || !l.Discredited("h0") {
		t.Error("a session that accused the server's peer kept its standing")
	}
}

func TestRepeatedReportCountsOnce(t *testing.T) {
	l := swarm(t, 4)
	for range 10 {
		l.Report("h0", "h1", false, t0)
	}
	if l.Discredited("h0") {
		t.Error("one accusation repeated ten times discredited its reporter")
	}
}

func TestUnreachableNeedsTwoNetworksAndNoVouching(t *testing.T) {
	l := swarm(t, 5)
	l.Join("silent", network(90))
	l.Report("h0", "silent", false, t0)
	if l.Unreachable("silent", t0) {
		t.Fatal("one network's timeout made a session unreachable")
	}
	l.Report("h1", "silent", false, t0)
	if !l.Unreachable("silent", t0) {
		t.Fatal("two networks' timeouts, nobody vouching: want unreachable")
	}
	// A session others get bytes from is not unreachable, whatever two
	// networks say.
	deliver(l, "h2", "h3", 100_000, t0)
	l.Report("h0", "h3", false, t0)
	l.Report("h1", "h3", false, t0)
	if l.Unreachable("h3", t0) {
		t.Error("a session another network confirms bytes from was made unreachable")
	}
	// A discredited reporter's timeouts stop counting.
	l.ReportedServer("h1")
	if l.Unreachable("silent", t0) {
		t.Error("a discredited reporter's timeout still counts")
	}
}

// Reports the server does not weigh against the accused (a neighbour
// already gone, one that left, the server's own peer) still count
// against the reporter's share, once each and only for malice.
func TestUnheededReportsCountAgainstTheReporter(t *testing.T) {
	l := swarm(t, 6)
	if l.Unheeded("h0", "gone", false).Discredited || l.Unheeded("h0", "gone", true).Discredited {
		t.Fatal("one unheeded report discredited h0")
	}
	l.Unheeded("h0", "gone", true)
	if l.Report("h0", "h1", true, t0).Discredited {
		t.Fatal("two accusations of five neighbours discredited h0")
	}
	if !l.Unheeded("h0", "left", true).Discredited || l.InStanding("h0") {
		t.Error("h0 accused three of its five neighbours, one heard, and kept its standing")
	}
}
