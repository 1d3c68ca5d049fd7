package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	swarmcrowd "github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// swarmBench is one configuration of BenchmarkSwarm.
type swarmBench struct {
	viewers  int            // Go viewers
	upload   float64        // each viewer's upload cap, in multiples of the stream's bitrate
	mix      swarmcrowd.Mix // when set, the viewers' caps are drawn from it instead
	watch    time.Duration  // measured run, after startup
	churn    bool           // a fifth of the viewers are replaced during the run
	browsers bool           // two Chromium players: one through the swarm, one HTTP-only
	part     time.Duration  // LL-HLS part duration (0: swarmtx's default)
}

// streamBytesPerSec is the benchmark stream: 1 Mbit/s of video (640x360,
// x264 veryfast with B-frames) and 128 kbit/s of AAC, with container
// overhead, as measured on the source rendition.
const streamBytesPerSec = 141_000

// BenchmarkSwarm runs the real stack (MediaMTX, the plugin, an OBS-like
// ffmpeg publisher) with Go viewers on one rendition and reports what the
// server sends and how the viewers play:
//
//	copies        server bytes for the rendition (HTTP + seeding) / its bytes; plain HTTP costs one per viewer
//	control-copies  the server's other bytes for the stream (playlists, signaling, player page, STUN) / the rendition's bytes
//	egress-copies   copies + control-copies: everything the server sent, as copies
//	p2p-%         share of the viewers' media bytes that came from other viewers
//	stall-%       stalled time / watched time, all viewers
//	max-stall-ms  longest single stall
//	lag-s         median live lag of the Go viewers (now - PROGRAM-DATE-TIME of the playhead)
//	startup-s     slowest Go viewer's time to first frame
//	plugin-cpu-%  the plugin's CPU, share of one core
//
// With browsers it adds hls.js in Chromium through the swarm and HTTP-only
// with the same player settings (lag and startup of each). "short" is the
// form CI runs (make test); it checks the invariants every form must keep:
// every viewer plays and no bad byte is played; and, where viewers upload
// at least twice the bitrate, the server sends at most half a copy per
// viewer. The figures of the other forms are for reading:
//
//	go test -run '^$' -bench 'Swarm/viewers=30' -benchtime 1x ./integration
func BenchmarkSwarm(b *testing.B) {
	for _, c := range []struct {
		name string
		swarmBench
	}{
		{"short", swarmBench{viewers: 8, upload: 2, watch: 20 * time.Second}},
		{"viewers=30/upload=2x/browsers", swarmBench{viewers: 30, upload: 2, watch: 60 * time.Second, browsers: true}},
		{"viewers=30/upload=2x/go-only", swarmBench{viewers: 30, upload: 2, watch: 60 * time.Second}},
		{"viewers=30/upload=2x/parts=200ms", swarmBench{viewers: 30, upload: 2, watch: 60 * time.Second, part: 200 * time.Millisecond}},
		{"viewers=30/upload=1x", swarmBench{viewers: 30, upload: 1, watch: 60 * time.Second}},
		{"viewers=30/upload=2x/churn", swarmBench{viewers: 30, upload: 2, watch: 60 * time.Second, churn: true}},
		{"viewers=30/upload=mix", swarmBench{viewers: 30, mix: swarmcrowd.DefaultMix, watch: 60 * time.Second}},
		{"viewers=100/upload=mix", swarmBench{viewers: 100, mix: swarmcrowd.DefaultMix, watch: 60 * time.Second}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				runSwarmBench(b, c.swarmBench)
			}
		})
	}
}

func runSwarmBench(b *testing.B, c swarmBench) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(b.Context(), c.watch+3*time.Minute)
	defer cancel()
	flags := "--ladder source"
	if c.part > 0 {
		flags += " --part-duration " + c.part.String()
	}
	s := startStack(b, stackOptions{AttachFlags: flags})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
	waitMultivariant(ctx, b, s.base()+"/live/show/index.m3u8", 1)

	type benchViewer struct {
		v      *viewer.Viewer
		joined time.Time
		left   time.Time
		final  viewer.Stats
	}
	var vs []*benchViewer
	uploads := c.mix.Uploads(c.viewers)
	join := func() {
		upload := c.upload
		if len(uploads) > 0 {
			// Newcomers after churn take the mix again from the start.
			upload = uploads[len(vs)%len(uploads)]
		}
		v, err := viewer.Run(ctx, viewer.Config{
			API:          peer.NewLoopbackAPI(),
			URL:          s.base() + "/live/show/",
			Rendition:    "source",
			CanUpload:    upload > 0,
			UploadCapBps: int64(upload * streamBytesPerSec),
			// Wait for the neighbours as long as the playback buffer allows.
			PartDeadline: func(_ wire.PartID, d time.Duration) time.Duration { return 10 * d },
			SignalHeader: harness.HomeHeader(),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		vs = append(vs, &benchViewer{v: v, joined: time.Now()})
	}
	for range c.viewers {
		join()
	}
	var br *harness.Browser
	if c.browsers {
		src := s.browserBase() + "/live/show/index.m3u8"
		br = startSwarmBrowser(ctx, b, s, "live/show", []string{src, src + httpOnlyMarker})
		for _, p := range br.Players {
			if err := p.WaitPlaying(ctx); err != nil {
				b.Fatalf("%v\nswarm log:\n%s", err, tail(swarmLog(br.Log()), 4000))
			}
		}
	}
	sleepCtx(ctx, b, 5*time.Second) // startup is over: measure steady playback
	before := serverCopiesOf(ctx, b, s.base(), "source")
	var bFrom []int
	if br != nil {
		for _, p := range br.Players {
			bFrom = append(bFrom, len(p.Reports()))
		}
	}
	plugin := startMeter(s.pluginPID())
	began := time.Now()
	b.StartTimer()

	if c.churn {
		// A fifth of the viewers leave, one every 2 s from a quarter of the
		// run on, each replaced by a newcomer.
		sleepCtx(ctx, b, c.watch/4)
		for i := range c.viewers / 5 {
			bv := vs[i]
			bv.final, bv.left = bv.v.Stats(), time.Now()
			bv.v.Close()
			join()
			sleepCtx(ctx, b, 2*time.Second)
		}
	}
	for time.Since(began) < c.watch {
		plugin.sample()
		sleepCtx(ctx, b, min(time.Second, c.watch-time.Since(began)))
	}
	b.StopTimer()
	after := serverCopiesOf(ctx, b, s.base(), "source")
	cpu, rss := plugin.result()

	var http, p2p int64
	var fell viewer.Fallbacks
	var rest int64
	var stalled, watched, longest, startup time.Duration
	var lags []float64
	for i, bv := range vs {
		st := bv.final
		end := bv.left
		if end.IsZero() {
			st, end = bv.v.Stats(), time.Now()
		}
		http += st.HTTPBytes
		p2p += st.P2PBytes
		fell.InFlight += st.Fallbacks.InFlight
		fell.Declined += st.Fallbacks.Declined
		fell.NoHolder += st.Fallbacks.NoHolder
		rest += st.RestParts
		stalled += st.StallTime
		watched += end.Sub(bv.joined)
		longest = max(longest, st.LongestStall)
		startup = max(startup, st.Startup)
		if bv.left.IsZero() && st.Lag > 0 {
			lags = append(lags, st.Lag.Seconds())
		}
		if !st.Playing {
			b.Errorf("viewer %d never played", i)
		}
		if st.HTTPHashMismatches > 0 || st.PeerHashMismatches > 0 || st.PeerProtocolErrors > 0 {
			b.Errorf("viewer %d: %d bad parts over HTTP, %d from peers, %d protocol errors among honest peers",
				i, st.HTTPHashMismatches, st.PeerHashMismatches, st.PeerProtocolErrors)
		}
		if err := bv.v.Err(); err != nil && bv.left.IsZero() {
			b.Errorf("viewer %d stopped: %v", i, err)
		}
	}
	made := after.made - before.made
	if made <= 0 {
		b.Fatal("no media made during the run")
	}
	copies := (after.served - before.served) / made
	share := float64(p2p) / float64(max(http+p2p, 1))
	stallRatio := float64(stalled) / float64(max(watched, 1))
	sort.Float64s(lags)
	lag := -1.0
	if len(lags) > 0 {
		lag = lags[len(lags)/2]
	}
	control := after.controlTotal() - before.controlTotal()
	controlCopies := control / made
	var byKind []string
	for _, kind := range controlKinds {
		byKind = append(byKind, fmt.Sprintf("%s %.3f", kind, (after.control[kind]-before.control[kind])/made))
	}
	byKind = append(byKind, fmt.Sprintf("STUN %.3f", (after.ice-before.ice)/made))
	for _, kind := range []string{"playlist", "signaling"} {
		if after.control[kind] <= before.control[kind] {
			b.Errorf("no %s bytes counted while %d viewers watched: the server's control plane goes uncounted", kind, c.viewers)
		}
	}
	b.ReportMetric(copies, "copies")
	b.ReportMetric(controlCopies, "control-copies")
	b.ReportMetric(copies+controlCopies, "egress-copies")
	b.ReportMetric(100*share, "p2p-%")
	b.ReportMetric(100*stallRatio, "stall-%")
	b.ReportMetric(float64(longest.Milliseconds()), "max-stall-ms")
	b.ReportMetric(lag, "lag-s")
	b.ReportMetric(startup.Seconds(), "startup-s")
	b.ReportMetric(100*cpu, "plugin-cpu-%")
	uploadDesc := fmt.Sprintf("%.0fx", c.upload)
	if len(c.mix) > 0 {
		uploadDesc = "mix " + c.mix.String()
	}
	summary := fmt.Sprintf("%d viewers, upload %s, churn %v, %v: %.2f server copies (HTTP %.2f, seeding %.2f); control %.2f copies (%s), %.1f%% of the bitrate per viewer; P2P %.0f%%, stalled %.2f%% (longest %v), lag %.2f s, startup ≤ %v; plugin %.0f%% CPU, %.0f MB; parts to HTTP after waiting: %d in flight, %d declined or stalled, %d with no holder; %d parts fetched as the rest after their first bytes from peers",
		c.viewers, uploadDesc, c.churn, c.watch, copies, (after.http-before.http)/made, (after.peer-before.peer)/made,
		controlCopies, strings.Join(byKind, ", "), 100*controlCopies/float64(c.viewers), 100*share, 100*stallRatio, longest.Round(time.Millisecond), lag, startup.Round(time.Millisecond), 100*cpu, rss, fell.InFlight, fell.Declined, fell.NoHolder, rest)

	if br != nil {
		var figs []string
		for i, name := range []string{"hls.js through the swarm", "hls.js HTTP-only"} {
			p := br.Players[i]
			window := p.Reports()[bFrom[i]:]
			last, _ := p.Latest()
			var sw swarmStats
			_ = json.Unmarshal(last.Extra, &sw)
			l := medianOf(window, func(r harness.PlayerReport) float64 { return r.LagMs }) / 1000
			unit := map[int]string{0: "swarm", 1: "http"}[i]
			b.ReportMetric(l, "browser-"+unit+"-lag-s")
			b.ReportMetric(last.StartupMs/1000, "browser-"+unit+"-startup-s")
			ahead := medianOf(window, func(r harness.PlayerReport) float64 { return r.BufferedEnd - r.CurrentTime })
			figs = append(figs, fmt.Sprintf("%s: lag %.2f s, buffer %.2f s, startup %.2f s, stalls %d (%.0f ms), P2P %.0f%%, HTTP because %v",
				name, l, ahead, last.StartupMs/1000, last.Stalls-window[0].Stalls, last.StallMs-window[0].StallMs, 100*sw.P2PShare, sw.Misses))
		}
		summary += "; " + strings.Join(figs, "; ")
	}
	b.Log(summary)

	// With an upload of only the bitrate the swarm has no spare upload:
	// each viewer can pass on one copy of what it gets, and parts deep in
	// the tree miss their deadline. The bound holds from twice the
	// bitrate.
	if len(c.mix) == 0 && c.upload >= 2 && copies > float64(c.viewers)/2 {
		b.Errorf("server sent %.1f copies for %d viewers uploading %.0fx the bitrate, more than half the viewer count", copies, c.viewers, c.upload)
	}
}
