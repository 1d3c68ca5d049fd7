package integration

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/sim/plot"
)

var (
	compareViewers = flag.Int("compare.viewers", 6, "BenchmarkCompare: headless Chromium viewers per configuration, each its own browser and profile")
	compareWatch   = flag.Duration("compare.watch", 60*time.Second, "BenchmarkCompare: measured time per configuration, after every viewer plays")
	compareSVG     = flag.String("compare.svg", "", "BenchmarkCompare: write the comparison chart here (default: a file in the temporary directory)")
)

// The p2p-media-loader page and tracker; their packages are installed in the
// tool cache from this lockfile by deps.sh.
const (
	p2pmlPage     = "tools/p2pml/page.js"
	p2pmlTracker  = "tools/p2pml/tracker.mjs"
	p2pmlLockfile = "tools/p2pml/package-lock.json"
)

// compareConfig is one way of serving the benchmark's stream to its viewers.
type compareConfig struct {
	name string
	desc string
	run  func(ctx context.Context, b *testing.B, viewers int) compareRun
}

// compareRun is what a configuration's setup hands to the common measurement.
type compareRun struct {
	players []*harness.Player
	// copies measures the origin's media bytes to viewers and the rendition's
	// bytes; called at the start and the end of the window.
	copies func() copiesProbe
	// p2p reads a player's P2P and HTTP media byte counters from its report,
	// for configurations whose player counts them (nil: none).
	p2p func(r harness.PlayerReport) (p2p, http float64)
	// httpFromOrigin: the player counts P2P bytes only (LL-HLS parts
	// bypass p2p-media-loader), so its HTTP side is the origin's count.
	httpFromOrigin bool
	pub            *harness.Publisher
	note           func(from, to copiesProbe) string
}

// copiesProbe is one reading of the origin's counters.
type copiesProbe struct {
	at     time.Time
	served float64 // media bytes the origin sent to viewers (HTTP and, for swarmtx, seeding)
	// seeded is the part of served the origin sent as a peer, which the
	// viewers count as P2P bytes.
	seeded float64
	http   float64 // of which over HTTP to viewers' players (the proxy's count where there is one)
	made   float64 // the rendition's bytes so far
	rate   float64 // bytes per second of media, where a meter measures it
	extra  map[string]float64
}

// compareResult is one configuration's figures.
type compareResult struct {
	name, desc             string
	viewers, playing       int
	copies, share          float64 // share: of the viewers' media bytes, those from other viewers
	shareWithSeeding       float64 // share of the viewers' media bytes that came over WebRTC
	lagP50, lagP95         float64 // s; -1 unknown
	latencyP50             float64 // hls.latency, s
	stalls                 int
	stallMs, stallPct      float64
	startupP50, startupMax float64 // s
	note                   string
}

// BenchmarkCompare plays one OBS-like stream (640x360 at 1 Mbit/s, x264 with
// B-frames, AAC) to the same number of headless Chromium viewers, each its own
// browser and profile (so no HTTP cache is shared), under six set-ups in
// turn, and reports for each: server copies (the origin's media bytes to the
// viewers ÷ the rendition's bytes over the same window: N viewers over plain
// HTTP cost N), P2P share, live lag p50/p95 (now − PROGRAM-DATE-TIME of the
// frame on screen), stalls, stalled time and startup.
//
//	a-swarmtx-http   hls.js over HTTP only from swarmtx's LL-HLS origin
//	b-swarmtx-swarm  swarmtx's own player (hls.js through the swarm)
//	c-p2pml-llhls    p2p-media-loader 2.3 with hls.js at its defaults on swarmtx's LL-HLS, a local bittorrent-tracker
//	d-p2pml-hls      p2p-media-loader's best case: MediaMTX's plain HLS (fMP4, 12 × 2 s segments), liveSyncDurationCount 5
//	e-mediamtx-llhls MediaMTX's own LL-HLS, hls.js over HTTP
//	f-swarmtx-offload b with the max-offload hold-back (holdBackParts 8): more lag, fewer HTTP fallbacks
//
// Where the origin does not count what it sends per viewer (c, d, e) the
// viewers load through a byte-counting reverse proxy. It takes a few
// minutes per set-up:
//
//	go test -run '^$' -bench Compare -benchtime 1x -timeout 30m ./integration
//	go test -run '^$' -bench Compare/d -benchtime 1x ./integration -compare.viewers 4 -compare.watch 30s
func BenchmarkCompare(b *testing.B) {
	var results []compareResult
	for _, c := range compareConfigs() {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				r := runCompare(b, c)
				results = append(results, r)
			}
		})
	}
	if len(results) == 0 {
		return
	}
	var t strings.Builder
	fmt.Fprintf(&t, "\n%-17s %7s %7s %6s %8s %8s %10s %7s %9s %10s %10s\n", "configuration", "viewers", "copies", "p2p-%", "lag-p50", "lag-p95", "latency50", "stalls", "stall-%", "startup50", "startupMax")
	for _, r := range results {
		fmt.Fprintf(&t, "%-17s %3d/%-3d %7.2f %6.1f %7.2fs %7.2fs %9.2fs %7d %8.2f%% %9.2fs %9.2fs\n",
			r.name, r.playing, r.viewers, r.copies, 100*r.share, r.lagP50, r.lagP95, r.latencyP50, r.stalls, r.stallPct, r.startupP50, r.startupMax)
	}
	for _, r := range results {
		fmt.Fprintf(&t, "%s (%s): %s\n", r.name, r.desc, r.note)
	}
	b.Log(t.String())
	writeCompareSVG(b, results)
}

// The benchmark stream: the rendition BenchmarkSwarm measures, published the
// same way in every set-up.
var comparePublish = harness.PublishOptions{Size: "640x360", VideoBitrate: 1000}

func compareConfigs() []compareConfig {
	return []compareConfig{
		{"a-swarmtx-http", "hls.js over HTTP from swarmtx's LL-HLS", runSwarmtxHTTP},
		{"b-swarmtx-swarm", "swarmtx's player through the swarm", runSwarmtxSwarm},
		{"c-p2pml-llhls", "p2p-media-loader, hls.js defaults, swarmtx's LL-HLS", runP2PMLOnSwarmtx},
		{"d-p2pml-hls", "p2p-media-loader, MediaMTX plain HLS fMP4 12x2s, liveSyncDurationCount 5, hls.js without worker", runP2PMLOnPlainHLS},
		{"e-mediamtx-llhls", "hls.js over HTTP from MediaMTX's LL-HLS", runMediaMTXLLHLS},
		{"f-swarmtx-offload", "swarmtx's player through the swarm, max offload (holdBackParts 8)", runSwarmtxOffload},
	}
}

func runCompare(b *testing.B, c compareConfig) compareResult {
	b.StopTimer()
	n, watch := *compareViewers, *compareWatch
	ctx, cancel := context.WithTimeout(b.Context(), watch+5*time.Minute)
	defer cancel()
	cr := c.run(ctx, b, n)

	// Every viewer gets the same chance to start: a viewer that never plays
	// is reported, not waited for past the deadline.
	startCtx, startCancel := context.WithTimeout(ctx, 90*time.Second)
	playing := 0
	var problems []string
	for _, p := range cr.players {
		if err := p.WaitPlaying(startCtx); err != nil {
			b.Errorf("viewer %s: %v", p.ID, err)
			problems = append(problems, fmt.Sprintf("viewer %s does not play", p.ID))
			continue
		}
		playing++
	}
	startCancel()
	sleepCtx(ctx, b, 10*time.Second) // startup is over: measure steady playback

	from := make([]int, len(cr.players))
	for i, p := range cr.players {
		from[i] = len(p.Reports())
	}
	before := cr.copies()
	load0 := loadAvg()
	b.StartTimer()
	sleepCtx(ctx, b, watch)
	b.StopTimer()
	after := cr.copies()
	window := after.at.Sub(before.at).Seconds()

	made := after.made - before.made
	r := compareResult{name: c.name, desc: c.desc, viewers: len(cr.players), playing: playing, lagP50: -1, lagP95: -1, latencyP50: -1}
	if made <= 0 {
		b.Errorf("no media made during the window")
	} else {
		r.copies = (after.served - before.served) / made
	}

	var lags, latencies, startups []float64
	var p2pBytes, httpBytes float64
	var perViewer []string
	for i, p := range cr.players {
		rs := p.Reports()
		if len(rs) <= from[i] {
			continue
		}
		first, last := rs[max(from[i]-1, 0)], rs[len(rs)-1]
		for _, rep := range rs[from[i]:] {
			if rep.LagMs > 0 {
				lags = append(lags, rep.LagMs/1000)
			}
			if rep.Latency > 0 {
				latencies = append(latencies, rep.Latency)
			}
		}
		if last.StartupMs >= 0 {
			startups = append(startups, last.StartupMs/1000)
		}
		r.stalls += last.Stalls - first.Stalls
		r.stallMs += last.StallMs - first.StallMs
		perViewer = append(perViewer, fmt.Sprintf("%s: %d stalls %.0f ms, lag %.1f s at the end, level %d/%d",
			p.ID, last.Stalls-first.Stalls, last.StallMs-first.StallMs, last.LagMs/1000, last.Level, last.Levels))
		if len(last.Errors) > 0 {
			problems = append(problems, fmt.Sprintf("viewer %s errors %q", p.ID, last.Errors))
		}
		if cr.p2p != nil {
			p1, h1 := cr.p2p(last)
			p0, h0 := cr.p2p(first)
			p2pBytes += p1 - p0
			httpBytes += h1 - h0
		}
	}
	if cr.p2p != nil {
		if cr.httpFromOrigin {
			httpBytes = after.http - before.http
		}
		// The share that came from other viewers: bytes the origin
		// seeded reached the players over WebRTC but are the server's.
		r.share = math.Max(p2pBytes-(after.seeded-before.seeded), 0) / math.Max(p2pBytes+httpBytes, 1)
		r.shareWithSeeding = p2pBytes / math.Max(p2pBytes+httpBytes, 1)
	}
	r.lagP50, r.lagP95 = quantile(lags, 0.5), quantile(lags, 0.95)
	r.latencyP50 = quantile(latencies, 0.5)
	r.startupP50, r.startupMax = quantile(startups, 0.5), quantile(startups, 1)
	r.stallPct = 100 * r.stallMs / math.Max(float64(len(cr.players))*window*1000, 1)

	speed := -1.0
	if cr.pub != nil {
		speed = cr.pub.Speed()
	}
	var notes []string
	notes = append(notes, fmt.Sprintf("%d/%d viewers played, %.0f s window: %.2f server copies, P2P from other viewers %.1f%% (over WebRTC %.1f%%), lag p50 %.2f s p95 %.2f s (hls.latency p50 %.2f s), %d stalls %.0f ms (%.2f%%), startup p50 %.2f s max %.2f s",
		playing, len(cr.players), window, r.copies, 100*r.share, 100*r.shareWithSeeding, r.lagP50, r.lagP95, r.latencyP50, r.stalls, r.stallMs, r.stallPct, r.startupP50, r.startupMax))
	if cr.note != nil {
		notes = append(notes, cr.note(before, after))
	}
	notes = append(notes, "per viewer "+strings.Join(perViewer, ", "))
	notes = append(notes, fmt.Sprintf("publisher speed %.2fx, load average %.2f → %.2f", speed, load0, loadAvg()))
	notes = append(notes, problems...)
	r.note = strings.Join(notes, "; ")
	b.Log(r.note)

	b.ReportMetric(r.copies, "copies")
	b.ReportMetric(100*r.share, "p2p-%")
	b.ReportMetric(r.lagP50, "lag-p50-s")
	b.ReportMetric(r.lagP95, "lag-p95-s")
	b.ReportMetric(float64(r.stalls), "stalls")
	b.ReportMetric(r.stallMs, "stall-ms")
	b.ReportMetric(r.startupP50, "startup-p50-s")
	b.ReportMetric(r.startupMax, "startup-max-s")
	b.ReportMetric(float64(playing), "playing")
	return r
}

// compareAttach is the stream every swarmtx set-up serves: one rendition
// (no ladder: every viewer watches the same bytes).
const compareAttach = "--ladder source"

// startCompareStack is swarmtx on MediaMTX with the benchmark's stream,
// attached with attachFlags.
func startCompareStack(ctx context.Context, b *testing.B, attachFlags string) (*stack, *harness.Publisher) {
	s := startStack(b, stackOptions{AttachFlags: attachFlags})
	pub := s.publish(ctx, "rtmp", "live/show", comparePublish)
	waitMultivariant(ctx, b, s.base()+"/live/show/index.m3u8", 1)
	return s, pub
}

// swarmtxCopies reads swarmtx's counters for the source rendition; proxy,
// when set, is what the viewers' players fetched through it.
// served counts "http" (swarmtx's HTTP media bytes), "served" (HTTP and
// seeding) or "proxy" (the proxy's media bytes).
func swarmtxCopies(ctx context.Context, b *testing.B, s *stack, proxy *harness.CountProxy, served string) func() copiesProbe {
	return func() copiesProbe {
		c := serverCopiesOf(ctx, b, s.base(), "source")
		p := copiesProbe{at: time.Now(), made: c.made, http: c.http, served: c.http,
			extra: map[string]float64{"metrics-http": c.http, "metrics-peer": c.peer, "control": c.controlTotal()}}
		if served == "served" {
			p.served, p.seeded = c.served, c.peer
		}
		if proxy != nil {
			pc := proxy.Counts()
			p.http = float64(pc.MediaBytes)
			if served == "proxy" {
				p.served = p.http
			}
			p.extra["proxy-media"] = float64(pc.MediaBytes)
			p.extra["proxy-playlist"] = float64(pc.PlaylistBytes)
			p.extra["proxy-errors"] = float64(pc.Errors)
		}
		return p
	}
}

// proxyCopies counts the proxy's media bytes against the bytes of the
// segments meter saw the origin make. Not the rate times the window: on a
// loaded machine the publisher falls behind real time and the origin makes
// less media than the window's length.
func proxyCopies(proxy *harness.CountProxy, meter *harness.MediaMeter) func() copiesProbe {
	var first harness.MediaSample
	started := false
	return func() copiesProbe {
		pc := proxy.Counts()
		ms := meter.Sample()
		if !started {
			first, started = ms, true
		}
		return copiesProbe{at: time.Now(), served: float64(pc.MediaBytes), http: float64(pc.MediaBytes), made: float64(ms.Bytes()), rate: ms.Rate(first),
			extra: map[string]float64{"proxy-playlist": float64(pc.PlaylistBytes), "proxy-errors": float64(pc.Errors),
				"proxy-media-requests": float64(pc.MediaRequests), "meter-segments": float64(ms.Segments())}}
	}
}

// startViewers starts one Chromium (its own profile) per viewer, a second
// apart, as viewers arriving at a stream do.
func startViewers(ctx context.Context, b *testing.B, n int, opts harness.BrowserOptions) []*harness.Player {
	var ps []*harness.Player
	for i := range n {
		if i > 0 {
			sleepCtx(ctx, b, time.Second)
		}
		br := harness.StartBrowser(b, opts)
		p := br.Players[0]
		p.ID = fmt.Sprint(i)
		ps = append(ps, p)
	}
	return ps
}

func runSwarmtxHTTP(ctx context.Context, b *testing.B, n int) compareRun {
	s, pub := startCompareStack(ctx, b, compareAttach)
	// Through the proxy too, so its count can be checked against swarmtx's
	// own: the proxy is what measures the origins without metrics.
	proxy := harness.StartCountProxy(b, harness.NetnsHost, s.base(), nil)
	players := startViewers(ctx, b, n, harness.BrowserOptions{Srcs: []string{proxy.URL + "/live/show/index.m3u8"}})
	return compareRun{players: players, pub: pub, copies: swarmtxCopies(ctx, b, s, proxy, "http"),
		note: func(from, to copiesProbe) string {
			made := to.made - from.made
			return fmt.Sprintf("cross-check: proxy media %.2f copies vs swarmtx's HTTP metric %.2f; playlists %.2f copies",
				(to.extra["proxy-media"]-from.extra["proxy-media"])/made, (to.extra["metrics-http"]-from.extra["metrics-http"])/made,
				(to.extra["proxy-playlist"]-from.extra["proxy-playlist"])/made)
		}}
}

func runSwarmtxSwarm(ctx context.Context, b *testing.B, n int) compareRun {
	return swarmtxSwarm(ctx, b, n, compareAttach)
}

// runSwarmtxOffload is the swarm with the max-offload hold-back: players
// four seconds behind live, which gives the swarm that long to carry each
// part.
func runSwarmtxOffload(ctx context.Context, b *testing.B, n int) compareRun {
	return swarmtxSwarm(ctx, b, n, compareAttach+" --hold-back-parts 8")
}

func swarmtxSwarm(ctx context.Context, b *testing.B, n int, attachFlags string) compareRun {
	s, pub := startCompareStack(ctx, b, attachFlags)
	var players []*harness.Player
	for i := range n {
		if i > 0 {
			sleepCtx(ctx, b, time.Second)
		}
		// Every browser reaches the origin from the test namespace's one
		// address, which the swarm would take for one household and hold
		// all but one of its viewers on probation. Each viewer comes through
		// a proxy of its own that names its own home network, as viewers
		// from separate homes arrive at a real server's reverse proxy.
		home := harness.StartCountProxy(b, harness.NetnsHost, s.base(), harness.HomeHeader())
		br := startSwarmBrowserOn(ctx, b, s, "live/show", []string{home.URL + "/live/show/index.m3u8"}, swarmPage{origin: home.URL})
		p := br.Players[0]
		p.ID = fmt.Sprint(i)
		players = append(players, p)
	}
	return compareRun{players: players, pub: pub, copies: swarmtxCopies(ctx, b, s, nil, "served"),
		p2p: func(r harness.PlayerReport) (float64, float64) {
			var st swarmStats
			_ = json.Unmarshal(r.Extra, &st)
			return float64(st.P2PBytes), float64(st.HTTPBytes)
		},
		note: func(from, to copiesProbe) string {
			made := to.made - from.made
			return fmt.Sprintf("HTTP %.2f + seeding %.2f copies; control (playlists, signaling, page, STUN) %.2f copies",
				(to.extra["metrics-http"]-from.extra["metrics-http"])/made, (to.extra["metrics-peer"]-from.extra["metrics-peer"])/made,
				(to.extra["control"]-from.extra["control"])/made)
		}}
}

// p2pmlStats is what tools/p2pml/page.js reports as PlayerReport.Extra.
type p2pmlStats struct {
	HTTPBytes      float64 `json:"httpBytes"`
	P2PBytes       float64 `json:"p2pBytes"`
	UploadBytes    float64 `json:"uploadBytes"`
	Peers          int     `json:"peers"`
	PeersEver      int     `json:"peersEver"`
	SegmentsLoaded int     `json:"segmentsLoaded"`
	SegmentErrors  int     `json:"segmentErrors"`
	TrackerErrors  int     `json:"trackerErrors"`
	LastTrackerErr string  `json:"lastTrackerError"`
}

// startP2PMLViewers starts n p2p-media-loader viewers of src with a tracker
// of their own; hlsConfig is merged into the harness player's hls.js config.
func startP2PMLViewers(ctx context.Context, b *testing.B, n int, src string, hlsConfig map[string]any) []*harness.Player {
	modules, err := harness.P2PMLDir(p2pmlLockfile)
	if err != nil {
		b.Fatal(err)
	}
	tracker := harness.StartTracker(b, p2pmlTracker, modules, harness.NetnsHost)
	setup, err := harness.P2PMLSetupJS(p2pmlPage, modules, []string{tracker}, hlsConfig)
	if err != nil {
		b.Fatal(err)
	}
	return startViewers(ctx, b, n, harness.BrowserOptions{Srcs: []string{src}, SetupJS: setup,
		Flags: []string{"--enable-logging=stderr", "--v=0"}})
}

func p2pmlCounts(r harness.PlayerReport) (float64, float64) {
	var st p2pmlStats
	_ = json.Unmarshal(r.Extra, &st)
	return st.P2PBytes, 0
}

// p2pmlNote sums the viewers' p2p-media-loader figures.
func p2pmlNote(players []*harness.Player) string {
	var sum p2pmlStats
	for _, p := range players {
		last, ok := p.Latest()
		if !ok {
			continue
		}
		var st p2pmlStats
		_ = json.Unmarshal(last.Extra, &st)
		sum.HTTPBytes += st.HTTPBytes
		sum.P2PBytes += st.P2PBytes
		sum.UploadBytes += st.UploadBytes
		sum.Peers += st.Peers
		sum.PeersEver += st.PeersEver
		sum.SegmentsLoaded += st.SegmentsLoaded
		sum.SegmentErrors += st.SegmentErrors
		sum.TrackerErrors += st.TrackerErrors
		if st.LastTrackerErr != "" {
			sum.LastTrackerErr = st.LastTrackerErr
		}
	}
	return fmt.Sprintf("p2p-media-loader over the whole run: %d segments through it (%.1f MB HTTP, %.1f MB P2P, %.1f MB uploaded), %d open peer links (%d ever), %d segment errors, %d tracker errors %s",
		sum.SegmentsLoaded, sum.HTTPBytes/1e6, sum.P2PBytes/1e6, sum.UploadBytes/1e6, sum.Peers, sum.PeersEver, sum.SegmentErrors, sum.TrackerErrors, sum.LastTrackerErr)
}

func runP2PMLOnSwarmtx(ctx context.Context, b *testing.B, n int) compareRun {
	s, pub := startCompareStack(ctx, b, compareAttach)
	proxy := harness.StartCountProxy(b, harness.NetnsHost, s.base(), nil)
	players := startP2PMLViewers(ctx, b, n, proxy.URL+"/live/show/index.m3u8", nil)
	return compareRun{players: players, pub: pub, copies: swarmtxCopies(ctx, b, s, proxy, "proxy"), p2p: p2pmlCounts, httpFromOrigin: true,
		note: func(from, to copiesProbe) string {
			made := to.made - from.made
			return fmt.Sprintf("swarmtx's HTTP metric %.2f copies; playlists %.2f copies; %s",
				(to.extra["metrics-http"]-from.extra["metrics-http"])/made,
				(to.extra["proxy-playlist"]-from.extra["proxy-playlist"])/made, p2pmlNote(players))
		}}
}

// startMediaMTXOrigin is MediaMTX alone (no swarmtx hook) with its HLS server
// set by hls, the benchmark's stream, a meter of the rendition's bytes read
// straight from MediaMTX and a counting proxy the viewers load through.
func startMediaMTXOrigin(ctx context.Context, b *testing.B, hls map[string]any) (*harness.Publisher, *harness.CountProxy, *harness.MediaMeter) {
	m := harness.StartMediaMTX(b, harness.MediaMTXOptions{Extra: hls})
	o := comparePublish
	o.Protocol, o.Path, o.Port = "rtmp", "live/show", m.RTMPPort
	pub := harness.Publish(ctx, b, o)
	direct := m.HLSURL("127.0.0.1", "live/show")
	if err := harness.WaitHTTPOK(ctx, direct); err != nil {
		b.Fatal(err)
	}
	meter := harness.StartMediaMeter(ctx, direct)
	proxy := harness.StartCountProxy(b, harness.NetnsHost, fmt.Sprintf("http://127.0.0.1:%d", m.HLSPort), nil)
	return pub, proxy, meter
}

func meterNote(meter *harness.MediaMeter) func(from, to copiesProbe) string {
	return func(from, to copiesProbe) string {
		made := to.made - from.made
		window := to.at.Sub(from.at).Seconds()
		s := fmt.Sprintf("rendition %.0f B/s from %.0f segments read straight from MediaMTX, %.0f kB made in the window (%.2fx real time); playlists %.2f copies, %.0f media requests, %.0f error responses (cancelled requests included)",
			to.rate, to.extra["meter-segments"]-from.extra["meter-segments"], made/1e3, made/(to.rate*window), (to.extra["proxy-playlist"]-from.extra["proxy-playlist"])/made,
			to.extra["proxy-media-requests"]-from.extra["proxy-media-requests"], to.extra["proxy-errors"]-from.extra["proxy-errors"])
		if err := meter.Err(); err != nil {
			s += fmt.Sprintf(" (meter: %v)", err)
		}
		return s
	}
}

func runP2PMLOnPlainHLS(ctx context.Context, b *testing.B, n int) compareRun {
	pub, proxy, meter := startMediaMTXOrigin(ctx, b, map[string]any{
		"hlsVariant": "fmp4", "hlsSegmentCount": 12, "hlsSegmentDuration": "2s",
	})
	// hls.js hands fragments to its transmuxing worker by transfer, which
	// detaches their buffers; p2p-media-loader may hand the same cached
	// segment over again, and hls.js then fails fatally ("ArrayBuffer ...
	// already detached"), as half the viewers did on a loaded machine.
	// Transmuxing on the page avoids it: part of the best case.
	players := startP2PMLViewers(ctx, b, n, proxy.URL+"/live/show/index.m3u8", map[string]any{"liveSyncDurationCount": 5, "enableWorker": false})
	note := meterNote(meter)
	return compareRun{players: players, pub: pub, copies: proxyCopies(proxy, meter), p2p: p2pmlCounts, httpFromOrigin: true,
		note: func(from, to copiesProbe) string { return note(from, to) + "; " + p2pmlNote(players) }}
}

func runMediaMTXLLHLS(ctx context.Context, b *testing.B, n int) compareRun {
	pub, proxy, meter := startMediaMTXOrigin(ctx, b, nil)
	players := startViewers(ctx, b, n, harness.BrowserOptions{Srcs: []string{proxy.URL + "/live/show/index.m3u8"}})
	return compareRun{players: players, pub: pub, copies: proxyCopies(proxy, meter), note: meterNote(meter)}
}

// writeCompareSVG charts server copies, lag, startup and stalled time per
// configuration, with plain HTTP's cost (one copy per viewer) as a line.
func writeCompareSVG(b *testing.B, results []compareResult) {
	var groups []string
	series := []plot.BarSeries{{Name: "server copies"}, {Name: "P2P from viewers, % ÷ 10"}, {Name: "lag p50 s"}, {Name: "lag p95 s"}, {Name: "startup p50 s"}, {Name: "stalled %"}}
	for _, r := range results {
		groups = append(groups, r.name)
		for i, v := range []float64{r.copies, 10 * r.share, r.lagP50, r.lagP95, r.startupP50, r.stallPct} {
			series[i].Values = append(series[i].Values, math.Max(v, 0))
		}
	}
	viewers := *compareViewers
	chart := plot.BarChart{
		Title: fmt.Sprintf("%d Chromium viewers of one 1.1 Mbit/s stream, %v each", viewers, *compareWatch),
		Subtitle: "a/e: hls.js over HTTP from swarmtx's / MediaMTX's LL-HLS; b: swarmtx's player (swarm); " +
			"c: p2p-media-loader on swarmtx's LL-HLS; d: p2p-media-loader on MediaMTX's plain HLS (12×2 s, liveSyncDurationCount 5); " +
			"f: b at max offload (holdBackParts 8)",
		Groups: groups,
		Series: series,
		Refs:   []plot.Ref{{Y: float64(viewers), Label: fmt.Sprintf("HTTP only: %d copies", viewers)}},
		Width:  960,
		Height: 520,
	}
	path := *compareSVG
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("swarmtx-compare-%s.svg", time.Now().UTC().Format("20060102-150405")))
	}
	f, err := os.Create(path)
	if err != nil {
		b.Errorf("chart: %v", err)
		return
	}
	defer f.Close()
	if err := chart.WriteSVG(f); err != nil {
		b.Errorf("chart: %v", err)
		return
	}
	b.Logf("chart: %s", path)
}

// quantile is the q-quantile (nearest rank) of v; -1 for none.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}
