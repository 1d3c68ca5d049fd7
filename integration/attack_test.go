package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// The attack suite: hostile viewers who try to turn the swarm against its
// honest members. Each test runs one stream with eight honest Go viewers
// that upload twice the bitrate, each from a network of its own, measures
// them alone (the baseline), then lets the attackers in on the same stream
// and measures again. It prints one table line per attack (grep "ATTACK")
// and fails when the attack hurt the honest viewers more than the margins
// below, or when the server left an attacker in place.
//
// The margins are what "cannot be turned against the others" means here:
//
//   - no honest viewer loses its session or is made receive-only;
//   - the honest viewers' P2P share during the attack is at most
//     maxShareDrop below the same run's baseline: a swarm that only
//     notices an attacker after a while still loses some parts to it,
//     but a swarm the attacker controls loses most;
//   - the server sends at most maxExtraCopies more copies of the stream
//     than in the baseline: a few attackers may cost what a viewer or so
//     costs, never what all the honest viewers cost;
//   - the honest viewers upload at least half of what they did, so they
//     still carry the swarm;
//   - the honest viewers play at most maxPlayLoss less of the time than
//     in the baseline (a viewer banned and back plays nothing meanwhile),
//     and none stalls longer than a part, as in every swarm test;
//   - the plugin's goroutines, open files and memory stay near the
//     baseline while attacked and come back after.
const (
	attackHonest   = 8
	attackWarmup   = 6 * time.Second
	attackBaseline = 16 * time.Second
	attackPhase    = 30 * time.Second
	attackLate     = 15 * time.Second // the end of the attack phase, also shown on its own
	attackStep     = 5 * time.Second  // the attack phase's timeline; phases are multiples of it
	attackSettle   = 4 * time.Second  // after the attackers left, before the leak check

	maxShareDrop   = 0.15
	maxExtraCopies = 1.0
	minUploadKept  = 0.5
	maxPlayLoss    = 0.10

	// An attacker the server cannot tell from a viewer by one message may
	// keep its honest neighbours while it proves itself; after this it
	// must have none.
	cutOffWithin = 20 * time.Second
	// A forger may report its first neighbours; once it has reported
	// forgerGrace of them it may be handed at most forgerNewAfter more.
	forgerGrace    = 6
	forgerNewAfter = 2

	// Bounds on the plugin while attacked, over its baseline peak.
	maxExtraGoroutines = 600
	maxExtraFDs        = 300
	maxExtraRSSMB      = 200
)

// ---- honest viewers ----

// honestSlot is one honest viewer from one network. A viewer the server
// closes (banned) comes back from the same network a second later, as a
// player reloading its page would: the suite measures what the swarm
// leaves it.
type honestSlot struct {
	idx     int
	network string
	tap     *signalTap
	cfg     viewer.Config

	mu          sync.Mutex
	cur         *viewer.Viewer
	ids         []wire.PeerID
	past        honestTotals // of the incarnations that ended
	ends        []string     // why each ended on its own
	joinedFirst time.Time
}

// honestTotals are one honest viewer's counters over all its sessions.
type honestTotals struct {
	http, p2p, upload int64
	parts             int64
	stalls            int
	stallTime         time.Duration
	longest           time.Duration
	playing           bool
}

func (a honestTotals) plus(st viewer.Stats) honestTotals {
	a.http += st.HTTPBytes
	a.p2p += st.P2PBytes
	a.upload += st.UploadBytes
	a.parts += st.PartsPlayed
	a.stalls += st.Stalls
	a.stallTime += st.StallTime
	a.longest = max(a.longest, st.LongestStall)
	a.playing = st.Playing
	return a
}

func (h *honestSlot) totals() honestTotals {
	h.mu.Lock()
	cur, t := h.cur, h.past
	h.mu.Unlock()
	t.playing = false
	if cur != nil {
		t = t.plus(cur.Stats())
	}
	return t
}

func (h *honestSlot) endReasons() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ends...)
}

func (h *honestSlot) current() *viewer.Viewer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// run keeps a viewer of this slot in the swarm until ctx ends.
func (h *honestSlot) run(ctx context.Context) {
	for ctx.Err() == nil {
		v, err := viewer.Run(ctx, h.cfg)
		if err != nil {
			h.mu.Lock()
			h.ends = append(h.ends, err.Error())
			h.mu.Unlock()
			sleepOrDone(ctx, 2*time.Second)
			continue
		}
		h.mu.Lock()
		h.cur = v
		h.ids = append(h.ids, v.ID())
		if h.joinedFirst.IsZero() {
			h.joinedFirst = time.Now()
		}
		h.mu.Unlock()
		select {
		case <-v.Done():
		case <-ctx.Done():
			v.Close()
			return
		}
		if ctx.Err() != nil {
			return
		}
		reason := "ended without an error"
		if err := v.Err(); err != nil {
			reason = err.Error()
		}
		st := v.Stats()
		h.mu.Lock()
		h.past = h.past.plus(st)
		h.cur = nil
		h.ends = append(h.ends, reason)
		h.mu.Unlock()
		sleepOrDone(ctx, time.Second)
	}
}

func sleepOrDone(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// crowd is a set of honest viewers.
type crowd struct {
	slots []*honestSlot
}

// startCrowd runs one honest viewer per network, each through its own
// signalTap; they stop on t's cleanup.
func startCrowd(ctx context.Context, t *testing.T, s *stack, networks []string) *crowd {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	c := &crowd{}
	var servers []*http.Server
	for i, network := range networks {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tap := &signalTap{upstream: swarmWS(s.base()), network: network, addr: ln.Addr().String()}
		srv := &http.Server{Handler: tap, BaseContext: func(net.Listener) context.Context { return cctx }}
		tap.srv = srv
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		h := &honestSlot{idx: i, network: network, tap: tap, cfg: viewer.Config{
			API:          peer.NewLoopbackAPI(),
			URL:          s.base() + "/live/show/",
			Rendition:    "source",
			CanUpload:    true,
			UploadCapBps: 280_000, // twice the stream's ~141 KB/s, as joinSwarm
			PartDeadline: func(_ wire.PartID, d time.Duration) time.Duration { return 3 * d },
			HTTPClient:   &http.Client{Transport: tapTransport{tap: tap.addr, next: tapMediaTransport}},
		}}
		c.slots = append(c.slots, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run(cctx)
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, srv := range servers {
			_ = srv.Close()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, h := range c.slots {
		for h.current() == nil {
			if time.Now().After(deadline) {
				t.Fatalf("honest viewer %d (%s) could not join: %q", h.idx, h.network, h.endReasons())
			}
			sleepCtx(ctx, t, 100*time.Millisecond)
		}
	}
	return c
}

// ids are every peer id the crowd's viewers have had.
func (c *crowd) ids() map[wire.PeerID]int {
	out := map[wire.PeerID]int{}
	for _, h := range c.slots {
		h.mu.Lock()
		for _, id := range h.ids {
			out[id] = h.idx
		}
		h.mu.Unlock()
	}
	return out
}

// listing returns the honest viewers whose current neighbour list (as the
// server gave it) holds id.
func (c *crowd) listing(id wire.PeerID) []int {
	var out []int
	for _, h := range c.slots {
		if _, ok := h.tap.current()[id]; ok {
			out = append(out, h.idx)
		}
	}
	return out
}

func honestNetworks(base, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("192.0.2.%d", base+i)
	}
	return out
}

// ---- measuring ----

type pluginProc struct{ goroutines, fds, rssMB float64 }

func readPluginProc(ctx context.Context, s *stack) pluginProc {
	var p pluginProc
	if _, body, err := get(ctx, s.base()+"/metrics"); err == nil {
		p.goroutines, _ = metricValue(body, "go_goroutines")
		p.fds, _ = metricValue(body, "process_open_fds")
	}
	if _, rss, ok := procUsage(s.pluginPID()); ok {
		p.rssMB = float64(rss) / 1024
	}
	return p
}

func (p pluginProc) max(o pluginProc) pluginProc {
	return pluginProc{max(p.goroutines, o.goroutines), max(p.fds, o.fds), max(p.rssMB, o.rssMB)}
}

type attackMark struct {
	at     time.Time
	copies copiesSample
	bans   float64
	honest []honestTotals
}

func markNow(ctx context.Context, t testing.TB, s *stack, c *crowd) attackMark {
	m := attackMark{at: time.Now(), copies: serverCopiesOf(ctx, t, s.base(), "source")}
	if _, body, err := get(ctx, s.base()+"/metrics"); err == nil {
		m.bans = bansOf(body)
	}
	for _, h := range c.slots {
		m.honest = append(m.honest, h.totals())
	}
	return m
}

// bansOf sums live/show's bans over every reason.
func bansOf(metrics string) float64 {
	var n float64
	for _, line := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(line, `swarmtx_peers_banned_total{path="live/show",`); ok {
			var v float64
			if i := strings.LastIndexByte(rest, ' '); i >= 0 {
				fmt.Sscan(rest[i+1:], &v)
			}
			n += v
		}
	}
	return n
}

// phase is what the honest viewers and the server did between two marks.
type phase struct {
	dur       time.Duration
	copies    float64
	share     float64
	stalls    int
	stallTime time.Duration
	longest   time.Duration // longest stall that ended in the phase
	bans      float64
	uploadBps float64 // all honest viewers together
	played    float64 // media played / (viewers × phase duration)
	peak      pluginProc
}

func phaseOf(from, to attackMark, peak pluginProc) phase {
	p := phase{dur: to.at.Sub(from.at), bans: to.bans - from.bans, peak: peak}
	if made := to.copies.made - from.copies.made; made > 0 {
		p.copies = (to.copies.served - from.copies.served) / made
	}
	var http, p2p, up, parts int64
	for i := range to.honest {
		a, b := from.honest[i], to.honest[i]
		parts += b.parts - a.parts
		http += b.http - a.http
		p2p += b.p2p - a.p2p
		up += b.upload - a.upload
		p.stalls += b.stalls - a.stalls
		p.stallTime += b.stallTime - a.stallTime
		if b.longest > a.longest {
			p.longest = max(p.longest, b.longest)
		}
	}
	if http+p2p > 0 {
		p.share = float64(p2p) / float64(http+p2p)
	}
	p.uploadBps = float64(up) / p.dur.Seconds()
	if n := len(to.honest); n > 0 {
		p.played = float64(parts) * defaultPart.Seconds() / (float64(n) * p.dur.Seconds())
	}
	return p
}

// watchPlugin waits d, sampling the plugin and calling each once a second.
func watchPlugin(ctx context.Context, t testing.TB, s *stack, d time.Duration, each func()) pluginProc {
	peak := readPluginProc(ctx, s)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		sleepCtx(ctx, t, min(time.Second, time.Until(end)))
		peak = peak.max(readPluginProc(ctx, s))
		if each != nil {
			each()
		}
	}
	return peak
}

// ---- one attack ----

// attack is one kind of hostile viewer, started on an honest crowd.
type attack struct {
	name  string
	dur   time.Duration                  // the attack phase; attackPhase if 0
	start func(t *testing.T)             // let the attackers in
	each  func(t *testing.T)             // once a second while they are in
	check func(t *testing.T, base phase) // at the end of the phase, attackers still in
	stop  func()                         // the attackers leave
	extra func() string                  // their own figures, for the table line
}

// runAttack measures the crowd alone, then under a, and checks the margins.
func runAttack(ctx context.Context, t *testing.T, s *stack, c *crowd, a attack) {
	dur := a.dur
	if dur == 0 {
		dur = attackPhase
	}
	sleepCtx(ctx, t, attackWarmup)
	m0 := markNow(ctx, t, s, c)
	basePeak := watchPlugin(ctx, t, s, attackBaseline, nil)
	m1 := markNow(ctx, t, s, c)
	base := phaseOf(m0, m1, basePeak)

	a.start(t)
	each := func() {
		if a.each != nil {
			a.each(t)
		}
	}
	// Marks every attackStep show when the damage was done.
	marks := []attackMark{m1}
	peaks := []pluginProc{{}}
	for range int(dur / attackStep) {
		peaks = append(peaks, watchPlugin(ctx, t, s, attackStep, each))
		marks = append(marks, markNow(ctx, t, s, c))
	}
	var peak, latePeak pluginProc
	lateFrom := max(len(marks)-1-int(attackLate/attackStep), 0)
	var timeline []string
	for i := 1; i < len(marks); i++ {
		peak = peak.max(peaks[i])
		if i > lateFrom {
			latePeak = latePeak.max(peaks[i])
		}
		st := phaseOf(marks[i-1], marks[i], peaks[i])
		timeline = append(timeline, fmt.Sprintf("%.1f/%.0f%%", st.copies, 100*st.share))
	}
	m3 := marks[len(marks)-1]
	during := phaseOf(m1, m3, peak)
	late := phaseOf(marks[lateFrom], m3, latePeak)
	t.Logf("%s: server copies / honest P2P every %v of the attack: %s", a.name, attackStep, strings.Join(timeline, ", "))

	if a.check != nil {
		a.check(t, base)
	}
	checkHonest(t, c, base, during)

	a.stop()
	watchPlugin(ctx, t, s, attackSettle, nil)
	after := readPluginProc(ctx, s)

	extra := ""
	if a.extra != nil {
		extra = "; " + a.extra()
	}
	ended := 0
	for _, h := range c.slots {
		ended += len(h.endReasons())
	}
	t.Logf("ATTACK %-26s baseline → attack (last %v): server copies %.2f → %.2f (%.2f), per honest viewer %.2f → %.2f; honest P2P %.0f%% → %.0f%% (%.0f%%); played %.0f%% → %.0f%% of the time, stalls %d (%v) → %d (%v), longest %v → %v; bans %.0f → %.0f; honest upload %.0f → %.0f kB/s; honest sessions lost %d; plugin goroutines %.0f → %.0f → %.0f after, fds %.0f → %.0f → %.0f, RSS %.0f → %.0f MB%s",
		a.name, attackLate, base.copies, during.copies, late.copies, base.copies/attackHonest, during.copies/attackHonest,
		100*base.share, 100*during.share, 100*late.share, 100*base.played, 100*during.played,
		base.stalls, base.stallTime.Round(time.Millisecond), during.stalls, during.stallTime.Round(time.Millisecond),
		base.longest.Round(time.Millisecond), during.longest.Round(time.Millisecond),
		base.bans, during.bans, base.uploadBps/1000, during.uploadBps/1000, ended,
		base.peak.goroutines, during.peak.goroutines, after.goroutines, base.peak.fds, during.peak.fds, after.fds,
		base.peak.rssMB, during.peak.rssMB, extra)

	// A plugin that forgot the attackers holds nothing of theirs any more.
	if after.goroutines > 1.25*base.peak.goroutines+50 || after.fds > base.peak.fds+50 {
		t.Errorf("%v after the attackers left, the plugin still has %.0f goroutines and %.0f open files (baseline at most %.0f and %.0f)",
			attackSettle, after.goroutines, after.fds, base.peak.goroutines, base.peak.fds)
	}
}

// checkHonest applies the margins of the suite's comment.
func checkHonest(t *testing.T, c *crowd, base, during phase) {
	t.Helper()
	honest := c.ids()
	for _, h := range c.slots {
		tot := h.totals()
		h.mu.Lock()
		sessions := len(h.ids)
		h.mu.Unlock()
		t.Logf("honest viewer %d (%s): sessions %d, P2P %.0f%%, uploaded %d kB, stalls %d (longest %v), lost its session: %q",
			h.idx, h.network, sessions, 100*float64(tot.p2p)/float64(max(tot.http+tot.p2p, 1)), tot.upload/1000,
			tot.stalls, tot.longest.Round(time.Millisecond), h.endReasons())
		if ends := h.endReasons(); len(ends) > 0 {
			t.Errorf("honest viewer %d (%s) lost its session %d times, first: %s", h.idx, h.network, len(ends), ends[0])
		}
		if tot.longest > defaultPart {
			t.Errorf("honest viewer %d stalled %v at once, longer than a part", h.idx, tot.longest)
		}
	}
	// Made receive-only: the server tells some neighbour never to ask it.
	receiveOnly := map[wire.PeerID]bool{}
	for _, h := range c.slots {
		for _, a := range h.tap.added() {
			if _, ok := honest[a.ID]; ok && a.NoUpload {
				receiveOnly[a.ID] = true
			}
		}
	}
	for id := range receiveOnly {
		t.Errorf("honest viewer %d (peer %s) was made receive-only: the server told its neighbours noUpload", honest[id], id[:8])
	}
	if during.share < base.share-maxShareDrop {
		t.Errorf("honest P2P share fell from %.0f%% to %.0f%% under attack, more than %.0f points", 100*base.share, 100*during.share, 100*maxShareDrop)
	}
	if during.copies > base.copies+maxExtraCopies {
		t.Errorf("the server sent %.2f copies under attack against %.2f before, more than %.1f more", during.copies, base.copies, maxExtraCopies)
	}
	if during.played < base.played-maxPlayLoss {
		t.Errorf("the honest viewers played %.0f%% of the time under attack against %.0f%% before", 100*during.played, 100*base.played)
	}
	if during.uploadBps < minUploadKept*base.uploadBps {
		t.Errorf("the honest viewers uploaded %.0f kB/s under attack against %.0f kB/s before: they no longer carry the swarm",
			during.uploadBps/1000, base.uploadBps/1000)
	}
	if during.peak.goroutines > base.peak.goroutines+maxExtraGoroutines || during.peak.fds > base.peak.fds+maxExtraFDs ||
		during.peak.rssMB > base.peak.rssMB+maxExtraRSSMB {
		t.Errorf("the plugin grew under attack: %.0f goroutines, %.0f open files, %.0f MB (baseline %.0f, %.0f, %.0f MB)",
			during.peak.goroutines, during.peak.fds, during.peak.rssMB, base.peak.goroutines, base.peak.fds, base.peak.rssMB)
	}
}

// neighbourWatch records, once a second, which honest viewers list each
// attacker: the server's view of the mesh, from the viewers' own taps and
// from the attackers' sessions.
type neighbourWatch struct {
	c        *crowd
	lastSeen map[wire.PeerID]time.Time // last sample an honest viewer had it as neighbour
	samples  int
}

func (w *neighbourWatch) sample(attackers map[wire.PeerID]*swarmClient) {
	now := time.Now()
	honest := w.c.ids()
	w.samples++
	for id, sc := range attackers {
		linked := len(w.c.listing(id)) > 0
		if sc.open() {
			for n := range sc.currentNeighbours() {
				if _, ok := honest[n]; ok {
					linked = true
				}
			}
		}
		if linked {
			w.lastSeen[id] = now
		}
	}
}

// checkCutOff fails for every attacker some honest viewer still had as a
// neighbour later than cutOffWithin after it joined.
func (w *neighbourWatch) checkCutOff(t *testing.T, kind string, attackers map[wire.PeerID]*swarmClient, joined map[wire.PeerID]time.Time) {
	t.Helper()
	for id, after := range w.cutOff(t, kind, attackers, joined) {
		if after > cutOffWithin+time.Second {
			t.Errorf("%s %s still had honest neighbours %v after joining (want none after %v)", kind, id[:8], after.Round(time.Second), cutOffWithin)
		}
	}
}

// logCutOff logs when each attacker last had an honest neighbour.
func (w *neighbourWatch) logCutOff(t *testing.T, kind string, attackers map[wire.PeerID]*swarmClient, joined map[wire.PeerID]time.Time) {
	t.Helper()
	w.cutOff(t, kind, attackers, joined)
}

// cutOff logs and returns, per attacker that ever had one, how long after
// joining it last had an honest neighbour.
func (w *neighbourWatch) cutOff(t *testing.T, kind string, attackers map[wire.PeerID]*swarmClient, joined map[wire.PeerID]time.Time) map[wire.PeerID]time.Duration {
	t.Helper()
	out := map[wire.PeerID]time.Duration{}
	for id := range attackers {
		last, ok := w.lastSeen[id]
		if !ok {
			t.Logf("%s %s: never an honest viewer's neighbour", kind, id[:8])
			continue
		}
		out[id] = last.Sub(joined[id])
		t.Logf("%s %s: last had an honest neighbour %v after joining", kind, id[:8], out[id].Round(time.Second))
	}
	return out
}

// ---- the attacks ----

// testAttackForgedReports: attackers join as uploaders, never exchange a
// byte, and report every neighbour they are given as having sent bad
// data (cycling through every reason). One session alone; two sessions
// from one network; four sessions from four networks. Each form runs on
// the same stream with a fresh crowd from fresh networks. The server must
// not ban or silence an honest viewer on their word, must stop handing
// each forger new neighbours once it has reported its first few, never
// hand it again a viewer it reported, and no honest viewer may keep it as
// a neighbour at the end.
func testAttackForgedReports(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	for i, form := range []struct {
		name     string
		networks []string
	}{
		{"sessions=1", []string{"198.51.100.10"}},
		{"sessions=2/networks=1", []string{"198.51.100.20", "198.51.100.20"}},
		{"sessions=4/networks=4", []string{"198.51.100.30", "198.51.100.31", "203.0.113.30", "203.0.113.31"}},
	} {
		t.Run(form.name, func(t *testing.T) {
			c := startCrowd(ctx, t, s, honestNetworks(10+20*i, attackHonest))
			var forgers []*forger
			runAttack(ctx, t, s, c, attack{
				name: "forged/" + form.name,
				dur:  25 * time.Second,
				start: func(t *testing.T) {
					for _, n := range form.networks {
						f, err := startForger(ctx, swarmWS(s.base()), n)
						if err != nil {
							t.Fatalf("forger from %s: %v", n, err)
						}
						forgers = append(forgers, f)
					}
				},
				check: func(t *testing.T, _ phase) { checkForgers(t, c, forgers) },
				stop: func() {
					for _, f := range forgers {
						f.close()
					}
				},
				extra: func() string {
					var parts []string
					for _, f := range forgers {
						f.mu.Lock()
						n, ev := f.reports, len(f.events)
						f.mu.Unlock()
						parts = append(parts, fmt.Sprintf("%d reports/%d neighbours handed", n, ev))
					}
					return "forgers: " + strings.Join(parts, ", ")
				},
			})
		})
	}
}

// checkForgers: what the server did with the forgers' word.
func checkForgers(t *testing.T, c *crowd, forgers []*forger) {
	t.Helper()
	honest := c.ids()
	for i, f := range forgers {
		events := f.peerEvents()
		seen := map[wire.PeerID]bool{}
		var again []string
		newAfter := 0
		for _, e := range events {
			if _, ok := honest[e.info.ID]; !ok {
				continue
			}
			if r := f.reportedAt(e.info.ID); !r.IsZero() && e.at.After(r) {
				again = append(again, string(e.info.ID[:8]))
			}
			if !seen[e.info.ID] && e.reportsBefore >= forgerGrace {
				newAfter++
			}
			seen[e.info.ID] = true
		}
		f.mu.Lock()
		reports := f.reports
		f.mu.Unlock()
		t.Logf("forger %d (%s, %s): %d reports, %d honest neighbours handed (%d after its first %d reports), handed again after reporting: %d; session: %q",
			i, f.id[:8], f.network, reports, len(seen), newAfter, forgerGrace, len(again), f.endReason())
		if len(again) > 0 {
			t.Errorf("forger %d was handed honest viewers it had reported, again: %s", i, strings.Join(again, " "))
		}
		if newAfter > forgerNewAfter {
			t.Errorf("forger %d was handed %d new honest neighbours after its first %d reports (want at most %d)", i, newAfter, forgerGrace, forgerNewAfter)
		}
		if l := c.listing(f.id); len(l) > 0 {
			t.Errorf("forger %d is still the neighbour of honest viewers %v at the end of the attack", i, l)
		}
	}
}

// testAttackLiars: four sessions from four networks declare a huge upload
// cap and report uploads they never made. They connect to their
// neighbours over WebRTC, ask for every part they hear of and take it, say
// HAVE for it, and never pass anything on: two stay silent on a WANT, two
// answer NOPE. What they may not do is cost the honest viewers their P2P
// share or the server its copies (checkHonest). An honest viewer that asks
// one of them drops it after a few WANTs come to nothing
// (wire.MaxFruitlessWants stalled without a byte, or wire.MaxUnprovenNopes
// NOPEs), and once neighbours on two networks have, it leaves the mesh; a
// liar that is seldom asked stays a leaf longer, costing its neighbours
// the upload any viewer costs. When each was cut off, and how many WANTs
// one neighbour wasted on it, is logged.
func testAttackLiars(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	c := startCrowd(ctx, t, s, honestNetworks(100, attackHonest))
	var liars []*liar
	clients := map[wire.PeerID]*swarmClient{}
	joined := map[wire.PeerID]time.Time{}
	w := &neighbourWatch{c: c, lastSeen: map[wire.PeerID]time.Time{}}
	runAttack(ctx, t, s, c, attack{
		name: "liars",
		start: func(t *testing.T) {
			for i, n := range []string{"198.51.100.40", "198.51.100.41", "203.0.113.40", "203.0.113.41"} {
				l, err := startLiar(ctx, swarmWS(s.base()), n, i%2 == 1)
				if err != nil {
					t.Fatalf("liar from %s: %v", n, err)
				}
				liars = append(liars, l)
				clients[l.id] = l.swarmClient
				joined[l.id] = time.Now()
			}
		},
		each: func(*testing.T) { w.sample(clients) },
		check: func(t *testing.T, _ phase) {
			for i, l := range liars {
				got, wants, conns := l.counters()
				most := l.mostWantsFromOne()
				t.Logf("liar %d (%s, nope %v): took %d kB, left %d WANTs unserved (at most %d from one neighbour), %d data channels open; session: %q",
					i, l.id[:8], l.nope, got/1000, wants, most, conns, l.endReason())
			}
			w.logCutOff(t, "liar", clients, joined)
		},
		stop: func() {
			for _, l := range liars {
				l.close()
			}
		},
		extra: func() string {
			var took int64
			wants := 0
			for _, l := range liars {
				g, n, _ := l.counters()
				took += g
				wants += n
			}
			return fmt.Sprintf("liars took %d kB and left %d WANTs unserved", took/1000, wants)
		},
	})
}

// testAttackSilentNeighbours: four sessions from four networks join as
// uploaders and never answer an offer, an answer or a candidate. Within
// cutOffWithin none may have an honest neighbour.
func testAttackSilentNeighbours(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	c := startCrowd(ctx, t, s, honestNetworks(120, attackHonest))
	clients := map[wire.PeerID]*swarmClient{}
	joined := map[wire.PeerID]time.Time{}
	w := &neighbourWatch{c: c, lastSeen: map[wire.PeerID]time.Time{}}
	runAttack(ctx, t, s, c, attack{
		name: "silent",
		start: func(t *testing.T) {
			for _, n := range []string{"198.51.100.50", "198.51.100.51", "203.0.113.50", "203.0.113.51"} {
				sc, err := startSilent(ctx, swarmWS(s.base()), n)
				if err != nil {
					t.Fatalf("silent session from %s: %v", n, err)
				}
				clients[sc.id] = sc
				joined[sc.id] = time.Now()
			}
		},
		each: func(*testing.T) { w.sample(clients) },
		check: func(t *testing.T, _ phase) {
			for id, sc := range clients {
				t.Logf("silent %s: %d neighbours handed; session: %q", id[:8], len(sc.peerEvents()), sc.endReason())
			}
			w.checkCutOff(t, "silent session", clients, joined)
		},
		stop: func() {
			for _, sc := range clients {
				sc.close()
			}
		},
	})
}

// Session flood: the bounds of the attack, and of what the server may let
// one network hold. A campus or carrier NAT puts many viewers behind one
// address, so the limit cannot be tiny; but a few thousand idle sessions
// from one address are one attacker.
const (
	floodSessions    = 2000
	floodFor         = 20 * time.Second
	floodParallel    = 16
	floodBackoff     = 250 * time.Millisecond
	maxFloodAccepted = 100
)

// testAttackSessionFlood: one network opens as many swarm sessions as it
// can (up to floodSessions in floodFor); each joins and idles. The server
// must refuse it beyond a per-network limit with an error that says why,
// the crowd must not suffer, and an honest viewer from another network
// that joins late must play and get its parts from peers.
func testAttackSessionFlood(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	c := startCrowd(ctx, t, s, honestNetworks(140, attackHonest))
	const network = "203.0.113.60"
	var (
		mu       sync.Mutex
		sessions []*swarmClient
		refusals = map[string]int{}
		failures = map[string]int{}
		refused  int
		tried    int
	)
	floodDone := make(chan struct{})
	var late *crowd
	var lateFrom honestTotals
	var lateAt time.Time
	runAttack(ctx, t, s, c, attack{
		name: "session-flood",
		dur:  35 * time.Second,
		start: func(t *testing.T) {
			go func() {
				defer close(floodDone)
				end := time.Now().Add(floodFor)
				var wg sync.WaitGroup
				next := make(chan struct{})
				for range floodParallel {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range next {
							sc, err := dialSwarm(ctx, swarmWS(s.base()), network, wire.Join{Rendition: "source", Upload: wire.Upload{Enabled: true}}, true, nil)
							mu.Lock()
							switch e := err.(type) {
							case nil:
								sessions = append(sessions, sc)
							case *refusedError:
								refused++
								refusals[e.reason]++
							default:
								failures[truncateReason(err.Error())]++
							}
							mu.Unlock()
							if err != nil {
								// Refused: a patient flooder slows down
								// rather than give up.
								sleepOrDone(ctx, floodBackoff)
							}
						}
					}()
				}
				for range floodSessions {
					if time.Now().After(end) || ctx.Err() != nil {
						break
					}
					mu.Lock()
					tried++
					mu.Unlock()
					next <- struct{}{}
				}
				close(next)
				wg.Wait()
			}()
		},
		each: func(t *testing.T) {
			if late != nil {
				return
			}
			select {
			case <-floodDone:
			default:
				return
			}
			late = startCrowd(ctx, t, s, []string{"192.0.2.200"})
			lateAt = time.Now()
			sleepCtx(ctx, t, 5*time.Second) // its startup is not what is measured
			lateFrom = late.slots[0].totals()
		},
		check: func(t *testing.T, base phase) {
			mu.Lock()
			defer mu.Unlock()
			open := 0
			for _, sc := range sessions {
				if sc.open() {
					open++
				}
			}
			t.Logf("flood from %s: %d tried, %d accepted (%d still open), %d refused %v, %d failed %v",
				network, tried, len(sessions), open, refused, refusals, len(failures), failures)
			if refused == 0 {
				t.Errorf("the server accepted %d sessions from one network and refused none", len(sessions))
			}
			for reason := range refusals {
				if !clearRefusal(reason) {
					t.Errorf("the server refused a session with %q, which does not say why", reason)
				}
			}
			if len(sessions) > maxFloodAccepted {
				t.Errorf("the server accepted %d sessions from one network (want at most %d)", len(sessions), maxFloodAccepted)
			}
			if late == nil {
				t.Error("the flood did not end in time for the late viewer")
				return
			}
			h := late.slots[0]
			tot := h.totals()
			http, p2p := tot.http-lateFrom.http, tot.p2p-lateFrom.p2p
			share := float64(p2p) / float64(max(http+p2p, 1))
			t.Logf("late honest viewer (%s): P2P %.0f%% over its last %v, %d parts in all, stalls %d (longest %v), lost its session: %q",
				h.network, 100*share, (time.Since(lateAt) - 5*time.Second).Round(time.Second), tot.parts, tot.stalls, tot.longest, h.endReasons())
			if !tot.playing || len(h.endReasons()) > 0 {
				t.Errorf("the late honest viewer is not playing (lost its session: %q)", h.endReasons())
			}
			if tot.longest > defaultPart {
				t.Errorf("the late honest viewer stalled %v at once, longer than a part", tot.longest)
			}
			if share < base.share-maxShareDrop {
				t.Errorf("the late honest viewer took %.0f%% of its bytes from peers, against the crowd's %.0f%% before the flood", 100*share, 100*base.share)
			}
		},
		stop: func() {
			<-floodDone
			mu.Lock()
			defer mu.Unlock()
			for _, sc := range sessions {
				sc.close()
			}
		},
		extra: func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("flood: %d accepted, %d refused", len(sessions), refused)
		},
	})
}

// clearRefusal: a refusal names what was exceeded.
func clearRefusal(reason string) bool {
	r := strings.ToLower(reason)
	for _, w := range []string{"network", "address", "too many", "limit", "sessions"} {
		if strings.Contains(r, w) {
			return true
		}
	}
	return false
}
