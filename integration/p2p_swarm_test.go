package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// swarmRendition is one rendition of the swarm test's ladder and the Go
// viewers that watch it.
type swarmRendition struct {
	name      string
	goViewers int
	uploadBps int64 // each viewer's upload cap: twice the rendition's bitrate
}

// testSwarmOfThirtyFourViewers: one OBS-like stream with a two-rung ladder;
// 30 Go viewers (24 on the source, 6 on 180p) and 4 headless Chromium
// players (hls.js + MSE through the swarm loader) watch it for 60 s. A
// fifth of the Go viewers are replaced, one every 2 s from 15 s in. Once
// all play (the browsers' launch is over), every viewer must keep playing,
// stalling for at most one part in all, play only
// verified parts, and the server must send at most half as many copies as
// there are viewers; the run prints server copies per rendition and the
// P2P share.
func testSwarmOfThirtyFourViewers(t *testing.T) {
	const (
		browsers   = 4
		watchFor   = 60 * time.Second
		churnFrom  = 15 * time.Second
		churnEvery = 2 * time.Second
	)
	part := defaultPart
	renditions := []swarmRendition{
		{name: "source", goViewers: 24, uploadBps: 280_000}, // ~1.13 Mbit/s with audio
		{name: "180p", goViewers: 6, uploadBps: 110_000},    // ~0.43 Mbit/s with audio
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source,180p:300k"})
	pub := s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", len(renditions))

	type goViewer struct {
		v         *viewer.Viewer
		rendition string
		joined    time.Time
		left      bool
		watched   time.Duration // until it left
		final     viewer.Stats
		// atStart is its stats when steady playback began (zero for a
		// viewer that joined later): stalls count from there, as the
		// browsers' do, not during the browsers' launch.
		atStart viewer.Stats
	}
	var vs []*goViewer
	byName := map[string]swarmRendition{}
	for _, r := range renditions {
		byName[r.name] = r
	}
	join := func(r swarmRendition) {
		v, err := viewer.Run(ctx, viewer.Config{
			API:          peer.NewLoopbackAPI(),
			URL:          s.base() + "/live/show/",
			Rendition:    r.name,
			CanUpload:    true,
			UploadCapBps: r.uploadBps,
			PartDeadline: func(_ wire.PartID, d time.Duration) time.Duration { return 10 * d },
			SignalHeader: harness.HomeHeader(),
		})
		if err != nil {
			t.Fatalf("%s viewer: %v", r.name, err)
		}
		t.Cleanup(func() { v.Close() })
		vs = append(vs, &goViewer{v: v, rendition: r.name, joined: time.Now()})
	}
	for _, r := range renditions {
		for range r.goViewers {
			join(r)
		}
	}
	src := s.browserBase() + "/live/show/index.m3u8"
	srcs := make([]string, browsers)
	for i := range srcs {
		srcs[i] = src
	}
	b := startSwarmBrowser(ctx, t, s, "live/show", srcs)
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nswarm log:\n%s", err, tail(swarmLog(b.Log()), 4000))
		}
	}
	// Startup is over: the run measures steady playback from here.
	sleepCtx(ctx, t, 5*time.Second)
	bStart := make([]harness.PlayerReport, browsers)
	for i, p := range b.Players {
		bStart[i], _ = p.Latest()
	}
	for _, gv := range vs {
		gv.atStart = gv.v.Stats()
	}
	before := map[string]copiesSample{}
	for _, r := range renditions {
		before[r.name] = serverCopiesOf(ctx, t, s.base(), r.name)
	}
	began := time.Now()

	// Churn: from churnFrom on, every churnEvery one Go viewer leaves and a
	// new one joins on its rendition, until a fifth have been replaced.
	var leaving []*goViewer
	for _, r := range renditions {
		n := (2*r.goViewers + 5) / 10 // a fifth, rounded: 5 of 24, 1 of 6
		for _, gv := range vs {
			if gv.rendition == r.name && n > 0 {
				leaving = append(leaving, gv)
				n--
			}
		}
	}
	sleepCtx(ctx, t, churnFrom)
	for _, gv := range leaving {
		gv.final = gv.v.Stats()
		gv.v.Close()
		gv.left, gv.watched = true, time.Since(gv.joined)
		join(byName[gv.rendition])
		sleepCtx(ctx, t, churnEvery)
	}
	sleepCtx(ctx, t, watchFor-time.Since(began))
	elapsed := time.Since(began)

	after := map[string]copiesSample{}
	for _, r := range renditions {
		after[r.name] = serverCopiesOf(ctx, t, s.base(), r.name)
	}
	speed := pub.Speed()
	t.Logf("publisher speed %.2fx", speed)

	var http, p2p int64
	var worst time.Duration
	for i, gv := range vs {
		st := gv.final
		if !gv.left {
			st = gv.v.Stats()
		}
		http += st.HTTPBytes
		p2p += st.P2PBytes
		worst = max(worst, st.LongestStall)
		watched := time.Since(gv.joined)
		if gv.left {
			watched = gv.watched
		}
		t.Logf("go viewer %d (%s, left %v): %d parts, P2P %.0f%%, uploaded %d kB, peers %d, stalls %d (longest %v), late %d, lag %v, HTTP after waiting %+v",
			i, gv.rendition, gv.left, st.PartsPlayed, 100*st.P2PShare(), st.UploadBytes/1000, st.Peers, st.Stalls,
			st.LongestStall.Round(time.Millisecond), st.LateParts, st.Lag.Round(time.Millisecond), st.Fallbacks)
		if !st.Playing || float64(st.PartsPlayed) < 0.7*watched.Seconds()/part.Seconds() {
			t.Errorf("go viewer %d (%s): playing %v, %d parts played in %v", i, gv.rendition, st.Playing, st.PartsPlayed, watched.Round(time.Second))
		}
		if stalled := st.StallTime - gv.atStart.StallTime; stalled > part {
			t.Errorf("go viewer %d (%s): stalled %v in %d stalls of steady playback, more than a part (%v before it)",
				i, gv.rendition, stalled, st.Stalls-gv.atStart.Stalls, gv.atStart.StallTime)
		}
		// Unverified parts came over HTTP from the origin before their
		// announcement reached the viewer: trusted, but counted.
		if st.HTTPHashMismatches > 0 || st.PeerHashMismatches > 0 || st.PeerProtocolErrors > 0 {
			t.Errorf("go viewer %d: %d bad parts over HTTP, %d from peers, %d protocol errors among honest peers",
				i, st.HTTPHashMismatches, st.PeerHashMismatches, st.PeerProtocolErrors)
		}
		if err := gv.v.Err(); err != nil && !gv.left {
			t.Errorf("go viewer %d stopped: %v", i, err)
		}
	}
	t.Logf("%d Go viewers: P2P share %.0f%%, longest stall %v", len(vs), 100*float64(p2p)/float64(max(http+p2p, 1)), worst)

	for i, p := range b.Players {
		end, _ := p.Latest()
		var st swarmStats
		if len(end.Extra) == 0 || json.Unmarshal(end.Extra, &st) != nil {
			t.Errorf("browser %d: no swarm stats (%s)", i, end.Extra)
			continue
		}
		adv := end.CurrentTime - bStart[i].CurrentTime
		stallMs := end.StallMs - bStart[i].StallMs
		t.Logf("browser %d: advanced %.1fs in %v, stalls %d (%.0f ms), lag %.0f ms, rendition %s, peers %d, P2P %.0f%%, uploaded %d B",
			i, adv, elapsed.Round(time.Second), end.Stalls-bStart[i].Stalls, stallMs, end.LagMs, st.Rendition, st.Peers, 100*st.P2PShare, st.UploadBytes)
		if want := elapsed.Seconds()*min(speed, 1) - 2; adv < want {
			t.Errorf("browser %d: currentTime advanced %.1fs, want %.1fs", i, adv, want)
		}
		if st := stallTimes(p.Reports(), bStart[i]); len(st) > 0 {
			t.Logf("browser %d stalls (s into the run: ms): %s", i, st)
		}
		if stallMs > float64(part/time.Millisecond) {
			t.Errorf("browser %d: stalled %.0f ms, more than a part", i, stallMs)
		}
		if len(end.Errors) > 0 {
			t.Errorf("browser %d: errors %q", i, end.Errors)
		}
		if st.HashMismatches > 0 || st.ProtocolErrors > 0 {
			t.Errorf("browser %d: %d hash mismatches, %d protocol errors among honest peers", i, st.HashMismatches, st.ProtocolErrors)
		}
		http += st.HTTPBytes
		p2p += st.P2PBytes
	}

	total := 0.0
	for _, r := range renditions {
		a, bf := after[r.name], before[r.name]
		made := a.made - bf.made
		if made <= 0 {
			t.Errorf("rendition %s: no media made during the run", r.name)
			continue
		}
		c := (a.served - bf.served) / made
		total += c
		t.Logf("rendition %s: %.2f server copies (HTTP %.2f, to peers %.2f) for %d Go viewers and the browsers on it",
			r.name, c, (a.http-bf.http)/made, (a.peer-bf.peer)/made, r.goViewers)
	}
	audience := 0
	for _, r := range renditions {
		audience += r.goViewers
	}
	audience += browsers
	t.Logf("%d viewers for %v: %.2f server copies over all renditions; P2P share %.0f%%", audience, elapsed.Round(time.Second), total, 100*float64(p2p)/float64(max(http+p2p, 1)))
	if total > float64(audience)/2 {
		t.Errorf("server sent %.1f copies for %d viewers, more than half the viewer count", total, audience)
	}
}

// serverCopiesOf reads one rendition's server and media byte counters.
func serverCopiesOf(ctx context.Context, t testing.TB, base, rendition string) copiesSample {
	t.Helper()
	_, body, err := get(ctx, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	value := func(series string) float64 {
		v, _ := metricValue(body, series)
		return v
	}
	c := copiesSample{
		http: value(fmt.Sprintf(`swarmtx_server_bytes_total{path="live/show",rendition=%q,via="http"}`, rendition)),
		peer: value(fmt.Sprintf(`swarmtx_server_bytes_total{path="live/show",rendition=%q,via="peer"}`, rendition)),
		made: value(fmt.Sprintf(`swarmtx_media_bytes_total{path="live/show",rendition=%q}`, rendition)),
	}
	c.served = c.http + c.peer
	c.control = map[string]float64{}
	for _, kind := range controlKinds {
		c.control[kind] = value(fmt.Sprintf(`swarmtx_server_control_bytes_total{kind=%q,path="live/show"}`, kind))
	}
	for _, socket := range []string{"listener", "relay"} {
		c.ice += value(fmt.Sprintf(`swarmtx_ice_server_sent_bytes_total{socket=%q}`, socket))
	}
	return c
}

func sleepCtx(ctx context.Context, t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(d):
	}
}

// stallTimes lists when a player's stalls began after from (seconds since
// from) and how long each lasted, for the log.
func stallTimes(rs []harness.PlayerReport, from harness.PlayerReport) string {
	var out []string
	prev := from
	for _, r := range rs {
		if r.UnixMs <= from.UnixMs {
			continue
		}
		if r.Stalls > prev.Stalls || r.StallMs > prev.StallMs+1 {
			out = append(out, fmt.Sprintf("%.1f: +%.0f", (r.UnixMs-from.UnixMs)/1000, r.StallMs-prev.StallMs))
		}
		prev = r
	}
	return strings.Join(out, ", ")
}
