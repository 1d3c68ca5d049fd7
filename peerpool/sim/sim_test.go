package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
)

// smallSwarm is the tests' swarm: 30 viewers for a minute, a tenth of
// them hostile.
func smallSwarm(seed uint64) Config {
	return Config{Peers: 30, Duration: 60 * time.Second, Seed: seed, Hostile: 0.1}
}

func run(t *testing.T, cfg Config) Report {
	t.Helper()
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Print(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	return r
}

// A small swarm with hostile viewers among it plays without stalling,
// costs the server far fewer copies than it has viewers, bans the
// corrupters through the trust ledger and no honest viewer.
func TestSmallSwarmPlaysAndBansTheCorrupters(t *testing.T) {
	r := run(t, smallSwarm(1))
	if r.Viewers < 25 {
		t.Errorf("%d honest viewers played, want the 27 honest ones", r.Viewers)
	}
	if r.StallRatio > 0.01 {
		t.Errorf("stall ratio %.4f, want under 1%%", r.StallRatio)
	}
	if r.ServerCopies > float64(r.Peers)/3 {
		t.Errorf("%.2f server copies for %d viewers, want well below a third of them", r.ServerCopies, r.Peers)
	}
	if r.P2PShare < 0.5 {
		t.Errorf("P2P share %.2f, want most bytes from peers", r.P2PShare)
	}
	if r.Hostile != 3 {
		t.Errorf("%d hostile viewers, want a tenth of 30", r.Hostile)
	}
	if r.HostileBanned != r.Hostile {
		t.Errorf("%d of %d hostile viewers banned, want all", r.HostileBanned, r.Hostile)
	}
	if r.HonestBanned != 0 {
		t.Errorf("%d honest viewers banned", r.HonestBanned)
	}
	if r.DepthP50 < 1 || r.DeliveryP50 <= 0 || r.DeliveryP95 < r.DeliveryP50 {
		t.Errorf("depth p50 %d, delivery p50 %v p95 %v: not measured", r.DepthP50, r.DeliveryP50, r.DeliveryP95)
	}
	if r.TotalCopies <= r.ServerCopies {
		t.Errorf("all egress %.3f copies is not above media %.3f: signaling not counted", r.TotalCopies, r.ServerCopies)
	}
}

// The same seed gives the same run; another seed another one.
func TestSameSeedSameReport(t *testing.T) {
	cfg := Config{Peers: 20, Duration: 20 * time.Second, Seed: 7, Hostile: 0.1, NAT: 0.1, ChurnPerMinute: 0.2}
	a, b := run(t, cfg), run(t, cfg)
	a.Wall, b.Wall = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs of one seed differ:\n%+v\n%+v", a, b)
	}
	cfg.Seed = 8
	c := run(t, cfg)
	c.Wall = 0
	if reflect.DeepEqual(c, a) {
		t.Error("another seed gave the very same report")
	}
}

// Churn brings newcomers; NATs keep some pairs apart and the swarm plays on.
func TestChurnAndNATs(t *testing.T) {
	r := run(t, Config{Peers: 30, Duration: 40 * time.Second, Seed: 3, ChurnPerMinute: 0.3, NAT: 0.2})
	if r.Joined < 30+5 {
		t.Errorf("%d viewers joined, want the 30 and about 6 newcomers", r.Joined)
	}
	if r.StallRatio > 0.02 {
		t.Errorf("stall ratio %.4f with churn and NATs", r.StallRatio)
	}
	if r.HonestBanned != 0 {
		t.Errorf("%d honest viewers banned for NATs that kept them apart", r.HonestBanned)
	}
}

// The upload mix is drawn as crowd.Mix gives it out: each share gets its
// fraction of the viewers.
func TestUploadsFollowTheMix(t *testing.T) {
	mix := crowd.Mix{{Fraction: 0.3, Upload: 0.5}, {Fraction: 0.5, Upload: 2}, {Fraction: 0.2, Upload: 5}}
	s, err := newSim(Config{Peers: 100, Mix: mix}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[float64]int{}
	for range 200 { // the first 100 and as many newcomers
		n, err := s.newNode(false)
		if err != nil {
			t.Fatal(err)
		}
		counts[n.uploadX]++
		if want := int64(n.uploadX * 1_000_000 / 8); s.uploadCap(n) != want {
			t.Fatalf("upload %gx capped at %d B/s, want %d", n.uploadX, s.uploadCap(n), want)
		}
	}
	for _, sh := range mix {
		if got, want := counts[sh.Upload], int(math.Round(sh.Fraction*200)); got != want {
			t.Errorf("%d viewers at %gx, want %d", got, sh.Upload, want)
		}
	}
}

// A hostile share is spread evenly through the arrivals.
func TestHostileShare(t *testing.T) {
	s, err := newSim(Config{Peers: 50, Hostile: 0.2}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := s.newNode(false); err != nil {
			t.Fatal(err)
		}
	}
	if s.hostile != 10 {
		t.Errorf("%d hostile of 50 at 20%%", s.hostile)
	}
}

func TestConfigRefusesNonsense(t *testing.T) {
	for _, c := range []Config{
		{},
		{Peers: 10, NAT: 1.5},
		{Peers: 10, Hostile: -0.1},
		{Peers: 10, BitrateBps: 1 << 40},
		{Peers: 10, SeedsMin: 5, SeedsMax: 2},
		{Peers: 10, Mix: crowd.Mix{}},
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v ran", c)
		}
	}
}

// A run stops when its context ends and reports the time it simulated.
func TestRunStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, Config{Peers: 200, Duration: time.Hour})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a run past its context ended with %v", err)
	}
	if r.Duration <= 0 || r.Duration >= time.Hour || r.Parts == 0 {
		t.Errorf("stopped run reports %v simulated, %d parts", r.Duration, r.Parts)
	}
}

// Viewers none of whose pairs can connect still play, over HTTP and from
// the server's seeder, and none of them is banned for it.
func TestNoPairConnects(t *testing.T) {
	r := run(t, Config{Peers: 20, Duration: 30 * time.Second, Seed: 5, NAT: 1})
	if r.StallRatio > 0.01 {
		t.Errorf("stall ratio %.4f", r.StallRatio)
	}
	if r.HonestBanned != 0 {
		t.Errorf("%d viewers banned for NATs", r.HonestBanned)
	}
	if r.HTTPCopies < float64(r.Peers)/2 {
		t.Errorf("%.2f HTTP copies for %d viewers who reach only the server", r.HTTPCopies, r.Peers)
	}
}

// Steady joins arrive evenly over the window; a flash crowd at random
// within it.
func TestJoinSchedules(t *testing.T) {
	joins := func(cfg Config) []time.Duration {
		s, err := newSim(cfg.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		s.scheduleJoins()
		var at []time.Duration
		for s.queue.len() > 0 {
			if e := s.queue.pop(); e.kind == evJoin {
				at = append(at, e.at)
			}
		}
		return at
	}
	steady := joins(Config{Peers: 10, Duration: 20 * time.Second, Steady: true})
	for i, at := range steady {
		if want := time.Duration(i) * time.Second; at != want {
			t.Errorf("steady join %d at %v, want %v", i, at, want)
		}
	}
	flash := joins(Config{Peers: 100, JoinWindow: 3 * time.Second})
	if len(flash) != 100 || flash[0] < 0 || flash[len(flash)-1] >= 3*time.Second || flash[len(flash)-1] < 2*time.Second {
		t.Errorf("flash crowd joins from %v to %v, want 100 spread over 3s", flash[0], flash[len(flash)-1])
	}
}

// A viewer fetches its first HoldBack parts over HTTP before it plays, and the report keeps them apart from
// what watching viewers cost.
func TestStartupFetchesAreCountedApart(t *testing.T) {
	cfg := Config{Peers: 20, Duration: 20 * time.Second, Seed: 3, HoldBack: 4}
	r := run(t, cfg)
	part := r.MediaBytes / int64(r.Parts)
	if least := int64(r.Viewers*cfg.HoldBack) * part * 9 / 10; r.StartupHTTPBytes < least {
		t.Errorf("%d startup bytes for %d viewers holding back %d parts of about %d bytes, want at least %d",
			r.StartupHTTPBytes, r.Viewers, cfg.HoldBack, part, least)
	}
	if r.StartupHTTPBytes > r.HTTPBytes {
		t.Errorf("%d startup bytes of %d HTTP bytes", r.StartupHTTPBytes, r.HTTPBytes)
	}
	if want := r.ServerCopies - float64(r.StartupHTTPBytes)/float64(r.MediaBytes); math.Abs(r.PlayingCopies-want) > 1e-9 {
		t.Errorf("copies without startups %.4f, want %.4f", r.PlayingCopies, want)
	}
}

// A viewer that gives its first links time to open takes most of its first
// parts from the swarm, which already holds them, and starts that much
// later at most.
func TestStartupWaitTakesFirstPartsFromTheSwarm(t *testing.T) {
	base := Config{Peers: 40, Duration: 40 * time.Second, Seed: 2, ChurnPerMinute: 0.3}
	waiting := base
	waiting.StartupWait = 2 * time.Second
	now, later := run(t, base), run(t, waiting)
	if later.StartupHTTPBytes*2 > now.StartupHTTPBytes {
		t.Errorf("startup HTTP bytes %d with a 2 s wait, %d without: want less than half", later.StartupHTTPBytes, now.StartupHTTPBytes)
	}
	if later.StartupP50 > now.StartupP50+waiting.StartupWait {
		t.Errorf("startup p50 %v with the wait, %v without", later.StartupP50, now.StartupP50)
	}
	t.Logf("startup HTTP %d → %d bytes, startup p50 %v → %v, copies %.2f → %.2f",
		now.StartupHTTPBytes, later.StartupHTTPBytes, now.StartupP50, later.StartupP50, now.ServerCopies, later.ServerCopies)
}
